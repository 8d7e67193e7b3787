"""TIFF writing with tifffile: every 16-bit TIFF, and TIFFs that arrive in bands (Pillow writes 8-bit TIFFs from
a whole image, with EXIF; this writer keeps ICC profile and resolution only)."""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from typing import BinaryIO

import numpy as np
import tifffile

from srgan.images.bands import CHUNK_BYTES, row_chunks
from srgan.images.picture import Metadata


def write_tiff(f: BinaryIO, bands: Iterable[np.ndarray], shape: tuple[int, ...], dtype: type | np.dtype,
               meta: Metadata) -> None:
    """A TIFF of ``shape`` (H, W, C: grey, grey + alpha, RGB, RGBA) from its rows in bands, with tifffile: strips of
    about ``CHUNK_BYTES``, each deflated (zlib level 6) as it is complete; ICC profile and resolution kept."""
    h, w, c = shape
    rows = max(1, CHUNK_BYTES // (w * c * np.dtype(dtype).itemsize))
    strips = (zlib.compress(chunk, 6) for chunk in row_chunks(bands, rows, np.dtype(dtype).newbyteorder("<"), h))
    tifffile.imwrite(
        f, strips, shape=(h, w) if c == 1 else (h, w, c), dtype=dtype, byteorder="<", rowsperstrip=rows,
        photometric="minisblack" if c <= 2 else "rgb", extrasamples=("unassalpha",) if c in (2, 4) else None,
        planarconfig="contig", compression="zlib", iccprofile=meta.icc_profile,
        resolution=meta.dpi, resolutionunit="INCH" if meta.dpi else None, metadata=None,
    )
