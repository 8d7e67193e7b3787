import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from srgan import export, weights
from srgan.errors import SrganError

from .conftest import tiny_generator

needs_exporter = pytest.mark.skipif(
    any(importlib.util.find_spec(m) is None for m in ("onnx", "onnxscript")),
    reason="ONNX export needs the onnx extra (onnx, onnxscript)")
needs_ort = pytest.mark.skipif(importlib.util.find_spec("onnxruntime") is None,
                               reason="onnxruntime is not installed (pip install 'srgan[onnx]')")


def torch_reference(model: torch.nn.Module, x: np.ndarray) -> np.ndarray:
    """What the graph must compute, written independently of srgan.export: ((G(x) + 1) / 2) clamped to [0, 1]."""
    with torch.no_grad():
        return ((model(torch.from_numpy(x)) + 1) / 2).clamp(0, 1).numpy()


@needs_exporter
@needs_ort
def test_cli_dynamic_export_matches_torch(tmp_path: Path) -> None:
    import onnxruntime

    model = tiny_generator(scale=4, blocks=2)
    w = weights.save(model, tmp_path / "g.safetensors")
    out = tmp_path / "g.onnx"
    r = subprocess.run([sys.executable, "-m", "srgan.cli", "export", str(w), "--onnx", str(out), "--dynamic"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "max abs difference" in r.stdout and out.is_file()
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    (inp,) = session.get_inputs()
    assert inp.name == "lr" and inp.shape[1] == 3 and all(isinstance(d, str) for d in (inp.shape[0], *inp.shape[2:]))
    rng = np.random.default_rng(0)
    for shape in ((1, 3, 13, 17), (3, 3, 8, 5), (1, 3, 1, 1)):
        x = rng.random(shape, dtype=np.float32)
        (got,) = session.run(["sr"], {"lr": x})
        assert got.shape == (shape[0], 3, 4 * shape[2], 4 * shape[3])
        assert np.abs(got - torch_reference(model, x)).max() <= 1e-4


@needs_exporter
@needs_ort
def test_fixed_size_export(tmp_path: Path) -> None:
    import onnxruntime

    model = tiny_generator(scale=2, blocks=1)
    path = export.export_onnx(model, tmp_path / "f.onnx", dynamic=False, size=(12, 10))
    assert export.verify_onnx(path, model, dynamic=False, size=(12, 10)) <= 1e-4
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape == [1, 3, 12, 10]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.onnx"]  # no temporary file left


def test_verify_reports_a_mismatch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The parity check can fail: a session whose output is off by 1e-3 is refused."""
    model = tiny_generator(scale=2, blocks=1)

    class OffSession:
        def __init__(self, *args: object, **kwargs: object) -> None:
            pass

        def run(self, names: list[str], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
            return [torch_reference(model, feeds["lr"]) + 1e-3]

    monkeypatch.setitem(sys.modules, "onnxruntime", type(sys)("onnxruntime"))
    sys.modules["onnxruntime"].InferenceSession = OffSession
    with pytest.raises(SrganError, match=r"differs from PyTorch by 1\.00e-03"):
        export.verify_onnx(tmp_path / "any.onnx", model, dynamic=True, size=(8, 8))


def test_verify_without_onnxruntime_is_skipped(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # makes `import onnxruntime` raise ImportError
    assert export.verify_onnx(tmp_path / "any.onnx", tiny_generator(), dynamic=True) is None


def test_export_refuses_to_overwrite_and_names_missing_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "m.onnx"
    target.write_bytes(b"keep")
    if importlib.util.find_spec("onnxscript") is not None:
        with pytest.raises(SrganError, match="--overwrite"):
            export.export_onnx(tiny_generator(), target, dynamic=True)
    assert target.read_bytes() == b"keep"
    monkeypatch.setattr(export.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SrganError, match=r"needs onnx and onnxscript: pip install 'srgan\[onnx\]'"):
        export.export_onnx(tiny_generator(), tmp_path / "n.onnx", dynamic=True)
