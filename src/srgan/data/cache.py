"""Decode-once store for training images: one uint8 (H, W, 3) ``.npy`` file per source image, memory-mapped.

Why on disk: decoding a PNG/JPEG costs far more than cropping a patch from it, and the decoded training set (e.g.
5120×2880 wallpapers) is several GB, too much to hold in RAM once per DataLoader worker. A memory-mapped ``.npy``
is read through the OS page cache, which every worker shares, and a crop touches only the pages it reads.

An entry is keyed by the source's absolute path, byte size and modification time (plus a format version), so an
edited or replaced file is decoded again; stale entries are never read. Entries are written to a temporary file
and renamed into place, so a killed run or two concurrent runs never leave a half-written entry. The default
location is ``$XDG_CACHE_HOME/srgan/decoded`` (``~/.cache/srgan/decoded``); delete it freely to reclaim space.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np

from srgan.fileio import atomic_write
from srgan.images import read_rgb8

# Bump when read_rgb8's output for the same file changes. v2: one decoder for every command (16-bit RGB rounded
# from all 16 bits, CMYK through its ICC profile).
_VERSION = "rgb8-v2"


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "srgan" / "decoded"


def entry_path(source: Path, cache_dir: Path) -> Path:
    """Where the decoded copy of ``source`` lives; the name changes whenever the source file changes."""
    source = source.resolve()
    st = source.stat()
    key = f"{_VERSION}\0{source}\0{st.st_size}\0{st.st_mtime_ns}"
    return cache_dir / f"{hashlib.sha1(key.encode()).hexdigest()}.npy"


def decode_cached(source: str | Path, cache_dir: Path) -> tuple[Path, tuple[int, int]]:
    """Decode ``source`` into the store unless already there; returns the entry and the image's (H, W).

    Raises SrganError (from read_rgb8) when the source cannot be decoded.
    """
    entry = entry_path(Path(source), cache_dir)
    try:
        shape = np.load(entry, mmap_mode="r").shape
        if len(shape) == 3 and shape[2] == 3:
            return entry, (shape[0], shape[1])
    except (OSError, ValueError):
        pass  # absent or unreadable entry: decode again below
    img = read_rgb8(source)
    atomic_write(entry, lambda tmp: np.save(tmp, img))
    return entry, (img.shape[0], img.shape[1])


def open_entry(entry: Path) -> np.ndarray:
    """The decoded image as a read-only memory map (pages are read on demand and shared between processes)."""
    return np.asarray(np.load(entry, mmap_mode="r"))  # a plain ndarray view: memmap slicing is slower
