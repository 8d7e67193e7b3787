"""Image files in and out: the one decoder behind training, evaluation, reports and upscaling.

Loading gives a ``Picture``: upright pixels (EXIF orientation applied) as uint8 or uint16 arrays, colour and alpha
apart, plus the metadata worth carrying to the output. ``read_rgb8`` reduces a Picture to what datasets, metrics
and report pages need, (H, W, 3) uint8 RGB: grey replicated into the three channels, alpha dropped (the colour
channels are kept as stored, not composited), 16 bits rounded to 8 (v · 255 / 65535). So ``srgan eval`` and
``srgan train`` see the pixels ``srgan upscale`` sees. ``scan_folder`` is the one way folders are searched for
images (``INPUT_EXTENSIONS``). Decisions, in one place:

- Modes: grayscale (1, L, I;16, I) stays grayscale; palette, RGBX, YCbCr, LAB, HSV become RGB; anything with
  transparency (alpha channel, palette or 8-bit colour-key ``tRNS``) gains a separate alpha channel; CMYK becomes RGB
  through its embedded ICC profile (LittleCMS, to sRGB) or Pillow's plain formula when it has none.
- Bit depth: 16-bit PNG and TIFF (any channel layout) are decoded with imagecodecs / tifffile, since Pillow keeps
  only 8 bits of 16-bit colour, and are written back at 16 bits to PNG and TIFF. JPEG, WebP and BMP hold 8 bits.
- Animated GIF/WebP/PNG and multi-page TIFF: the first frame is used and a warning says so.
- 32-bit floating-point images (Pillow mode F) are refused: they have no defined integer range.
- Metadata carried: ICC profile, EXIF (descriptive tags, the Exif and GPS sub-IFDs; orientation removed because
  the pixels are saved upright, pixel dimensions updated), resolution (scaled with the image so the physical size
  stays the same), PNG text chunks (PNG to PNG), XMP (JPEG/WebP to JPEG/WebP, orientation removed). TIFF
  outputs (deflate-compressed) keep only the top-level EXIF tags. 16-bit PNGs keep ICC, resolution, EXIF and
  text; 16-bit TIFFs keep ICC and resolution.
- JPEG has no alpha: an image with transparency written as JPEG is composited on white, with a warning.
- Decompression bombs: Pillow's own guard is replaced by ``max_pixels`` (``srgan upscale --max-pixels``; the other
  commands keep the default), checked from the header before any pixel is decoded.
- PNG: srgan's own writer, for every PNG ``save`` and ``save_bands`` write (8 and 16 bits, grey, grey + alpha, RGB,
  RGBA). Each row is Paeth-filtered (what the PNG specification's heuristic, as libpng and Pillow apply it, picks
  for nearly every row of a network's output) and the rows are deflated by libdeflate in one go when the image is
  in memory (``save``), by zlib a few rows at a time when it arrives in bands (``save_bands``). At the default level
  that encodes a ×4 result 2.8× faster than Pillow's zlib at level 3, in a 2% smaller file (benchmarks/README.md):
  on a GPU, PNG encoding is the slowest stage of a folder.
- Outputs too large to hold whole arrive in bands (``save_bands``): PNG, and TIFF (tifffile, in deflated strips; it
  also writes every 16-bit TIFF). Pillow writes JPEG, WebP and BMP from a whole image only.
Every problem with a file is an ``SrganError`` naming it. Outputs are written to a temporary file in the target
folder and renamed into place, so a failure never leaves a partial file.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import struct
import warnings
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import BinaryIO

import imagecodecs
import numpy as np
import tifffile
from PIL import Image, ImageCms, UnidentifiedImageError

from srgan.errors import SrganError, check_number
from srgan.fileio import check_output, write_output

DEFAULT_MAX_PIXELS = 50_000_000  # ~ an 8700 × 5800 photo; raise with --max-pixels
PNG_COMPRESSION = 1  # deflate level of PNG outputs (--png-compression); the choice in benchmarks/README.md
# Output extension → Pillow format name. The CLI's --format choices are png, jpg, webp, tif.
EXTENSION_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
                     ".tiff": "TIFF", ".bmp": "BMP"}
# Image files picked up from folders (by every command); a GIF is written as PNG (GIF output would re-quantise to
# 256 colours).
INPUT_EXTENSIONS = frozenset(EXTENSION_FORMATS) | {".gif"}
_KEEP_EXIF_TAGS = (270, 271, 272, 305, 306, 315, 33432)  # description, make, model, software, date, artist, (c)
_SUB_IFDS = (0x8769, 0x8825)  # Exif, GPS
_EXIF_IFD, _ORIENTATION, _PIXEL_X, _PIXEL_Y = 0x8769, 274, 0xA002, 0xA003
# Formats save_bands writes a band at a time (Pillow writes JPEG and WebP from a whole image only).
BAND_FORMATS = ("PNG", "TIFF")
_CHUNK_BYTES = 1 << 20  # raw bytes a band writer converts, filters and deflates at a time (a PNG) or per strip (a TIFF)
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → grey, grey + alpha, RGB, RGBA
_PAETH = 4  # the PNG filter type of every row srgan writes
_XMP_ORIENTATION = re.compile(rb'\s*tiff:Orientation="\d"|<tiff:Orientation>\d</tiff:Orientation>')
# What a damaged or non-image file can make Pillow, imagecodecs, tifffile or LittleCMS raise while decoding it.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError, struct.error,
                  zlib.error, imagecodecs.PngError, ImageCms.PyCMSError)


@dataclass(frozen=True)
class Metadata:
    """What travels from the input file to the output file besides pixels."""

    icc_profile: bytes | None = None
    exif: bytes | None = None  # "Exif\0\0" + TIFF structure, without orientation
    dpi: tuple[float, float] | None = None
    text: tuple[tuple[str, str], ...] = ()  # PNG tEXt/zTXt/iTXt chunks
    xmp: bytes | None = None

    def scaled(self, scale: int) -> Metadata:
        """The same metadata for the image upscaled ``scale``× (same physical size, so ``scale``× the dpi)."""
        return self if self.dpi is None else replace(self, dpi=(self.dpi[0] * scale, self.dpi[1] * scale))


@dataclass(frozen=True)
class Picture:
    """Upright pixels: ``color`` (H, W, 1 | 3) and ``alpha`` (H, W) or None, both uint8 or both uint16."""

    color: np.ndarray
    alpha: np.ndarray | None = None
    meta: Metadata = field(default_factory=Metadata)

    def __post_init__(self) -> None:
        c = self.color
        if c.ndim != 3 or c.shape[2] not in (1, 3) or c.dtype not in (np.uint8, np.uint16):
            raise ValueError(f"color must be (H, W, 1|3) uint8/uint16, got {c.shape} {c.dtype}")
        a = self.alpha
        if a is not None and (a.shape != c.shape[:2] or a.dtype != c.dtype):
            raise ValueError(f"alpha must be {c.shape[:2]} {c.dtype}, got {a.shape} {a.dtype}")

    @property
    def max_value(self) -> int:
        return int(np.iinfo(self.color.dtype).max)


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
            meta = Metadata(icc_profile=icc, exif=_useful_exif(exif), dpi=_dpi(im.info),
                            text=tuple((str(k), str(v)) for k, v in getattr(im, "text", {}).items()),
                            xmp=_strip_xmp_orientation(im.info.get("xmp")))
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
    color = _eight_bits(picture.color)
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


def to_pil(picture: Picture) -> Image.Image:
    """A Picture as a PIL image: L, LA, RGB, RGBA, or I;16 for 16-bit grayscale (Pillow has no 16-bit colour)."""
    if picture.color.dtype == np.uint16:
        if picture.color.shape[2] != 1 or picture.alpha is not None:
            raise ValueError("Pillow cannot hold 16-bit colour or alpha; use a numpy array or save to PNG/TIFF")
        im = Image.fromarray(picture.color[:, :, 0])
    else:
        im = Image.fromarray(_interleave(picture.color, picture.alpha), _pil_mode(picture))
    if picture.meta.icc_profile:
        im.info["icc_profile"] = picture.meta.icc_profile
    return im


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
    return write_output(path, _new_file(_encoder(picture, fmt, path, png_compression)), overwrite)


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
    if fmt == "PNG":
        exif = _exif_for(meta, w, h, sub_ifds=True)
        idat = _deflate_streamed(_png_scanlines(bands, shape, dtype), png_compression)
        return write_output(path, _new_file(lambda f: _write_png(f, idat, shape, dtype, meta, exif)), overwrite)
    return write_output(path, _new_file(lambda f: _write_tiff(f, bands, shape, dtype, meta)), overwrite)


def _new_file(write: Callable[[BinaryIO], object]) -> Callable[[Path], None]:
    """``write`` into a new file at the path it is given (the temporary file of ``write_output``)."""

    def write_file(tmp: Path) -> None:
        with open(tmp, "xb") as f:
            write(f)

    return write_file


# ---------------------------------------------------------------- loading


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


def _useful_exif(exif: Image.Exif) -> bytes | None:
    """Descriptive tags and the Exif/GPS sub-IFDs; drops orientation, thumbnails and TIFF layout tags."""
    kept = Image.Exif()
    for tag in _KEEP_EXIF_TAGS:
        if tag in exif:
            kept[tag] = exif[tag]
    for ifd in _SUB_IFDS:
        sub = exif.get_ifd(ifd)
        if sub:
            kept[ifd] = dict(sub)
    return kept.tobytes() if len(kept) else None


def _dpi(info: dict) -> tuple[float, float] | None:
    dpi = info.get("dpi")
    if not dpi or min(dpi) <= 0:
        return None
    return float(dpi[0]), float(dpi[1])


def _strip_xmp_orientation(xmp: bytes | str | None) -> bytes | None:
    if not xmp:
        return None
    data = xmp.encode() if isinstance(xmp, str) else xmp
    return _XMP_ORIENTATION.sub(b"", data)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# ---------------------------------------------------------------- saving


def _pil_mode(picture: Picture) -> str:
    gray = picture.color.shape[2] == 1
    return ("LA" if picture.alpha is not None else "L") if gray else ("RGBA" if picture.alpha is not None else "RGB")


def _interleave(color: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    a = color if alpha is None else np.concatenate([color, alpha[:, :, None]], axis=2)
    return a[:, :, 0] if a.shape[2] == 1 else a


def _exif_for(meta: Metadata, width: int, height: int, sub_ifds: bool) -> bytes | None:
    """The carried EXIF with the Exif IFD's pixel dimensions set to the output's; ``sub_ifds=False`` keeps only
    the top-level tags (libtiff, which compresses TIFFs, cannot write Pillow's sub-IFDs)."""
    if meta.exif is None:
        return None
    exif = Image.Exif()
    exif.load(meta.exif)
    sub = exif.get_ifd(_EXIF_IFD)
    if _PIXEL_X in sub or _PIXEL_Y in sub:
        exif[_EXIF_IFD] = dict(sub) | {_PIXEL_X: width, _PIXEL_Y: height}
    if not sub_ifds:
        for ifd in _SUB_IFDS:
            exif.pop(ifd, None)
    return exif.tobytes() if len(exif) else None


def _eight_bits(a: np.ndarray) -> np.ndarray:
    """uint8 as is; uint16 v rounded to v · 255 / 65535 (exact in integers: 65535 is odd, so there are no ties)."""
    if a.dtype == np.uint8:
        return a
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def _to_8bit(picture: Picture, fmt: str, path: Path) -> Picture:
    if picture.color.dtype == np.uint8:
        return picture
    warnings.warn(f"{path}: {fmt} holds 8 bits per channel; 16-bit result reduced", stacklevel=3)
    alpha = None if picture.alpha is None else _eight_bits(picture.alpha)
    return Picture(_eight_bits(picture.color), alpha, picture.meta)


def _on_white(picture: Picture, path: Path) -> Picture:
    warnings.warn(f"{path}: JPEG has no alpha channel; transparent areas composited on white", stacklevel=3)
    a = picture.alpha.astype(np.float32)[:, :, None] / 255.0
    color = np.round(picture.color * a + 255.0 * (1.0 - a)).astype(np.uint8)
    return Picture(color, None, picture.meta)


def _encoder(picture: Picture, fmt: str, path: Path, png_compression: int) -> Callable[[BinaryIO], None]:
    """A function writing ``picture`` as ``fmt``; conversions (and their warnings) happen here, before any I/O."""
    h, w = picture.color.shape[:2]
    meta = picture.meta
    exif = _exif_for(meta, w, h, sub_ifds=fmt != "TIFF")
    # srgan's writer for every PNG (fast, 16 bits of colour); tifffile for 16-bit TIFFs (Pillow: 16 bits of grey only)
    if fmt == "PNG" or (fmt == "TIFF" and picture.color.dtype == np.uint16):
        pixels = _interleave(picture.color, picture.alpha).reshape(h, w, -1)
        if fmt == "PNG":
            return lambda f: _write_png(f, [_deflate_whole(pixels, png_compression)], pixels.shape, pixels.dtype,
                                        meta, exif)
        return lambda f: _write_tiff(f, [pixels], pixels.shape, np.uint16, meta)
    picture = _to_8bit(picture, fmt, path)
    if fmt == "JPEG" and picture.alpha is not None:
        picture = _on_white(picture, path)
    im = Image.fromarray(_interleave(picture.color, picture.alpha), _pil_mode(picture))
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


def _png_chunk(kind: bytes, data: bytes | memoryview) -> bytes:
    return b"".join([struct.pack(">I", len(data)), kind, data, struct.pack(">I", zlib.crc32(data, zlib.crc32(kind)))])


def _png_metadata(meta: Metadata, exif: bytes | None) -> bytes:
    """The chunks between IHDR and IDAT, in Pillow's order and form: ICC profile, text, resolution, EXIF."""
    chunks = []
    if meta.icc_profile:
        chunks.append(_png_chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(meta.icc_profile)))
    for k, v in meta.text:
        chunks.append(_png_chunk(b"iTXt", k.encode("latin-1", "replace")[:79] + b"\0\0\0\0\0" + v.encode()))
    if meta.dpi:
        chunks.append(_png_chunk(b"pHYs", struct.pack(">IIB", *(int(d / 0.0254 + 0.5) for d in meta.dpi), 1)))
    if exif:
        chunks.append(_png_chunk(b"eXIf", exif.removeprefix(b"Exif\0\0")))
    return b"".join(chunks)


