"""srgan's own PNG writer, for every PNG it writes (8 and 16 bits, grey, grey + alpha, RGB, RGBA).

Each row is Paeth-filtered (what the PNG specification's heuristic, as libpng and Pillow apply it, picks for nearly
every row of a network's output) and the rows are deflated by libdeflate in one go when the image is in memory
(``deflate_whole``), by zlib a few rows at a time when it arrives in bands (``deflate_streamed``). At the default
level that encodes a ×4 result 2.8× faster than Pillow's zlib at level 3, in a 2% smaller file
(benchmarks/README.md): on a GPU, PNG encoding is the slowest stage of a folder.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from typing import BinaryIO

import imagecodecs
import numpy as np

from srgan.images.bands import CHUNK_BYTES, row_chunks
from srgan.images.picture import Metadata

PNG_COMPRESSION = 1  # deflate level of PNG outputs (--png-compression); the choice in benchmarks/README.md
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels → grey, grey + alpha, RGB, RGBA
_PAETH = 4  # the PNG filter type of every row srgan writes
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


def write_png(f: BinaryIO, idat: Iterable[bytes | memoryview], shape: tuple[int, ...], dtype: type | np.dtype,
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


def png_scanlines(bands: Iterable[np.ndarray], shape: tuple[int, ...], dtype: type | np.dtype) -> Iterator[np.ndarray]:
    """The scanlines (rows, 1 + W·C·bytes) of an image of ``shape`` and ``dtype`` arriving in bands, a few rows at a
    time: samples big-endian, each row Paeth-filtered against the one above."""
    h, w, c = shape
    itemsize = np.dtype(dtype).itemsize
    above = np.zeros(w * c * itemsize, np.uint8)
    for chunk in row_chunks(bands, max(1, CHUNK_BYTES // (w * c * itemsize)), np.dtype(dtype).newbyteorder(">"), h):
        raw = chunk.view(np.uint8).reshape(len(chunk), -1)
        yield _png_filter(raw, above, c * itemsize)
        above = raw[-1]


def deflate_whole(pixels: np.ndarray, level: int) -> np.ndarray:
    """The zlib stream of the scanlines of ``pixels`` (H, W, C), by libdeflate at ``level`` in one call (it has no
    streaming interface; it releases the GIL, so encoder threads run in parallel). It writes into a buffer of its
    worst case (the input and 5 bytes per 5,000, libdeflate's bound, with room to spare), returned as a view: only
    the pages it fills are ever in memory, and the stream is not copied again."""
    h, w, c = pixels.shape
    scanlines = np.empty((h, 1 + w * c * pixels.dtype.itemsize), np.uint8)
    y = 0
    for rows in png_scanlines([pixels], pixels.shape, pixels.dtype):
        scanlines[y : y + len(rows)] = rows
        y += len(rows)
    try:
        return imagecodecs.deflate_encode(scanlines, level=level,
                                          out=np.empty(scanlines.nbytes + scanlines.nbytes // 1000 + 1024, np.uint8))
    except imagecodecs.DeflateError as e:  # an OSError is a failed output, reported against its file
        raise OSError(f"PNG compression failed ({e})") from e


def deflate_streamed(scanlines: Iterable[np.ndarray], level: int) -> Iterator[bytes]:
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
