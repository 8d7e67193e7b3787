"""ONNX export of a generator, checked against PyTorch with onnxruntime when it is installed.

The exported graph is the network alone, mapping LR RGB float (N, 3, H, W) in [0, 1] (input ``lr``) to SR RGB
float (N, 3, s·H, s·W) in [0, 1] (output ``sr``, clamped). Tiling, border extension and image I/O stay outside
it, so a caller that wants seamless results at image borders extends its input by reflection as
``srgan.tiling`` does. Needs the ``onnx`` extra (onnx, onnxscript: PyTorch's exporter; onnxruntime: the check).
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import warnings
from pathlib import Path

import torch
from torch import nn

from srgan.errors import SrganError
from srgan.fileio import check_output, write_output
from srgan.models import Generator

OPSET = 18  # the lowest opset PyTorch's exporter implements natively (no version conversion step)
TOLERANCE = 1e-4  # max abs difference allowed between onnxruntime and PyTorch, fp32


class ImageOutput(nn.Module):
    """The generator with its output mapped from [−1, 1] to image range [0, 1], as ``srgan.tiling`` does."""

    def __init__(self, generator: Generator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        return ((self.generator(lr) + 1) / 2).clamp(0, 1)


def export_onnx(model: Generator, path: str | Path, dynamic: bool, size: tuple[int, int] = (64, 64),
                overwrite: bool = False) -> Path:
    """Write ``model`` as ONNX to ``path`` (atomically). ``dynamic``: batch, height and width are free;
    otherwise the input is fixed to (1, 3, *size)."""
    path = Path(path)
    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise SrganError(f"ONNX export needs {' and '.join(missing)}: pip install 'srgan[onnx]'")
    check_output(path, overwrite)
    net = ImageOutput(model).eval().float().cpu()
    example = torch.rand(1, 3, *size)
    shapes = None
    if dynamic:
        dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("height"), 3: torch.export.Dim("width")}
        shapes = {"lr": dims}

    def write(tmp: Path) -> None:
        with _quiet_exporter():
            torch.onnx.export(net, (example,), str(tmp), input_names=["lr"], output_names=["sr"],
                              opset_version=OPSET, dynamo=True, dynamic_shapes=shapes, external_data=False,
                              verbose=False)

    return write_output(path, write, overwrite)


def verify_onnx(path: str | Path, model: Generator, dynamic: bool, size: tuple[int, int] = (64, 64)) -> float | None:
    """Max abs difference between onnxruntime and PyTorch on random inputs (odd sizes and a batch of 2 when
    ``dynamic``); None when onnxruntime is not installed. Raises when it exceeds ``TOLERANCE``."""
    try:
        import onnxruntime
    except ImportError:
        return None
    h, w = size
    shapes = [(1, 3, h, w), (2, 3, h + 5, w + 3), (1, 3, 1, 1)] if dynamic else [(1, 3, h, w)]
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    net = ImageOutput(model).eval().float().cpu()
    gen = torch.Generator().manual_seed(0)
    worst = 0.0
    for shape in shapes:
        x = torch.rand(shape, generator=gen)
        with torch.inference_mode():
            expected = net(x).numpy()
        (got,) = session.run(["sr"], {"lr": x.numpy()})
        worst = max(worst, float(abs(got - expected).max()))
    if worst > TOLERANCE:
        raise SrganError(f"ONNX output differs from PyTorch by {worst:.2e} (allowed {TOLERANCE:.0e})", path)
    return worst


@contextlib.contextmanager
def _quiet_exporter():
    """PyTorch's exporter logs progress and internal deprecation warnings; users need only errors."""
    logger = logging.getLogger("torch.onnx")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            warnings.simplefilter("ignore", DeprecationWarning)
            yield
    finally:
        logger.setLevel(level)
