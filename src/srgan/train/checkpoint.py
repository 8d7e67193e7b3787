"""Training checkpoints: plain dicts of state dicts, counters, config and RNG states, and the run folder they live in.

Files are written with ``srgan.fileio.atomic_write`` (temp file, fsync, rename, fsync of the folder), so a kill
at any moment leaves either the previous set or the new complete file, never a partial one; a full disk leaves
the previous set and stops the run with one line. ``RUN/latest`` names the newest file, for people and scripts:
resuming does not trust it but takes the newest checkpoint that loads. One that does not load is renamed to
``*.corrupt`` once an older one has been resumed from, so it can neither outrank nor crowd out newer saves; a run
whose checkpoints all fail to load is refused, not restarted from step 0 over its trained model. Loading uses
``weights_only=True``: a checkpoint cannot execute code. One process at a time owns a run folder (``RunLock``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import random
import re
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from srgan.errors import SrganError
from srgan.fileio import atomic_write, leftover_temps

FORMAT = "srgan-train-checkpoint"
PREFIX = "step_"
LOCK = ".lock"
CORRUPT = ".corrupt"


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


def _step(path: Path) -> int:
    """The step of a listed checkpoint, from its name."""
    return int(path.name[len(PREFIX):-len(".pt")])


def list_checkpoints(run: Path) -> list[Path]:
    """Complete checkpoint files, oldest first by step (temp files start with '.' and are never listed; steps
    are compared as numbers, since the name's zero padding runs out at 10^8)."""
    return sorted((p for p in checkpoint_dir(run).glob(f"{PREFIX}*.pt") if re.fullmatch(rf"{PREFIX}\d+\.pt", p.name)),
                  key=_step)


def save(run: Path, state: dict[str, Any], step: int, keep: int) -> Path:
    """Write ``state`` as RUN/checkpoints/step_NNNNNNNN.pt, point RUN/latest at it, and delete all but the
    ``keep - 1`` newest of the older ones (never the file just written, never a newer one). A write that fails
    (a full disk) leaves the earlier files as they were and raises SrganError saying which one is intact."""
    path = checkpoint_dir(run) / f"{PREFIX}{step:08d}.pt"

    def write(tmp: Path) -> None:  # through a Python file: torch's own writer reports a full disk as "unexpected pos"
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)

    try:
        atomic_write(path, write, durable=True)
        atomic_write(run / "latest", lambda tmp: tmp.write_text(f"checkpoints/{path.name}\n"), durable=True)
    except OSError as e:
        why = "no space left on the device" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        intact = [p.name for p in list_checkpoints(run)]
        kept = f"{intact[-1]} is intact" if intact else "no earlier checkpoint exists"
        raise SrganError(f"checkpoint not written: {why}; the run stopped and {kept} "
                         "(make room, then run the same command to resume)", path) from e
    older = [p for p in list_checkpoints(run) if _step(p) < step]
    for old in older[: max(0, len(older) - (keep - 1))]:
        old.unlink(missing_ok=True)
    # A run killed mid-write (SIGKILL, power loss) leaves its temp files behind; one writer per run, so any is stale.
    for stale in [*leftover_temps(checkpoint_dir(run) / f"{PREFIX}*.pt"), *leftover_temps(run / "latest")]:
        stale.unlink(missing_ok=True)
    return path


def load(path: Path) -> dict[str, Any]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any failure to unpickle means the file is unusable
        reason = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else ""
        raise SrganError(f"unreadable checkpoint ({type(e).__name__}: {reason})", path) from e
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SrganError("not an srgan training checkpoint", path)
    return state


@dataclass(frozen=True)
class Latest:
    """The newest checkpoint of a run that loads, and the newer ones that did not (newest first)."""

    path: Path
    state: dict[str, Any]
    skipped: tuple[SrganError, ...] = ()


def load_latest(run: Path) -> Latest | None:
    """The newest loadable checkpoint of ``run``, or None when it has none at all. A run whose checkpoints all
    fail to load is an SrganError: starting again from step 0 would replace its trained model."""
    found = list_checkpoints(run)
    skipped: list[SrganError] = []
    for path in reversed(found):
        try:
            return Latest(path, load(path), tuple(skipped))
        except SrganError as e:
            skipped.append(e)
    if not found:
        return None
    raise SrganError(f"all {len(found)} checkpoint(s) in {checkpoint_dir(run)} are unreadable (newest: "
                     f"{Path(str(skipped[0].path)).name}: {skipped[0].problem}); nothing was changed. To start "
                     "over, add --restart (the run's files move to a new folder beside it)", run)


def set_aside(paths: list[Path]) -> list[Path]:
    """Rename checkpoints that do not load to NAME.corrupt (kept for inspection, out of the way of resuming and
    pruning); returns the new names."""
    moved = []
    for path in paths:
        target = _unused(path.with_name(path.name + CORRUPT))
        path.rename(target)
        moved.append(target)
    return moved


def move_aside(run: Path) -> Path | None:
    """``--restart``: move everything in ``run`` except its lock into a new folder RUN.old-<date>-<time> beside
    it, so the new run starts empty and nothing of the old one is lost. None when there was nothing to move."""
    entries = [p for p in run.iterdir() if p.name != LOCK]
    if not entries:
        return None
    run = run.resolve()
    aside = _unused(run.with_name(f"{run.name}.old-{time.strftime('%Y%m%d-%H%M%S')}"))
    aside.mkdir()
    for p in entries:
        p.rename(aside / p.name)
    return aside


def _unused(path: Path) -> Path:
    """``path``, or ``path``-2, -3, … if it exists: setting something aside never replaces what is already there."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


class RunLock:
    """Ownership of a run folder by one process: an advisory ``flock`` on RUN/.lock, which also holds the owner's
    pid for the refusal message. The kernel releases it when the process ends, even by ``kill -9``; a second
    trainer on the same folder gets one line instead of interleaving checkpoints with the first."""

    def __init__(self, run: Path) -> None:
        try:
            run.mkdir(parents=True, exist_ok=True)
            self._file = open(run / LOCK, "a+")  # noqa: SIM115 (held open for the life of the run)
        except OSError as e:
            raise SrganError(f"cannot use as a run folder ({e.strerror or e})", run) from e
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            owner = self._file.read().strip()
            self._file.close()
            who = f"another process (pid {owner})" if owner.isdigit() else "another process"
            raise SrganError(f"{who} is training in this run folder; wait for it to finish or choose another "
                             "--out", run) from None
        except OSError as e:  # a file system without locks (some network mounts)
            self._file.close()
            raise SrganError(f"cannot lock the run folder ({e.strerror or e})", run) from e
        self._file.truncate(0)
        self._file.write(f"{os.getpid()}\n")
        self._file.flush()
        # Forked children (data loader workers) would share the lock and keep it after a kill -9 of this process.
        os.register_at_fork(after_in_child=self._file.close)

    def release(self) -> None:
        self._file.close()

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.release()
