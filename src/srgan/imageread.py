"""Decode any image file to 8-bit RGB for training and evaluation.

Datasets and metrics need one simple, predictable pixel format: (H, W, 3) uint8 RGB, display-oriented. Everything a
file may carry beyond that is reduced here, once: EXIF orientation is applied; grayscale and palette images become
RGB (grey replicated into all three channels); alpha is dropped (the colour channels are kept as stored, not
composited); CMYK and other colour spaces are converted by Pillow. 16-bit samples keep their full range in 8 bits:
16-bit grey is rounded from v · 255 / 65535; 16-bit RGB(A) files are reduced by Pillow's decoder, which keeps the
high byte as libpng does by default (within one level of the rounded value). Full-fidelity I/O for
``srgan upscale`` (alpha, ICC profiles, 16-bit output) lives in ``srgan.imageio``.
"""

from __future__ import annotations

import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from srgan.errors import SrganError

# What a damaged or non-image file can make Pillow raise while opening or decoding it.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, TypeError, IndexError, KeyError,
                  struct.error, zlib.error, Image.DecompressionBombError)
_SIXTEEN_BIT = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def read_rgb8(path: str | Path) -> np.ndarray:
    """The image at ``path`` as (H, W, 3) uint8 RGB; raises SrganError naming the file when it cannot be decoded."""
    path = Path(path)
    try:
        with Image.open(path) as im, warnings.catch_warnings():
            # Pillow warns about palette transparency given as bytes; alpha is dropped here anyway.
            warnings.simplefilter("ignore", UserWarning)
            im.load()
            return _to_rgb8(ImageOps.exif_transpose(im), path)
    except FileNotFoundError as e:
        raise SrganError("no such file", path) from e
    except UnidentifiedImageError as e:
        raise SrganError("not an image file, or in a format Pillow cannot read", path) from e
    except _DECODE_ERRORS as e:
        detail = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise SrganError(f"cannot decode image ({detail})", path) from e


def _to_rgb8(im: Image.Image, path: Path) -> np.ndarray:
    if im.mode in _SIXTEEN_BIT:
        grey = np.clip(np.asarray(im).astype(np.int64), 0, 65535)
        grey8 = ((grey * 255 + 32767) // 65535).astype(np.uint8)
        return np.repeat(grey8[:, :, None], 3, axis=2)
    if im.mode == "F":
        raise SrganError("floating-point image (mode F) has no defined 8-bit range", path)
    if im.mode != "RGB":
        im = im.convert("RGB")
    return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
