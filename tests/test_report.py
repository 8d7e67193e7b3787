"""`srgan report`: crop selection, the image page (pixels, scores, inputs), the training-run page, file safety.

Pages are checked by parsing the HTML: every image is an inline PNG that decodes to the expected pixels, the
numbers are the ones srgan.metrics gives, nothing points outside the file. Rendering in Chromium is tested only
where a chromium binary exists (CI machines have none).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import shutil
import subprocess
import sys
from html import unescape as html_unescape
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan import weights
from srgan.api import load_model
from srgan.cli import main
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.metrics import psnr_y, ssim_y
from srgan.report.compare import block_difference, infer_scale, pick_crops, slider_window
from srgan.report.run import read_metrics, run_plots, run_report, running_mean, stop_problem
from srgan.train.config import TrainConfig
from tests.conftest import load_script, tiny_generator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_HR = ROOT / "examples" / "coffee_hr.png"


class Page(HTMLParser):
    """The parts of a report page the tests look at: images (attributes + decoded pixels), links, text."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.images: list[tuple[dict[str, str], np.ndarray]] = []
        self.urls: list[str] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.urls += [a[k] for k in ("src", "href", "action") if k in a]
        if tag == "img":
            head, _, data = a["src"].partition(",")
            assert head == "data:image/png;base64"
            with Image.open(io.BytesIO(base64.b64decode(data))) as im:
                assert im.format == "PNG"
                self.images.append((a, np.asarray(im.convert("RGB"))))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def layer(self, name: str) -> np.ndarray:
        found = [px for a, px in self.images if a.get("data-layer") == name]
        assert len(found) == 1, name
        return found[0]

    @property
    def plain(self) -> str:
        return " ".join(" ".join(self.text).split())


def assert_self_contained(html: str) -> Page:
    page = Page(html)
    assert all(u.startswith(("data:", "#")) for u in page.urls), [u[:40] for u in page.urls]
    outside_data = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]*", "", html)
    assert not re.search(r"https?:|//[a-z]|url\(|@import", outside_data, re.IGNORECASE)
    assert "default-src 'none'" in html  # the CSP: a browser fetches nothing even if something slipped through
    return page


def photo(h: int, w: int) -> np.ndarray:
    """A real photo's top-left corner (the bundled example), so SR and bicubic differ in structured places."""
    with Image.open(EXAMPLE_HR) as im:
        return np.asarray(im.convert("RGB"))[:h, :w].copy()


def save_png(img: np.ndarray, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path)
    return path


# ------------------------------------------------------------------------------------------------ pure parts


def window_sum(score: np.ndarray, y: int, x: int, side: int) -> float:
    return float(sum(score[i, j] for i in range(y, y + side) for j in range(x, x + side)))


def test_pick_crops_is_greedy_best_non_overlapping_window() -> None:
    rng = np.random.default_rng(3)
    score = rng.random((19, 23))
    side, picks = 5, pick_crops(score, 5, 4)
    assert len(picks) == 4
    taken: list[tuple[int, int]] = []
    for y, x in picks:
        free = [(yy, xx) for yy in range(19 - side + 1) for xx in range(23 - side + 1)
                if all(abs(yy - ty) >= side or abs(xx - tx) >= side for ty, tx in taken)]
        best = max(free, key=lambda p: window_sum(score, *p, side))
        assert (y, x) == best
        assert window_sum(score, y, x, side) == pytest.approx(window_sum(score, *best, side))
        taken.append((y, x))


def test_pick_crops_finds_hot_spots_in_order_and_stops_when_full() -> None:
    score = np.zeros((40, 60))
    score[30:34, 2:6] = 1.0  # weakest
    score[5:9, 40:44] = 3.0  # strongest
    score[20:24, 20:24] = 2.0
    assert pick_crops(score, 4, 3) == [(5, 40), (20, 20), (30, 2)]
    assert pick_crops(score[:, :40], 100, 3) == [(0, 0)]  # clipped to 40×40: the only window, nothing else fits
    assert pick_crops(score, 100, 3) == [(0, 4)]  # 40×40 windows: cols 4–43 hold the two strongest spots + a bit
    assert pick_crops(score, 4, 0) == []


