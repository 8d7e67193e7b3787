"""The evaluation protocol, its JSON document and the ``srgan eval`` command."""

from __future__ import annotations

import json
import math
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan import weights
from srgan.cli import main
from srgan.data.degrade import alias_downscale, imresize
from srgan.data.realistic import jpeg
from srgan.errors import SrganError
from srgan.evaluate import (
    DEGRADE_PRESETS,
    bicubic_upscale,
    evaluate,
    evaluate_hr,
    evaluate_models,
    format_table,
    results_json,
)
from srgan.images import read_rgb8
from srgan.metrics import blocking, grid_index, lattice, niqe, psnr_y, ssim_y

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

    g = tiny_generator(scale=2, blocks=1, channels=8)

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


@pytest.fixture
def big(tmp_path: Path) -> Path:
    """Images large enough for NIQE (96×96 after the mod-crop and border crop at ×4)."""
    d = tmp_path / "Big"
    d.mkdir()
    Image.fromarray(rgb(110, 121, 3)).save(d / "a.png")
    Image.fromarray(rgb(130, 104, 4)).save(d / "b.png")
    return d


def test_no_reference_metrics_of_sr_and_hr(big: Path) -> None:
    (result,) = evaluate(partial(bicubic_upscale, scale=4), [big], 4, metrics=["niqe", "grid", "psnr"])
    (hr_row,) = evaluate_hr([big], 4, ["psnr", "niqe", "grid"])  # PSNR needs a reference: ignored here
    for r, h, img in zip(result.per_image, hr_row.per_image, (rgb(110, 121, 3), rgb(130, 104, 4)), strict=True):
        hr = img[:img.shape[0] // 4 * 4, :img.shape[1] // 4 * 4]
        sr = imresize(imresize(hr, 1 / 4), 4)
        assert r.scores == {"niqe": niqe(sr, 4), "grid": grid_index(sr, 4, 4), "psnr_y": psnr_y(sr, hr, 4)}
        assert h.scores == {"niqe": niqe(hr, 4), "grid": grid_index(hr, 4, 4)}
    assert result.mean("niqe") > hr_row.mean("niqe") and result.mean("grid") > hr_row.mean("grid")
    with pytest.raises(ValueError, match="scores an image alone"):
        evaluate_hr([big], 4, ["psnr", "ssim"])


def test_images_too_small_for_a_metric_are_skipped(big: Path, bench: Path) -> None:
    Image.fromarray(rgb(50, 47, 1)).save(big / "small.png")
    with pytest.warns(UserWarning, match="small.png: skipped"):
        (result,) = evaluate(partial(bicubic_upscale, scale=4), [big], 4, metrics=["psnr", "niqe"])
    assert [r.name for r in result.per_image] == ["a.png", "b.png"]
    assert result.skipped == ((str(big / "small.png"), "NIQE needs at least 96×96 pixels after the border crop, "
                                                      "got 36×40"),)
    with pytest.raises(SrganError, match="no usable images"), pytest.warns(UserWarning):
        evaluate(partial(bicubic_upscale, scale=4), [bench], 4, metrics=["niqe"])


def test_cli_eval_json_schema(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    assert main(["eval", "--model", "bicubic", "--data", str(bench), "--json", str(report)]) == 0
    doc = json.loads(report.read_text())
    assert doc == {"scale": 4, "metrics": ["psnr_y", "ssim_y"], "degrade": None, "models": doc["models"], "hr": []}
    (model,) = doc["models"]
    assert set(model) == {"model", "results"} and model["model"] == "bicubic"
    (res,) = model["results"]
    assert set(res) == {"dataset", "images", "psnr_y", "ssim_y", "skipped", "left_out", "per_image"}
    assert res["dataset"] == "Tiny" and res["images"] == 2 and res["skipped"] == []
    assert [set(p) for p in res["per_image"]] == [{"name", "psnr_y", "ssim_y"}] * 2
    assert [p["name"] for p in res["per_image"]] == ["one.png", "two.png"]
    assert all(isinstance(p["psnr_y"], float) and isinstance(p["ssim_y"], float) for p in res["per_image"])
    assert res["psnr_y"] == pytest.approx(np.mean([p["psnr_y"] for p in res["per_image"]]))
    (expected,) = evaluate(partial(bicubic_upscale, scale=4), [bench], 4)
    assert res["psnr_y"] == expected.psnr_y
    table = capsys.readouterr().out
    assert "Tiny" in table and f"{expected.psnr_y:.3f}" in table and f"{expected.ssim_y:.4f}" in table


def test_cli_eval_several_models_and_all_metrics(big: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    m1 = weights.save(tiny_generator(scale=4, blocks=1, channels=8, seed=1), tmp_path / "one.safetensors")
    m2 = weights.save(tiny_generator(scale=4, blocks=1, channels=8, seed=2), tmp_path / "two.safetensors")
    report, save = tmp_path / "r.json", tmp_path / "sr"
    assert main(["eval", "--model", str(m1), str(m2), "bicubic", "--data", str(big), "--metrics", "psnr", "ssim",
                 "niqe", "grid", "--json", str(report), "--save", str(save), "--device", "cpu",
                 "--precision", "fp32"]) == 0
    doc = json.loads(report.read_text())
    assert doc["scale"] == 4 and doc["metrics"] == ["psnr_y", "ssim_y", "niqe", "grid"]
    assert [m["model"] for m in doc["models"]] == [str(m1), str(m2), "bicubic"]  # no second bicubic
    for m in doc["models"]:
        (res,) = m["results"]
        assert {"psnr_y", "ssim_y", "niqe", "grid"} <= set(res) and res["images"] == 2
    (hr,) = doc["hr"]
    assert set(hr) == {"dataset", "images", "niqe", "grid", "skipped", "left_out", "per_image"}
    assert hr["niqe"] == evaluate_hr([big], 4, ["niqe"])[0].mean("niqe")
    bicubic = doc["models"][2]["results"][0]
    assert bicubic["psnr_y"] == evaluate(partial(bicubic_upscale, scale=4), [big], 4)[0].psnr_y
    lines = capsys.readouterr().out.splitlines()
    rows = [line.split() for line in lines if line.startswith("Big")]
    assert [r[1] for r in rows] == [str(m1), str(m2), "bicubic", "HR"]
    assert rows[2][3:] == [f"{bicubic[k]:{f}}" for k, f in (("psnr_y", ".3f"), ("ssim_y", ".4f"), ("niqe", ".3f"),
                                                             ("grid", ".3f"))]
    assert rows[3][2:] == ["2", "-", "-", f"{hr['niqe']:.3f}", f"{hr['grid']:.3f}"]
    for stem in ("one", "two", "bicubic"):
        assert sorted(p.name for p in (save / stem / "Big").iterdir()) == ["a.png", "b.png"]
    np.testing.assert_array_equal(np.asarray(Image.open(save / "bicubic" / "Big" / "a.png")),
                                  imresize(imresize(rgb(110, 121, 3)[:108, :120], 1 / 4), 4))


def test_cli_eval_errors_are_one_line(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def run(*args: str) -> str:
        assert main(["eval", *args]) == 2
        out, err = capsys.readouterr()
        assert out == "" and len(err.splitlines()) == 1
        return err.strip()

    err = run("--model", "bicubic", "--data", str(tmp_path / "nope"))
    assert err == f"srgan eval: error: {tmp_path / 'nope'}: not a folder"

    model = weights.save(tiny_generator(scale=2, blocks=1, channels=8), tmp_path / "m.safetensors")
    err = run("--model", str(model), "--data", str(bench), "--scale", "4")
    assert err == f"srgan eval: error: {model}: --scale 4 does not match the model's scale (2)"

    x4 = weights.save(tiny_generator(scale=4, blocks=1, channels=8), tmp_path / "x4.safetensors")
    err = run("--model", "bicubic", str(x4), str(model), "--data", str(bench))
    assert err == f"srgan eval: error: {model}: the scale of {x4} (4) does not match the model's scale (2)"

    (tmp_path / "b").mkdir()
    twin = weights.save(tiny_generator(scale=2, blocks=1, channels=8), tmp_path / "b" / "m.safetensors")
    err = run("--model", str(model), str(twin), "--data", str(bench), "--save", str(tmp_path / "sr"))
    assert err.startswith(f"srgan eval: error: {tmp_path / 'sr'}: two models would save to the same folder")


def test_cli_eval_fails_when_images_are_left_out(bench: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """A mean over fewer images than the folder holds is not the benchmark's: say so in the exit status and JSON."""
    (bench / "zz_broken.png").write_text("not an image")
    reason = "not an image file (or a format Pillow cannot read)"
    report = tmp_path / "r.json"
    assert main(["eval", "--model", "bicubic", "--data", str(bench), "--json", str(report)]) == 1
    out, err = capsys.readouterr()
    assert "Tiny" in out and "(1 skipped)" in out
    assert err.splitlines() == ["srgan eval: 1 images left out of the means (pass --allow-missing to accept that):",
                                f"  {bench / 'zz_broken.png'}: {reason}"]
    (res,) = json.loads(report.read_text())["models"][0]["results"]
    assert res["images"] == 2 and res["skipped"] == [{"file": str(bench / "zz_broken.png"), "reason": reason}]

    assert main(["eval", "--model", "bicubic", "--data", str(bench), "--allow-missing"]) == 0
    out, err = capsys.readouterr()
    assert "(1 skipped)" in out
    assert err.strip() == f"srgan eval: warning: {bench / 'zz_broken.png'}: skipped ({reason})"


def test_cli_eval_with_a_model(bench: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = weights.save(tiny_generator(scale=2, blocks=1, channels=8), tmp_path / "m.safetensors")
    report = tmp_path / "m.json"
    assert main(["eval", "--model", str(model), "--data", str(bench), "--json", str(report),
                 "--device", "cpu", "--precision", "fp32"]) == 0
    doc = json.loads(report.read_text())
    assert [m["model"] for m in doc["models"]] == [str(model), "bicubic"] and doc["scale"] == 2
    (bicubic,) = evaluate(partial(bicubic_upscale, scale=2), [bench], 2)
    out = capsys.readouterr().out
    assert "bicubic" in out and f"{bicubic.psnr_y:.3f}" in out  # the baseline row
    assert doc["models"][1]["results"][0]["psnr_y"] == bicubic.psnr_y
    assert doc["models"][0]["results"][0]["psnr_y"] != bicubic.psnr_y


def _lr_seen(bench: Path, degrade: str | None) -> dict[int, np.ndarray]:
    """The LR each image's upscaler was given, in folder order (bicubic computes the SR)."""
    seen: dict[int, np.ndarray] = {}

    def upscale(lr: np.ndarray) -> np.ndarray:
        seen[len(seen)] = lr
        return bicubic_upscale(lr, 4)

    evaluate(upscale, [bench], 4, degrade=degrade)
    return seen


def _blurred(img: np.ndarray, sigma: float) -> np.ndarray:
    """A direct restatement: the 2-D Gaussian (radius ⌈3σ⌉, normalised) summed over every offset, edges replicated."""
    r = math.ceil(3 * sigma)
    t = np.arange(-r, r + 1)
    window = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * sigma**2))
    window /= window.sum()
    padded = np.pad(img.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="edge")
    h, w = img.shape[:2]
    return sum(window[a, b] * padded[a:a + h, b:b + w] for a in range(2 * r + 1) for b in range(2 * r + 1))


def test_degraded_lr_presets(bench: Path) -> None:
    hrs = [rgb(50, 47, 1)[:48, :44], np.repeat(rgb(44, 61, 2)[:44, :60, :1], 3, axis=2)]
    clean = [imresize(hr, 1 / 4) for hr in hrs]
    for k, lr in _lr_seen(bench, "jpeg75").items():
        np.testing.assert_array_equal(lr, jpeg(clean[k], 75))
    for k, lr in _lr_seen(bench, "jpeg50").items():
        np.testing.assert_array_equal(lr, jpeg(clean[k], 50))
    for k, lr in _lr_seen(bench, "blur").items():
        expected = np.floor(np.clip(imresize(_blurred(hrs[k], 2.0), 1 / 4), 0, 255) + 0.5)
        assert np.abs(lr.astype(float) - expected).max() <= 1  # a rounding tie may fall either way
        assert (lr == expected).mean() > 0.99
    noisy = _lr_seen(bench, "noise5")
    for k, lr in noisy.items():
        diff = lr.astype(float) - clean[k]
        assert lr.dtype == np.uint8 and 4 < diff.std() < 6 and abs(diff.mean()) < 1
    first = noisy[0].astype(float) - clean[0]
    second = noisy[1].astype(float) - clean[1]
    assert not np.array_equal(first[:8, :8], second[:8, :8])  # each image has its own noise
    for k, lr in _lr_seen(bench, "noise5").items():
        np.testing.assert_array_equal(lr, noisy[k])  # and the same one in every run


def test_degraded_eval_is_deterministic_and_recorded(bench: Path, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    docs = []
    for name in ("a.json", "b.json", "clean.json"):
        flags = ["--degrade", "jpeg75"] if name != "clean.json" else []
        assert main(["eval", "--model", "bicubic", "--data", str(bench), "--metrics", "psnr", "blocking",
                     "--json", str(tmp_path / name), *flags]) == 0
        docs.append(json.loads((tmp_path / name).read_text()))
    degraded, again, clean = docs
    assert degraded == again
    assert degraded["degrade"] == {"name": "jpeg75", "description": DEGRADE_PRESETS["jpeg75"].description}
    assert clean["degrade"] is None
    d, c = degraded["models"][0]["results"][0], clean["models"][0]["results"][0]
    assert d["psnr_y"] < c["psnr_y"] and d["blocking"] != c["blocking"]
    assert degraded["hr"] == clean["hr"]  # the HR row scores the clean originals
    sr = imresize(jpeg(imresize(rgb(50, 47, 1)[:48, :44], 1 / 4), 75), 4)
    assert d["per_image"][0]["blocking"] == blocking(sr, 32, period=4, crop=4)
    out = capsys.readouterr().out
    assert out.count("LR degraded (jpeg75): JPEG quality 75 (4:2:0) of the LR") == 2
    with pytest.raises(ValueError, match="unknown degradation 'jpeg10'"):
        evaluate_models({"bicubic": partial(bicubic_upscale, scale=4)}, [bench], 4, degrade="jpeg10")


@pytest.fixture
def flat(tmp_path: Path) -> Path:
    """Two images with flat areas (grey, with a noisy strip) and one without any (noise all over)."""
    d = tmp_path / "Flat"
    d.mkdir()
    noise = np.random.default_rng(7).integers(0, 256, (64, 96, 3)).astype(np.uint8)
    for name, level in (("a.png", 120), ("b.png", 200)):
        img = np.full((64, 96, 3), level, dtype=np.uint8)
        img[:, 64:] = noise[:, 64:]
        Image.fromarray(img).save(d / name)
    Image.fromarray(noise).save(d / "c.png")
    return d


def _dotted(lr: np.ndarray) -> np.ndarray:
    """Bicubic ×4 plus a dot of +6 grey levels on pixel (1, 2) of every 4×4 block: a GAN's lattice."""
    sr = bicubic_upscale(lr, 4).astype(int)
    sr[1::4, 2::4] += 6
    return np.clip(sr, 0, 255).astype(np.uint8)


def test_lattice_rows_leave_out_images_without_flat_area(flat: Path) -> None:
    report = evaluate_models({"dotted": _dotted, "bicubic": partial(bicubic_upscale, scale=4)}, [flat], 4,
                             metrics=["psnr", "lattice"])
    (dotted,), (bicubic,) = (results for _, results in report.models)
    (hr_row,) = report.hr
    for r in (dotted, bicubic, hr_row):
        assert r.images == 3 and r.skipped == ()  # PSNR still averages all three
        assert [i.name for i in r.per_image if "lattice" in i.scores] == ["a.png", "b.png"]
        assert [(Path(f).name, key) for f, key, _ in r.left_out] == [("c.png", "lattice")]
    hrs = [read_rgb8(flat / n) for n in ("a.png", "b.png")]
    expected = [lattice(_dotted(imresize(hr, 1 / 4)), hr, 4, 4) for hr in hrs]
    assert dotted.mean("lattice") == pytest.approx(np.mean(expected), abs=1e-12)
    assert dotted.mean("lattice") == pytest.approx(52 / 49 * 6 * 219 / 255, abs=0.1)  # the planted amplitude
    assert bicubic.mean("lattice") < 0.05 * dotted.mean("lattice") and hr_row.mean("lattice") < 1e-9  # ringing
    assert dotted.mean("psnr_y") == pytest.approx(np.mean([i.psnr_y for i in dotted.per_image]))
    table = format_table(report)
    rows = [line.split() for line in table.splitlines() if line.startswith("Flat ")]
    assert [r[1] for r in rows] == ["dotted", "bicubic", "HR"]
    assert rows[0][3:] == [f"{dotted.psnr_y:.3f}", f"{dotted.mean('lattice'):.3f}"]
    assert rows[2][2:] == ["3", "-", "0.000"]
    assert table.splitlines()[-1] == ("Flat: lattice is the mean over the other images; left out (too little flat "
                                      "area): c.png")
    doc = results_json(report)
    res = doc["models"][0]["results"][0]
    assert res["lattice"] == dotted.mean("lattice") and res["skipped"] == []
    assert [(Path(x["file"]).name, x["metric"]) for x in res["left_out"]] == [("c.png", "lattice")]
    assert res["left_out"][0]["reason"].startswith("only 0 flat pixels")
    assert [set(p) for p in res["per_image"]] == [{"name", "psnr_y", "lattice"}] * 2 + [{"name", "psnr_y"}]


def test_cli_eval_lattice_exits_zero_and_a_folder_without_flat_area_has_no_mean(
        flat: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.json"
    assert main(["eval", "--model", "bicubic", "--data", str(flat), "--metrics", "psnr", "lattice",
                 "--json", str(report)]) == 0
    out, err = capsys.readouterr()
    assert err == "" and "left out (too little flat area): c.png" in out
    for name in ("a.png", "b.png"):
        (flat / name).unlink()
    assert main(["eval", "--model", "bicubic", "--data", str(flat), "--metrics", "lattice", "--json", str(report),
                 "--overwrite"]) == 0
    doc = json.loads(report.read_text())
    assert doc["models"][0]["results"][0]["lattice"] is None and doc["hr"][0]["lattice"] is None
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if line.startswith("Flat ")]
    assert [r[2:] for r in rows] == [["1", "-"], ["1", "-"]]


def test_alias_degradation_is_opencv_cubic_of_the_hr(bench: Path, tmp_path: Path) -> None:
    hrs = [rgb(50, 47, 1)[:48, :44], np.repeat(rgb(44, 61, 2)[:44, :60, :1], 3, axis=2)]
    for k, lr in _lr_seen(bench, "alias").items():
        np.testing.assert_array_equal(lr, alias_downscale(hrs[k], 4))
        assert not np.array_equal(lr, imresize(hrs[k], 1 / 4))
    assert main(["eval", "--model", "bicubic", "--data", str(bench), "--degrade", "alias",
                 "--json", str(tmp_path / "a.json")]) == 0
    doc = json.loads((tmp_path / "a.json").read_text())
    assert doc["degrade"]["name"] == "alias"
    sr = imresize(alias_downscale(hrs[0], 4), 4)
    assert doc["models"][0]["results"][0]["per_image"][0]["psnr_y"] == psnr_y(sr, hrs[0], 4)
