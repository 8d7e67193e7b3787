"""What an image is inside srgan, whichever file it came from or goes to: a ``Picture`` (upright colour and alpha
arrays, uint8 or uint16) with the ``Metadata`` worth carrying to the output, and the pixel and metadata conversions
both the decoder and the writers need. This floor imports no other module of the package."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image

# Output extension → Pillow format name. The CLI's --format choices are png, jpg, webp, tif.
EXTENSION_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".tif": "TIFF",
                     ".tiff": "TIFF", ".bmp": "BMP"}
# Image files picked up from folders (by every command); a GIF is written as PNG (GIF output would re-quantise to
# 256 colours).
INPUT_EXTENSIONS = frozenset(EXTENSION_FORMATS) | {".gif"}
_KEEP_EXIF_TAGS = (270, 271, 272, 305, 306, 315, 33432)  # description, make, model, software, date, artist, (c)
_SUB_IFDS = (0x8769, 0x8825)  # Exif, GPS
_EXIF_IFD, _PIXEL_X, _PIXEL_Y = 0x8769, 0xA002, 0xA003
_XMP_ORIENTATION = re.compile(rb'\s*tiff:Orientation="\d"|<tiff:Orientation>\d</tiff:Orientation>')


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


def to_pil(picture: Picture) -> Image.Image:
    """A Picture as a PIL image: L, LA, RGB, RGBA, or I;16 for 16-bit grayscale (Pillow has no 16-bit colour)."""
    if picture.color.dtype == np.uint16:
        if picture.color.shape[2] != 1 or picture.alpha is not None:
            raise ValueError("Pillow cannot hold 16-bit colour or alpha; use a numpy array or save to PNG/TIFF")
        im = Image.fromarray(picture.color[:, :, 0])
    else:
        im = Image.fromarray(interleave(picture.color, picture.alpha), pil_mode(picture))
    if picture.meta.icc_profile:
        im.info["icc_profile"] = picture.meta.icc_profile
    return im


def pil_mode(picture: Picture) -> str:
    gray = picture.color.shape[2] == 1
    return ("LA" if picture.alpha is not None else "L") if gray else ("RGBA" if picture.alpha is not None else "RGB")


def interleave(color: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Colour and alpha as one (H, W, C) array, (H, W) for grey without alpha (what Pillow takes)."""
    a = color if alpha is None else np.concatenate([color, alpha[:, :, None]], axis=2)
    return a[:, :, 0] if a.shape[2] == 1 else a


def eight_bits(a: np.ndarray) -> np.ndarray:
    """uint8 as is; uint16 v rounded to v · 255 / 65535 (exact in integers: 65535 is odd, so there are no ties)."""
    if a.dtype == np.uint8:
        return a
    return ((a.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)


def useful_exif(exif: Image.Exif) -> bytes | None:
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


def exif_for(meta: Metadata, width: int, height: int, sub_ifds: bool) -> bytes | None:
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


def dpi_of(info: dict) -> tuple[float, float] | None:
    dpi = info.get("dpi")
    if not dpi or min(dpi) <= 0:
        return None
    return float(dpi[0]), float(dpi[1])


def strip_xmp_orientation(xmp: bytes | str | None) -> bytes | None:
    if not xmp:
        return None
    data = xmp.encode() if isinstance(xmp, str) else xmp
    return _XMP_ORIENTATION.sub(b"", data)
