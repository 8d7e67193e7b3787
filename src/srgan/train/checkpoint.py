"""Training checkpoints: plain dicts of state dicts, counters, config and RNG states, and the lock on their run folder.

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
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import torch

from srgan.errors import SrganError
from srgan.fileio import atomic_write, leftover_temps, load_torch_state
from srgan.train.runfolder import RunFolder

FORMAT = "srgan-train-checkpoint"


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


def save(run: RunFolder, state: dict[str, Any], step: int, keep: int) -> Path:
    """Write ``state`` as the run's checkpoint of ``step``, point RUN/latest at it, and delete all but the
    ``keep - 1`` newest of the older ones (never the file just written, never a newer one). A write that fails
    (a full disk) leaves the earlier files as they were and raises SrganError saying which one is intact."""
    path = run.checkpoint(step)

    def write(tmp: Path) -> None:  # through a Python file: torch's own writer reports a full disk as "unexpected pos"
        with open(tmp, "wb") as f:
            torch.save({"format": FORMAT, **state}, f)

    try:
        atomic_write(path, write, durable=True)
        atomic_write(run.latest, lambda tmp: tmp.write_text(run.latest_text(path)), durable=True)
    except OSError as e:
        why = "no space left on the device" if e.errno == errno.ENOSPC else (e.strerror or str(e))
        intact = [p.name for p in run.list_checkpoints()]
        kept = f"{intact[-1]} is intact" if intact else "no earlier checkpoint exists"
        raise SrganError(f"checkpoint not written: {why}; the run stopped and {kept} "
                         "(make room, then run the same command to resume)", path) from e
    older = [p for p in run.list_checkpoints() if run.checkpoint_step(p) < step]
    for old in older[: max(0, len(older) - (keep - 1))]:
        old.unlink(missing_ok=True)
    # A run killed mid-write (SIGKILL, power loss) leaves its temp files behind; one writer per run, so any is stale.
    for stale in [*leftover_temps(run.any_checkpoint), *leftover_temps(run.latest)]:
        stale.unlink(missing_ok=True)
    return path


def load(path: Path) -> dict[str, Any]:
    state = load_torch_state(path, "unreadable checkpoint")
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise SrganError("not an srgan training checkpoint", path)
    return state


@dataclass(frozen=True)
class Latest:
    """The newest checkpoint of a run that loads, and the newer ones that did not (newest first)."""

    path: Path
    state: dict[str, Any]
    skipped: tuple[SrganError, ...] = ()


def load_latest(run: RunFolder) -> Latest | None:
    """The newest loadable checkpoint of ``run``, or None when it has none at all. A run whose checkpoints all
    fail to load is an SrganError: starting again from step 0 would replace its trained model."""
    found = run.list_checkpoints()
    skipped: list[SrganError] = []
    for path in reversed(found):
        try:
            return Latest(path, load(path), tuple(skipped))
        except SrganError as e:
            skipped.append(e)
    if not found:
        return None
    raise SrganError(f"all {len(found)} checkpoint(s) in {run.checkpoints} are unreadable (newest: "
                     f"{Path(str(skipped[0].path)).name}: {skipped[0].problem}); nothing was changed. To start "
                     "over, add --restart (the run's files move to a new folder beside it)", run.root)


class RunLock:
    """Ownership of a run folder by one process: an advisory ``flock`` on RUN/.lock, which also holds the owner's
    pid for the refusal message. The kernel releases it when the process ends, even by ``kill -9``; a second
    trainer on the same folder gets one line instead of interleaving checkpoints with the first."""

    def __init__(self, run: RunFolder) -> None:
        try:
            run.root.mkdir(parents=True, exist_ok=True)
            self._file = open(run.lock, "a+")  # noqa: SIM115 (held open for the life of the run)
        except OSError as e:
            raise SrganError(f"cannot use as a run folder ({e.strerror or e})", run.root) from e
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            owner = self._file.read().strip()
            self._file.close()
            who = f"another process (pid {owner})" if owner.isdigit() else "another process"
            raise SrganError(f"{who} is training in this run folder; wait for it to finish or choose another "
                             "--out", run.root) from None
        except OSError as e:  # a file system without locks (some network mounts)
            self._file.close()
            raise SrganError(f"cannot lock the run folder ({e.strerror or e})", run.root) from e
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
