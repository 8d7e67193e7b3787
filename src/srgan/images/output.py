"""Output policy: which format a path gets, what a format cannot hold (16 bits, alpha) and what is done about it,
and the two ways a picture is written, whole (``save``) or in bands (``save_bands``).

Metadata carried: ICC profile, EXIF (descriptive tags, the Exif and GPS sub-IFDs; orientation removed because the
pixels are saved upright, pixel dimensions updated), resolution (scaled with the image so the physical size stays
the same), PNG text chunks (PNG to PNG), XMP (JPEG/WebP to JPEG/WebP, orientation removed). TIFF outputs
(deflate-compressed) keep only the top-level EXIF tags. 16-bit PNGs keep ICC, resolution, EXIF and text; 16-bit
TIFFs keep ICC and resolution. JPEG has no alpha: an image with transparency written as JPEG is composited on white,
with a warning. JPEG, WebP and BMP hold 8 bits. Outputs too large to hold whole arrive in bands: PNG (srgan's
writer) and TIFF (tifffile); Pillow writes JPEG, WebP, BMP and 8-bit TIFF from a whole image. The write goes one
way down: this module encodes into ``fileio.output_file``, which makes it appear atomically under its name.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from srgan.errors import SrganError, check_number
from srgan.fileio import check_output, output_file
from srgan.images.picture import EXTENSION_FORMATS, Metadata, Picture, eight_bits, exif_for, interleave, pil_mode
from srgan.images.png import PNG_COMPRESSION, deflate_streamed, deflate_whole, png_scanlines, write_png
from srgan.images.tiff import write_tiff

# Formats save_bands writes a band at a time (Pillow writes JPEG and WebP from a whole image only).
BAND_FORMATS = ("PNG", "TIFF")


def output_format(path: Path) -> str:
    """Pillow format name for an output path, from its extension."""
    fmt = EXTENSION_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise SrganError(f"cannot write {path.suffix or 'files without an extension'}: use one of "
                         f"{', '.join(sorted(EXTENSION_FORMATS))}", path)
    return fmt


def prepare_output(path: Path, overwrite: bool) -> str:
    """The format ``path`` will be written in, after creating its folder; raises if the folder cannot be made or
    if writing would replace a file without ``overwrite`` (so callers can fail before expensive work)."""
    fmt = output_format(path)
    check_output(path, overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SrganError(f"cannot write output ({e.strerror or e})", path) from e
    return fmt


def save(picture: Picture, path: str | Path, overwrite: bool = False,
         png_compression: int = PNG_COMPRESSION) -> Path:
    """Write ``picture`` in the format of ``path``'s extension, atomically; refuses to replace a file unless
    ``overwrite``. ``png_compression`` is the deflate level (0-9) of a PNG: the pixels are the same at every level,
    only size and encoding time change. Warns when the format cannot hold the picture (alpha in JPEG, 16 bits in
    JPEG/WebP/BMP)."""
    check_number("png_compression", png_compression, choices=range(10))
    path = Path(path)
    fmt = prepare_output(path, overwrite)
    encode = _encoder(picture, fmt, path, png_compression)
    with output_file(path, overwrite) as f:
        encode(f)
    return path


def save_bands(bands: Iterable[np.ndarray], shape: tuple[int, int, int], dtype: type | np.dtype, meta: Metadata,
               path: str | Path, overwrite: bool = False, png_compression: int = PNG_COMPRESSION) -> Path:
    """Write an image that arrives in horizontal bands, top to bottom, without ever holding it whole: a PNG's rows
    are filtered and deflated as they come, a TIFF's in strips (``BAND_FORMATS``).

    ``shape`` is the image's (H, W, C), C 1 (grey) or 3; ``dtype`` uint8 or uint16; each band (rows, W, C) holds
    values of ``dtype`` in any integer type and layout (it is converted a few rows at a time). Atomic and refusing
    to replace a file unless ``overwrite``, as ``save``: an exception from ``bands`` (a computation failing half-way)
    leaves no file. The file decodes to the pixels ``save`` writes, with the same metadata, except that a TIFF keeps
    ICC and resolution only (``save`` also keeps EXIF in 8-bit TIFFs). A PNG differs from ``save``'s only in its
    deflate stream (zlib's, streamed, where ``save`` has libdeflate's of the whole image).
    """
    check_number("png_compression", png_compression, choices=range(10))
    path = Path(path)
    fmt = prepare_output(path, overwrite)
    h, w, c = shape
    if fmt not in BAND_FORMATS or c not in (1, 3) or np.dtype(dtype) not in (np.uint8, np.uint16):
        raise ValueError(f"save_bands writes 1 or 3 channels of uint8 or uint16 as {'/'.join(BAND_FORMATS)}, "
                         f"not {c} of {np.dtype(dtype)} as {fmt}")
    with output_file(path, overwrite) as f:
        if fmt == "PNG":
            idat = deflate_streamed(png_scanlines(bands, shape, dtype), png_compression)
            write_png(f, idat, shape, dtype, meta, exif_for(meta, w, h, sub_ifds=True))
        else:
            write_tiff(f, bands, shape, dtype, meta)
    return path


def _encoder(picture: Picture, fmt: str, path: Path, png_compression: int) -> Callable[[BinaryIO], None]:
    """A function writing ``picture`` as ``fmt``; conversions (and their warnings) happen here, before any I/O."""
    h, w = picture.color.shape[:2]
    meta = picture.meta
    exif = exif_for(meta, w, h, sub_ifds=fmt != "TIFF")
    # srgan's writer for every PNG (fast, 16 bits of colour); tifffile for 16-bit TIFFs (Pillow: 16 bits of grey only)
    if fmt == "PNG" or (fmt == "TIFF" and picture.color.dtype == np.uint16):
        pixels = interleave(picture.color, picture.alpha).reshape(h, w, -1)
        if fmt == "PNG":
            return lambda f: write_png(f, [deflate_whole(pixels, png_compression)], pixels.shape, pixels.dtype,
                                       meta, exif)
        return lambda f: write_tiff(f, [pixels], pixels.shape, np.uint16, meta)
    picture = _to_8bit(picture, fmt, path)
    if fmt == "JPEG" and picture.alpha is not None:
        picture = _on_white(picture, path)
    im = Image.fromarray(interleave(picture.color, picture.alpha), pil_mode(picture))
    if fmt == "WEBP" and picture.color.shape[2] == 1:
        im = im.convert("RGBA" if picture.alpha is not None else "RGB")
    if fmt == "BMP" and im.mode == "LA":
        im = im.convert("RGBA")
    options: dict[str, object] = {}
    if fmt in ("JPEG", "WEBP", "TIFF"):
        options |= {"icc_profile": meta.icc_profile, "exif": exif or b""}
    if fmt in ("JPEG", "TIFF", "BMP") and meta.dpi:
        options["dpi"] = meta.dpi
    if fmt in ("JPEG", "WEBP") and meta.xmp:
        options["xmp"] = meta.xmp
    options |= {"JPEG": {"quality": 95, "subsampling": 0}, "WEBP": {"quality": 95, "method": 4},
                "TIFF": {"compression": "tiff_adobe_deflate"}}.get(fmt, {})
    return lambda f: im.save(f, fmt, **{k: v for k, v in options.items() if v is not None})


def _to_8bit(picture: Picture, fmt: str, path: Path) -> Picture:
    if picture.color.dtype == np.uint8:
        return picture
    warnings.warn(f"{path}: {fmt} holds 8 bits per channel; 16-bit result reduced", stacklevel=3)
    alpha = None if picture.alpha is None else eight_bits(picture.alpha)
    return Picture(eight_bits(picture.color), alpha, picture.meta)


def _on_white(picture: Picture, path: Path) -> Picture:
    warnings.warn(f"{path}: JPEG has no alpha channel; transparent areas composited on white", stacklevel=3)
    a = picture.alpha.astype(np.float32)[:, :, None] / 255.0
    color = np.round(picture.color * a + 255.0 * (1.0 - a)).astype(np.uint8)
    return Picture(color, None, picture.meta)
