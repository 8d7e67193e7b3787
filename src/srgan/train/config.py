"""Training configuration: one frozen dataclass, filled from paper defaults ← checkpoint ← TOML ← CLI flags."""

from __future__ import annotations

import re
import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from srgan.errors import SrganError, check_number
from srgan.precision import PRECISIONS
from srgan.train.degradation import DEGRADATIONS, RealisticDegradation

PHASES = ("srresnet", "srgan")
CONTENT_LOSSES = ("vgg54", "vgg22", "mse", "effnet", "vgg54-random")  # see srgan.train.losses
# Settings that define the network or the run's meaning: a resumed run must not change them.
FIXED_ON_RESUME = ("phase", "scale", "blocks", "channels", "patch", "batch", "seed", "content", "data",
                   "degradation", "realistic")
# Settings of one invocation, not of the run: a resume takes them from its own flags or the defaults, so that a run
# moved to other hardware, or resumed without a time limit, does not inherit the last machine's or budget's.
PER_INVOCATION = ("device", "workers", "loader", "max_time")
# Where patches are made: CPU DataLoader workers, or the device holding every image (srgan.data.device); "auto" is
# the device on a GPU with the bicubic degradation, workers otherwise. Both give the same patches.
LOADERS = ("auto", "workers", "device")
# The paper's steps and lr milestones by phase (SRResNet: 1e6 steps at 1e-4; SRGAN: 1e5 at 1e-4, then 1e5 at 1e-5).
PHASE_STEPS = {"srresnet": 1_000_000, "srgan": 200_000}
PHASE_MILESTONES: dict[str, tuple[int, ...]] = {"srresnet": (), "srgan": (100_000,)}
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str | int | float) -> float:
    """'8h', '30m', '90s', '1h30m' or a number of seconds → seconds."""
    if isinstance(text, int | float):
        return float(text)
    s = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", s):
        return float(s)
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhd])", s)
    if not parts or "".join(n + u for n, u in parts) != s:
        raise SrganError(f"bad duration {text!r} (use e.g. 90s, 30m, 8h, 1h30m)")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def parse_every(text: str | int) -> tuple[int | None, float | None]:
    """A save interval: a step count ('1000') or a duration ('10m') → (steps, seconds)."""
    if isinstance(text, int) or str(text).strip().isdigit():
        return int(text), None
    return None, parse_duration(str(text))


