"""The run folder of ``srgan train``: every file a run writes, named here and nowhere else.

    RUN/config.json                   the run's settings; what a resume starts from
    RUN/train.log                     one plain line per event (steps, validation, resume, why it stopped)
    RUN/metrics.jsonl                 one JSON record per event ({"kind": "train"|"val", "step", "time", ...})
    RUN/tensorboard/                  the same scalars for TensorBoard, when it is installed
    RUN/previews/step_NNNNNNN.png     preview grids
    RUN/checkpoints/step_NNNNNNNN.pt  checkpoints (one that does not load is set aside as NAME.corrupt)
    RUN/latest                        names the newest checkpoint, for people and scripts
    RUN/generator.safetensors         the generator when the run stopped
    RUN/generator_best.safetensors    the best validated generator
    RUN/.lock                         held by the process training in the folder

``--restart`` moves a run's files to a folder ``RUN.old-<date>-<time>`` beside it. This module imports no torch,
so ``srgan report`` reads a run with it.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srgan.errors import SrganError

_CHECKPOINT = re.compile(r"step_(\d+)\.pt")
_CORRUPT = ".corrupt"


@dataclass(frozen=True)
class RunFolder:
    """The paths of one training run's files under ``root``; nothing is read or created by naming them."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def log(self) -> Path:
        return self.root / "train.log"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def tensorboard(self) -> Path:
        return self.root / "tensorboard"

    @property
    def previews(self) -> Path:
        return self.root / "previews"

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def latest(self) -> Path:
        return self.root / "latest"

    @property
    def generator(self) -> Path:
        return self.root / "generator.safetensors"

    @property
    def best_generator(self) -> Path:
        return self.root / "generator_best.safetensors"

    @property
    def lock(self) -> Path:
        return self.root / ".lock"

    def is_run(self) -> bool:
        """Whether the folder holds a training run (it has logged something)."""
        return self.metrics.is_file() or self.log.is_file()

    def preview(self, step: int) -> Path:
        return self.previews / f"step_{step:07d}.png"

    def list_previews(self) -> list[Path]:
        """The preview grids, oldest first."""
        return sorted(self.previews.glob("step_*.png"), key=lambda p: p.name)

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step_{step:08d}.pt"

    @property
    def any_checkpoint(self) -> Path:
        """The checkpoints' names as a glob pattern."""
        return self.checkpoints / "step_*.pt"

    @staticmethod
    def checkpoint_step(path: Path) -> int:
        """The step of a listed checkpoint, from its name."""
        match = _CHECKPOINT.fullmatch(path.name)
        if match is None:
            raise ValueError(f"not a checkpoint name: {path.name}")
        return int(match[1])

    def list_checkpoints(self) -> list[Path]:
        """Complete checkpoint files, oldest first by step (temp files start with '.' and are never listed; steps
        are compared as numbers, since the name's zero padding runs out at 10^8)."""
        return sorted((p for p in self.checkpoints.glob(self.any_checkpoint.name) if _CHECKPOINT.fullmatch(p.name)),
                      key=self.checkpoint_step)

    def latest_text(self, checkpoint: Path) -> str:
        """What RUN/latest holds when ``checkpoint`` is the newest: its path relative to the run folder."""
        return f"{checkpoint.relative_to(self.root)}\n"

    def weight_files(self) -> list[Path]:
        """The generator weight files the run has written so far."""
        return [p for p in (self.generator, self.best_generator) if p.is_file()]

    def saved_config(self) -> dict[str, Any] | None:
        """The settings saved by an earlier run here (config.json), or None when the folder holds no checkpoint
        to resume; a run with checkpoints but no readable config.json is an SrganError."""
        if not self.list_checkpoints():
            return None
        try:
            saved = json.loads(self.config.read_text())
            if not isinstance(saved, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:  # json.JSONDecodeError is a ValueError
            raise SrganError(f"run has checkpoints but no readable config.json ({e}); to start over, add --restart",
                             self.root) from e
        return saved

    def set_aside(self, paths: list[Path]) -> list[Path]:
        """Rename checkpoints that do not load to NAME.corrupt (kept for inspection, out of the way of resuming and
        pruning); returns the new names."""
        moved = []
        for path in paths:
            target = _unused(path.with_name(path.name + _CORRUPT))
            path.rename(target)
            moved.append(target)
        return moved

    def move_aside(self) -> Path | None:
        """``--restart``: move everything in the folder except its lock into a new folder RUN.old-<date>-<time>
        beside it, so the new run starts empty and nothing of the old one is lost. None when there was nothing to
        move."""
        entries = [p for p in self.root.iterdir() if p != self.lock]
        if not entries:
            return None
        root = self.root.resolve()
        aside = _unused(root.with_name(f"{root.name}.old-{time.strftime('%Y%m%d-%H%M%S')}"))
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
