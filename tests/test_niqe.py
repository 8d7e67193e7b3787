"""NIQE against the authors' MATLAB release (reference values: ../shared/niqe/README.md)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from srgan.data import EvalPairs
from srgan.data.degrade import imresize
from srgan.images import read_rgb8
from srgan.metrics import _nearest, niqe, rgb_to_y

BENCH = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"
needs_bench = pytest.mark.skipif(not BENCH.is_dir(), reason="the benchmark folders are not beside this checkout")


@needs_bench
def test_baboon_matches_matlab() -> None:
    # MATLAB R2021a on the same pixels: 5.72957338. Plain float64 arithmetic would give 5.72996.
    assert niqe(read_rgb8(BENCH / "Set14" / "baboon.png")) == pytest.approx(5.72957338, abs=2e-5)


@needs_bench
@pytest.mark.parametrize(("dataset", "hr", "bicubic"), [("Set14", 4.922, None), ("Set5", 5.437, 8.512)])
def test_benchmark_means_with_the_eval_protocol(dataset: str, hr: float, bicubic: float | None) -> None:
    pairs = list(EvalPairs(BENCH / dataset, 4))  # mod-crop 4; then a border crop of 4
    assert np.mean([niqe(h, crop=4) for _, h, _ in pairs]) == pytest.approx(hr, abs=1e-3)
    if bicubic is not None:
        assert np.mean([niqe(imresize(lr, 4), crop=4) for _, _, lr in pairs]) == pytest.approx(bicubic, abs=1e-3)


def photo_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """Smooth shapes plus fine noise: statistics a little like a photograph's."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 120 + 60 * np.sin(xx / 9 + seed) * np.cos(yy / 13) + 30 * np.sin((xx + yy) / 4)
    noise = np.random.default_rng(seed).normal(0, 6, (h, w, 3))
    return np.clip(base[..., None] + noise, 0, 255).astype(np.uint8)


def test_luma_input_is_the_rounded_y_of_rgb() -> None:
    img = photo_like(200, 230)
    assert niqe(np.floor(rgb_to_y(img) + 0.5), crop=3) == niqe(img, crop=3)


def test_blur_scores_worse() -> None:
    img = photo_like(200, 300)
    blurred = imresize(imresize(img, 1 / 4), 4)
    assert niqe(blurred) > niqe(img) + 1


def test_flat_blocks_and_a_single_block() -> None:
    img = photo_like(192, 288)
    img[:, :110] = 77  # two flat blocks (the 7×7 window stays inside): AGGD features undefined (NaN), as in MATLAB
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isfinite(niqe(img))
        assert np.isfinite(niqe(photo_like(100, 150)))  # one block: no covariance of its own


def test_too_small() -> None:
    with pytest.raises(ValueError, match=r"96×96 pixels after the border crop, got 100×95"):
        niqe(photo_like(95, 100))
    with pytest.raises(ValueError, match=r"96×96 pixels after the border crop, got 92×96"):
        niqe(photo_like(104, 100), crop=4)
    with pytest.raises(ValueError, match="border crop of 60"):
        niqe(photo_like(120, 120), crop=60)


def test_shape_search_is_matlabs_min() -> None:
    """The α search picks the grid entry nearest ρ̂ like min((grid − ρ̂).^2): first on a tie, 0 for NaN."""
    grid = np.sort(np.random.default_rng(0).uniform(0, 1, 500))
    values = np.concatenate([np.random.default_rng(1).uniform(-0.1, 1.1, 1000), grid[:5],
                             (grid[10:15] + grid[11:16]) / 2, [np.nan]])
    with np.errstate(invalid="ignore"):
        expected = np.argmin((grid[None, :] - values[:, None]) ** 2, axis=1)
    np.testing.assert_array_equal(_nearest(grid, values), expected)