@dataclass(frozen=True)
class TrainConfig:
    """Everything a run needs. Defaults are the paper's (Ledig et al. 2017, Sec. 3.2). Each setting has one name,
    its flag's (``--adv-weight`` is ``adv_weight``), here, in TOML and in the run's config.json."""

    out: str = "runs/srgan"
    phase: str = "srresnet"
    data: tuple[str, ...] = ()
    val: tuple[str, ...] = ()
    init: str | None = None
    scale: int = 4
    blocks: int = 16
    channels: int = 64
    batch: int = 16
    patch: int = 96
    # None (the default; also what the config.json of older runs holds) is the paper's value, filled in at
    # construction: a built config holds the values the run uses.
    lr: float | None = None  # Adam's learning rate: 1e-4 in both phases
    steps: int | None = None  # total steps: PHASE_STEPS
    milestones: tuple[int, ...] | None = None  # lr × gamma at these steps: PHASE_MILESTONES
    gamma: float = 0.1
    content: str = "vgg54"
    adv_weight: float = 1e-3
    vgg_weights: str | None = None
    workers: int = 2
    loader: str = "auto"
    seed: int = 0
    device: str = "auto"
    precision: str = "auto"
    max_time: str | None = None
    save_every: str = "10m"
    keep: int = 3
    log_every: int = 100
    preview_every: int = 1000
    val_every: int = 5000
    max_nonfinite: int = 20
    collapse_steps: int = 2000  # srgan: stop when D is right on every patch this many steps in a row (0 = never)
    degradation: str = "bicubic"  # how the LR of a patch is made: the paper's MATLAB bicubic, or "realistic"
    realistic: RealisticDegradation = field(default_factory=RealisticDegradation)  # that chain's settings
    extra_metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        """Checks every setting, whichever layer gave it (flag, TOML, a resumed run's config.json), before anything
        is built or written: a bad value is one line, and never reaches the run's saved config."""
        if self.phase not in PHASES:
            raise SrganError(f"--phase must be one of {', '.join(PHASES)}, got {self.phase!r}")
        for name, default in (("lr", 1e-4), ("steps", PHASE_STEPS[self.phase]),
                              ("milestones", PHASE_MILESTONES[self.phase])):
            if getattr(self, name) is None:
                object.__setattr__(self, name, default)
        if self.content not in CONTENT_LOSSES:
            raise SrganError(f"--content must be one of {', '.join(CONTENT_LOSSES)}, got {self.content!r}")
        if self.precision not in PRECISIONS:
            raise SrganError(f"--precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.loader not in LOADERS:
            raise SrganError(f"--loader must be one of {', '.join(LOADERS)}, got {self.loader!r}")
        if self.loader == "device" and self.degradation != "bicubic":
            raise SrganError("--loader device makes the bicubic degradation only; use --loader workers with "
                             f"--degradation {self.degradation}")
        if self.degradation not in DEGRADATIONS:
            raise SrganError(f"--degradation must be one of {', '.join(DEGRADATIONS)}, got {self.degradation!r}")
        if not isinstance(self.realistic, RealisticDegradation):
            raise SrganError(f"realistic must be a table of degradation settings, got {self.realistic!r}")
        check_number("--scale", self.scale, choices=(2, 4, 8))
        for name, low in (("blocks", 1), ("channels", 1), ("batch", 1), ("patch", 1), ("workers", 0), ("seed", 0),
                          ("keep", 1), ("log_every", 1), ("preview_every", 1), ("val_every", 1),
                          ("max_nonfinite", 1), ("collapse_steps", 0)):
            check_number(f"--{name.replace('_', '-')}", getattr(self, name), low)
        check_number("--steps", self.steps, 1)
        for milestone in self.milestones:
            check_number("--milestones", milestone, 1)
        check_number("--lr", self.lr, 0, whole=False, strict=True)
        check_number("--gamma", self.gamma, 0, whole=False, strict=True)
        check_number("--adv-weight", self.adv_weight, 0, whole=False)
        if self.patch % self.scale:
            raise SrganError(f"--patch {self.patch} must be divisible by --scale {self.scale}")
        if self.phase == "srgan" and self.patch % 16:
            raise SrganError(f"--patch {self.patch} must be a multiple of 16 for the discriminator")
        if not self.data:
            raise SrganError("no training data: pass --data DIR [DIR ...]")
        if self.max_time is not None:
            check_number("--max-time", parse_duration(self.max_time), 0, whole=False, strict=True)
        save_steps, save_seconds = parse_every(self.save_every)
        if save_seconds is None:
            check_number("--save-every", save_steps, 0, strict=True)
        else:
            check_number("--save-every", save_seconds, 0, whole=False, strict=True)

    def lr_at(self, step: int) -> float:
        """Step-decay learning rate, a pure function of the step so that a resumed run may move its milestones."""
        return self.lr * self.gamma ** sum(step >= m for m in self.milestones)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _coerce(name: str, value: Any) -> Any:
    if name in ("data", "val", "milestones") and value is not None:
        return tuple(value) if isinstance(value, list | tuple) else (value,)
    if name == "realistic" and isinstance(value, dict):  # a TOML table, or config.json's copy of the chain
        return RealisticDegradation.from_dict(value)
    return value


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file holding the same keys as the CLI flags (dashes or underscores)."""
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise SrganError(f"cannot read config ({e})", path) from e
    known = {f.name for f in fields(TrainConfig)}
    values = {k.replace("-", "_"): v for k, v in raw.items()}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SrganError(f"unknown keys {unknown}", path)
    return values


def build_config(cli: dict[str, Any], toml: dict[str, Any] | None = None,
                 saved: dict[str, Any] | None = None) -> TrainConfig:
    """Merge paper defaults ← saved run config (less PER_INVOCATION) ← TOML ← explicitly given CLI flags (None = not
    given)."""
    merged: dict[str, Any] = {}
    kept = {k: v for k, v in (saved or {}).items() if k not in PER_INVOCATION}
    unknown = sorted(set(kept) - {f.name for f in fields(TrainConfig)})
    if unknown:  # written by another version of srgan, or edited by hand
        raise SrganError(f"the run's config.json has settings this version does not know: {', '.join(unknown)} "
                         "(use the srgan version that made the run, or start a new --out)", saved.get("out"))
    for layer in (kept, toml or {}, {k: v for k, v in cli.items() if v is not None}):
        merged |= {k: _coerce(k, v) for k, v in layer.items()}
    if saved:
        changed = [k for k in FIXED_ON_RESUME if k in merged and _coerce(k, saved.get(k)) != merged[k]]
        if changed:
            raise SrganError(f"cannot change {', '.join(changed)} when resuming run {merged.get('out')}: "
                             "start a new --out instead")
    return TrainConfig(**merged)


