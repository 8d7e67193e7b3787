"""The shipped default model: intact, better than bicubic, and scoring what its model card says."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from srgan import weights
from srgan.api import Upscaler
from srgan.evaluate import bicubic_upscale, evaluate

ROOT = Path(__file__).resolve().parents[1]
SET5 = ROOT.parent / "shared" / "benchmarks" / "Set5"


@pytest.fixture(scope="module")
def shipped() -> Upscaler:
    path = weights.resolve(None)  # checks the registered sha256
    return Upscaler(weights.load(path), "cpu", "fp32")


def test_shipped_model_beats_bicubic_on_the_bundled_photo(shipped: Upscaler, tmp_path: Path) -> None:
    shutil.copy(ROOT / "examples" / "coffee_hr.png", tmp_path)  # the HR of examples/coffee.png
    sr = evaluate(shipped.upscale, [tmp_path], 4)[0].psnr_y
    bicubic = evaluate(lambda lr: bicubic_upscale(lr, 4), [tmp_path], 4)[0].psnr_y
    assert sr > bicubic + 0.3


def test_model_card_matches_the_weights_metadata() -> None:
    path = weights.resolve(None)
    meta = weights.read_metadata(path)
    card = path.with_suffix(".md").read_text()
    for dataset in ("Set5", "Set14"):
        row = meta["eval"][dataset]
        assert f"| {dataset} | {row['psnr_y']:.3f} / {row['ssim_y']:.4f} |" in card
    assert {"file", "source", "licence"} <= set(meta["data"][0])


@pytest.mark.skipif(not SET5.is_dir(), reason="the Set5 benchmark folder is not beside this checkout")
def test_set5_score_reproduces_the_model_card(shipped: Upscaler) -> None:
    result = evaluate(shipped.upscale, [SET5], 4)[0]
    meta = weights.read_metadata(weights.resolve(None))
    assert result.psnr_y == pytest.approx(meta["eval"]["Set5"]["psnr_y"], abs=2e-3)
    assert result.psnr_y > meta["eval"]["Set5"]["bicubic_psnr_y"]
