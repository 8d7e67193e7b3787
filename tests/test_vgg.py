from pathlib import Path

import numpy as np
import pytest
import torch

from srgan.errors import SrganError
from srgan.models import VGG19Features
from srgan.models import vgg as vgg_mod

from .conftest import write_vgg19


@pytest.mark.parametrize(("layer", "channels", "stride"), [("22", 128, 2), ("54", 512, 16)])
def test_loads_torchvision_format(vgg_file: Path, layer: str, channels: int, stride: int) -> None:
    v = VGG19Features(layer, weights=vgg_file)
    state = torch.load(vgg_file, weights_only=True)
    assert torch.equal(v.features[0].weight, state["features.0.weight"])
    assert not any(p.requires_grad for p in v.parameters())
    v.train()
    assert not v.training
    x = torch.rand(2, 3, 64, 64, requires_grad=True)
    y = v(x * 2 - 1)
    assert y.shape == (2, channels, 64 // stride, 64 // stride)
    assert (y >= 0).all()  # taken after the ReLU
    y.sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_normalisation_matches_manual_imagenet(vgg_file: Path) -> None:
    v = VGG19Features("22", weights=vgg_file)
    x = torch.rand(1, 3, 16, 16)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(v(x * 2 - 1), v.features((x - mean) / std))


def test_missing_key_rejected(tmp_path: Path) -> None:
    path = write_vgg19(tmp_path / "bad.pth", drop="features.34.bias")
    with pytest.raises(SrganError, match=r"bad\.pth: not torchvision VGG19 weights: missing features\.34\.bias"):
        VGG19Features("54", weights=path)
    VGG19Features("22", weights=path)  # φ2,2 does not need the last conv


def test_pickle_file_is_refused(tmp_path: Path) -> None:
    import pickle
    import warnings

    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"features.0.weight": object()}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(SrganError, match=r"evil\.pth: not a readable VGG19 state dict"):
            VGG19Features("22", weights=path)
    # the error is the one line a user sees: no torch warning about the file's pickle protocol beside it
    assert [str(w.message) for w in caught] == []


def test_resolution_order(tmp_path: Path, vgg_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torchhome"))
    monkeypatch.delenv(vgg_mod.ENV_VAR, raising=False)
    calls: list[str] = []

    def fake_urlopen(url: str, timeout: float):  # the offline machine: any download fails
        calls.append(url)
        raise vgg_mod.urllib.error.URLError("network unreachable")

    monkeypatch.setattr(vgg_mod.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(SrganError, match=r"VGG19 weights not found.*--vgg-weights"):
        vgg_mod.resolve_weights(None)
    assert calls == [vgg_mod.TORCHVISION_URL]
    cached = vgg_mod.hub_cache_dir() / vgg_mod.TORCHVISION_FILE
    assert not cached.exists() and not cached.with_name(cached.name + ".part").exists()

    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(vgg_file.read_bytes())
    assert vgg_mod.resolve_weights(None) == cached
    monkeypatch.setenv(vgg_mod.ENV_VAR, str(vgg_file))
    assert vgg_mod.resolve_weights(None) == vgg_file
    explicit = write_vgg19(tmp_path / "explicit.pth")
    assert vgg_mod.resolve_weights(explicit) == explicit
    monkeypatch.setenv(vgg_mod.ENV_VAR, str(tmp_path / "nope.pth"))
    with pytest.raises(SrganError, match=r"nope\.pth: VGG19 weights file does not exist"):
        vgg_mod.resolve_weights(None)


def test_download_writes_file(tmp_path: Path, vgg_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    payload = vgg_file.read_bytes()

    class Response(io.BytesIO):
        def __enter__(self) -> "Response":
            return self

    monkeypatch.setattr(vgg_mod.urllib.request, "urlopen", lambda url, timeout: Response(payload))
    dest = vgg_mod.download("http://example.invalid/vgg19.pth", tmp_path / "cache" / "vgg19.pth")
    assert dest.read_bytes() == payload
    VGG19Features("22", weights=dest)


def test_keras_h5(tmp_path: Path, vgg_file: Path) -> None:
    h5py = pytest.importorskip("h5py")
    state = torch.load(vgg_file, weights_only=True)
    path = tmp_path / "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"
    conv_ids = [i for i in range(36) if f"features.{i}.weight" in state]
    names = [f"block{b}_conv{c}" for b, n in enumerate((2, 2, 4, 4, 4), 1) for c in range(1, n + 1)]
    with h5py.File(path, "w") as f:
        for name, i in zip(names, conv_ids, strict=True):
            w = state[f"features.{i}.weight"]
            if i == 0:
                w = w.flip(1)  # Keras/Caffe weights take BGR
            g = f.create_group(name).create_group(name)
            g["kernel:0"] = w.permute(2, 3, 1, 0).numpy()  # (kh, kw, in, out)
            g["bias:0"] = state[f"features.{i}.bias"].numpy()
    keras = VGG19Features("54", weights=path)
    torch_v = VGG19Features("54", weights=vgg_file)
    x = torch.rand(1, 3, 32, 32)
    # Same convolutions; only the input normalisation differs (Caffe mean, no std) — compare conv stacks directly.
    caffe = (x * 255 - torch.tensor([123.68, 116.779, 103.939]).view(1, 3, 1, 1))
    torch.testing.assert_close(keras(x * 2 - 1), torch_v.features(caffe), rtol=1e-4, atol=1e-3)
    assert np.allclose(keras.std.numpy(), 1 / 255)
