"""Device, precision and memory policy shared by training and inference: what the hardware offers.

``auto`` precision means bf16 where the hardware computes bf16 natively (CPUs with AMX or AVX-512-BF16, CUDA GPUs
with bf16), fp16 on older CUDA GPUs, and fp32 everywhere else — unless ``$SRGAN_AUTO_PRECISION`` names what
``auto`` means (see ``resolve_precision``). Training runs in that dtype under ``autocast`` and in ``memory_format``;
inference hands it to the inference graph (``srgan.models.fast``), which converts its weights once and chooses its
own layout.
"""

from __future__ import annotations

import contextlib
import os
import platform
from functools import cache

import torch

from srgan.errors import SrganError
from srgan.precision import PRECISIONS

AUTO_PRECISION_ENV = "SRGAN_AUTO_PRECISION"
# Working memory for tiles on a CPU: a quarter of what is free, at most this much. It runs a 1024×768 input at ×4
# as one window; more would pass 3 GB with the output of a 2048² input.
CPU_TILE_BUDGET = 3 << 29
_DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}


def _cpuinfo(field: str) -> str:
    """The first ``field`` of /proc/cpuinfo, or "" where there is none (not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(field):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


@cache
def cpu_has_native_bf16() -> bool:
    """True when /proc/cpuinfo lists AMX-BF16 or AVX512_BF16 (emulated bf16 is slower than fp32)."""
    return bool(set(_cpuinfo("flags").split()) & {"amx_bf16", "avx512_bf16"})


def cpu_model() -> str:
    """The CPU's marketing name, for benchmark reports and model cards."""
    return _cpuinfo("model name") or platform.processor() or "unknown CPU"


def memory_budget(device: torch.device) -> int:
    """Bytes tiles may use: half the free memory of a GPU; on a CPU a quarter of available RAM, at most
    ``CPU_TILE_BUDGET``. A result whose float32 pixels would exceed the CPU's budget is written to its file a row of
    tiles at a time instead of held whole (``srgan.api.Upscaler.writes_in_bands``), the band sharing the budget."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0] * 0.5)
    return min(CPU_TILE_BUDGET, _available_ram() // 4)


def _available_ram() -> int:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    if name is None or str(name) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SrganError("--device cuda requested but no CUDA GPU is available")
    return device


def resolve_precision(precision: str | None, device: torch.device) -> torch.dtype | None:
    """The compute dtype for ``precision`` on ``device``; None means plain fp32.

    ``auto`` follows the hardware, unless ``$SRGAN_AUTO_PRECISION`` is ``fp32`` or ``bf16``: then ``auto`` means that
    on every device, so that a run (the test suite above all) need not depend on which CPU executes it. Unset or
    empty: the hardware decides; any other value is an error. An explicit precision is never overridden.
    """
    precision = precision or "auto"
    if precision not in PRECISIONS:
        raise SrganError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision != "auto":
        if precision == "fp16" and device.type == "cpu":
            raise SrganError("fp16 is only supported on CUDA; use bf16 or fp32 on the CPU")
        return _DTYPES[precision]
    override = os.environ.get(AUTO_PRECISION_ENV)
    if override:
        if override not in ("fp32", "bf16"):
            raise SrganError(f"${AUTO_PRECISION_ENV} must be fp32 or bf16 (or unset), got {override!r}")
        return _DTYPES[override]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return None


def autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager:
    """Autocast to ``dtype`` on ``device``, or a no-op for fp32: for training (the inference graph needs none)."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=dtype)


def memory_format(device: torch.device, dtype: torch.dtype | None) -> torch.memory_format:
    """The training layout, channels_last wherever NHWC kernels win: always on a CPU (oneDNN; an fp32 SRResNet
    training step ran 1.35× faster than NCHW here) and with reduced precision on a GPU (cuDNN tensor cores); fp32 on
    a GPU keeps NCHW."""
    return torch.channels_last if dtype is not None or device.type == "cpu" else torch.contiguous_format


def configure_threads() -> int:
    """Use as many intra-op threads as CPUs this process may run on (containers often allow fewer)."""
    try:
        n = len(os.sched_getaffinity(0))
    except AttributeError:
        n = os.cpu_count() or 1
    torch.set_num_threads(n)
    return n

