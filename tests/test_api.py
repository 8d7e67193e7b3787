from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import srgan
from srgan import api, runtime, weights
from srgan.api import Upscaler, fill_transparent
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.models import Generator
from srgan.models.fast import optimize_for_inference

from .conftest import tiny_generator

RNG = np.random.default_rng(0)


def reference_sr(net: Generator, image: np.ndarray) -> np.ndarray:
    """Independent float reference: reflect-extend by the receptive radius, run the network, crop, map to [0, 1].
    (H, W, 3) float in [0, 1] → (sH, sW, 3) float."""
    m, s = Generator.receptive_radius(net.config), net.scale
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    with torch.no_grad():
        y = net(F.pad(x, (m, m, m, m), mode="reflect"))[:, :, s * m : -s * m, s * m : -s * m]
    return ((y[0].permute(1, 2, 0) + 1) / 2).clamp(0, 1).numpy()


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    return weights.save(tiny_generator(scale=2, blocks=2), tmp_path / "tiny.safetensors")


@pytest.fixture
def up() -> Upscaler:
    return Upscaler(tiny_generator(scale=2, blocks=2), device="cpu", precision="fp32")


def test_load_model_from_file(model_file: Path) -> None:
    up = srgan.load_model(model_file, device="cpu", precision="fp32")
    assert isinstance(up, srgan.Upscaler) and up.scale == 2 and up.device == torch.device("cpu")
    img = RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)
    out = up.upscale(img)
    assert out.shape == (40, 60, 3) and out.dtype == np.uint8
    expected = np.round(reference_sr(tiny_generator(scale=2, blocks=2), img / 255.0) * 255)
    assert np.abs(out.astype(int) - expected).max() <= 1


def test_load_model_default_needs_shipped_weights() -> None:
    if weights.DEFAULT_MODEL in weights.SHIPPED:
        pytest.skip("a default model is shipped")
    with pytest.raises(SrganError, match="no shipped default model"):
        srgan.load_model()


def test_uint16_and_gray_arrays_keep_type_and_layout(up: Upscaler) -> None:
    img8 = RNG.integers(0, 256, (12, 10, 3), dtype=np.uint8)
    out8 = up.upscale(img8)
    out16 = up.upscale(img8.astype(np.uint16) * 257)
    assert out16.dtype == np.uint16 and out16.shape == (24, 20, 3)
    assert np.abs(out16 / 257.0 - out8).max() <= 0.5 + 1e-6  # same computation, finer rounding

    gray = RNG.integers(0, 256, (16, 14), dtype=np.uint8)
    out = up.upscale(gray)
    assert out.shape == (32, 28) and out.dtype == np.uint8
    rgb = reference_sr(tiny_generator(scale=2, blocks=2), np.repeat(gray[:, :, None] / 255.0, 3, axis=2))
    expected = np.round((rgb @ np.array([0.299, 0.587, 0.114])) * 255)
    assert np.abs(out.astype(int) - expected).max() <= 1
    assert up.upscale(gray[:, :, None]).shape == (32, 28, 1)


def test_alpha_is_bicubic_and_transparent_colour_does_not_bleed(up: Upscaler) -> None:
    color = RNG.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    alpha = np.zeros((16, 16), np.uint8)
    alpha[3:12, 4:10] = 255
    alpha[3:12, 10] = 128
    a = np.dstack([color, alpha])
    b = a.copy()
    b[alpha == 0, :3] = [0, 255, 0]  # garbage under fully transparent pixels
    out_a, out_b = up.upscale(a), up.upscale(b)
    assert out_a.shape == (32, 32, 4)
    assert np.array_equal(out_a[:, :, 3], imresize(alpha, 2))
    assert np.array_equal(out_a, out_b)  # the hidden colour has no influence anywhere


def test_alpha_through_the_model(up: Upscaler) -> None:
    model_up = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32", alpha="model")
    la = RNG.integers(0, 256, (16, 18, 2), dtype=np.uint8)
    la[:, :, 1] = np.clip(la[:, :, 1], 1, 255)  # no fully transparent pixel: colour untouched
    out = model_up.upscale(la)
    ref = reference_sr(tiny_generator(scale=2, blocks=2), np.repeat(la[:, :, 1:] / 255.0, 3, axis=2)).mean(axis=2)
    assert np.abs(out[:, :, 1].astype(int) - np.round(ref * 255)).max() <= 1
    assert np.array_equal(out[:, :, 0], up.upscale(la)[:, :, 0])


def test_pil_images_come_back_as_pil(up: Upscaler) -> None:
    for mode, expected in (("RGB", "RGB"), ("RGBA", "RGBA"), ("L", "L"), ("LA", "LA"), ("P", "RGB"),
                           ("1", "L"), ("I;16", "I;16"), ("CMYK", "RGB")):
        im = Image.new(mode, (9, 7))
        out = up.upscale(im)
        assert isinstance(out, Image.Image) and out.mode == expected and out.size == (18, 14), mode
    rgb = Image.fromarray(RNG.integers(0, 256, (7, 9, 3), dtype=np.uint8))
    assert np.array_equal(np.asarray(up.upscale(rgb)), up.upscale(np.asarray(rgb)))


