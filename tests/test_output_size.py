"""Outputs of any size (--outscale, --width/--height) and the model chosen per input (real-x4 for JPEG files)."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan import weights
from srgan.api import OutputSize, Upscaler
from srgan.data.degrade import imresize, quantize, resize_matrix, resize_to
from srgan.errors import SrganError
from srgan.weights import model_for

from .conftest import tiny_generator

RNG = np.random.default_rng(3)


def srgan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srgan.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.parametrize("size", [(19, 26), (80, 100), (37, 20), (5, 200)])
def test_resize_to_is_matlab_imresize_to_a_size(size: tuple[int, int]) -> None:
    """Taps give the dense MATLAB matrices' result, each axis at its own scale out/in."""
    x = torch.rand(2, 3, 37, 51, dtype=torch.float64)
    mh = torch.tensor(resize_matrix(37, size[0], size[0] / 37))  # a copy: the cached matrices are read-only
    mw = torch.tensor(resize_matrix(51, size[1], size[1] / 51))
    torch.testing.assert_close(resize_to(x, size), mh @ x @ mw.T, rtol=0, atol=1e-12)


def test_resize_to_equals_imresize_at_a_scale() -> None:
    img = RNG.integers(0, 256, (40, 60, 3), dtype=np.uint8)
    ours = resize_to(torch.from_numpy(img.astype(np.float64)).permute(2, 0, 1), (20, 30)).permute(1, 2, 0).numpy()
    np.testing.assert_array_equal(quantize(ours), imresize(img, 0.5))


def test_output_size_rules() -> None:
    assert OutputSize(outscale=2.5).of((14, 18)) == (35, 45)
    assert OutputSize(outscale=0.3).of((14, 18)) == (5, 6)  # MATLAB's ceil
    assert OutputSize(width=36).of((14, 18)) == (28, 36)  # aspect ratio kept
    assert OutputSize(height=7).of((14, 18)) == (7, 9)
    assert OutputSize(width=10, height=50).of((14, 18)) == (50, 10)  # both: exactly that
    for bad, message in (({}, "needs outscale"), ({"outscale": 2.0, "width": 3}, "either outscale"),
                         ({"outscale": 0.0}, "outscale must be a number > 0"), ({"width": 0}, "width must be"),
                         ({"height": 2.5}, "height must be a whole number")):
        with pytest.raises(SrganError, match=message):
            OutputSize(**bad)


def test_outscale_is_the_model_result_resized() -> None:
    """The ×2 result computed at 16 bits, resized in float64 and rounded to 8 bits, is what --outscale gives
    (within one level: the reference rounds to 16 bits before resizing)."""
    img = RNG.integers(0, 256, (14, 18, 3), dtype=np.uint8)
    net = tiny_generator(scale=2, blocks=2)
    x2 = Upscaler(net, "cpu", "fp32").upscale(img.astype(np.uint16) * 257).astype(np.float64) / 257
    for size in (OutputSize(outscale=1.5), OutputSize(width=50, height=11)):
        out = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32", size=size).upscale(img)
        h, w = size.of((14, 18))
        ref = quantize(resize_to(torch.from_numpy(x2).permute(2, 0, 1), (h, w)).permute(1, 2, 0).numpy())
        assert out.shape == (h, w, 3) and out.dtype == np.uint8
        diff = np.abs(out.astype(int) - ref.astype(int))
        assert diff.max() <= 1 and diff.mean() < 0.05


@pytest.mark.parametrize("alpha", ["bicubic", "model"])
def test_every_image_kind_comes_out_at_the_size(alpha: str) -> None:
    up = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32", alpha=alpha, size=OutputSize(outscale=3))
    for shape, dtype in (((14, 18), np.uint8), ((14, 18, 2), np.uint16), ((14, 18, 3), np.uint16),
                         ((14, 18, 4), np.uint8)):
        img = RNG.integers(0, np.iinfo(dtype).max, shape, dtype=dtype, endpoint=True)
        out = up.upscale(img)
        assert out.shape == (42, 54, *shape[2:]) and out.dtype == dtype
    if alpha == "bicubic":  # alpha goes straight from the input to the output size
        rgba = RNG.integers(0, 256, (14, 18, 4), dtype=np.uint8)
        np.testing.assert_array_equal(up.upscale(rgba)[:, :, 3], imresize(rgba[:, :, 3], 3))
    pil = up.upscale(Image.fromarray(RNG.integers(0, 256, (14, 18, 3), dtype=np.uint8)))
    assert pil.size == (54, 42)


def test_cli_output_size_names_and_errors(tmp_path: Path) -> None:
    model = weights.save(tiny_generator(scale=2, blocks=2), tmp_path / "tiny.safetensors")
    src = tmp_path / "p.png"
    Image.fromarray(RNG.integers(0, 256, (14, 18, 3), dtype=np.uint8)).save(src, dpi=(100, 100))
    r = srgan("upscale", src, "-o", tmp_path / "o", "--model", model, "--outscale", "2.5")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "o" / "p_x2.5.png") as im:
        assert im.size == (45, 35) and round(im.info["dpi"][0]) == 250
    r = srgan("upscale", src, "-o", tmp_path / "o", "--model", model, "--width", "30")
    assert r.returncode == 0, r.stderr
    with Image.open(tmp_path / "o" / "p_w30.png") as im:
        assert im.size == (30, 23)
    r = srgan("upscale", src, "-o", tmp_path / "o", "--model", model, "--width", "30", "--height", "9")
    with Image.open(tmp_path / "o" / "p_w30xh9.png") as im:
        assert im.size == (30, 9)
    r = srgan("upscale", src, "-o", tmp_path / "bad", "--model", model, "--outscale", "2", "--height", "9")
    assert r.returncode != 0 and "either outscale or width/height" in r.stderr
    assert "Traceback" not in r.stderr and not (tmp_path / "bad").exists()
    r = srgan("upscale", src, "-o", tmp_path / "bad", "--model", model, "--outscale", "-1")
    assert r.returncode != 0 and "outscale must be a number > 0, got -1.0" in r.stderr


def test_jpeg_files_get_the_jpeg_model(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Chosen by the file's bytes, not its name; only when that model is installed."""
    img = Image.fromarray(RNG.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    img.save(tmp_path / "photo.png", format="JPEG")  # a JPEG under a misleading name
    img.save(tmp_path / "real.png")
    (tmp_path / "empty.jpg").write_bytes(b"")
    monkeypatch.setitem(weights.SHIPPED, weights.JPEG_MODEL, ("x.safetensors", "0"))
    assert model_for(tmp_path / "photo.png") == weights.JPEG_MODEL
    assert model_for(tmp_path / "real.png") == weights.DEFAULT_MODEL
    assert model_for(tmp_path / "empty.jpg") == weights.DEFAULT_MODEL
    assert model_for(tmp_path / "missing.jpg") == weights.DEFAULT_MODEL
    monkeypatch.delitem(weights.SHIPPED, weights.JPEG_MODEL)
    assert model_for(tmp_path / "photo.png") == weights.DEFAULT_MODEL
