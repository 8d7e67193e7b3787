from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srgan import runtime, weights
from srgan.api import Upscaler
from srgan.data.degrade import imresize
from srgan.metrics import psnr_y
from srgan.models import fast
from srgan.models.fast import fold_batchnorm, optimize_for_inference, subpixel_conv_weight

from .conftest import randomize_buffers, tiny_generator

DATA = Path(__file__).parent / "data"


def test_fold_batchnorm_equals_conv_then_bn() -> None:
    conv, bn = torch.nn.Conv2d(5, 7, 3, padding=1), torch.nn.BatchNorm2d(7)
    randomize_buffers(bn, seed=3).eval()
    x = torch.randn(2, 5, 6, 9)
    w, b = fold_batchnorm(conv, bn)
    with torch.no_grad():
        torch.testing.assert_close(F.conv2d(x, w, b, padding=1), bn(conv(x)), rtol=0, atol=1e-5)


@pytest.mark.parametrize(("k", "r"), [(9, 2), (3, 2), (5, 3), (1, 2)])
def test_subpixel_conv_weight_commutes_with_pixel_shuffle(k: int, r: int) -> None:
    """conv(PixelShuffle(z)) == PixelShuffle(conv'(z)), zero padding included (fp64, so exact up to rounding)."""
    g = torch.Generator().manual_seed(k * r)
    z = torch.randn(2, 4 * r * r, 7, 5, generator=g, dtype=torch.float64)
    w = torch.randn(3, 4, k, k, generator=g, dtype=torch.float64)
    w2, p = subpixel_conv_weight(w, r)
    assert w2.shape == (3 * r * r, 4 * r * r, 2 * p + 1, 2 * p + 1)
    expected = F.conv2d(F.pixel_shuffle(z, r), w, padding=k // 2)
    torch.testing.assert_close(F.pixel_shuffle(F.conv2d(z, w2, padding=p), r), expected, rtol=0, atol=1e-12)


def test_subpixel_conv_weight_rejects_even_kernels() -> None:
    with pytest.raises(ValueError, match="square odd kernel"):
        subpixel_conv_weight(torch.zeros(3, 4, 4, 4), 2)


@pytest.mark.parametrize(("scale", "blocks", "channels"), [(2, 1, 8), (4, 2, 16), (8, 3, 8), (4, 16, 64)])
@pytest.mark.parametrize("shape", [(1, 3, 13, 21), (2, 3, 5, 9), (1, 3, 1, 6)])
def test_fp32_graph_equals_training_graph(monkeypatch: pytest.MonkeyPatch, scale: int, blocks: int,
                                          channels: int, shape: tuple[int, ...]) -> None:
    g = tiny_generator(scale, blocks, channels, seed=scale + blocks)
    with torch.no_grad():
        g.tail.weight.mul_(20)  # outputs of order 1, so the absolute tolerance is a relative one too
    net = optimize_for_inference(g)
    x = torch.rand(shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = g(x)
        assert expected.std() > 0.1
        whole = net(x)
        monkeypatch.setattr(fast, "STRIP_ELEMENTS", 1)  # strips of 8 rows: several strips, a short last one
        strips = net(x)
    for y in (whole, strips):
        assert y.dtype == torch.float32 and y.is_contiguous() and y.shape == expected.shape
        torch.testing.assert_close(y, expected, rtol=0, atol=1e-4)


def test_graph_uses_running_statistics_and_is_never_saved() -> None:
    g = tiny_generator(4, 1, 8).train()
    net = optimize_for_inference(g)
    assert g.training  # the caller's model is left as it was
    assert net.state_dict() == {}  # built at load time from the generator's own file
    x = torch.rand(2, 3, 6, 7)
    with torch.no_grad():
        torch.testing.assert_close(net(x), g.eval()(x), rtol=0, atol=1e-5)


def test_bf16_graph_matches_fp32_within_autocast_error() -> None:
    """bf16 with weights converted once is as accurate as the generator under bf16 autocast (the reference policy)."""
    g = tiny_generator(4, 2, 16, seed=5)
    x = torch.rand(1, 3, 12, 10, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        g.tail.weight.mul_(20)  # outputs of order 1
        exact = g.double()(x.double()).float()
        g.float()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            autocast_err = (g(x).float() - exact).abs().max().item()
        y = optimize_for_inference(g, torch.bfloat16)(x)
    assert y.dtype == torch.float32
    assert 0 < (y - exact).abs().max().item() <= 1.5 * autocast_err < 0.05


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_graph_owns_its_layout(dtype: torch.dtype | None) -> None:
    """Callers pass plain NCHW windows: the graph converts them itself, so any input layout gives the same bits."""
    net = optimize_for_inference(tiny_generator(2, 2, 8, seed=3), dtype)
    x = torch.rand(2, 3, 11, 9, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        nchw, nhwc = net(x), net(x.contiguous(memory_format=torch.channels_last))
    assert nchw.dtype == torch.float32 and nchw.is_contiguous()
    assert torch.equal(nchw, nhwc)


@pytest.mark.parametrize(("native_bf16", "dtype", "expected"), [
    (True, None, 1664), (False, None, 1664), (True, torch.bfloat16, 1024), (False, torch.bfloat16, 52224),
])
def test_window_bytes_per_pixel_of_the_shipped_architecture(monkeypatch: pytest.MonkeyPatch, native_bf16: bool,
                                                            dtype: torch.dtype | None, expected: int) -> None:
    """The graph's memory estimate for srresnet-x4, the numbers tiling computed before the graph owned it: 1.66 KB per
    LR pixel in fp32; bf16 on a CPU without native support runs PyTorch's unfolding convolution, 50× more."""
    monkeypatch.setattr(runtime, "cpu_has_native_bf16", lambda: native_bf16)
    net = optimize_for_inference(weights.load(weights.resolve("srresnet-x4")), dtype)
    assert net.window_bytes_per_pixel() == expected


def test_window_bytes_per_pixel_counts_every_upsampling_stage() -> None:
    """×8: the middle upsampling blocks' input and output (5·C·4 elements per LR pixel at the second) dominate."""
    assert optimize_for_inference(tiny_generator(8, 1, 8)).window_bytes_per_pixel() == 5 * 8 * 4 * 4 + 2 * 3 * 64 * 4


def _set5_like() -> list[np.ndarray]:
    """Two held-out CC0 photos, HR crops of 192×192 (made by scripts/make_tiny_model.py)."""
    return [np.asarray(Image.open(DATA / name).convert("RGB")) for name in ("chelsea.png", "coffee.png")]


def test_bf16_default_path_psnr_within_0_01_db_of_fp32() -> None:
    """The issue's quality bar: PSNR-Y of the bf16 path through ``Upscaler`` within 0.01 dB of fp32."""
    model = weights.load(DATA / "tiny_x4.safetensors")
    fp32, bf16 = (Upscaler(model, device="cpu", precision=p, tile=0) for p in ("fp32", "bf16"))
    for hr in _set5_like():
        lr = imresize(hr, 1 / 4)
        sr32, sr16 = fp32.upscale(lr), bf16.upscale(lr)
        assert (sr32 != sr16).any()  # the bf16 path really ran in bf16
        p32, p16 = psnr_y(sr32, hr, crop=4), psnr_y(sr16, hr, crop=4)
        assert p32 > 22  # a trained reconstruction (random weights give about 17 dB), so the comparison means something
        assert abs(p16 - p32) <= 0.01, (p16, p32)
