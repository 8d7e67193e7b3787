"""Training checkpoints: plain dicts of state dicts, counters, config and RNG states.

Files are written with ``srgan.fileio.atomic_write`` (temp file, fsync, rename, fsync of the folder), so a kill
at any moment leaves either the previous set or the new complete file, never a partial one.
``RUN/latest`` names the newest file. Loading uses ``weights_only=True``: a checkpoint cannot execute code.
"""

from __future__ import annotations

import random
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from srgan.errors import SrganError
from srgan.fileio import atomic_write, leftover_temps

FORMAT = "srgan-train-checkpoint"
PREFIX = "step_"


def rng_state() -> dict[str, Any]:
    """Python, numpy and torch RNG states as tensors/plain values (loadable with weights_only=True)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    state: dict[str, Any] = {
        "python": [py_version, list(py_state), py_gauss],
        "numpy": [kind, torch.from_numpy(np.asarray(keys, dtype=np.int64)), pos, has_gauss, gauss],
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    py_version, py_state, py_gauss = state["python"]
    random.setstate((py_version, tuple(py_state), py_gauss))
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def checkpoint_dir(run: Path) -> Path:
    return run / "checkpoints"


def list_checkpoints(run: Path) -> list[Path]:
    """Complete checkpoint files, oldest first (temp files start with '.' and are never listed)."""
    return sorted(checkpoint_dir(run).glob(f"{PREFIX}*.pt"))


def save(run: Path, state: dict[str, Any], step: int, keep: int) -> Path:
    """Write ``state`` as RUN/checkpoints/step_NNNNNNNN.pt, point RUN/latest at it, keep the newest ``keep``."""
    path = checkpoint_dir(run) / f"{PREFIX}{step:08d}.pt"
    atomic_write(path, lambda tmp: torch.save({"format": FORMAT, **state}, tmp), durable=True)
    atomic_write(run / "latest", lambda tmp: tmp.write_text(f"checkpoints/{path.name}\n"), durable=True)
    for old in list_checkpoints(run)[:-keep]:
        old.unlink(missing_ok=True)
    # A run killed mid-write (SIGKILL, power loss) leaves its temp files behind; one writer per run, so any is stale.
    for stale in [*leftover_temps(checkpoint_dir(run) / f"{PREFIX}*.pt"), *leftover_temps(run / "latest")]:
        stale.unlink(missing_ok=True)
    return path


def load(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any failure to unpickle means the file is unusable
        raise SrganError(f"unreadable checkpoint ({type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''})",
                         path) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SrganError("not an srgan training checkpoint", path)
    return state


def load_latest(run: Path) -> dict[str, Any] | None:
    """The newest loadable checkpoint of ``run`` (a corrupt newest one is reported and skipped), or None."""
    for path in reversed(list_checkpoints(run)):
        try:
            return load(path)
        except SrganError as e:
            warnings.warn(f"{e}; falling back to the previous checkpoint", stacklevel=2)
    return None