def test_block_difference_is_per_lr_pixel_mean() -> None:
    a = np.zeros((12, 8, 3), np.uint8)
    b = a.copy()
    b[5, 6, 0] = 36
    b[0, 0] = 255
    d = block_difference(a, b, 4)
    assert d.shape == (3, 2)
    expected = np.zeros((3, 2))
    expected[1, 1] = 36 / 3 / 16
    expected[0, 0] = 255 / 16
    np.testing.assert_allclose(d, expected)


def test_slider_window_keeps_small_images_and_centres_large_ones_on_the_lr_grid() -> None:
    assert slider_window(400, 600, 4) == (0, 0, 400, 600)
    top, left, h, w = slider_window(3000, 5000, 4, limit=1602)
    assert (h, w) == (1600, 1600)
    assert top % 4 == left % 4 == 0
    assert abs(top - (3000 - 1600) / 2) < 4 and abs(left - (5000 - 1600) / 2) < 4


def test_infer_scale_accepts_only_exact_integer_multiples() -> None:
    assert infer_scale((10, 7, 3), (30, 21, 3), Path("lr.png"), Path("sr.png")) == 3
    for sr in ((30, 20), (31, 21), (10, 7), (20, 21)):
        with pytest.raises(SrganError, match=r"^sr\.png: SR result is .*lr\.png"):
            infer_scale((10, 7), sr, Path("lr.png"), Path("sr.png"))


def test_running_mean_matches_a_loop() -> None:
    values = [3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0]
    expected = [np.mean(values[max(0, i - 2):i + 1]) for i in range(len(values))]
    np.testing.assert_allclose(running_mean(values, 3), expected)


# ------------------------------------------------------------------------------------------------ image pages


@pytest.fixture
def tiny_x4(tmp_path: Path) -> Path:
    return weights.save(tiny_generator(scale=4), tmp_path / "tiny_x4.safetensors")


