"""Rows of an image arriving in bands (from the tiler, top to bottom), regrouped into the fixed-size pieces the PNG
and TIFF writers filter and compress: no writer ever holds the image whole."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

CHUNK_BYTES = 1 << 20  # raw bytes a band writer converts, filters and deflates at a time (a PNG) or per strip (a TIFF)


def row_chunks(bands: Iterable[np.ndarray], rows: int, dtype: np.dtype, height: int) -> Iterator[np.ndarray]:
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
