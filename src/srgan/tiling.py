"""Seamless tiled super-resolution of images of any size.

Border policy (the definition of "whole-image inference" used everywhere in srgan): before the network sees an
image, the image is extended on every side by ``min(overlap, EDGE_MARGIN)`` pixels of *reflected* context
(``numpy.pad(mode="reflect")``, i.e. mirrored without repeating the edge pixel; a 1-pixel-wide axis is replicated),
and that margin is cropped from the output. So no dark or ringing border appears at the image edges.

Tiles: a tile's core (the output it is responsible for) is run in a window with ``overlap`` pixels of context on
each side, clipped to the same reflect-extended image. With ``overlap >= Generator.receptive_radius`` a tile
produces exactly the pixels that whole-image inference produces: inside the image its core never sees the zero
padding at its window's edge, and at the image edge its window ends where the extended image ends. ``tile=0``
(whole image) is simply one tile covering the image, through the same code path.

Cores along an axis all have the same size: they start every ``tile`` pixels and the last one is shifted back to
end at the image edge (it recomputes a few pixels of its neighbour, which are identical). Windows of equal shape
and core offset (all but those at the image edges) run batched. ``upscale_tensor`` returns the whole result;
``upscale_bands`` gives it a row of tiles (a band) at a time, for results too large to hold in memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
from torch import nn

# Reflected context added at the image edges. With the shipped ×4 model (receptive radius 40), 16 pixels give the
# same 8-bit output as 41 on flat images (8 pixels: off by one level at the edge) and the same Set5/Set14 PSNR-Y
# within 0.0001 dB, also in the outer 20-pixel ring; the full radius would compute 1.8× the pixels of a 256×192
# image, 16 pixels 1.3×.
EDGE_MARGIN = 16
_T = TypeVar("_T")


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


def window_span(start: int, core: int, length: int, overlap: int, margin: int) -> tuple[int, int]:
    """[first, stop) of the window of the core [start, start + core) along an axis of ``length``: ``overlap``
    context pixels on each side, clipped to the extended axis [−margin, length + margin)."""
    return max(start - overlap, -margin), min(start + core + overlap, length + margin)


def _window_sizes(length: int, tile: int, overlap: int, margin: int) -> list[int]:
    core = core_size(length, tile)
    return [b - a for a, b in (window_span(y, core, length, overlap, margin) for y in tile_starts(length, tile))]


def tiles(n_images: int, height: int, width: int, tile: tuple[int, int]) -> list[Tile]:
    """All tiles of ``n_images`` images of ``height`` × ``width`` with cores ``tile`` (rows, columns; 0 = the whole
    axis), image by image, row by row."""
    ys, xs = tile_starts(height, tile[0]), tile_starts(width, tile[1])
    return [Tile(i, y, x) for i in range(n_images) for y in ys for x in xs]


def _core_fitting(length: int, overlap: int, margin: int, max_window: int, multiple: int) -> int | None:
    """Core size along an axis for the fewest windows no longer than ``max_window``, split evenly (a multiple of
    ``multiple``); the whole axis when its window fits; None when not even one multiple fits."""
    if length + 2 * margin <= max_window:
        return length
    longest = (max_window - 2 * overlap) // multiple * multiple
    if longest < multiple:
        return None
    n = math.ceil(length / longest)
    return min(length, math.ceil(length / n / multiple) * multiple)


def auto_tile(bytes_per_pixel: float, overlap: int, batch: int, budget_bytes: float, image: tuple[int, int],
              multiple: int = 8, max_rows: int | None = None) -> tuple[int, int]:
    """Core size (rows, columns) for an ``image`` (height, width) that computes the fewest window pixels while
    ``batch`` windows of ``bytes_per_pixel`` per pixel fit in ``budget_bytes``: the whole image when it fits, else
    cores split evenly, rectangular where that wastes less. At least ``multiple`` × ``multiple``; at most
    ``max_rows`` rows (a band of ``upscale_bands`` is a row of cores) unless that is below ``multiple``.
    """
    height, width = image
    margin = min(overlap, EDGE_MARGIN)
    max_pixels = budget_bytes / (batch * bytes_per_pixel)
    best: tuple[int, int, int] | None = None
    for rows in range(1, math.ceil(height / multiple) + 1):
        th = height if rows == 1 else math.ceil(height / rows / multiple) * multiple
        if (rows > 1 and th >= height) or (max_rows is not None and th > max(max_rows, multiple)):
            continue
        heights = _window_sizes(height, th, overlap, margin)
        tw = _core_fitting(width, overlap, margin, int(max_pixels // max(heights)), multiple)
        if tw is None:
            continue
        cost = sum(heights) * sum(_window_sizes(width, tw, overlap, margin))
        if best is None or cost < best[0]:
            best = (cost, th, tw)
    return (multiple, multiple) if best is None else best[1:]


def _batches(items: list[_T], size: int) -> Iterator[list[_T]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def upscale_tensor(
    net: nn.Module,
    lr: torch.Tensor,
    scale: int,
    tile: int | tuple[int, int],
    overlap: int,
    batch: int = 1,
    *,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> torch.Tensor:
    """Super-resolve ``lr`` tile by tile with the border policy of this module.

    Tensor contract: ``lr`` is float (N, 3, H, W) in [0, 1] on any device; ``net`` maps (B, 3, h, w) in [0, 1] to
    float32 (B, 3, scale·h, scale·w) in nominal [−1, 1] (a ``Generator``, or its inference graph, which chooses its
    own precision and layout). Returns float32 (N, 3, scale·H, scale·W) in [0, 1] on ``lr``'s device; windows are
    cut from ``lr`` as they are (NCHW, its dtype) and run on ``device`` (default: ``lr``'s). ``tile`` is the core
    size in LR pixels, square or (rows, columns), 0 = the whole axis; ``overlap`` is the context per side, exact
    when ≥ the network's receptive radius; ``batch`` windows of one shape run per call.
    ``progress(done, total)`` is called before the first batch (done 0) and after each one.
    """
    (out,) = _upscale(net, lr, scale, tile, overlap, batch, device, progress, None, by_row=False)
    return out


def upscale_bands(
    net: nn.Module,
    lr: torch.Tensor,
    scale: int,
    tile: int | tuple[int, int],
    overlap: int,
    batch: int = 1,
    *,
    device: torch.device | None = None,
    progress: Callable[[int, int], None] | None = None,
    finish: Callable[[torch.Tensor], torch.Tensor] | None = None,
) -> Iterator[torch.Tensor]:
    """``upscale_tensor`` one row of tiles (a band) at a time, top to bottom, for results too large to hold whole:
    memory is set by the tiles and one band, not by the image.

    Yields (N, C, scale·rows, scale·W) tensors on ``lr``'s device for consecutive output rows: laid one under the
    other they are ``upscale_tensor``'s result (bit for bit with ``batch`` 1; windows batch within a band here, over
    the whole image there). Where the last row of cores is moved back to end at the image edge, the band above stops
    where it starts, as the last tiles overwrite that overlap in ``upscale_tensor``. ``finish`` maps each batch of
    finished cores, float32 (B, 3, h, w) in [0, 1] on ``device``, to what the bands hold (any dtype and channel
    count; default: as they are): rounded to integers there, a band takes a quarter of its floats' memory. Other
    arguments as ``upscale_tensor``.
    """
    return _upscale(net, lr, scale, tile, overlap, batch, device, progress, finish, by_row=True)


def _upscale(net: nn.Module, lr: torch.Tensor, scale: int, tile: int | tuple[int, int], overlap: int, batch: int,
             device: torch.device | None, progress: Callable[[int, int], None] | None,
             finish: Callable[[torch.Tensor], torch.Tensor] | None, by_row: bool) -> Iterator[torch.Tensor]:
    """The tile loop of both: the rows of cores in bands (each row a band, or all rows one band), windows of one
    shape and core offset batched within a band, each band yielded as soon as its tiles are done."""
    if lr.ndim != 4 or lr.shape[1] != 3:
        raise ValueError(f"expected an (N, 3, H, W) tensor, got shape {tuple(lr.shape)}")
    if overlap < 0 or batch < 1:
        raise ValueError(f"overlap must be >= 0 and batch >= 1, got {overlap}, {batch}")
    n, _, h, w = lr.shape
    device = lr.device if device is None else device
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    th, tw = core_size(h, tile_h), core_size(w, tile_w)
    margin = min(overlap, EDGE_MARGIN)
    # rows/cols index the reflect-extended image: position p of the image is entry p + margin
    rows = torch.from_numpy(reflect_index(np.arange(-margin, h + margin), h)).to(lr.device)
    cols = torch.from_numpy(reflect_index(np.arange(-margin, w + margin), w)).to(lr.device)
    ys, xs = tile_starts(h, th), tile_starts(w, tw)
    bands = [[y] for y in ys] if by_row else [ys]
    total, done = n * len(ys) * len(xs), 0
    if progress is not None:
        progress(0, total)  # a bar shows the tiles from the start, not after the first one
    for k, band in enumerate(bands):
        top, stop = band[0], bands[k + 1][0] if k + 1 < len(bands) else h  # the LR rows this band gives
        # windows batch together when they have the same shape and the same core offset (edges differ from the rest)
        kinds: dict[tuple[int, ...], list[tuple[Tile, tuple[int, int], tuple[int, int]]]] = {}
        for t in (Tile(i, y, x) for i in range(n) for y in band for x in xs):
            wy, wx = window_span(t.y, th, h, overlap, margin), window_span(t.x, tw, w, overlap, margin)
            kinds.setdefault((wy[1] - wy[0], wx[1] - wx[0], t.y - wy[0], t.x - wx[0]), []).append((t, wy, wx))
        out: torch.Tensor | None = None
        with torch.inference_mode():
            for group in itertools.chain.from_iterable(_batches(g, batch) for g in kinds.values()):
                windows = torch.stack([
                    lr[t.index].index_select(1, rows[y0 + margin : y1 + margin])
                    .index_select(2, cols[x0 + margin : x1 + margin])
                    for t, (y0, y1), (x0, x1) in group
                ]).to(device)
                t0, (y0, _), (x0, _) = group[0]
                dy, dx = scale * (t0.y - y0), scale * (t0.x - x0)
                sr = net(windows)[:, :, dy : dy + scale * th, dx : dx + scale * tw]
                sr = sr.add_(1).mul_(0.5).clamp_(0, 1)
                sr = (sr if finish is None else finish(sr)).to(lr.device)
                if out is None:
                    out = torch.empty((n, sr.shape[1], scale * (band[-1] + th - top), scale * w), dtype=sr.dtype,
                                      device=lr.device)
                for (t, _, _), y in zip(group, sr, strict=True):
                    y0 = scale * (t.y - top)
                    out[t.index, :, y0 : y0 + scale * th, scale * t.x : scale * (t.x + tw)] = y
                done += len(group)
                if progress is not None:
                    progress(done, total)
        assert out is not None  # every band has at least one tile
        yield out[:, :, : scale * (stop - top)]
