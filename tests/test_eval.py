"""The evaluation protocol, its JSON document and the ``srgan eval`` command."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan import weights
from srgan.cli import main
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.evaluate import bicubic_upscale, evaluate
from srgan.imageread import read_rgb8
from srgan.metrics import psnr_y, ssim_y

from .conftest import tiny_generator


def rgb(h: int, w: int, seed: int) -> np.ndarray:
    """A smooth image plus noise, so that bicubic scores are finite and differ between images."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 80 * np.sin(xx / (5 + seed)) * np.cos(yy / 7)
    noise = np.random.default_rng(seed).normal(0, 8, (h, w, 3))
    return np.clip(base[..., None] + noise, 0, 255).astype(np.uint8)


@pytest.fixture
def bench(tmp_path: Path) -> Path:
    d = tmp_path / "Tiny"
    d.mkdir()
    Image.fromarray(rgb(50, 47, 1)).save(d / "one.png")
    Image.fromarray(rgb(44, 61, 2)[..., 0]).save(d / "two.png")  # grayscale, like Set14's bridge
    return d


def test_bicubic_upscale_is_imresize() -> None:
    lr = rgb(9, 11, 0)
    out = bicubic_upscale(lr, 3)
    assert out.dtype == np.uint8 and out.shape == (27, 33, 3)
    np.testing.assert_array_equal(out, imresize(lr, 3))


def test_evaluate_follows_the_protocol(bench: Path) -> None:
    (result,) = evaluate(partial(bicubic_upscale, scale=4), [bench], 4)
    assert result.dataset == "Tiny" and result.images == 2
    assert [r.name for r in result.per_image] == ["one.png", "two.png"]
    for r, img in zip(result.per_image, (rgb(50, 47, 1), rgb(44, 61, 2)[..., 0]), strict=True):
        hr = img[:48, :44] if img.ndim == 3 else np.repeat(img[:44, :60, None], 3, axis=2)
        sr = imresize(imresize(hr, 1 / 4), 4)
        assert r.psnr_y == psnr_y(sr, hr, 4) and r.ssim_y == ssim_y(sr, hr, 4)
        assert 15 < r.psnr_y < 40
    assert result.psnr_y == pytest.approx(np.mean([r.psnr_y for r in result.per_image]))
    assert result.ssim_y == pytest.approx(np.mean([r.ssim_y for r in result.per_image]))


