"""Precision policy: bf16 only where the CPU computes it natively, read from /proc/cpuinfo."""

from __future__ import annotations

import pytest
import torch

from srgan import runtime
from srgan.errors import SrganError

ZEN3 = "fpu vme avx avx2 fma bmi2"
SAPPHIRE_RAPIDS = "fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile"


@pytest.mark.parametrize(("flags", "native", "auto"), [(ZEN3, False, None), (SAPPHIRE_RAPIDS, True, torch.bfloat16),
                                                      ("", False, None)])
def test_auto_precision_follows_the_cpu_flags(monkeypatch: pytest.MonkeyPatch, flags: str, native: bool,
                                              auto: torch.dtype | None) -> None:
    monkeypatch.setattr(runtime, "_cpuinfo", lambda field: flags if field == "flags" else "")
    runtime.cpu_has_native_bf16.cache_clear()
    try:
        assert runtime.cpu_has_native_bf16() is native
        assert runtime.resolve_precision("auto", torch.device("cpu")) is auto
        assert runtime.resolve_precision("bf16", torch.device("cpu")) is torch.bfloat16  # asked for: honoured
        assert runtime.resolve_precision("fp32", torch.device("cpu")) is None
    finally:
        runtime.cpu_has_native_bf16.cache_clear()


def test_precision_errors_are_one_line() -> None:
    with pytest.raises(SrganError, match="only supported on CUDA"):
        runtime.resolve_precision("fp16", torch.device("cpu"))
    with pytest.raises(SrganError, match="precision must be one of auto, fp32, bf16, fp16, got 'half'"):
        runtime.resolve_precision("half", torch.device("cpu"))


def test_cpu_model_names_this_machine() -> None:
    name = runtime.cpu_model()
    assert name and "\n" not in name
