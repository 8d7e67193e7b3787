"""The one way files are written: to a hidden temporary file beside the target, then renamed over it.

A reader (or a crash, or a kill) therefore never sees a partial file, and an interrupted write leaves the previous
version in place. The temporary name keeps the target's extension, so writers that look at it (Pillow, numpy)
behave, and it starts with a dot, so folder scans skip it. New files get the usual umask permissions.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], object], durable: bool = False) -> Path:
    """Call ``write(tmp)`` to produce the file, then move it onto ``path``.

    ``durable`` also fsyncs the file and its folder, so the rename survives a power loss (training checkpoints).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")  # as leftover_temps matches
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
        if durable:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def leftover_temps(path: str | Path) -> list[Path]:
    """Temporary files a killed ``atomic_write`` to ``path`` left behind; the name of ``path`` may hold wildcards.

    Only for a writer that knows no other write to those targets is in flight (one trainer per run folder).
    """
    path = Path(path)
    return sorted(path.parent.glob(f".{path.stem}.*{path.suffix}"))
