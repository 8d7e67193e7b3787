"""Seamless tiled super-resolution of images of any size.

Border policy (the definition of "whole-image inference" used everywhere in srgan): before the network sees an
image, the image is extended on every side by ``overlap`` pixels of *reflected* context (``numpy.pad(mode="reflect")``,
i.e. mirrored without repeating the edge pixel; a 1-pixel-wide axis is replicated). The network's own zero padding
then only touches that margin, which is cropped from the output. So (a) no dark or ringing border appears at the
image edges, and (b) a tile run with ``overlap >= Generator.receptive_radius`` pixels of context on each side
produces exactly the pixels that whole-image inference produces: every tile reads its context from the same
reflected extension, and its core never sees the zero padding at the tile's own edge. ``tile=0`` (whole image) is
simply one tile covering the image, through the same code path.

Tiles all have the same shape so that they can be batched: cores start every ``tile`` pixels and the last core is
shifted back to end at the image edge (it recomputes a few pixels of its neighbour, which are identical).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from srgan.models import GeneratorConfig

# Peak inference memory per LR pixel of a tile window, in elements, for the generator at ``scale``. Measured on
# the paper's network (oneDNN fp32, PyTorch 2.13): the last upsampling block holds its conv output and the pixel
# shuffle's copy at once (2 · C · s² elements per LR pixel) plus its input (C · s² / 4); at scale 2 the LR body's
# few C-channel maps dominate. The factor 1.25 covers allocator slack (measured ≈ 1.06 – 1.15).
_SAFETY = 1.25


@dataclass(frozen=True)
class Tile:
    """One tile: its core (the output it is responsible for) in LR pixels of image ``index`` of the batch."""

    index: int
    y: int
    x: int


def tile_starts(length: int, tile: int) -> list[int]:
    """Core start positions along one axis: every ``tile`` pixels, the last one moved back to end at ``length``.

    ``tile <= 0`` or ``tile >= length`` means one core covering the whole axis. Cores have size ``min(tile, length)``
    and together cover ``[0, length)``.
    """
    if length < 1:
        raise ValueError(f"length must be positive, got {length}")
    if tile <= 0 or tile >= length:
        return [0]
    return [*range(0, length - tile, tile), length - tile]


def core_size(length: int, tile: int) -> int:
    """Size of every core along an axis of ``length`` pixels (see ``tile_starts``)."""
    return length if tile <= 0 or tile >= length else tile


def reflect_index(positions: np.ndarray, length: int) -> np.ndarray:
    """Map positions (any integers) into ``[0, length)`` by mirroring without repeating the edge pixel.

    Equals ``numpy.pad(mode="reflect")`` for pads shorter than the axis and keeps mirroring periodically for longer
    pads (so tiny images still get a full context margin); a 1-pixel axis is replicated.
    """
    if length == 1:
        return np.zeros_like(positions)
    period = 2 * (length - 1)
    p = np.mod(positions, period)
    return np.where(p < length, p, period - p)


def tiles(n_images: int, height: int, width: int, tile: int) -> list[Tile]:
    """All tiles of ``n_images`` images of ``height`` × ``width``, image by image, row by row."""
    ys, xs = tile_starts(height, tile), tile_starts(width, tile)
    return [Tile(i, y, x) for i in range(n_images) for y in ys for x in xs]


def window_bytes_per_pixel(config: GeneratorConfig, im2col: bool = False) -> float:
    """Estimated peak inference memory in bytes per LR pixel of a tile window (fp32 activations).

    ``im2col``: convolutions fall back to PyTorch's unfolding kernel (reduced precision on a CPU without native
    bf16), whose 9×9 tail convolution alone buffers 81 · C bf16 elements per output pixel.
    """
    s2, c = config.scale**2, config.channels
    elements = max(2.25 * s2, 5.0) * c + 3 * s2
    unfold = 2 * 81 * c * s2 if im2col else 0
    return (4 * elements + unfold) * _SAFETY


def auto_tile(bytes_per_pixel: float, overlap: int, batch: int, budget_bytes: float, multiple: int = 8,
              image: tuple[int, int] | None = None) -> int:
    """0 (whole image, one window) when the ``image`` (height, width) fits, else the largest square tile (a multiple
    of ``multiple``, at least ``multiple``) whose batch of windows fits.

    A window is the tile plus ``overlap`` context pixels on each side; ``batch`` windows of ``bytes_per_pixel``
    per pixel run at once. A whole image that fits runs as one window: square tiles would cover a non-square
    image with several overlapping windows and recompute their margins.
    """
    if image is not None and (image[0] + 2 * overlap) * (image[1] + 2 * overlap) * bytes_per_pixel <= budget_bytes:
        return 0
    side = math.sqrt(budget_bytes / (batch * bytes_per_pixel))
    return max(multiple, int(side - 2 * overlap) // multiple * multiple)


def _batches(items: list[Tile], size: int) -> Iterator[list[Tile]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def upscale_tensor(
    net: nn.Module,
    lr: torch.Tensor,
    scale: int,
    tile: int,
    overlap: int,
    batch: int = 1,
    autocast: contextlib.AbstractContextManager | None = None,
    *,
    device: torch.device | None = None,
    memory_format: torch.memory_format = torch.contiguous_format,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Super-resolve ``lr`` tile by tile with the border policy of this module.

    Tensor contract: ``lr`` is float (N, 3, H, W) in [0, 1] on any device; ``net`` maps (B, 3, h, w) in [0, 1] to
    (B, 3, scale·h, scale·w) in nominal [−1, 1] (a ``Generator``). Returns float32 (N, 3, scale·H, scale·W) in
    [0, 1] on ``lr``'s device; windows run on ``device`` (default: ``lr``'s), in ``memory_format``, under
    ``autocast`` (entered once). ``tile`` counts LR pixels per core side (0 = whole image); ``overlap`` is the
    context margin per side, exact when ≥ the network's receptive radius; ``batch`` windows run per call.
    ``progress(done, total)`` is called after each batch.
    """
    if lr.ndim != 4 or lr.shape[1] != 3:
        raise ValueError(f"expected an (N, 3, H, W) tensor, got shape {tuple(lr.shape)}")
    if overlap < 0 or batch < 1:
        raise ValueError(f"overlap must be >= 0 and batch >= 1, got {overlap}, {batch}")
    n, _, h, w = lr.shape
    device = lr.device if device is None else device
    th, tw = core_size(h, tile), core_size(w, tile)
    rows = torch.from_numpy(reflect_index(np.arange(-overlap, h + overlap), h)).to(lr.device)
    cols = torch.from_numpy(reflect_index(np.arange(-overlap, w + overlap), w)).to(lr.device)
    out = torch.empty((n, 3, scale * h, scale * w), dtype=torch.float32, device=lr.device)
    todo = tiles(n, h, w, tile)
    m, done = overlap * scale, 0
    with torch.inference_mode(), autocast or contextlib.nullcontext():
        for group in _batches(todo, batch):
            # rows/cols index the reflect-extended image: window of a core at y spans [y, y + th + 2·overlap).
            windows = torch.stack([
                lr[t.index].index_select(1, rows[t.y : t.y + th + 2 * overlap])
                .index_select(2, cols[t.x : t.x + tw + 2 * overlap])
                for t in group
            ]).to(device, memory_format=memory_format)
            sr = net(windows)[:, :, m : m + scale * th, m : m + scale * tw].float()
            sr = sr.add_(1).mul_(0.5).clamp_(0, 1).to(lr.device)
            for t, y in zip(group, sr, strict=True):
                out[t.index, :, scale * t.y : scale * (t.y + th), scale * t.x : scale * (t.x + tw)] = y
            done += len(group)
            if progress is not None:
                progress(done, len(todo))
    return out