def test_model_report_embeds_exact_pixels_and_protocol_scores(tmp_path: Path, tiny_x4: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    hr = photo(256, 384)
    lr = imresize(hr, 1 / 4)
    lr_path, hr_path = save_png(lr, tmp_path / "in" / "shot.png"), save_png(hr, tmp_path / "shot_hr.png")
    out = tmp_path / "report.html"

    assert main(["report", str(lr_path), "--model", str(tiny_x4), "--hr", str(hr_path), "-o", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    page = assert_self_contained(out.read_text())

    sr = load_model(tiny_x4).upscale(lr)
    bicubic = imresize(lr, 4)
    np.testing.assert_array_equal(page.layer("lr"), lr)
    np.testing.assert_array_equal(page.layer("bicubic"), bicubic)
    np.testing.assert_array_equal(page.layer("sr"), sr)
    np.testing.assert_array_equal(page.layer("hr"), hr)
    text = page.plain
    for img in (bicubic, sr):
        assert f"{psnr_y(img, hr, 4):.2f} dB" in text
        assert f"{ssim_y(img, hr, 4):.4f}" in text
    # zoomed crops of 32 LR pixels (128 HR), each LR | bicubic | SR | HR, cut where SR and bicubic differ most
    picks = pick_crops(block_difference(sr, bicubic, 4), 32, 3)
    crops = [(a["alt"], px) for a, px in page.images if "data-layer" not in a]
    assert len(picks) >= 2
    assert [alt for alt, _ in crops] == ["LR (nearest)", "bicubic", str(tiny_x4), "HR"] * len(picks)  # the model named
    for k, (y, x) in enumerate(picks):
        np.testing.assert_array_equal(crops[4 * k][1], lr[y:y + 32, x:x + 32])
        np.testing.assert_array_equal(crops[4 * k + 2][1], sr[y * 4:(y + 32) * 4, x * 4:(x + 32) * 4])


def test_sr_dir_report_matches_names_infers_scale_and_mod_crops_hr(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    hr_a, hr_b = photo(64, 48), photo(80, 64)[::-1].copy()
    lr_a, lr_b = imresize(hr_a, 1 / 2), imresize(hr_b, 1 / 2)
    sr_a = np.clip(hr_a + rng.integers(-9, 10, hr_a.shape), 0, 255).astype(np.uint8)
    sr_b = imresize(lr_b, 2)
    save_png(lr_a, tmp_path / "lr" / "a.png")
    save_png(lr_b, tmp_path / "lr" / "sub" / "b.png")
    save_png(sr_a, tmp_path / "sr" / "a_x2.png")  # `srgan upscale` naming
    save_png(sr_b, tmp_path / "sr" / "sub" / "b.png")  # same stem, under the input's sub-folder
    save_png(hr_a, tmp_path / "hr" / "a_hr.png")
    padded = np.pad(hr_b, ((0, 1), (0, 1), (0, 0)), mode="edge")  # one extra row/column: mod-cropped away
    save_png(padded, tmp_path / "hr" / "sub" / "b.png")
    out = tmp_path / "r.html"

    assert main(["report", str(tmp_path / "lr"), "--sr-dir", str(tmp_path / "sr"), "--hr", str(tmp_path / "hr"),
                 "-o", str(out)]) == 0
    page = assert_self_contained(out.read_text())
    text = page.plain
    scores = {"a": (psnr_y(imresize(lr_a, 2), hr_a, 2), psnr_y(sr_a, hr_a, 2)),
              "b": (psnr_y(sr_b, hr_b, 2), psnr_y(sr_b, hr_b, 2))}
    for bic, sr in scores.values():
        assert f"{bic:.2f}" in text and f"{sr:.2f}" in text
    mean_gain = np.mean([sr - bic for bic, sr in scores.values()])
    assert "mean of 2" in text and f"{mean_gain:+.2f}" in text
    assert "a.png" in text and "sub/b.png" in text
    assert [px.shape for a, px in page.images if a.get("data-layer") == "hr"] == [(64, 48, 3), (80, 64, 3)]


def test_bad_inputs_are_named_and_the_rest_still_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    lr = imresize(photo(32, 32), 1 / 2)
    save_png(lr, tmp_path / "lr" / "good.png")
    save_png(lr, tmp_path / "lr" / "orphan.png")  # no SR result
    (tmp_path / "lr" / "broken.png").write_bytes(b"not a png")
    save_png(imresize(lr, 2), tmp_path / "sr" / "good_x2.png")
    save_png(imresize(lr, 2), tmp_path / "sr" / "broken_x2.png")
    out = tmp_path / "r.html"

    assert main(["report", str(tmp_path / "lr"), "--sr-dir", str(tmp_path / "sr"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "broken.png" in err and "orphan.png: no SR result" in err and "Traceback" not in err
    page = Page(out.read_text())
    assert "2 input(s) left out" in page.plain and "good.png" in page.plain
    assert len([a for a, _ in page.images if a.get("data-layer") == "sr"]) == 1

    (tmp_path / "sr" / "good_x2.png").unlink()
    out2 = tmp_path / "none.html"
    assert main(["report", str(tmp_path / "lr"), "--sr-dir", str(tmp_path / "sr"), "-o", str(out2)]) == 1
    assert "no file written" in capsys.readouterr().err
    assert not out2.exists()


def test_two_models_are_compared_with_each_other_and_scored_with_bicubic(
        tmp_path: Path, tiny_x4: Path, capsys: pytest.CaptureFixture[str]) -> None:
    other = weights.save(tiny_generator(scale=4, seed=1), tmp_path / "other_x4.safetensors")
    hr = photo(96, 128)
    lr = imresize(hr, 1 / 4)
    lr_path, hr_path = save_png(lr, tmp_path / "shot.png"), save_png(hr, tmp_path / "shot_hr.png")
    out = tmp_path / "two.html"

    assert main(["report", str(lr_path), "--model", str(tiny_x4), str(other), "--hr", str(hr_path),
                 "-o", str(out)]) == 0
    text = out.read_text()
    page = assert_self_contained(text)
    a, b = load_model(tiny_x4).upscale(lr), load_model(other).upscale(lr)
    np.testing.assert_array_equal(page.layer("sr1"), a)
    np.testing.assert_array_equal(page.layer("sr2"), b)
    assert sorted(at["data-layer"] for at, _ in page.images if "data-layer" in at) == ["hr", "lr", "sr1", "sr2"]
    # the slider starts on the two models, labelled with their names (left: the first given)
    assert f"<span class='tag left'>{tiny_x4}</span><span class='tag right'>{other}</span>" in text
    assert f"<option value='sr1' selected>{tiny_x4}</option>" in text
    # crops where the two models differ most, each LR | model 1 | model 2 | HR
    picks = pick_crops(block_difference(b, a, 4), 24, 3)  # 24 LR pixels: the image is only 24 high
    crops = [(at["alt"], px) for at, px in page.images if "data-layer" not in at]
    assert picks and [alt for alt, _ in crops] == ["LR (nearest)", str(tiny_x4), str(other), "HR"] * len(picks)
    for k, (y, x) in enumerate(picks):
        np.testing.assert_array_equal(crops[4 * k + 1][1], a[y * 4:(y + 24) * 4, x * 4:(x + 24) * 4])
        np.testing.assert_array_equal(crops[4 * k + 2][1], b[y * 4:(y + 24) * 4, x * 4:(x + 24) * 4])
    assert f"Where {other} and {tiny_x4} differ most" in page.plain
    # scores of bicubic and both models, each model's gain over bicubic
    bicubic = psnr_y(imresize(lr, 4), hr, 4)
    for img in (a, b):
        assert f"{psnr_y(img, hr, 4):.2f} dB ({psnr_y(img, hr, 4) - bicubic:+.2f})" in page.plain
        assert f"{ssim_y(img, hr, 4):.4f}" in page.plain
    assert f"{bicubic:.2f} dB" in page.plain

    x2 = weights.save(tiny_generator(scale=2), tmp_path / "x2.safetensors")
    for models, error in (([tiny_x4, other, tiny_x4], "--model takes one model (compared with bicubic) or two"),
                          ([tiny_x4, x2], f"{x2}: is ×2 but {tiny_x4} is ×4: compare models of one scale")):
        capsys.readouterr()
        assert main(["report", str(lr_path), "--model", *map(str, models), "-o", str(tmp_path / "x.html")]) == 2
        assert error in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()


def test_hr_of_the_wrong_size_is_an_error_naming_it(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr = imresize(photo(32, 32), 1 / 2)
    lr_path = save_png(lr, tmp_path / "x.png")
    save_png(imresize(lr, 2), tmp_path / "sr" / "x_x2.png")
    hr_path = save_png(photo(36, 32), tmp_path / "x_hr.png")  # 2 rows too many for ×2 of 16×16
    out = tmp_path / "r.html"
    assert main(["report", str(lr_path), "--sr-dir", str(tmp_path / "sr"), "--hr", str(hr_path),
                 "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{hr_path}: HR image is 32×36" in err and "needs 32×32" in err
    assert not out.exists()


def test_existing_output_is_kept_without_overwrite_and_replaced_atomically_with_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lr = imresize(photo(32, 32), 1 / 2)
    lr_path = save_png(lr, tmp_path / "x.png")
    save_png(imresize(lr, 2), tmp_path / "sr" / "x_x2.png")
    out = tmp_path / "out" / "r.html"
    out.parent.mkdir()
    out.write_text("mine")
    args = ["report", str(lr_path), "--sr-dir", str(tmp_path / "sr"), "-o", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"srgan report: error: {out}: already exists (pass --overwrite to replace it)"]
    assert out.read_text() == "mine"
    assert main([*args, "--overwrite"]) == 0
    assert out.read_text().startswith("<!doctype html>")
    assert sorted(p.name for p in out.parent.iterdir()) == ["r.html"]  # no temporary file left behind
    umask = os.umask(0o022)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask  # readable like any new file: reports are for sharing


# ------------------------------------------------------------------------------------------------ run pages


def make_run(run: Path) -> dict[str, float]:
    """A finished-looking srgan run folder: config, metrics (a resumed stretch, a torn line), previews, log."""
    run.mkdir()
    config = TrainConfig(out=str(run), phase="srgan", data=("data/train",), val=("Set5", "Set14"), steps=1000,
                         patch=96).to_dict()
    (run / "config.json").write_text(json.dumps(config, indent=1))
    rng = np.random.default_rng(1)
    lines, rates = [], []
    for step in range(10, 310, 10):
        rate = float(rng.uniform(50, 60))
        rates.append(rate)
        lines.append({"kind": "train", "step": step, "time": 1000.0 + step, "g": 1 / step, "content": 0.5 / step,
                      "adv": 0.7, "d": 1.2, "lr": 1e-4, "patches_per_s": rate})
    val = {100: (30.0, 27.0), 200: (31.0, 27.5), 300: (30.5, 27.6)}
    for step, (a, b) in val.items():
        lines.append({"kind": "val", "step": step, "time": 1000.0 + step, "Set5/psnr_y": a, "Set14/psnr_y": b,
                      "Set5/ssim_y": 0.8, "Set14/ssim_y": 0.7})
    # resumed from step 100: step 200 was validated again, and the later record is the one that counts
    lines.insert(25, {"kind": "val", "step": 200, "time": 1.0, "Set5/psnr_y": 40.0, "Set14/psnr_y": 40.0})
    text = "\n".join(json.dumps(r) for r in lines) + '\n{"kind": "train", "st'
    (run / "metrics.jsonl").write_text(text)
    for k, step in enumerate((100, 200, 300, 400, 500)):
        save_png(np.full((24, 40, 3), 40 * k, np.uint8), run / "previews" / f"step_{step:07d}.png")
    (run / "train.log").write_text("srgan: step 0 → 1000\nstopped at step 300 (max-time)\n")
    return {"median_rate": float(np.median(rates)), "best": (31.0 + 27.5) / 2, "latest": (30.5 + 27.6) / 2}


def test_run_report_summary_curves_previews_and_config(tmp_path: Path) -> None:
    run = tmp_path / "run"
    expect = make_run(run)
    out = tmp_path / "run.html"
    assert main(["report", str(run), "--previews", "2", "-o", str(out)]) == 0
    page = assert_self_contained(out.read_text())
    text = page.plain
    assert "300 of 1,000 (30%)" in text
    assert f"{expect['median_rate']:.1f} patches/s (median of 30 intervals)" in text
    assert f"{expect['best']:.2f} dB best val PSNR-Y (mean of 2 sets), step 200" in text
    assert f"{expect['latest']:.2f} dB latest val PSNR-Y (mean of 2 sets), step 300" in text
    assert "1 unreadable line(s)" in text
    assert "stopped at step 300 (max-time)" in text
    assert "adv_weight" in text and "Set14" in text
    previews = [(a["alt"], px) for a, px in page.images if a["alt"].startswith("preview")]
    assert [alt for alt, _ in previews] == ["preview step 500", "preview step 400"]
    assert previews[0][1].max() == previews[0][1].min() == 160
    plots = [px for a, px in page.images if not a["alt"].startswith("preview")]
    assert len(plots) == 3 and all(px.shape[1] > 1000 and px.std() > 5 for px in plots)


def test_read_metrics_keeps_the_last_record_per_step_and_counts_torn_lines(tmp_path: Path) -> None:
    make_run(tmp_path / "run")
    m = read_metrics(tmp_path / "run" / "metrics.jsonl")
    assert [r["step"] for r in m.val] == [100, 200, 300]
    assert m.val[1]["Set5/psnr_y"] == 31.0
    assert [r["step"] for r in m.train] == list(range(10, 310, 10))
    assert m.unreadable == 1


def make_gan_run(run: Path) -> list[dict[str, float]]:
    """A GAN-phase run that collapsed: D's losses and accuracies per log step, NIQE in its validations (the most
    natural validation is not the one of highest PSNR-Y). Returns the records."""
    run.mkdir()
    config = TrainConfig(out=str(run), phase="srgan", data=("data/train",), val=("Set5", "Set14"), steps=1000,
                         patch=96).to_dict()
    (run / "config.json").write_text(json.dumps(config))
    records = [{"kind": "train", "step": step, "time": 1000.0 + step, "d": 1.4 - step / 200, "d_acc_real": step / 300,
                "d_acc_fake": 1 - step / 600, "content": 0.01, "adv": 0.7 + step / 100, "g": 0.011, "lr": 1e-4,
                "patches_per_s": 8.0} for step in range(20, 320, 20)]
    records += [{"kind": "val", "step": step, "time": 1000.0 + step, "Set5/psnr_y": p, "Set14/psnr_y": p - 2,
                 "Set5/ssim_y": 0.8, "Set14/ssim_y": 0.7, "Set5/niqe": n, "Set14/niqe": n + 1}
                for step, p, n in ((100, 29.0, 6.5), (200, 28.0, 5.25), (300, 30.0, 7.0))]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (run / "train.log").write_text(
        "srgan: step 0 → 1000, batch 16×1, patch 96, device cpu, precision fp32, 59 images\n"
        "step      300  d 0.1  adv 3.7\n"
        "stopped: GAN collapsed: the discriminator was right on every real and generated patch for 2000 steps in a "
        "row (up to step 300); checkpoint saved — resume from an earlier generator, lower --lr or raise --adv-weight\n")
    return records


def test_gan_run_report_shows_discriminator_health_niqe_and_why_it_stopped(tmp_path: Path) -> None:
    run = tmp_path / "gan"
    records = make_gan_run(run)
    train = [r for r in records if r["kind"] == "train"]
    out = tmp_path / "gan.html"
    assert main(["report", str(run), "-o", str(out)]) == 0
    page = assert_self_contained(out.read_text())
    text = page.plain
    assert "Training stopped: GAN collapsed: the discriminator was right on every real and generated patch" in text
    # the GAN phase keeps its most natural generator: lowest mean NIQE (step 200), not highest PSNR-Y (step 300)
    assert "5.750 best val NIQE (mean of 2 sets), step 200 · lower = more natural" in text
    assert "27.00 dB val PSNR-Y (mean of 2 sets) of the best step (200)" in text
    assert "7.500 latest val NIQE (mean of 2 sets), step 300" in text
    assert "29.00 dB latest val PSNR-Y (mean of 2 sets), step 300" in text
    plots = {a["alt"]: px for a, px in page.images if not a["alt"].startswith("preview")}
    assert list(plots) == ["Training losses", "Discriminator accuracy (1 on both for long = collapse)",
                           "Validation (benchmark protocol, Y channel)", "Learning rate and throughput"]
    assert all(px.shape[1] > 1000 and px.std() > 5 for px in plots.values())

    losses, accuracy, val, _ = run_plots(read_metrics(run / "metrics.jsonl"))
    assert [list(p.series) for p in losses.panels] == [["generator (total)", "content"],
                                                       ["discriminator", "adversarial −log D(G(x))"]]
    (panel,) = accuracy.panels
    assert panel.level == (0.5, "chance") and panel.ylim is not None and panel.ylim[0] < 0 < 1 < panel.ylim[1]
    steps = [r["step"] for r in train]
    assert panel.series == {"on real (HR) patches": (steps, [r["d_acc_real"] for r in train]),
                            "on generated (SR) patches": (steps, [r["d_acc_fake"] for r in train])}
    assert [p.ylabel for p in val.panels] == ["PSNR-Y (dB)", "SSIM-Y", "NIQE (lower = more natural)"]
    assert val.panels[2].series == {"Set14": ([100, 200, 300], [7.5, 6.25, 8.0]),
                                    "Set5": ([100, 200, 300], [6.5, 5.25, 7.0])}
    assert val.best == 200


def test_stop_problem_is_the_failure_of_the_last_session_only() -> None:
    start = "srgan: step 0 → 1000, batch 16×1"
    nonfinite = "stopped: 20 non-finite losses in a row at step 57; last checkpoint kept — lower --lr"
    assert stop_problem([start, "step 20  d 1.3", nonfinite]) == nonfinite.removeprefix("stopped: ")
    assert stop_problem([start, nonfinite, "srgan: step 40 → 1000, batch 16×1", "step 60  d 1.3"]) is None  # resumed
    assert stop_problem([start, nonfinite, start, "stopped at step 1000 (steps) after 9 s"]) is None
    assert stop_problem([start, "step 20  d 1.3"]) is None  # running, or killed
    assert stop_problem([]) is None


def test_run_report_without_matplotlib_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_run(tmp_path / "run")
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    page = Page(run_report(tmp_path / "run"))
    assert "matplotlib is not installed" in page.plain and "srgan[report]" in page.plain
    assert "best val PSNR-Y" in page.plain


def test_empty_run_folder_and_misused_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run = tmp_path / "fresh"
    run.mkdir()
    (run / "train.log").write_text("srresnet: step 0 → 10\n")
    page = Page(run_report(run))
    assert "No metrics.jsonl yet" in page.plain and "Nothing logged yet" in page.plain
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--model", "x.safetensors", "-o", str(out)]) == 2
    assert "are for images, not for a training run folder" in capsys.readouterr().err
    assert main(["report", str(run), str(tmp_path), "-o", str(out)]) == 2
    assert f"{run}: is a training run folder" in capsys.readouterr().err
    (run / "config.json").write_text('{"phase": "srresnet", "data": ["x"], "scale": 2, "patch": 96, "steps": 5}')
    assert main(["report", str(run), "-o", str(out)]) == 0  # a valid config (its own scale): fine
    (run / "config.json").write_text('{"phase": "gan", "data": ["x"]}')
    assert main(["report", str(run), "-o", str(out), "--overwrite"]) == 2
    assert capsys.readouterr().err.endswith(f"{run / 'config.json'}: not a valid run configuration "
                                            "(--phase must be one of srresnet, srgan, got 'gan')\n")


# ------------------------------------------------------------------------------------------------ rendering


@pytest.mark.skipif(shutil.which("chromium") is None, reason="headless rendering needs chromium (Debian: chromium)")
def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    lr = imresize(photo(64, 96), 1 / 4)
    lr_path = save_png(lr, tmp_path / "x.png")
    sr = 255 - imresize(lr, 4)  # anything of the right size works as an "SR result"
    save_png(sr, tmp_path / "sr" / "x_x4.png")
    out = tmp_path / "r.html"
    assert main(["report", str(lr_path), "--sr-dir", str(tmp_path / "sr"), "-o", str(out)]) == 0
    shot = tmp_path / "r.png"
    result = subprocess.run([str(ROOT / "scripts" / "check_report.sh"), str(out), str(shot), "1000,900"],
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    with Image.open(shot) as im:
        assert im.size == (1000, 900)
        on_screen = {tuple(c) for c in np.asarray(im.convert("RGB")).reshape(-1, 3)}
    # the slider is drawn with the embedded pixels (enlarged without smoothing, so their exact colours appear)
    sr_colours = {tuple(c) for c in sr.reshape(-1, 3)}
    assert len(sr_colours & on_screen) > 0.9 * len(sr_colours)


# ------------------------------------------------------------------------------------------------ README figure


def test_make_figure_shows_the_crop_of_each_upscale_and_keeps_existing_files(
        tmp_path: Path, tiny_x4: Path, capsys: pytest.CaptureFixture[str]) -> None:
    make_figure = load_script("make_figure")
    hr = photo(96, 128)
    save_png(hr, tmp_path / "ex_hr.png")
    lr = imresize(hr, 1 / 4)
    save_png(lr, tmp_path / "ex.png")
    out = tmp_path / "docs" / "fig.png"
    args = ["--model", str(tiny_x4), "--example", str(tmp_path / "ex"), "--crop", "33", "18", "64", "-o", str(out)]
    assert make_figure.main(args) == 0
    with Image.open(out) as im:
        fig = np.asarray(im.convert("RGB"))
    panel, pad = 320, 12
    assert fig.shape[1] == 4 * (panel + pad) + pad
    x, y, size = 32, 16, 64  # snapped to whole LR pixels
    expected = [lr[y // 4:(y + size) // 4, x // 4:(x + size) // 4], imresize(lr, 4)[y:y + size, x:x + size],
                load_model(tiny_x4).upscale(lr)[y:y + size, x:x + size], hr[y:y + size, x:x + size]]
    for i, crop in enumerate(expected):
        shown = fig[pad:pad + panel, pad + i * (panel + pad):pad + i * (panel + pad) + panel]
        big = np.asarray(Image.fromarray(crop).resize((panel, panel), Image.Resampling.NEAREST))
        np.testing.assert_array_equal(shown, big)

    before = out.read_bytes()
    capsys.readouterr()
    assert make_figure.main(args) == 2
    assert capsys.readouterr().err == f"make_figure: error: {out}: already exists (pass --overwrite to replace it)\n"
    assert out.read_bytes() == before
    assert make_figure.main([*args[:-2], "--crop", "100", "0", "64", "-o", str(tmp_path / "f2.png")]) == 2
    assert "does not fit in the 128×96 photo" in capsys.readouterr().err


_PROBE = """<script>
const c = document.querySelector('.cmp'), ctl = c.parentElement.nextElementSibling, range = c.querySelector('input');
range.value = 25; range.dispatchEvent(new Event('input'));
for (const [sel, value] of [['[data-side=left]', 'lr'], ['[data-side=right]', 'hr'], ['[data-zoom]', '3']]) {
  const s = ctl.querySelector('select' + sel); s.value = value; s.dispatchEvent(new Event('change'));
}
document.body.dataset.probe = JSON.stringify({
  pos: c.style.getPropertyValue('--pos'), width: c.style.width,
  tags: [...c.querySelectorAll('.tag')].map(t => t.textContent),
  layers: Object.fromEntries([...c.querySelectorAll('img')].map(i => [i.dataset.layer, getComputedStyle(i).display
                                                                     + ' ' + getComputedStyle(i).clipPath]))});
</script></body>"""


@pytest.mark.skipif(shutil.which("chromium") is None, reason="running the page's script needs chromium")
def test_slider_script_moves_the_divider_switches_layers_and_zooms_in_chromium(tmp_path: Path) -> None:
    hr = photo(64, 96)
    lr = imresize(hr, 1 / 4)
    save_png(lr, tmp_path / "x.png")
    save_png(255 - imresize(lr, 4), tmp_path / "sr" / "x_x4.png")
    save_png(hr, tmp_path / "x_hr.png")
    out = tmp_path / "r.html"
    assert main(["report", str(tmp_path / "x.png"), "--sr-dir", str(tmp_path / "sr"),
                 "--hr", str(tmp_path / "x_hr.png"), "-o", str(out)]) == 0
    probe = tmp_path / "probe.html"
    probe.write_text(out.read_text().replace("</body>", _PROBE))
    dom = subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                          f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    found = re.search(r'data-probe="([^"]*)"', dom)
    assert found, dom[-500:]
    state = json.loads(html_unescape(found.group(1)))
    assert state["pos"] == "25%" and state["width"] == f"{96 * 3}px"
    assert state["tags"] == ["LR (nearest)", "HR"]
    assert state["layers"] == {"lr": "block none", "bicubic": "none none", "sr": "none none",
                               "hr": "block inset(0px 0px 0px 25%)"}