def _write_png(f: BinaryIO, idat: Iterable[bytes | memoryview], shape: tuple[int, ...], dtype: type | np.dtype,
               meta: Metadata, exif: bytes | None) -> None:
    """A PNG of ``shape`` (H, W, C: grey, grey + alpha, RGB, RGBA) whose zlib stream of scanlines arrives in pieces
    (``idat``): signature, header, metadata (``_png_metadata``), each piece in IDAT chunks of at most
    max(64 KiB, 4·W) bytes (Pillow's size) written from it without a copy, end."""
    h, w, c = shape
    f.write(_PNG_SIGNATURE + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8 * np.dtype(dtype).itemsize,
                                                             _PNG_COLOR_TYPES[c], 0, 0, 0)))
    f.write(_png_metadata(meta, exif))
    size = max(1 << 16, 4 * w)
    for piece in idat:
        view = memoryview(piece).cast("B")
        for i in range(0, len(view), size):
            f.write(_png_chunk(b"IDAT", view[i : i + size]))
    f.write(_png_chunk(b"IEND", b""))


def _png_scanlines(bands: Iterable[np.ndarray], shape: tuple[int, ...], dtype: type | np.dtype) -> Iterator[np.ndarray]:
    """The scanlines (rows, 1 + W·C·bytes) of an image of ``shape`` and ``dtype`` arriving in bands, a few rows at a
    time: samples big-endian, each row Paeth-filtered against the one above."""
    h, w, c = shape
    itemsize = np.dtype(dtype).itemsize
    above = np.zeros(w * c * itemsize, np.uint8)
    for chunk in _row_chunks(bands, max(1, _CHUNK_BYTES // (w * c * itemsize)), np.dtype(dtype).newbyteorder(">"), h):
        raw = chunk.view(np.uint8).reshape(len(chunk), -1)
        yield _png_filter(raw, above, c * itemsize)
        above = raw[-1]


def _deflate_whole(pixels: np.ndarray, level: int) -> np.ndarray:
    """The zlib stream of the scanlines of ``pixels`` (H, W, C), by libdeflate at ``level`` in one call (it has no
    streaming interface; it releases the GIL, so encoder threads run in parallel). It writes into a buffer of its
    worst case (the input and 5 bytes per 5,000, libdeflate's bound, with room to spare), returned as a view: only
    the pages it fills are ever in memory, and the stream is not copied again."""
    h, w, c = pixels.shape
    scanlines = np.empty((h, 1 + w * c * pixels.dtype.itemsize), np.uint8)
    y = 0
    for rows in _png_scanlines([pixels], pixels.shape, pixels.dtype):
        scanlines[y : y + len(rows)] = rows
        y += len(rows)
    try:
        return imagecodecs.deflate_encode(scanlines, level=level,
                                          out=np.empty(scanlines.nbytes + scanlines.nbytes // 1000 + 1024, np.uint8))
    except imagecodecs.DeflateError as e:  # an OSError is a failed output, reported against its file
        raise OSError(f"PNG compression failed ({e})") from e


def _deflate_streamed(scanlines: Iterable[np.ndarray], level: int) -> Iterator[bytes]:
    """The zlib stream of ``scanlines`` as they arrive, by zlib at ``level`` (Pillow's settings: memory level 9,
    Z_FILTERED), for images never held whole."""
    deflate = zlib.compressobj(level, zlib.DEFLATED, 15, 9, zlib.Z_FILTERED)
    for rows in scanlines:
        yield deflate.compress(rows)
    yield deflate.flush()


def _png_filter(raw: np.ndarray, above: np.ndarray, bpp: int) -> np.ndarray:
    """PNG scanlines (k, 1 + n) for rows of bytes ``raw`` (k, n) under the row ``above``, ``bpp`` bytes a pixel,
    each with the Paeth filter: a byte less the one of its left, upper and upper-left neighbours nearest to
    left + upper − upper-left."""
    up = np.concatenate([above[None], raw[:-1]])
    left, up_left = np.zeros_like(raw), np.zeros_like(raw)
    left[:, bpp:], up_left[:, bpp:] = raw[:, :-bpp], up[:, :-bpp]
    a, b, c = (x.astype(np.int16) for x in (left, up, up_left))
    pa, pb, pc = np.abs(b - c), np.abs(a - c), np.abs(a + b - 2 * c)
    out = np.empty((raw.shape[0], raw.shape[1] + 1), np.uint8)
    out[:, 0] = _PAETH
    np.subtract(raw, np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, up_left)), out=out[:, 1:])
    return out


def _write_tiff(f: BinaryIO, bands: Iterable[np.ndarray], shape: tuple[int, ...], dtype: type | np.dtype,
                meta: Metadata) -> None:
    """A TIFF of ``shape`` (H, W, C: grey, grey + alpha, RGB, RGBA) from its rows in bands, with tifffile: strips of
    about ``_CHUNK_BYTES``, each deflated (zlib level 6) as it is complete; ICC profile and resolution kept."""
    h, w, c = shape
    rows = max(1, _CHUNK_BYTES // (w * c * np.dtype(dtype).itemsize))
    strips = (zlib.compress(chunk, 6) for chunk in _row_chunks(bands, rows, np.dtype(dtype).newbyteorder("<"), h))
    tifffile.imwrite(
        f, strips, shape=(h, w) if c == 1 else (h, w, c), dtype=dtype, byteorder="<", rowsperstrip=rows,
        photometric="minisblack" if c <= 2 else "rgb", extrasamples=("unassalpha",) if c in (2, 4) else None,
        planarconfig="contig", compression="zlib", iccprofile=meta.icc_profile,
        resolution=meta.dpi, resolutionunit="INCH" if meta.dpi else None, metadata=None,
    )


def _row_chunks(bands: Iterable[np.ndarray], rows: int, dtype: np.dtype, height: int) -> Iterator[np.ndarray]:
    """The rows of ``bands`` regrouped ``rows`` at a time (the last group may be shorter), each group a new
    C-contiguous ``dtype`` array; raises ValueError unless the bands hold ``height`` rows."""
    parts: list[np.ndarray] = []
    held = seen = 0  # rows in parts, rows of all bands so far
    for band in bands:
        y = 0
        while y < len(band):
            take = min(rows - held, len(band) - y)
            parts.append(band[y : y + take])
            held, y = held + take, y + take
            if held == rows:
                yield _stacked(parts, held, dtype)
                parts, held = [], 0
        seen += len(band)
        if parts:  # rows carried over to the next band's: copied, so that nothing holds this band ...
            parts = [_stacked(parts, held, dtype)]
        del band  # ... while the next one is computed
    if parts:
        yield _stacked(parts, held, dtype)
    if seen != height:
        raise ValueError(f"the bands hold {seen} rows, the image {height}")


def _stacked(parts: list[np.ndarray], rows: int, dtype: np.dtype) -> np.ndarray:
    out = np.empty((rows, *parts[0].shape[1:]), dtype)
    y = 0
    for part in parts:
        out[y : y + len(part)] = part
        y += len(part)
    return out
