"""PSNR-Y / SSIM-Y against direct, slow restatements of the published formulas; the grid and blocking indices on
known patterns."""

from __future__ import annotations

import math

import numpy as np
import pytest

from srgan.data.degrade import imresize
from srgan.data.realistic import jpeg
from srgan.metrics import NoFlatArea, blocking, grid_index, lattice, psnr_y, rgb_to_y, ssim_y


def _y_slow(img: np.ndarray) -> np.ndarray:
    """MATLAB rgb2ycbcr's luma on [0, 1] doubles, rescaled to 0–255, pixel by pixel."""
    h, w = img.shape[:2]
    out = np.empty((h, w))
    for i in range(h):
        for j in range(w):
            r, g, b = (float(v) / 255 for v in img[i, j])
            out[i, j] = 16 + 65.481 * r + 128.553 * g + 24.966 * b
    return out


def _ssim_slow(a: np.ndarray, b: np.ndarray) -> float:
    """Wang et al.'s SSIM with an explicit 11×11 Gaussian window (σ = 1.5), evaluated wherever it fits."""
    t = np.arange(11) - 5
    win = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * 1.5**2))
    win /= win.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            pa, pb = a[i:i + 11, j:j + 11], b[i:i + 11, j:j + 11]
            ma, mb = (win * pa).sum(), (win * pb).sum()
            va, vb = (win * (pa - ma) ** 2).sum(), (win * (pb - mb) ** 2).sum()
            cov = (win * (pa - ma) * (pb - mb)).sum()
            values.append((2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2)))
    return float(np.mean(values))


@pytest.fixture
def pair() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    hr = rng.integers(0, 256, (22, 19, 3), dtype=np.uint8)
    noise = rng.integers(-20, 21, hr.shape)
    return np.clip(hr.astype(int) + noise, 0, 255).astype(np.uint8), hr


def test_y_constants() -> None:
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(img)[0], [16, 235, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-12)
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, (5, 6, 3), dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(img), _y_slow(img), atol=1e-10)