def test_evaluate_a_perfect_upscaler_and_a_network(bench: Path) -> None:
    originals = {}
    for path in sorted(bench.iterdir()):
        hr = read_rgb8(path)
        hr = hr[: hr.shape[0] // 2 * 2, : hr.shape[1] // 2 * 2]
        originals[imresize(hr, 1 / 2).tobytes()] = hr
    (oracle,) = evaluate(lambda lr: originals[lr.tobytes()], [bench], 2)
    assert all(r.psnr_y == math.inf and r.ssim_y == pytest.approx(1.0) for r in oracle.per_image)

    g = tiny_generator(scale=2, n_blocks=1, channels=8)

    def network(lr: np.ndarray) -> np.ndarray:  # how the trainer validates its generator
        x = torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255
        with torch.no_grad():
            y = ((g(x) + 1) / 2).clamp(0, 1)
        return (y[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()

    (scored,) = evaluate(network, [bench], 2)
    assert all(math.isfinite(r.psnr_y) and -1 <= r.ssim_y <= 1 for r in scored.per_image)
    with pytest.raises(ValueError, match="expected uint8"):
        evaluate(lambda lr: lr, [bench], 2)


def test_evaluate_saves_images_without_overwriting(bench: Path, tmp_path: Path) -> None:
    out = tmp_path / "sr"
    evaluate(partial(bicubic_upscale, scale=4), [bench], 4, save_dir=out)
    saved = np.asarray(Image.open(out / "Tiny" / "one.png"))
    np.testing.assert_array_equal(saved, imresize(imresize(rgb(50, 47, 1)[:48, :44], 1 / 4), 4))
    assert sorted(p.name for p in (out / "Tiny").iterdir()) == ["one.png", "two.png"]  # no temporary files left
    with pytest.raises(SrganError, match="already exists"):
        evaluate(partial(bicubic_upscale, scale=4), [bench], 4, save_dir=out)
    evaluate(partial(bicubic_upscale, scale=4), [bench], 4, save_dir=out, overwrite=True)


def test_cli_eval_json_schema(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    assert main(["eval", "--model", "bicubic", "--data", str(bench), "--json", str(report)]) == 0
    doc = json.loads(report.read_text())
    assert set(doc) == {"model", "scale", "results"}
    assert doc["model"] == "bicubic" and doc["scale"] == 4
    (res,) = doc["results"]
    assert set(res) == {"dataset", "images", "psnr_y", "ssim_y", "per_image"}
    assert res["dataset"] == "Tiny" and res["images"] == 2
    assert [set(p) for p in res["per_image"]] == [{"name", "psnr_y", "ssim_y"}] * 2
    assert [p["name"] for p in res["per_image"]] == ["one.png", "two.png"]
    assert all(isinstance(p["psnr_y"], float) and isinstance(p["ssim_y"], float) for p in res["per_image"])
    assert res["psnr_y"] == pytest.approx(np.mean([p["psnr_y"] for p in res["per_image"]]))
    (expected,) = evaluate(partial(bicubic_upscale, scale=4), [bench], 4)
    assert res["psnr_y"] == expected.psnr_y
    table = capsys.readouterr().out
    assert "Tiny" in table and f"{expected.psnr_y:.3f}" in table and f"{expected.ssim_y:.4f}" in table


def test_cli_eval_errors_are_one_line(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> str:
        assert main(["eval", *args]) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1
        return err.strip()

    report = tmp_path / "r.json"
    report.write_text("keep me")
    err = run("--model", "bicubic", "--data", str(bench), "--json", str(report))
    assert err == f"srgan eval: error: {report}: already exists (pass --overwrite to replace it)"
    assert report.read_text() == "keep me"

    err = run("--model", "bicubic", "--data", str(tmp_path / "nope"))
    assert err == f"srgan eval: error: {tmp_path / 'nope'}: not a folder"

    model = weights.save(tiny_generator(scale=2, n_blocks=1, channels=8), tmp_path / "m.safetensors")
    err = run("--model", str(model), "--data", str(bench), "--scale", "4")
    assert err == f"srgan eval: error: {model}: --scale 4 does not match the model's scale (2)"


def test_cli_eval_skips_bad_files_and_goes_on(bench: Path) -> None:
    (bench / "zz_broken.png").write_text("not an image")
    r = subprocess.run([sys.executable, "-m", "srgan.cli", "eval", "--model", "bicubic", "--data", str(bench)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stderr.strip() == f"srgan eval: warning: {bench / 'zz_broken.png'}: skipped " \
                               "(not an image file, or in a format Pillow cannot read)"
    assert "Tiny" in r.stdout and "(1 skipped)" in r.stdout


def test_cli_eval_with_a_model(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = weights.save(tiny_generator(scale=2, n_blocks=1, channels=8), tmp_path / "m.safetensors")
    report = tmp_path / "m.json"
    assert main(["eval", "--model", str(model), "--data", str(bench), "--json", str(report),
                 "--device", "cpu", "--precision", "fp32"]) == 0
    doc = json.loads(report.read_text())
    assert doc["model"] == str(model) and doc["scale"] == 2
    (bicubic,) = evaluate(partial(bicubic_upscale, scale=2), [bench], 2)
    out = capsys.readouterr().out
    assert "bicubic" in out and f"{bicubic.psnr_y:.3f}" in out  # the baseline column
    assert doc["results"][0]["psnr_y"] != bicubic.psnr_y