def test_tiled_api_matches_whole_image() -> None:
    img = RNG.integers(0, 256, (37, 29, 3), dtype=np.uint8)
    whole = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32", tile=0).upscale(img)
    tiled = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32", tile=8, batch=3).upscale(img)
    assert np.abs(whole.astype(int) - tiled).max() <= 1


def test_auto_tile_follows_the_memory_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    up = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32")
    per_px = optimize_for_inference(tiny_generator(scale=2, blocks=2)).window_bytes_per_pixel()  # fp32, as `up`
    m = min(up.overlap, api.tiling.EDGE_MARGIN)
    monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", int(per_px * (16 + 2 * m) ** 2))
    assert up.tile_size((16, 16)) == (16, 16)  # a whole image that fits runs as one window
    assert up.tile_size((12, 20)) == (12, 20)  # non-square too, when its window has no more pixels than the budget's
    assert up.tile_size((16, 17)) != (16, 17)
    img = RNG.integers(0, 256, (40, 35, 3), dtype=np.uint8)
    assert up.tile_size((40, 35)) != (40, 35)
    whole = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32", tile=0).upscale(img)
    assert np.abs(up.upscale(img).astype(int) - whole).max() <= 1
    monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", 1 << 40)
    monkeypatch.setattr(runtime, "_available_ram", lambda: int(4 * per_px * (24 + 2 * m) ** 2))
    assert up.tile_size((24, 24)) == (24, 24)  # a quarter of the free RAM when that is below the cap
    assert up.tile_size((24, 25)) != (24, 25)


def test_bf16_precision_runs_close_to_fp32() -> None:
    img = RNG.integers(0, 256, (12, 12, 3), dtype=np.uint8)
    fp32 = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32").upscale(img)
    bf16 = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "bf16").upscale(img)
    assert np.abs(fp32.astype(int) - bf16).mean() < 4


def test_bad_arguments(up: Upscaler) -> None:
    for kwargs, message in (({"tile": -1}, "tile must be"), ({"tile": "big"}, "tile must be"),
                            ({"overlap": -2}, "overlap must be"), ({"batch": 0}, "batch must be"),
                            ({"alpha": "premultiplied"}, "alpha must be")):
        with pytest.raises(SrganError, match=message):
            Upscaler(tiny_generator(), "cpu", "fp32", **kwargs)
    with pytest.raises(TypeError, match=r"PIL\.Image or a numpy array"):
        up.upscale([[1, 2]])
    with pytest.raises(ValueError, match="uint8 or uint16"):
        up.upscale(np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="image, got shape"):
        up.upscale(np.zeros((4, 4, 5), np.uint8))


def test_fill_transparent() -> None:
    color = RNG.random((9, 11, 3)).astype(np.float32)
    known = np.zeros((9, 11), bool)
    known[2, 3] = True
    filled = fill_transparent(color, known)
    assert np.array_equal(filled, np.broadcast_to(color[2, 3], color.shape))  # one source: everywhere its colour
    known = np.zeros((8, 16), bool)
    known[:, :4] = True  # red on the left
    known[:, 12:] = True  # blue on the right
    color = np.zeros((8, 16, 3), np.float32)
    color[:, :4] = [1, 0, 0]
    color[:, 12:] = [0, 0, 1]
    filled = fill_transparent(color, known)
    assert np.array_equal(filled[known], color[known])
    assert np.allclose(filled[:, 4], [1, 0, 0]) and np.allclose(filled[:, 11], [0, 0, 1])  # nearest side wins
    assert np.array_equal(fill_transparent(color, np.ones((8, 16), bool)), color)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_to_integer_rounds_to_nearest_across_row_chunks(dtype: type) -> None:
    # 1M columns × 3 channels makes each row its own conversion chunk; values straddle the rounding points.
    top = np.iinfo(dtype).max
    h, w = 3, 1 << 20
    t = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
    t[0, :, :, :4] = torch.tensor([0.0, 0.49 / top, 0.51 / top, 1.0])
    out = api._to_integer(t, np.dtype(dtype))
    expected = np.round(t[0].permute(1, 2, 0).numpy() * np.float32(top))  # float32 product, half to even: as torch
    assert out.dtype == dtype and out.shape == (h, w, 3)
    assert np.array_equal(out, expected)
    assert out[0, :4, 0].tolist() == [0, 0, 1, top]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_network_input_converts_integers_as_the_host_path_does(dtype: type, channels: int) -> None:
    # Integers go to the device as they are and become floats there; the values must be exactly what the host
    # conversion (used for the alpha-filled colour) gives, grey replicated to three channels.
    top = np.iinfo(dtype).max
    image = np.random.default_rng(0).integers(0, top, size=(5, 7, channels), endpoint=True, dtype=dtype)
    image[0, 0] = [0] * channels
    image[0, 1] = [top] * channels
    t = api._network_input(image, torch.device("cpu"))
    expected = api._network_input(api._to_float(image), torch.device("cpu"))
    assert t.dtype == torch.float32 and t.shape == (1, 3, 5, 7)
    assert torch.equal(t, expected)
    assert torch.equal(t[0, :, 0, 0], torch.zeros(3)) and torch.equal(t[0, :, 0, 1], torch.ones(3))
    assert torch.equal(t[0, :, 2, 3], torch.from_numpy(image[2, 3].astype(np.float32) / np.float32(top)).expand(3))
