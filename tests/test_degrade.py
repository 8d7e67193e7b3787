"""imresize against hand-derived MATLAB values, against PIL where the two must agree, and across numpy/torch."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.data.degrade import _float32_exact, imresize, imresize_uint8, output_size, quantize

# Keys cubic (a = −0.5) at the distances that occur below, worked out by hand from
# 1.5|x|³ − 2.5|x|² + 1 (|x| ≤ 1) and −0.5|x|³ + 2.5|x|² − 4|x| + 2 (1 < |x| ≤ 2).
K025, K075, K125, K175 = 0.8671875, 0.2265625, -0.0703125, -0.0234375


def test_downscale_by_two_hand_case() -> None:
    # Row [x1..x4] → 2 samples at input positions 1.5 and 3.5 (1-based). Shrinking by 2 stretches the kernel to
    # 8 taps, k(d/2)/2; taps past the ends mirror (position 0 → 1, −1 → 2, −2 → 3, 5 → 4, 6 → 3, 7 → 2).
    x1, x2, x3, x4 = 10.0, 20.0, 40.0, 80.0
    w = np.array([K175, K125, K075, K025, K025, K075, K125, K175]) / 2  # taps at distances 3.5 … −3.5
    assert w.sum() == pytest.approx(1.0)
    first = w @ [x3, x2, x1, x1, x2, x3, x4, x4]  # positions −2 … 5
    second = w @ [x1, x1, x2, x3, x4, x4, x3, x2]  # positions 0 … 7
    out = imresize(np.array([[x1, x2, x3, x4]]), 0.5)
    assert out.shape == (1, 2)
    np.testing.assert_allclose(out[0], [first, second], rtol=0, atol=1e-12)


def test_upscale_by_two_hand_case_and_matlab_rounding() -> None:
    # Output pixel 1 of [a, b] ×2 sits at 0.75: taps at −1, 0, 1, 2 with distances 1.75, 0.75, −0.25, −1.25,
    # mirrored to b, a, a, b: (K075 + K025)·a + (K175 + K125)·b = 1.09375·a − 0.09375·b. For a=10, b=90 that is
    # exactly 2.5, which MATLAB's uint8 conversion rounds up to 3 (numpy's half-to-even would give 2).
    a, b = 10, 90
    expected = (K075 + K025) * a + (K175 + K125) * b
    assert expected == 2.5
    as_float = imresize(np.array([[a, b]], dtype=np.float64), 2)
    assert as_float.shape == (2, 4)
    assert as_float[0, 0] == expected and as_float[1, 0] == expected  # one row: the vertical pass is identity
    assert imresize(np.array([[a, b]], dtype=np.uint8), 2)[0, 0] == 3


def test_quantize_is_matlab_conversion() -> None:
    x = np.array([-3.0, -0.5, 0.49, 0.5, 1.5, 2.5, 254.5, 255.2, 300.0])
    np.testing.assert_array_equal(quantize(x), [0, 0, 0, 1, 2, 3, 255, 255, 255])
    assert quantize(x).dtype == np.uint8
    np.testing.assert_array_equal(quantize(torch.tensor(x)).numpy(), [0, 0, 0, 1, 2, 3, 255, 255, 255])
    assert quantize(np.array([70000.0, 1.5]), np.uint16).tolist() == [65535, 2]


@pytest.mark.parametrize(("size", "scale", "expected"), [
    ((7, 10), 1 / 4, (2, 3)), ((5, 5), 1 / 2, (3, 3)), ((8, 12), 1 / 4, (2, 3)), ((7, 10), 3, (21, 30)),
    ((96, 96), 1 / 4, (24, 24)), ((1, 1), 1 / 3, (1, 1)),
])
def test_output_size_is_ceil(size: tuple[int, int], scale: float, expected: tuple[int, int]) -> None:
    assert output_size(size, scale) == expected
    rng = np.random.default_rng(0)
    assert imresize(rng.integers(0, 256, (*size, 3), dtype=np.uint8), scale).shape == (*expected, 3)
    assert imresize(torch.rand(2, 3, *size, dtype=torch.float64), scale).shape == (2, 3, *expected)


def test_constant_image_is_preserved() -> None:
    img = np.full((13, 17, 3), 77, dtype=np.uint8)
    for scale in (1 / 4, 1 / 3, 1 / 2, 2, 3, 4):
        assert (imresize(img, scale) == 77).all()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_upscaling_agrees_with_pil_bicubic_in_the_interior(scale: int) -> None:
    # Enlarging uses the plain a = −0.5 kernel in both; only the borders differ (PIL drops out-of-range taps,
    # MATLAB mirrors), so pixels more than two source pixels from an edge must agree.
    rng = np.random.default_rng(scale)
    src = rng.random((20, 23)) * 255
    ours = imresize(src, scale)
    pil = np.asarray(Image.fromarray(src.astype(np.float32), mode="F").resize(
        (23 * scale, 20 * scale), Image.Resampling.BICUBIC))
    inner = (slice(3 * scale, -3 * scale), slice(3 * scale, -3 * scale))
    np.testing.assert_allclose(ours[inner], pil[inner], rtol=0, atol=1e-3)
    # PIL's 8-bit path rounds (and clips) between its two passes; on a smooth image that costs at most one level.
    yy, xx = np.mgrid[0:20, 0:23]
    src8 = (128 + 60 * np.sin(xx / 3.0) * np.cos(yy / 4.0)).round().astype(np.uint8)
    pil8 = np.asarray(Image.fromarray(src8).resize((23 * scale, 20 * scale), Image.Resampling.BICUBIC))
    diff = np.abs(imresize(src8, scale)[inner].astype(int) - pil8[inner].astype(int))
    assert diff.max() <= 1


def test_torch_matches_numpy() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (30, 41, 3), dtype=np.uint8)
    batch = torch.from_numpy(np.stack([img, img[::-1].copy()])).permute(0, 3, 1, 2).to(torch.float64)
    for scale in (1 / 4, 1 / 3, 2):
        out = imresize(batch, scale)
        for b, src in enumerate((img, img[::-1])):
            np.testing.assert_allclose(out[b].permute(1, 2, 0).numpy(), imresize(src.astype(np.float64), scale),
                                       rtol=0, atol=1e-9)
            np.testing.assert_array_equal(quantize(out[b].clone()).permute(1, 2, 0).numpy().astype(np.uint8),
                                          imresize(src, scale))


@pytest.mark.parametrize("scale", [1 / 2, 1 / 3, 1 / 4, 1 / 8, 2])
def test_imresize_uint8_is_bit_identical_to_numpy(scale: float) -> None:
    rng = np.random.default_rng(3)
    batch = rng.integers(0, 256, (2, 3, 48, 40), dtype=np.uint8)
    out = imresize_uint8(torch.from_numpy(batch).float(), scale)
    assert out.dtype == torch.float32
    for b in range(2):
        expected = imresize(batch[b].transpose(1, 2, 0), scale).transpose(2, 0, 1)
        np.testing.assert_array_equal(out[b].numpy(), expected.astype(np.float32))


def test_float32_fast_path_only_where_exact() -> None:
    # ×1/2 and ×1/4 weights are multiples of 2⁻⁸ and 2⁻¹² with small sums; ×1/3 weights are not dyadic, and at
    # ×1/8 the partial sums need more than float32's 24 bits.
    assert _float32_exact(96, 48, 1 / 2) and _float32_exact(96, 24, 1 / 4)
    assert not _float32_exact(96, 32, 1 / 3) and not _float32_exact(96, 12, 1 / 8)
