"""The one image decoder: files (and in-memory PIL images) to ``Picture``; folder scanning for image files.

Modes: grayscale (1, L, I;16, I) stays grayscale; palette, RGBX, YCbCr, LAB, HSV become RGB; anything with
transparency (alpha channel, palette or 8-bit colour-key ``tRNS``) gains a separate alpha channel; CMYK becomes RGB
through its embedded ICC profile (LittleCMS, to sRGB) or Pillow's plain formula when it has none. 16-bit PNG and
TIFF (any channel layout) are decoded with imagecodecs / tifffile, since Pillow keeps only 8 bits of 16-bit colour.
Animated GIF/WebP/PNG and multi-page TIFF: the first frame is used and a warning says so. 32-bit floating-point
images (Pillow mode F) are refused: they have no defined integer range. Pillow's own decompression-bomb guard is
replaced by ``max_pixels``, checked from the header before any pixel is decoded. Every problem with a file is an
``SrganError`` naming it.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import stat
import struct
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path

import imagecodecs
import numpy as np
import tifffile
from PIL import Image, ImageCms, UnidentifiedImageError

from srgan.errors import SrganError
from srgan.images.picture import (
    INPUT_EXTENSIONS,
    Metadata,
    Picture,
    dpi_of,
    eight_bits,
    strip_xmp_orientation,
    useful_exif,
)

DEFAULT_MAX_PIXELS = 50_000_000  # ~ an 8700 × 5800 photo; raise with --max-pixels
_ORIENTATION = 274
# What a damaged or non-image file can make Pillow, imagecodecs, tifffile or LittleCMS raise while decoding it.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError, struct.error,
                  zlib.error, imagecodecs.PngError, ImageCms.PyCMSError)


def load(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Picture:
    """Decode ``path`` into an upright Picture; ``max_pixels`` (None = no limit) guards against bombs."""
    path = Path(path)
    _check_readable(path)
    try:
        with _pillow_guard_off(), Image.open(path) as im:
            w, h = im.size
            if w < 1 or h < 1:
                raise SrganError(f"image has no pixels ({w}×{h})", path)
            if max_pixels and w * h > max_pixels:
                raise SrganError(f"image is {w}×{h} = {w * h:,} pixels, over the limit of {max_pixels:,} "
                                 "(decompression-bomb guard; srgan upscale --max-pixels raises it)", path)
            if im.mode == "F":
                raise SrganError("32-bit floating-point image (mode F): no defined integer range", path)
            frames = getattr(im, "n_frames", 1)
            if frames > 1:
                warnings.warn(f"{path}: has {frames} frames (animation or pages); only the first is used",
                              stacklevel=2)
            icc = im.info.get("icc_profile") or None
            if _is_16bit_file(path, im):
                color, alpha = _decode_16bit(path, im.format)
            else:
                color, alpha, icc = _decode_pillow(im, icc)
            exif = im.getexif()
            meta = Metadata(icc_profile=icc, exif=useful_exif(exif), dpi=dpi_of(im.info),
                            text=tuple((str(k), str(v)) for k, v in getattr(im, "text", {}).items()),
                            xmp=strip_xmp_orientation(im.info.get("xmp")))
    except UnidentifiedImageError as e:
        raise SrganError("not an image file (or a format Pillow cannot read)", path) from e
    except _DECODE_ERRORS as e:
        raise SrganError(f"corrupt or truncated image ({_first_line(e)})", path) from e
    orientation = exif.get(_ORIENTATION, 1)
    return Picture(upright(color, orientation), None if alpha is None else upright(alpha, orientation), meta)


def read_rgb8(path: str | Path, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """The image at ``path`` as (H, W, 3) uint8 RGB, decoded by ``load``: what training, evaluation and report
    pages work on (grey replicated, alpha dropped, 16 bits rounded to 8)."""
    picture = load(path, max_pixels)
    color = eight_bits(picture.color)
    return np.ascontiguousarray(np.repeat(color, 3, axis=2)) if color.shape[2] == 1 else color


def scan_folder(folder: str | Path, exclude: Path | None = None) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Image files under ``folder``, searched recursively and sorted (indices into the list are stable), and
    (entry, reason) for each entry with an image name that is no image file (a broken or looping link, a link to
    a folder). Kept: an ``INPUT_EXTENSIONS`` extension in any case, no hidden part (a name starting with "."
    below ``folder``), not under ``exclude``; a folder named like an image is searched, not listed."""
    folder = Path(folder)
    if not folder.is_dir():
        raise SrganError("not a folder", folder)
    outside = None if exclude is None else Path(os.path.realpath(exclude))
    files: list[Path] = []
    unusable: list[tuple[Path, str]] = []
    for f in sorted(folder.rglob("*")):
        if (f.suffix.lower() not in INPUT_EXTENSIONS
                or any(p.startswith(".") for p in f.relative_to(folder).parts)
                or (outside is not None and Path(os.path.realpath(f)).is_relative_to(outside))
                or (f.is_dir() and not f.is_symlink())):
            continue
        why = not_a_file(f)
        if why:
            unusable.append((f, why))
        else:
            files.append(f)
    return files, unusable


