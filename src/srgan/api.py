"""The Python API: load a model once, then upscale PIL images, numpy arrays or files.

    import srgan
    up = srgan.load_model("weights.safetensors")      # or None for the shipped default
    big = up.upscale(Image.open("photo.jpg"))          # PIL in, PIL out; numpy uint8/uint16 in, same out
    up.upscale_file("photo.jpg", "photo_x4.jpg")       # keeps bit depth, alpha, ICC, EXIF; saved upright

Images go through ``srgan.images`` (decoding, metadata) and ``srgan.tiling`` (seamless tiles); this module turns
pixels into the network's float tensors and back. Grayscale is replicated to RGB for the network and brought
back with Rec. 601 luma (Pillow's L conversion). Alpha never goes through colour: it is upscaled on its own with
MATLAB bicubic (``alpha="bicubic"``) or by the network on replicated channels (``alpha="model"``), and the colour
of fully transparent pixels, which is arbitrary in files (often black), is first replaced by the colour of the
nearest opaque content (push-pull fill). So the network sees no false edge at the silhouette and no colour bleeds
into the antialiased border; premultiplying instead would darken that border before a non-linear network and
divide by tiny alphas after it.

A file's upscale is three steps, which the batch pipeline (``srgan.pipeline``) runs in different threads:
``read_input``, ``Upscaler.compute_output`` and ``save_result``; ``Upscaler.upscale_file`` runs them in turn. An output
too large for memory (``Upscaler.writes_in_bands``) is written by the middle step, a row of tiles at a time.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
from PIL import Image

from srgan import images, runtime, tiling, weights
from srgan.data.degrade import imresize, output_size, quantize, resize_to
from srgan.errors import SrganError, check_number
from srgan.images import Picture
from srgan.models import Generator
from srgan.models.fast import FastGenerator, optimize_for_inference

ALPHA_MODES = ("bicubic", "model")
# On a GPU the float result is assembled there when it takes at most this fraction of the free memory (tiles get
# half): it is then turned into integers on the GPU, and only those cross to the host, 4× fewer bytes at 8 bits.
GPU_RESULT_FRACTION = 0.25
# An output written in bands (Upscaler.writes_in_bands) shares the memory budget: a band of its integers may take this
# fraction, its tiles the rest.
BAND_FRACTION = 0.25
_NAN = "the model's output holds NaN values (an overflow? try --precision fp32)"
_LUMA = (0.299, 0.587, 0.114)
ImageT = TypeVar("ImageT", Image.Image, np.ndarray)


@dataclass(frozen=True)
class OutputSize:
    """An output size other than the model's scale (Real-ESRGAN's ``--outscale``): ``outscale`` × the input
    (MATLAB's ceil), or ``width`` and/or ``height`` in pixels (one alone keeps the aspect ratio). The model's ×s
    result is resized to it with MATLAB's bicubic (antialiased when shrinking)."""

    outscale: float | None = None
    width: int | None = None
    height: int | None = None

    def __post_init__(self) -> None:
        if self.outscale is None and self.width is None and self.height is None:
            raise SrganError("an output size needs outscale, width or height")
        if self.outscale is not None:
            if self.width is not None or self.height is not None:
                raise SrganError("give either outscale or width/height, not both")
            check_number("outscale", self.outscale, 0, whole=False, strict=True)
        for name in ("width", "height"):
            if getattr(self, name) is not None:
                check_number(name, getattr(self, name), 1)

    def of(self, size: tuple[int, int]) -> tuple[int, int]:
        """The output (height, width) for an input of ``size`` (height, width)."""
        h, w = size
        if self.outscale is not None:
            return output_size(size, self.outscale)
        if self.width is not None and self.height is not None:
            return self.height, self.width
        if self.width is not None:
            return max(1, math.floor(h * self.width / w + 0.5)), self.width
        return self.height, max(1, math.floor(w * self.height / h + 0.5))  # type: ignore[operator]


def load_model(name_or_path: str | Path | None = None, device: str | torch.device | None = None,
               precision: str | None = None, *, for_file: str | Path | None = None) -> Upscaler:
    """Load a weight file or shipped model into an ``Upscaler``.

    The shipped models (all ×4): ``srresnet-x4`` (the default: the paper's SRResNet, MSE, highest PSNR),
    ``real-x4`` (fine-tuned on JPEG-compressed inputs: removes the block grid and ringing of JPEG files),
    ``srgan-x4`` (the paper's SRGAN: sharper, invented texture, lower PSNR). ``name_or_path`` None with
    ``for_file`` takes the model ``srgan upscale`` takes for that file (``weights.model_for``: real-x4 for a JPEG,
    else the default); None without it, the default. ``device`` and ``precision`` None are "auto".
    """
    if name_or_path is None:
        name_or_path = weights.DEFAULT_MODEL if for_file is None else weights.model_for(for_file)
    return Upscaler(weights.load(weights.resolve(name_or_path)), device, precision,
                    name=weights.model_name(name_or_path))


def _inference_network(model: Generator, dtype: torch.dtype | None) -> FastGenerator:
    """The module that runs the tiles: the generator's inference graph (BatchNorm folded, fused upsampling, strips),
    computing in ``dtype`` (None: fp32) with weights converted once; from then on the graph alone knows its
    precision, layout and memory per pixel; see ``srgan.models.fast``."""
    return optimize_for_inference(model, dtype)


class Upscaler:
    """A generator ready for inference on one device, with the tiling and alpha settings to use.

    ``tile``: LR pixels per tile side, 0 for the whole image, or "auto" (the largest that fits in memory);
    ``overlap``: context pixels per tile side (default: the generator's receptive radius, which makes tiles
    exact); ``batch``: tiles per forward pass; ``alpha``: "bicubic" or "model"; ``size``: an ``OutputSize``
    when outputs should not be the model's scale; ``name``: the model's name, which its output files carry (with
    srgan's, as their Software mark). The Upscaler takes ownership of ``model`` (moved to ``device``); it runs the
    inference graph built from it, in ``precision``.
    """

    def __init__(self, model: Generator, device: str | torch.device | None = None, precision: str | None = None,
                 tile: int | str = "auto", overlap: int | None = None, batch: int = 1,
                 alpha: str = "bicubic", size: OutputSize | None = None, name: str | None = None) -> None:
        if tile != "auto":
            check_number("tile", tile, 0)
        if overlap is not None:
            check_number("overlap", overlap, 0)
        check_number("batch", batch, 1)
        if alpha not in ALPHA_MODES:
            raise SrganError(f"alpha must be one of {', '.join(ALPHA_MODES)}, got {alpha!r}")
        self.device = runtime.resolve_device(device)
        self._config = model.config
        self._net = _inference_network(model.to(self.device), runtime.resolve_precision(precision, self.device))
        self.tile = tile
        self.overlap = Generator.receptive_radius(model.config) if overlap is None else overlap
        self.batch = batch
        self.alpha = alpha
        self.size = size
        self.software = images.SOFTWARE + (f" ({name})" if name else "")  # the mark of its outputs

    @property
    def scale(self) -> int:
        return self._config.scale

    def tile_size(self, image: tuple[int, int], band_row_bytes: int = 0) -> tuple[int, int]:
        """Core size (rows, columns) in LR pixels for an ``image`` (height, width): ``tile`` as given (0 = whole
        axis), or for "auto" the fewest window pixels that fit in memory now (the whole image when it fits). For an
        output written in bands of ``band_row_bytes`` per LR row, the tiles get what the band leaves of the budget,
        and a band (a row of cores) at most ``BAND_FRACTION`` of it."""
        if self.tile != "auto":
            return int(self.tile), int(self.tile)
        per_pixel = self._net.window_bytes_per_pixel()
        budget = runtime.memory_budget(self.device)
        if not band_row_bytes:
            return tiling.auto_tile(per_pixel, self.overlap, self.batch, budget, image)
        band = BAND_FRACTION * budget
        return tiling.auto_tile(per_pixel, self.overlap, self.batch, budget - band, image,
                                max_rows=int(band // band_row_bytes))

    def upscale(self, image: ImageT) -> ImageT:
        """Upscale a PIL image or a numpy uint8/uint16 array (H, W) or (H, W, 1|2|3|4); same type back.

        PIL modes: L, LA, RGB, RGBA, I;16 come back unchanged; 1 → L, P/PA → RGB/RGBA, CMYK → RGB. numpy: same
        dtype and layout; 2 and 4 channels are gray/colour plus alpha. EXIF orientation is not applied to
        in-memory images (``upscale_file`` does).
        """
        if isinstance(image, Image.Image):
            return images.to_pil(self.upscale_picture(images.from_pil(image)))
        if isinstance(image, np.ndarray):
            return _to_array(self.upscale_picture(_from_array(image)), image.ndim)
        raise TypeError(f"expected a PIL.Image or a numpy array, got {type(image).__name__}")

    def upscale_file(self, src: str | Path, dst: str | Path, overwrite: bool = False,
                     max_pixels: int | None = images.DEFAULT_MAX_PIXELS,
                     progress: Callable[[int, int], None] | None = None,
                     png_compression: int = images.PNG_COMPRESSION, quality: int = images.QUALITY) -> Path:
        """Read ``src``, upscale, write ``dst`` (format from its extension, ``png_compression`` the deflate level 0-9
        of a PNG, ``quality`` 1-100 of a JPEG or WebP) atomically; returns ``dst``. An output too large for memory is
        written a row of tiles at a time as they are computed (``writes_in_bands``); its pixels are the same."""
        picture = read_input(src, dst, overwrite, max_pixels)
        result = self.compute_output(picture, src, dst, overwrite, png_compression, progress, max_pixels)
        return save_result(result, src, dst, overwrite, png_compression, quality)

    def compute_output(self, picture: Picture, src: str | Path, dst: str | Path, overwrite: bool = False,
                       png_compression: int = images.PNG_COMPRESSION,
                       progress: Callable[[int, int], None] | None = None,
                       max_pixels: int | None = images.DEFAULT_MAX_PIXELS) -> Picture | Path:
        """The network's step of ``upscale_file`` (``picture`` decoded from ``src``): the result, for
        ``save_result`` to write to ``dst``; or, when ``writes_in_bands``, ``dst`` itself, already written band by
        band as the tiles finished. An output size over ``max_pixels`` × scale² is refused before any work, as
        ``read_input`` refuses inputs over ``max_pixels``."""
        with _about(src):
            self._check_output_size(picture.color.shape[:2], max_pixels)
            if not self.writes_in_bands(picture, dst):
                return self.upscale_picture(picture, progress)
            h, w, c = picture.color.shape
            dtype = picture.color.dtype
            tile = self.tile_size((h, w), band_row_bytes=self.scale**2 * w * c * _carrier(dtype).itemsize)

            extremes: list[int] = []  # the lowest and the highest value so far

            def finish(sr: torch.Tensor) -> torch.Tensor:  # what upscale_picture does to the whole result, per tile
                _check_finite(sr)
                out = _rounded(_gray(sr) if c == 1 else sr, dtype)
                low, high = (int(v) for v in out.aminmax())
                extremes[:] = [min([low, *extremes[:1]]), max([high, *extremes[1:]])]
                return out

            def checked(bands: Iterator[torch.Tensor]) -> Iterator[np.ndarray]:  # raises before the file is complete
                yield from map(_host_rows, bands)
                _check_varies(picture, *extremes)

            lr = _network_input(picture.color, self.device)
            bands = tiling.upscale_bands(self._net, lr, self.scale, tile, self.overlap, self.batch,
                                         device=self.device, progress=progress, finish=finish)
            meta = replace(picture.meta.scaled(self.scale), software=self.software)
            return images.save_bands(checked(bands), (self.scale * h, self.scale * w, c), dtype, meta, dst, overwrite,
                                     png_compression)

    def _check_output_size(self, size: tuple[int, int], max_pixels: int | None) -> None:
        h, w = self.size.of(size) if self.size is not None else (self.scale * size[0], self.scale * size[1])
        limit = max_pixels * self.scale**2 if max_pixels else None
        if limit is not None and h * w > limit:
            raise SrganError(f"the output would be {w}×{h} = {w * h:,} pixels, over the limit of {limit:,} (the "
                             f"input limit × {self.scale**2}; srgan upscale --max-pixels raises it)")

    def writes_in_bands(self, picture: Picture, dst: str | Path) -> bool:
        """Whether ``compute_output`` writes the result of ``picture`` to ``dst`` a row of tiles at a time instead of
        returning it whole. Yes when its float32 pixels (12 bytes per output pixel, ``upscale_picture``'s largest
        buffer) would exceed the host's memory budget (``runtime.memory_budget``) and the file can be written so:
        PNG or TIFF, without alpha (upscaled from the whole alpha channel), at the model's scale (the resize to
        another size needs the whole result). The one place this is decided."""
        h, w = picture.color.shape[:2]
        if (self.size is not None or picture.alpha is not None
                or images.output_format(Path(dst)) not in images.BAND_FORMATS):
            return False
        return 12 * self.scale**2 * h * w > runtime.memory_budget(torch.device("cpu"))

    def upscale_picture(self, picture: Picture, progress: Callable[[int, int], None] | None = None) -> Picture:
        """Upscale colour and alpha of a decoded picture; metadata is carried with its resolution scaled."""
        h, w = picture.color.shape[:2]
        target = None if self.size is None else self.size.of((h, w))
        color = picture.color
        if picture.alpha is not None:
            color = fill_transparent(_to_float(color), picture.alpha > 0)
        sr = self._super_resolve(color, progress)
        if picture.color.shape[2] == 1:
            sr = _gray(sr)
        if target is not None:
            sr = resize_to(sr, target)
        out = _to_integer(sr, picture.color.dtype)
        del sr  # the float result is the largest buffer: free it before the alpha pass
        _check_varies(picture, int(out.min()), int(out.max()))
        alpha = None if picture.alpha is None else self._upscale_alpha(picture.alpha, target)
        meta = replace(picture.meta, software=self.software)
        if target is None:
            return Picture(out, alpha, meta.scaled(self.scale))
        if meta.dpi is not None:  # same physical size: each axis's dpi grows with its pixel count
            meta = replace(meta, dpi=(meta.dpi[0] * target[1] / w, meta.dpi[1] * target[0] / h))
        return Picture(out, alpha, meta)

    def _upscale_alpha(self, alpha: np.ndarray, target: tuple[int, int] | None) -> np.ndarray:
        """Alpha at the output size: MATLAB bicubic straight to it, or the network then the resize."""
        if self.alpha == "bicubic":
            if target is None:
                return imresize(alpha, self.scale)
            return quantize(resize_to(torch.from_numpy(alpha.astype(np.float64)), target).numpy(), alpha.dtype)
        sr = self._super_resolve(alpha.astype(np.float32)[:, :, None] / np.iinfo(alpha.dtype).max, None)
        sr = sr.mean(dim=1, keepdim=True)
        return _to_integer(sr if target is None else resize_to(sr, target), alpha.dtype)[:, :, 0]

    def _super_resolve(self, image: np.ndarray, progress: Callable[[int, int], None] | None) -> torch.Tensor:
        """(H, W, 1|3) integers or floats in [0, 1] → (1, 3, sH, sW) float32 in [0, 1] on ``_result_device``.

        The input becomes floats on the network's device wherever the result is assembled: a GPU divides by a
        reciprocal (one ulp off a CPU's division for half the uint8 values), so the result would otherwise
        depend on where it fits."""
        h, w, _ = image.shape
        lr = _network_input(image, self.device).to(self._result_device(h, w))
        sr = tiling.upscale_tensor(self._net, lr, self.scale, self.tile_size((h, w)), self.overlap, self.batch,
                                   device=self.device, progress=progress)
        _check_finite(sr)
        return sr

    def _result_device(self, h: int, w: int) -> torch.device:
        """Where the float result of an (h, w) input is assembled: on a GPU when it fits (GPU_RESULT_FRACTION),
        else on the CPU, so that GPU memory bounds only the tiles."""
        if self.device.type == "cuda":
            result_bytes = 3 * 4 * self.scale**2 * h * w
            if result_bytes <= GPU_RESULT_FRACTION * torch.cuda.mem_get_info(self.device)[0]:
                return self.device
        return torch.device("cpu")


def read_input(src: str | Path, dst: str | Path, overwrite: bool = False,
               max_pixels: int | None = images.DEFAULT_MAX_PIXELS) -> Picture:
    """The first step of ``Upscaler.upscale_file``: refuse to replace ``dst`` without ``overwrite`` (before the
    expensive part), then decode ``src``."""
    with _about(src):
        images.prepare_output(Path(dst), overwrite)
        return images.load(src, max_pixels)


def save_result(result: Picture | Path, src: str | Path, dst: str | Path, overwrite: bool = False,
                png_compression: int = images.PNG_COMPRESSION, quality: int = images.QUALITY) -> Path:
    """The last step of ``Upscaler.upscale_file``: write what ``compute_output`` gave to ``dst`` atomically (a path
    is a result already written)."""
    if isinstance(result, Path):
        return result
    with _about(src):
        return images.save(result, dst, overwrite, png_compression, quality)


@contextlib.contextmanager
def _about(src: str | Path) -> Iterator[None]:
    """A failure of a file's upscale as one line: what went wrong with the pixels, or running out of memory, is
    reported against the input file; a problem with another file (the output) keeps its own name."""
    try:
        yield
    except SrganError as e:
        if e.path:
            raise
        raise SrganError(e.problem, src) from e
    except (MemoryError, torch.OutOfMemoryError) as e:
        raise SrganError("out of memory; try a smaller --tile", src) from e


def fill_transparent(color: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Give pixels where ``known`` is False the colour of the nearest known pixels (push-pull pyramid).

    ``color`` (H, W, C) float, ``known`` (H, W) bool. Known pixels are returned unchanged; each unknown pixel
    gets the mean known colour of the smallest enclosing 2^k × 2^k block that holds any known pixel.
    """
    if known.all() or not known.any():
        return color
    levels = [(color * known[:, :, None], known.astype(np.float32))]
    while levels[-1][1].shape != (1, 1):
        c, k = levels[-1]
        levels.append((_sum_2x2(c), _sum_2x2(k[:, :, None])[:, :, 0]))
    fill = levels[-1][0] / levels[-1][1][:, :, None]
    for c, k in reversed(levels[:-1]):
        up = np.repeat(np.repeat(fill, 2, axis=0), 2, axis=1)[: c.shape[0], : c.shape[1]]
        fill = np.where(k[:, :, None] > 0, c / np.maximum(k, 1e-12)[:, :, None], up)
    return np.where(known[:, :, None], color, fill).astype(color.dtype)


def _sum_2x2(a: np.ndarray) -> np.ndarray:
    h, w = a.shape[:2]
    a = np.pad(a, ((0, h % 2), (0, w % 2), (0, 0)))
    return a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2, -1).sum(axis=(1, 3))


def _to_float(a: np.ndarray) -> np.ndarray:
    """uint8/uint16 pixels → float32 in [0, 1], in one new buffer."""
    f = a.astype(np.float32)
    f /= np.iinfo(a.dtype).max
    return f


def _network_input(image: np.ndarray, device: torch.device) -> torch.Tensor:
    """(H, W, 1|3) uint8/uint16, or float in [0, 1] → (1, 3, H, W) float32 in [0, 1] on ``device``, grey replicated.

    Integers cross to the device as they are and become floats there: a quarter of float32's bytes over a GPU's
    bus, and the conversion runs on the GPU instead of one host core (on a CPU it is ``_to_float``'s arithmetic).
    A read-only array (a decoded image's) is copied first: torch does not take one."""
    h, w, _ = image.shape
    t = torch.from_numpy(image if image.flags.writeable else image.copy()).to(device).permute(2, 0, 1)[None]
    if not t.is_floating_point():
        t = t.to(torch.float32).div_(np.iinfo(image.dtype).max)
    return t.expand(1, 3, h, w)


def _check_finite(sr: torch.Tensor) -> None:
    """NaN survives the clamp to [0, 1] (infinities do not) and would be written as black; a sum finds it without
    a second buffer of the result's size."""
    if sr.sum().isnan():
        raise SrganError(_NAN)


def _check_varies(picture: Picture, low: int, high: int) -> None:
    """A result of one value (``low`` = ``high``: all white, all black) from an input that is not of one value is a
    broken model (absurd weights overflowing to a constant), not a result."""
    if low == high and picture.color.min() != picture.color.max():
        raise SrganError(f"the model's output is one value ({low}) everywhere for an input that is not: a broken "
                         "model (weights out of range?)")


def _gray(sr: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) → (N, 1, H, W) Rec. 601 luma, element by element: the same on a tile as on the whole image."""
    return sr[:, 0:1] * _LUMA[0] + sr[:, 1:2] * _LUMA[1] + sr[:, 2:3] * _LUMA[2]


def _host_rows(band: torch.Tensor) -> np.ndarray:
    """A band (1, C, rows, W) on any device as (rows, W, C) on the host: a view on a CPU; from a GPU, transposed
    there and copied as one block (a strided copy on the host runs on one core)."""
    rows = band[0].permute(1, 2, 0)
    return (rows if rows.device.type == "cpu" else rows.contiguous()).cpu().numpy()


def _carrier(dtype: np.dtype) -> torch.dtype:
    """The torch integer type holding values of ``dtype`` (torch has no general-purpose uint16)."""
    return torch.uint8 if dtype == np.uint8 else torch.int32


def _rounded(t: torch.Tensor, dtype: np.dtype) -> torch.Tensor:
    """Floats in [0, 1] → the integers of ``dtype`` (rounded half to even), in ``_carrier(dtype)``."""
    return t.mul(float(np.iinfo(dtype).max)).round_().to(_carrier(dtype))


def _to_integer(t: torch.Tensor, dtype: np.dtype) -> np.ndarray:
    """(1, C, H, W) float in [0, 1] on any device → (H, W, C) ``dtype`` on the host, converted in row chunks to
    bound extra memory. torch's ``copy_`` does the channel transpose: on a GPU it transposes there and copies each
    chunk as one block, on a CPU it runs on torch's threads (numpy's strided assignment runs on one).

    A uint8 result from a GPU lands in page-locked memory: the chunks are DMA'd at the bus's speed, queued one
    behind another, where a copy into pageable memory goes through the driver's bounce buffer; torch's host cache
    hands the freed block to the next result of its size, so a folder pins each size once. 16-bit results keep
    the pageable copy: torch converts its int32 carrier to uint16 on the host there."""
    _, c, h, w = t.shape
    pinned = t.is_cuda and dtype == np.uint8
    if pinned:
        host = torch.empty((h, w, c), dtype=torch.uint8, pin_memory=True)
    else:
        host = torch.from_numpy(np.empty((h, w, c), dtype=dtype))
    step = max(1, (1 << 22) // (w * c))
    for y in range(0, h, step):
        host[y : y + step].copy_(_rounded(t[0, :, y : y + step].permute(1, 2, 0), dtype), non_blocking=pinned)
    if pinned:
        torch.cuda.current_stream(t.device).synchronize()
    return host.numpy()


def _from_array(a: np.ndarray) -> Picture:
    if a.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected a uint8 or uint16 array, got {a.dtype}")
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or 0 in a.shape:
        raise ValueError(f"expected an (H, W) or (H, W, 1|2|3|4) image, got shape {a.shape}")
    c = 1 if a.shape[2] <= 2 else 3
    alpha = np.ascontiguousarray(a[:, :, c]) if a.shape[2] in (2, 4) else None
    return Picture(np.ascontiguousarray(a[:, :, :c]), alpha)


def _to_array(picture: Picture, ndim: int) -> np.ndarray:
    if picture.alpha is not None:
        return np.concatenate([picture.color, picture.alpha[:, :, None]], axis=2)
    return picture.color[:, :, 0] if ndim == 2 else picture.color
