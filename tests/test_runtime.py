"""Precision policy: bf16 only where the CPU computes it natively, read from /proc/cpuinfo, unless
$SRGAN_AUTO_PRECISION says what ``auto`` means."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import torch

from srgan import runtime
from srgan.errors import SrganError

ZEN3 = "fpu vme avx avx2 fma bmi2"
SAPPHIRE_RAPIDS = "fpu avx2 avx512f avx512_bf16 amx_bf16 amx_tile"
CPU = torch.device("cpu")


@pytest.fixture
def cpu_flags(monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[str], None]]:
    """Pretend /proc/cpuinfo lists the given flags; the cached answer is forgotten before and after."""

    def fake(flags: str) -> None:
        monkeypatch.setattr(runtime, "_cpuinfo", lambda field: flags if field == "flags" else "")
        runtime.cpu_has_native_bf16.cache_clear()

    yield fake
    runtime.cpu_has_native_bf16.cache_clear()


@pytest.mark.parametrize(("flags", "native", "auto"), [(ZEN3, False, None), (SAPPHIRE_RAPIDS, True, torch.bfloat16),
                                                      ("", False, None)])
def test_auto_precision_follows_the_cpu_flags(monkeypatch: pytest.MonkeyPatch, cpu_flags: Callable[[str], None],
                                              flags: str, native: bool, auto: torch.dtype | None) -> None:
    monkeypatch.delenv(runtime.AUTO_PRECISION_ENV)  # the suite pins auto (conftest); here the hardware decides
    cpu_flags(flags)
    assert runtime.cpu_has_native_bf16() is native
    assert runtime.resolve_precision("auto", CPU) is auto
    assert runtime.resolve_precision("bf16", CPU) is torch.bfloat16  # asked for: honoured
    assert runtime.resolve_precision("fp32", CPU) is None


@pytest.mark.parametrize(("value", "on_zen3", "on_sapphire_rapids"), [("fp32", None, None),
                                                                      ("bf16", torch.bfloat16, torch.bfloat16),
                                                                      ("", None, torch.bfloat16)])
def test_environment_overrides_the_auto_policy(monkeypatch: pytest.MonkeyPatch, cpu_flags: Callable[[str], None],
                                               value: str, on_zen3: torch.dtype | None,
                                               on_sapphire_rapids: torch.dtype | None) -> None:
    monkeypatch.setenv(runtime.AUTO_PRECISION_ENV, value)
    for flags, auto in ((ZEN3, on_zen3), (SAPPHIRE_RAPIDS, on_sapphire_rapids)):
        cpu_flags(flags)
        assert runtime.resolve_precision("auto", CPU) is auto
        assert runtime.resolve_precision(None, CPU) is auto
        assert runtime.resolve_precision("fp32", CPU) is None  # an explicit precision is never overridden
        assert runtime.resolve_precision("bf16", CPU) is torch.bfloat16
    if value:  # the override holds on every device, a GPU included (decided before CUDA is asked: no GPU needed)
        assert runtime.resolve_precision("auto", torch.device("cuda")) is on_zen3 is on_sapphire_rapids


@pytest.mark.parametrize("value", ["fp16", "BF16", "auto", "float32"])
def test_invalid_override_is_a_one_line_error(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv(runtime.AUTO_PRECISION_ENV, value)
    with pytest.raises(SrganError, match=rf"^\$SRGAN_AUTO_PRECISION must be fp32 or bf16 \(or unset\), got '{value}'$"):
        runtime.resolve_precision("auto", CPU)
    assert runtime.resolve_precision("fp32", CPU) is None  # read only when auto is asked for


def test_precision_errors_are_one_line() -> None:
    with pytest.raises(SrganError, match="only supported on CUDA"):
        runtime.resolve_precision("fp16", CPU)
    with pytest.raises(SrganError, match="precision must be one of auto, fp32, bf16, fp16, got 'half'"):
        runtime.resolve_precision("half", CPU)


def test_cpu_model_names_this_machine() -> None:
    name = runtime.cpu_model()
    assert name and "\n" not in name
