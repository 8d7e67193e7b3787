"""What the stages of a training run share (``srgan.train.trainer``): the settings and log of one invocation
(``Session``, ``RunLog``), what a step trains (``Nets``), the counters a checkpoint carries (``Progress``) and the stop
signal (``StopFlag``)."""

from __future__ import annotations

import json
import math
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from srgan.errors import SrganError
from srgan.models import Discriminator, Generator
from srgan.train.config import TrainConfig
from srgan.train.distributed import World
from srgan.train.losses import ContentLoss
from srgan.train.runfolder import RunFolder


@dataclass
class StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes the current step, checkpoints and exits 0."""

    signal: int | None = None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.signal = signum


@dataclass
class RunLog:
    """train.log (plain lines), metrics.jsonl (one JSON record per event) and optional TensorBoard scalars."""

    run: RunFolder
    enabled: bool
    tensorboard: Any = None
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(self.run.tensorboard))
        except ImportError:
            self.tensorboard = None

    def line(self, text: str, echo: bool = True) -> None:
        if not self.enabled:
            return
        self._append(self.run.log, text)
        if echo:
            print(text, flush=True)

    def _append(self, path: Path, text: str) -> None:
        """One line to a log file; a full disk (or any write error) stops the run with one line, not a traceback
        (the newest checkpoint stays as it was)."""
        try:
            with open(path, "a") as f:
                f.write(text + "\n")
        except OSError as e:
            raise SrganError(f"cannot append to the log ({e.strerror or e}); the run stopped", path) from e

    def record(self, kind: str, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._append(self.run.metrics, json.dumps({"kind": kind, "step": step, "time": time.time(), **values}))
        if self.tensorboard is not None:
            for k, v in values.items():
                self.tensorboard.add_scalar(f"{kind}/{k}", v, step)


@dataclass(frozen=True)
class Session:
    """What one invocation trains with, fixed for its duration: settings, run folder, log, device, precision
    (``dtype`` None = fp32) and process group."""

    config: TrainConfig
    run: RunFolder
    log: RunLog
    device: torch.device
    dtype: torch.dtype | None
    world: World


@dataclass
class Nets:
    """What a step trains: the generator, the discriminator (srgan phase), the content loss's network, both
    optimisers and the fp16 loss scaler. A step calls ``g_train``/``d_train``: the modules themselves, or their
    DDP wrappers under torchrun; the unwrapped modules are the ones saved."""

    g: Generator
    d: Discriminator | None
    content_loss: ContentLoss
    opt_g: torch.optim.Adam
    opt_d: torch.optim.Adam | None
    scaler: torch.amp.GradScaler
    g_train: nn.Module
    d_train: nn.Module | None

    def set_lr(self, lr: float) -> None:
        for opt in filter(None, (self.opt_g, self.opt_d)):
            for group in opt.param_groups:
                group["lr"] = lr

    def state_dict(self) -> dict[str, Any]:
        """The networks' and optimisers' part of a checkpoint."""
        return {"generator": self.g.state_dict(), "opt_g": self.opt_g.state_dict(),
                "discriminator": self.d.state_dict() if self.d else None,
                "opt_d": self.opt_d.state_dict() if self.opt_d else None,
                "scaler": self.scaler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.g.load_state_dict(state["generator"])
        self.opt_g.load_state_dict(state["opt_g"])
        if self.d is not None and self.opt_d is not None:
            self.d.load_state_dict(state["discriminator"])
            self.opt_d.load_state_dict(state["opt_d"])
        self.scaler.load_state_dict(state["scaler"])


@dataclass
class Progress:
    """The counters a run carries across resumes: a checkpoint's "step" and "stats"."""

    step: int = 0
    nonfinite_total: int = 0
    train_seconds: float = 0.0
    best_psnr: float = -math.inf  # mean validation PSNR-Y of the best generator so far
    best_step: int = -1
    best_niqe: float | None = None  # srgan phase: its mean NIQE, which ranks the generators

    def stats(self) -> dict[str, Any]:
        return {"nonfinite_total": self.nonfinite_total, "train_seconds": self.train_seconds,
                "best_psnr": self.best_psnr, "best_step": self.best_step} | (
                    {} if self.best_niqe is None else {"best_niqe": self.best_niqe})

    @classmethod
    def from_checkpoint(cls, state: dict[str, Any]) -> Progress:
        return cls(state["step"], **state["stats"])