def test_psnr_matches_direct_formula(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    d = _y_slow(sr)[3:-3, 3:-3] - _y_slow(hr)[3:-3, 3:-3]
    expected = 10 * math.log10(255**2 / (d**2).mean())
    assert psnr_y(sr, hr, crop=3) == pytest.approx(expected, abs=1e-10)


def test_psnr_of_a_uniform_offset_is_closed_form() -> None:
    hr = np.full((10, 10, 3), 100, dtype=np.uint8)
    sr = hr + 5  # every channel +5 → Y differs by 5 · 219/255 everywhere
    assert psnr_y(sr, hr, crop=0) == pytest.approx(20 * math.log10(255 / (5 * 219 / 255)), abs=1e-10)


def test_crop_removes_the_border() -> None:
    hr = np.full((12, 12, 3), 50, dtype=np.uint8)
    sr = hr.copy()
    sr[:2] = 0  # damage only the top two rows
    assert psnr_y(sr, hr, crop=2) == math.inf
    assert psnr_y(sr, hr, crop=1) < 40


def test_ssim_matches_direct_formula(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair
    expected = _ssim_slow(_y_slow(sr)[2:-2, 2:-2], _y_slow(hr)[2:-2, 2:-2])
    assert ssim_y(sr, hr, crop=2) == pytest.approx(expected, abs=1e-10)
    assert 0 < expected < 1


def test_identical_images() -> None:
    img = np.random.default_rng(2).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    assert psnr_y(img, img, crop=1) == math.inf
    assert ssim_y(img, img, crop=1) == pytest.approx(1.0, abs=1e-12)


def test_grayscale_is_rgb_with_equal_channels(pair: tuple[np.ndarray, np.ndarray]) -> None:
    sr, hr = pair[0][..., 1], pair[1][..., 1]
    rgb = lambda g: np.repeat(g[..., None], 3, axis=2)  # noqa: E731
    assert psnr_y(sr, hr, 2) == pytest.approx(psnr_y(rgb(sr), rgb(hr), 2), abs=1e-10)
    assert ssim_y(sr, hr, 2) == pytest.approx(ssim_y(rgb(sr), rgb(hr), 2), abs=1e-12)


def test_bad_arguments() -> None:
    a = np.zeros((16, 16, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match="differ in shape"):
        psnr_y(a, a[:15], 0)
    with pytest.raises(ValueError, match="border crop"):
        psnr_y(a, a, 8)
    with pytest.raises(ValueError, match="11×11"):
        ssim_y(a, a, 3)
    with pytest.raises(TypeError, match="uint8"):
        psnr_y(a.astype(np.float32), a.astype(np.float32), 0)


def test_grid_index_closed_form() -> None:
    # Along x the steps are 2, 2, 2, 10, 2, 2, 2, 10, ...: phases 0–2 have mean |ΔY| 2k, phase 3 10k → ratio 5.
    # Along y nothing changes (no structure: 1). The index is the mean of both.
    j = np.arange(40)
    img = np.tile((2 * j + 8 * (j // 4)).astype(np.uint8), (30, 1))
    assert grid_index(img, period=4) == pytest.approx(3.0, abs=1e-12)
    assert grid_index(np.full((20, 20, 3), 9, dtype=np.uint8)) == 1.0
    nearest = np.repeat(np.repeat(np.random.default_rng(0).integers(0, 256, (8, 8, 3), np.uint8), 4, 0), 4, 1)
    assert grid_index(nearest) == math.inf


def test_grid_index_sees_a_period_4_pattern() -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    smooth = 128 + 60 * np.sin(xx / 11) * np.cos(yy / 7)
    plain = np.clip(smooth[..., None] + rng.normal(0, 4, (128, 128, 3)), 0, 255).astype(np.uint8)
    grid = plain.copy()
    grid[::4] = np.clip(grid[::4].astype(int) + 12, 0, 255)  # a brighter row and column every 4 pixels
    grid[:, ::4] = np.clip(grid[:, ::4].astype(int) + 12, 0, 255)
    assert grid_index(plain, 4, crop=4) == pytest.approx(1.0, abs=0.05)
    assert grid_index(grid, 4, crop=4) > 1.5
    assert grid_index(grid, 3, crop=4) == pytest.approx(1.0, abs=0.05)  # the index looks at one period only
    # MATLAB-bicubic ×4 treats the four sub-pixel positions differently too; on fine detail that shows
    bicubic = imresize(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8), 4)
    assert grid_index(bicubic, 4, crop=4) > 2
    assert grid_index(bicubic, 3, crop=4) == pytest.approx(1.0, abs=0.05)


def test_grid_index_bad_arguments() -> None:
    with pytest.raises(ValueError, match=r"period 4 needs more than 4×4 pixels after the border crop, got 4×6"):
        grid_index(np.zeros((14, 12, 3), dtype=np.uint8), 4, crop=4)
    with pytest.raises(ValueError, match="period 1"):
        grid_index(np.zeros((14, 12, 3), dtype=np.uint8), 1)


def test_blocking_closed_form() -> None:
    # 30 rows × 40 columns. Column steps: the value 2j + 8·(j // 8) rises by 10 from column 8k + 7 to 8k + 8 (4 per
    # row) and by 2 elsewhere (35 per row); row steps are all 0 (3 × 40 across the grid, 26 × 40 elsewhere). Across:
    # (30·4·10) / (120 + 120) = 5; elsewhere (30·35·2) / (1050 + 1040). The luma gain cancels.
    j = np.arange(40)
    img = np.tile((2 * j + 8 * (j // 8)).astype(np.uint8), (30, 1))
    assert blocking(img, 8) == pytest.approx(5 / (2100 / 2090), rel=1e-12)
    # Period 4: only steps to a multiple of 4 are comparable: to columns 4, 12, 20, 28, 36 (5 per row, 2 each) and
    # to rows 4, 12, 20, 28 (4 × 40, 0 each).
    assert blocking(img, 8, period=4) == pytest.approx(5 / (300 / 310), rel=1e-12)
    assert blocking(np.full((20, 20, 3), 9, dtype=np.uint8)) == 1.0
    edges = np.kron(np.arange(9).reshape(3, 3) * 20, np.ones((8, 8))).astype(np.uint8)  # flat 8×8 blocks
    assert blocking(edges) == math.inf


def test_blocking_of_smooth_and_jpeg_images() -> None:
    yy, xx = np.mgrid[0:96, 0:96]
    smooth = np.clip(128 + 60 * np.sin(xx / 9) * np.cos(yy / 7) + 10 * np.sin(xx * yy / 97), 0, 255)
    img = np.repeat(smooth[..., None], 3, axis=2).astype(np.uint8)
    assert blocking(img) == pytest.approx(1.0, abs=0.05)
    assert blocking(jpeg(img, 10)) > 2
    # Upscaled ×4, the JPEG grid moves to 32 pixels; period 4 discounts bicubic's own sub-pixel steps.
    assert blocking(imresize(jpeg(img, 10), 4), 32, period=4, crop=4) > 1.3
    assert blocking(imresize(img, 4), 32, period=4, crop=4) == pytest.approx(1.0, abs=0.05)


def test_blocking_bad_arguments() -> None:
    img = np.zeros((20, 20, 3), dtype=np.uint8)
    with pytest.raises(ValueError, match=r"block grid of 32 needs more than 32×32 pixels after the border crop, "
                                         r"got 16×16"):
        blocking(img, 32, crop=2)
    with pytest.raises(ValueError, match=r"the block size \(8\) must be a multiple of the period \(3\)"):
        blocking(img, 8, period=3)


# ---- lattice ----

_GREY_TO_Y = 219 / 255  # rgb_to_y of a grey level g is 16 + g · 219/255


def _flat_with_texture(h: int = 64, w: int = 96) -> np.ndarray:
    """Grey 120 on the left two thirds, strong noise (never flat) on the right third."""
    img = np.full((h, w), 120, dtype=np.uint8)
    img[:, 2 * w // 3:] = np.random.default_rng(5).integers(0, 256, (h, w - 2 * w // 3))
    return img


@pytest.mark.parametrize("phase", [(0, 0), (1, 2), (3, 3)])
def test_lattice_of_a_planted_dot_pattern_is_its_amplitude(phase: tuple[int, int]) -> None:
    # A dot of +d levels at one phase of every 4×4 block. At the dot the 7×7 mean holds one dot, so its high-pass
    # is d·48/49; around phases (0, k), (k, 0) it holds two (−2d/49), elsewhere four (−4d/49): max − min = 52d/49,
    # in Y levels d·219/255. The noisy right third is not flat in the HR, so its pixels do not count.
    hr = _flat_with_texture()
    sr = hr.copy()
    sr[phase[0]:, phase[1]:2 * 96 // 3:4][::4] += 6
    expected = 52 / 49 * 6 * _GREY_TO_Y
    assert lattice(sr, hr, period=4, crop=4) == pytest.approx(expected, abs=1e-9)
    assert lattice(np.dstack([sr] * 3), np.dstack([hr] * 3), period=4, crop=4) == pytest.approx(expected, abs=1e-9)


def test_lattice_of_clean_flat_images_is_near_zero() -> None:
    hr = _flat_with_texture()
    assert lattice(hr, hr, period=4, crop=4) == pytest.approx(0, abs=1e-9)  # summed areas round at 1e-13
    rng = np.random.default_rng(0)
    noisy = np.clip(120 + rng.normal(0, 0.7, (128, 128)), 0, 255).round().astype(np.uint8)  # flat: std < 2
    assert lattice(noisy, noisy, period=4, crop=4) < 0.15
    # bicubic ×4 leaves the flat part flat; only its ringing from the noisy third reaches a few flat pixels
    assert lattice(imresize(imresize(hr, 1 / 4), 4), hr, period=4, crop=4) < 0.1


def test_lattice_needs_flat_pixels_in_every_phase() -> None:
    textured = np.random.default_rng(1).integers(0, 256, (64, 64)).astype(np.uint8)
    with pytest.raises(NoFlatArea, match=r"only 0 flat pixels .* at phase \(0, 0\); the lattice score needs 64"):
        lattice(textured, textured, period=4, crop=4)
    small = np.full((36, 36), 90, dtype=np.uint8)  # (36 − 8)² / 16 = 49 flat pixels per phase
    with pytest.raises(NoFlatArea, match="only 49 flat pixels"):
        lattice(small, small, period=4, crop=4)
    assert lattice(np.full((40, 40), 90, np.uint8), np.full((40, 40), 90, np.uint8), 4, 4) < 1e-9  # 64 each
    with pytest.raises(ValueError, match="differ in shape"):
        lattice(small, small[:-1], period=4)
    with pytest.raises(ValueError, match="leaves no 7×7 window"):
        lattice(small, small, period=4, crop=18)
