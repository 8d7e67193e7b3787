"""Shared fixtures: tiny models and files made on the fly (tests never touch the network)."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from PIL import Image

from srgan import runtime
from srgan.models import Generator
from srgan.models.vgg import _build_features


@pytest.fixture(autouse=True)
def _auto_precision_is_fp32(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin ``--precision auto`` to fp32 (in subprocesses too), so that no test depends on the CPU running it: auto
    is bf16 on CPUs with native bf16. Tests of the auto path itself take ``auto_precision``."""
    monkeypatch.setenv(runtime.AUTO_PRECISION_ENV, "fp32")


@pytest.fixture(params=["fp32", "bf16"])
def auto_precision(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run the test with ``auto`` resolving to fp32, then to bf16, on any CPU. bf16 is emulated (slow) on CPUs
    with only AVX2: use tiny models and images."""
    monkeypatch.setenv(runtime.AUTO_PRECISION_ENV, request.param)
    return request.param


def randomize_buffers(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give BatchNorm statistics and PReLU slopes non-default values so that round trips are meaningful."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) + 0.5)
            m.bias.data.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
            m.num_batches_tracked.fill_(7)
        elif isinstance(m, torch.nn.PReLU):
            m.weight.data.copy_(torch.rand(m.weight.shape, generator=g) * 0.5)
    return model


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module: the scripts are not a package, so tests load them by path."""
    spec = importlib.util.spec_from_file_location(name, Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def tiny_generator(scale: int = 2, blocks: int = 2, channels: int = 8, seed: int = 0) -> Generator:
    torch.manual_seed(seed)
    return randomize_buffers(Generator(scale=scale, blocks=blocks, channels=channels), seed).eval()


def write_vgg19(path: Path, seed: int = 0, drop: str | None = None) -> Path:
    """A randomly initialised VGG19 saved like torchvision's file (features.N.* plus classifier keys)."""
    torch.manual_seed(seed)
    features = _build_features(36)
    state = {f"features.{k}": v for k, v in features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(4, 4)  # torchvision files carry the classifier too
    if drop:
        del state[drop]
    torch.save(state, path)
    return path


@pytest.fixture
def vgg_file(tmp_path: Path) -> Path:
    return write_vgg19(tmp_path / "vgg19-random.pth")


@pytest.fixture
def isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A decoded-image cache of the test's own (training tests must not see another test's images)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """Four smooth-ish 40×40 RGB images (learnable: the loss must be able to go down)."""
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:40]
    for i in range(4):
        img = np.stack([np.sin(xx / (3 + i)), np.cos(yy / (4 + i)), np.sin((xx + yy) / 7)], -1) * 100 + 128
        img += rng.normal(0, 4, img.shape)
        Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(d / f"img{i}.png")
    return d

