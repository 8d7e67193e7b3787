"""naive_resize (OpenCV's resize without antialiasing, restated) against hand-worked values and OpenCV itself."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from srgan.data.degrade import NAIVE_METHODS, alias_downscale, imresize, naive_resize, naive_taps

# Keys cubic at a = −0.75, worked out by hand from 1.25|x|³ − 2.25|x|² + 1 (|x| ≤ 1) and
# −0.75|x|³ + 3.75|x|² − 6|x| + 3 (1 < |x| < 2).
C025, C050, C075, C125, C150, C175 = 0.87109375, 0.59375, 0.26171875, -0.10546875, -0.09375, -0.03515625
FLAGS = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST,
         "area": cv2.INTER_AREA}


def _resize(row: list[float], out_len: int, method: str) -> np.ndarray:
    return naive_resize(torch.tensor([row], dtype=torch.float64), (1, out_len), method)[0].numpy()


def test_quarter_bicubic_samples_the_middle_of_each_block_without_antialiasing() -> None:
    # Output j sits at (j + 0.5)·4 − 0.5 = 4j + 1.5: taps 4j … 4j + 3 at distances 1.5, 0.5, 0.5, 1.5. MATLAB's
    # antialiased kernel would spread over 16 pixels; this one never looks past the block.
    x = [10.0, 20.0, 40.0, 80.0, 0.0, 100.0, 200.0, 255.0]
    w = np.array([C150, C050, C050, C150])
    assert w.sum() == 1
    np.testing.assert_allclose(_resize(x, 2, "bicubic"), [w @ x[:4], w @ x[4:]], rtol=0, atol=1e-12)


def test_double_bicubic_clamps_at_the_edges() -> None:
    # [0, 64] ×2: output 0 sits at −0.25, taps −2, −1, 0, 1 (clamped to 0, 0, 0, 1) at distances 1.75, 0.75, −0.25,
    # −1.25: 64·C125 = −6.75, an overshoot that the uint8 result saturates; output 1 at 0.25: 64·(C075 + C175).
    out = _resize([0.0, 64.0], 4, "bicubic")
    np.testing.assert_allclose(out, [64 * C125, 64 * (C075 + C175), 64 * (1 - C075 - C175), 64 * (1 - C125)],
                               rtol=0, atol=1e-12)
    assert out[0] == -6.75 and out[1] == 14.5


def test_bilinear_nearest_and_area_hand_cases() -> None:
    x = [0.0, 30.0, 60.0, 90.0, 120.0, 150.0]
    # ×1/2: bilinear samples 0.5, 2.5, 4.5 (the mean of each pair); area averages each pair too; nearest takes
    # floor(2j), the first of each pair
    np.testing.assert_allclose(_resize(x, 3, "bilinear"), [15, 75, 135], atol=1e-12)
    np.testing.assert_allclose(_resize(x, 3, "area"), [15, 75, 135], atol=1e-12)
    np.testing.assert_array_equal(_resize(x, 3, "nearest"), [0, 60, 120])
    # ×1/1.5 (6 → 4): area's output 1 covers [1.5, 3]: half of pixel 1 and all of pixel 2, over 1.5
    np.testing.assert_allclose(_resize(x, 4, "area"), [(0 + 15) / 1.5, (15 + 60) / 1.5, (90 + 60) / 1.5,
                                                       (60 + 150) / 1.5], atol=1e-12)
    np.testing.assert_array_equal(_resize(x, 4, "nearest"), [0, 30, 90, 120])  # floor(1.5 j)


@pytest.mark.parametrize("method", NAIVE_METHODS)
@pytest.mark.parametrize("size", [(9, 13), (12, 17), (10, 27), (50, 70), (74, 106)])
def test_matches_opencv_on_float_images(method: str, size: tuple[int, int]) -> None:
    """OpenCV's float path computes its weights in float32: agreement to ~1e-4 of a level, shrinking and growing
    (both axes the same way: OpenCV's area then has one definition)."""
    img = np.random.default_rng(0).uniform(0, 255, (37, 53, 3)).astype(np.float32)
    expected = cv2.resize(img, size[::-1], interpolation=FLAGS[method])
    out = naive_resize(torch.from_numpy(img).permute(2, 0, 1).double(), size, method).permute(1, 2, 0).numpy()
    assert out.shape == expected.shape
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-3)


def test_taps_sum_to_one_and_stay_inside() -> None:
    for method in NAIVE_METHODS:
        for in_len, out_len in ((7, 3), (5, 12), (16, 4), (9, 9)):
            index, weight = naive_taps(in_len, out_len, method)
            assert index.min() >= 0 and index.max() < in_len
            np.testing.assert_allclose(weight.sum(axis=1), 1, atol=1e-12)
    with pytest.raises(ValueError, match="unknown resize method 'lanczos'"):
        naive_resize(torch.zeros(1, 4, 4), (4, 4), "lanczos")


def test_alias_downscale_is_opencv_inter_cubic_on_uint8() -> None:
    """OpenCV's uint8 path rounds its weights to 11 bits: a level apart at most, on a few pixels."""
    rng = np.random.default_rng(1)
    img = np.clip(128 + 60 * rng.standard_normal((64, 48, 3)), 0, 255).astype(np.uint8)
    out = alias_downscale(img, 4)
    expected = cv2.resize(img, (12, 16), interpolation=cv2.INTER_CUBIC)
    assert out.dtype == np.uint8 and out.shape == (16, 12, 3)
    assert np.abs(out.astype(int) - expected).max() <= 1 and (out == expected).mean() > 0.95
    grey = alias_downscale(img[..., 0], 4)
    np.testing.assert_array_equal(grey, out[..., 0])
    # stripes 4 pixels wide (one LR pixel): every output sees one stripe only and keeps its full contrast, where
    # MATLAB's antialiased kernel (16 taps at ×1/4) blends the neighbours in
    stripes = np.repeat((np.arange(16) // 4 % 2 * 255).astype(np.uint8)[None, :], 8, axis=0)
    np.testing.assert_array_equal(alias_downscale(stripes, 4), [[0, 255, 0, 255]] * 2)
    assert imresize(stripes, 1 / 4)[0, 0] > 0 and imresize(stripes, 1 / 4)[0, 1] < 255