def not_a_file(path: Path) -> str | None:
    """Why ``path`` cannot be read as an image file, or None if it is a regular file (after links). Links are never
    resolved with an exception: a loop is a reason, not the end of a batch."""
    try:
        mode = path.stat().st_mode
    except OSError as e:
        if e.errno == errno.ELOOP:
            return "symbolic link loop"
        if path.is_symlink():
            return f"broken symbolic link to {os.readlink(path)}"
        return e.strerror or str(e)
    if stat.S_ISDIR(mode):
        return "a folder"
    return None if stat.S_ISREG(mode) else "not a regular file"


def from_pil(im: Image.Image) -> Picture:
    """An in-memory PIL image as a Picture (pixels as they are: no EXIF rotation; ICC profile kept)."""
    color, alpha, icc = _decode_pillow(im, im.info.get("icc_profile") or None)
    return Picture(color, alpha, Metadata(icc_profile=icc))


def upright(a: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1–8; anything else is 1) to an (H, W, ...) array: what a viewer displays."""
    if orientation not in range(2, 9):
        return a
    if orientation >= 5:  # 5–8 swap rows and columns, then flip like 1–4 do
        a = a.swapaxes(0, 1)
    if orientation in (2, 3, 6, 7):
        a = a[:, ::-1]
    if orientation in (3, 4, 7, 8):
        a = a[::-1]
    return np.ascontiguousarray(a)


def _check_readable(path: Path) -> None:
    try:
        st = path.stat()
        if path.is_dir():
            raise SrganError("is a folder, not an image file", path)
        if st.st_size == 0:
            raise SrganError("empty file", path)
        with open(path, "rb"):
            pass
    except FileNotFoundError as e:
        raise SrganError("no such file", path) from e
    except OSError as e:
        raise SrganError(f"cannot read ({e.strerror or e})", path) from e


@contextlib.contextmanager
def _pillow_guard_off() -> Iterator[None]:
    """Pillow's fixed bomb limit would override ``max_pixels``; it is lifted only while we decode."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _is_16bit_file(path: Path, im: Image.Image) -> bool:
    """16 bits per sample in a PNG or TIFF: decoded by imagecodecs/tifffile, not Pillow."""
    if im.format == "PNG":
        with open(path, "rb") as f:
            header = f.read(25)
        return header[24] == 16  # IHDR bit depth
    if im.format == "TIFF":
        bits = im.tag_v2.get(258, 1)
        return 16 in (bits if isinstance(bits, tuple) else (bits,))
    return False


def _decode_16bit(path: Path, fmt: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    """16-bit PNG/TIFF → (H, W, 1|3) uint16 colour and (H, W) alpha or None."""
    if fmt == "PNG":
        a = imagecodecs.png_decode(path.read_bytes())
    elif fmt == "TIFF":
        with tifffile.TiffFile(path) as tif:
            page = tif.pages[0]
            a = page.asarray()
            if page.axes.startswith("S"):  # planar: samples first
                a = np.moveaxis(a, 0, -1)
            if page.photometric == tifffile.PHOTOMETRIC.MINISWHITE:
                a = 65535 - a
            elif page.photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB):
                raise ValueError(f"unsupported 16-bit TIFF colour space {page.photometric.name}")
    if a.dtype != np.uint16:
        raise ValueError(f"unsupported sample type {a.dtype}")
    a = a[:, :, None] if a.ndim == 2 else a
    c = 1 if a.shape[2] in (1, 2) else 3
    alpha = a[:, :, c] if a.shape[2] > c else None
    return np.ascontiguousarray(a[:, :, :c]), None if alpha is None else np.ascontiguousarray(alpha)


def _decode_pillow(im: Image.Image, icc: bytes | None) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """8-bit (and Pillow 16-bit grayscale) pixels → colour, alpha, and the ICC profile that now applies."""
    if im.mode == "F":
        raise ValueError("32-bit floating-point images are not supported")
    if im.mode == "I" or im.mode.startswith("I;16"):
        return np.clip(np.asarray(im), 0, 65535).astype(np.uint16)[:, :, None], None, icc
    if im.mode == "CMYK":
        if icc:
            im = ImageCms.profileToProfile(im, io.BytesIO(icc), ImageCms.createProfile("sRGB"), outputMode="RGB")
        else:
            im = im.convert("RGB")
        icc = None  # now sRGB, which an untagged image means
    alpha = im.mode in ("LA", "La", "PA", "RGBA", "RGBa") or im.has_transparency_data
    gray = im.mode in ("1", "L", "LA", "La")
    target = ("LA" if alpha else "L") if gray else ("RGBA" if alpha else "RGB")
    a = np.asarray(im.convert(target))
    a = a[:, :, None] if a.ndim == 2 else a
    c = 1 if gray else 3
    return np.ascontiguousarray(a[:, :, :c]), np.ascontiguousarray(a[:, :, c]) if alpha else None, icc


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
