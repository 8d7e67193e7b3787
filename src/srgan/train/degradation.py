"""The settings of the realistic degradation chain (``srgan.data.realistic``): a frozen part of the run's config.

Kept apart from the chain itself, which needs torch, so that the training config (and the CLI that builds it) loads
without it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from srgan.errors import SrganError, check_number

DEGRADATIONS = ("bicubic", "realistic")  # how a training patch's LR is made: the paper's, or the random chain
# OpenCV's area, bilinear, bicubic and nearest (no antialiasing: shrinking aliases, as in much software; see
# srgan.data.degrade.naive_resize), and MATLAB's antialiased bicubic (what Pillow, image editors and the paper's own
# LR do when shrinking)
RESIZE_METHODS = ("area", "bilinear", "bicubic", "nearest", "matlab")


@dataclass(frozen=True)
class DegradationPass:
    """One pass of the chain. Probabilities are in [0, 1]; ranges are (low, high), inclusive, drawn uniformly
    except ``resize`` and ``beta`` (log-uniform: halving is as likely as doubling)."""

    blur_prob: float = 1.0
    kernel_size: tuple[int, int] = (7, 21)  # odd sizes only
    sigma: tuple[float, float] = (0.2, 3.0)  # Gaussian σ per axis, in pixels of the pass's input
    anisotropic_prob: float = 0.3  # two σ and a rotation, else one σ
    generalized_prob: float = 0.3  # exp(−½ d^β) instead of a Gaussian
    beta: tuple[float, float] = (0.5, 4.0)
    resize: tuple[float, float] = (0.6, 2.0)  # the pass's output size as a multiple of the LR size
    noise_prob: float = 0.5
    poisson_prob: float = 0.5  # Poisson noise, else Gaussian
    noise_sigma: tuple[float, float] = (1.0, 20.0)  # 8-bit units; Poisson: σ at white
    grey_noise_prob: float = 0.4  # one noise field for all channels
    jpeg_prob: float = 0.5
    quality: tuple[int, int] = (30, 95)


def _second_pass() -> DegradationPass:
    return DegradationPass(blur_prob=0.8, sigma=(0.2, 1.5), resize=(0.75, 1.5), noise_sigma=(1.0, 15.0))


@dataclass(frozen=True)
class RealisticDegradation:
    """The whole chain (see the module docstring). Defaults: Real-ESRGAN's kinds of degradation and its blur,
    kernel, JPEG-quality and grey-noise numbers, with milder resize and noise ranges than its own, since the
    target here is ordinary photos rather than the worst of the web."""

    first: DegradationPass = field(default_factory=DegradationPass)
    second: DegradationPass = field(default_factory=_second_pass)
    second_prob: float = 0.5
    final_jpeg_prob: float = 0.8
    final_quality: tuple[int, int] = (30, 95)
    resize_methods: tuple[str, ...] = ("area", "bilinear", "bicubic", "nearest")
    # The paper's clean MATLAB-bicubic LR instead of the chain: a model for real photos still meets clean inputs,
    # and without them it smooths them as if they were compressed.
    clean_prob: float = 0.0

    def __post_init__(self) -> None:
        """Every value is checked where the chain is built (a flag, a TOML table, a resumed run's config.json)."""
        for name in ("first", "second"):
            stage = getattr(self, name)
            if not isinstance(stage, DegradationPass):
                raise SrganError(f"realistic.{name} must be a table of pass settings, got {stage!r}")
            prefix = f"realistic.{name}."
            for key in ("blur_prob", "anisotropic_prob", "generalized_prob", "noise_prob", "poisson_prob",
                        "grey_noise_prob", "jpeg_prob"):
                _check_probability(prefix + key, getattr(stage, key))
            _check_range(prefix + "kernel_size", stage.kernel_size, 1, whole=True, odd=True)
            for key in ("sigma", "beta", "resize", "noise_sigma"):
                _check_range(prefix + key, getattr(stage, key), 0, strict=True)
            _check_range(prefix + "quality", stage.quality, 1, high=100, whole=True)
        _check_probability("realistic.second_prob", self.second_prob)
        _check_probability("realistic.final_jpeg_prob", self.final_jpeg_prob)
        _check_probability("realistic.clean_prob", self.clean_prob)
        _check_range("realistic.final_quality", self.final_quality, 1, high=100, whole=True)
        methods = self.resize_methods
        if not isinstance(methods, tuple) or not methods or any(m not in RESIZE_METHODS for m in methods):
            raise SrganError(f"realistic.resize_methods must be some of {', '.join(RESIZE_METHODS)}, got {methods!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> RealisticDegradation:
        """The chain a config gives (a TOML table, or config.json): its keys over the defaults, lists as tuples.
        A pass may give some keys only; the others keep that pass's defaults."""
        default = cls()
        changes: dict[str, Any] = {}
        for key, value in values.items():
            if key not in {f.name for f in fields(cls)}:
                raise SrganError(f"unknown realistic degradation setting {key!r}")
            if key in ("first", "second") and isinstance(value, Mapping):
                stage = getattr(default, key)
                unknown = sorted(set(value) - {f.name for f in fields(stage)})
                if unknown:
                    raise SrganError(f"unknown realistic.{key} settings {unknown}")
                value = replace(stage, **{k: _tuple(v) for k, v in value.items()})
            changes[key] = _tuple(value)
        return replace(default, **changes)


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_probability(name: str, value: object) -> None:
    check_number(name, value, 0, whole=False)
    if value > 1:  # type: ignore[operator]
        raise SrganError(f"{name} must be a number from 0 to 1, got {value!r}")


def _check_range(name: str, value: object, low: float, high: float = math.inf, *, whole: bool = False,
                 strict: bool = False, odd: bool = False) -> None:
    """A (low, high) pair of numbers ≥ ``low`` (> if ``strict``) and ≤ ``high``, in order; odd if ``odd``."""
    if not isinstance(value, tuple) or len(value) != 2:
        raise SrganError(f"{name} must be a pair [low, high], got {value!r}")
    for v in value:
        check_number(name, v, low, whole=whole, strict=strict)
        if v > high:
            raise SrganError(f"{name} must hold numbers up to {high:g}, got {value!r}")
        if odd and v % 2 == 0:
            raise SrganError(f"{name} must hold odd numbers, got {value!r}")
    if value[0] > value[1]:
        raise SrganError(f"{name} must be [low, high] with low <= high, got {value!r}")
