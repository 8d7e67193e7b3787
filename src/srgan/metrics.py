"""Image quality as super-resolution papers report it: on the luma (Y) channel, with a border crop.

The protocol (the MATLAB scripts behind the published tables): Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for
8-bit R, G, B (BT.601, MATLAB's ``rgb2ycbcr`` constants), kept in float64 without rounding; ``crop`` pixels are
removed from every border (crop = scale by convention); PSNR uses a peak of 255; SSIM (Wang et al. 2004) uses an
11×11 Gaussian window with σ = 1.5, only where the window fits ('valid'), with C1 = (0.01·255)², C2 = (0.03·255)²,
averaged over the map. A grayscale (H, W) image counts as RGB with three equal channels.

PSNR and SSIM reward the blur of the mean; a GAN's sharper output needs measures without a reference. NIQE (Mittal,
Soundararajan and Bovik, "Making a 'Completely Blind' Image Quality Analyzer", IEEE SPL 2013) follows the authors'
MATLAB release on the Y channel rounded as MATLAB's uint8 ``rgb2ycbcr``, with their pristine model
(``niqe_pris_params.npz``: from the MATLAB release, as converted by BasicSR, Apache-2.0; see niqe_pris_params.md).
The grid index measures the periodic artefacts of sub-pixel upsampling, the blocking index the
JPEG block edges a model may sharpen instead of removing, and the lattice score the dots a GAN may print on every LR
pixel of a flat area (sky, bokeh, white paper), where the original has nothing to hide them.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np

from srgan.data.degrade import imresize

_Y_WEIGHTS = np.array([65.481, 128.553, 24.966]) / 255
_C1, _C2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2


def rgb_to_y(img: np.ndarray) -> np.ndarray:
    """BT.601 luma in [16, 235], float64 (H, W), of uint8 RGB (H, W, 3) or grayscale (H, W)."""
    if img.dtype != np.uint8:
        raise TypeError(f"expected a uint8 image, got {img.dtype}")
    if img.ndim == 2:
        return 16 + img.astype(np.float64) * _Y_WEIGHTS.sum()
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB or (H, W) grayscale image, got shape {img.shape}")
    return 16 + img.astype(np.float64) @ _Y_WEIGHTS


def _crop(img: np.ndarray, crop: int) -> np.ndarray:
    if crop < 0 or 2 * crop >= min(img.shape[:2]):
        raise ValueError(f"a border crop of {crop} leaves nothing of a {img.shape[1]}×{img.shape[0]} image")
    return img[crop:img.shape[0] - crop, crop:img.shape[1] - crop]


def _cropped_y(sr: np.ndarray, hr: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    if sr.shape != hr.shape:
        raise ValueError(f"images differ in shape: {sr.shape} vs {hr.shape}")
    return _crop(rgb_to_y(sr), crop), _crop(rgb_to_y(hr), crop)


def psnr_y(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    """PSNR in dB (inf when equal) of Y, uint8 RGB (H, W, 3) or grayscale (H, W), ``crop`` border pixels removed."""
    y_sr, y_hr = _cropped_y(sr, hr, crop)
    mse = float(np.mean((y_sr - y_hr) ** 2))
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def ssim_y(sr: np.ndarray, hr: np.ndarray, crop: int) -> float:
    """Mean SSIM in [−1, 1] of Y, uint8 RGB (H, W, 3) or grayscale (H, W), ``crop`` border pixels removed."""
    y_sr, y_hr = _cropped_y(sr, hr, crop)
    if min(y_sr.shape) < 11:
        raise ValueError(f"SSIM needs at least 11×11 pixels after the border crop, got {y_sr.shape[1]}×{y_sr.shape[0]}")
    mu1, mu2 = _gaussian_valid(y_sr), _gaussian_valid(y_hr)
    var1 = _gaussian_valid(y_sr * y_sr) - mu1 * mu1
    var2 = _gaussian_valid(y_hr * y_hr) - mu2 * mu2
    cov = _gaussian_valid(y_sr * y_hr) - mu1 * mu2
    ssim_map = ((2 * mu1 * mu2 + _C1) * (2 * cov + _C2)) / ((mu1**2 + mu2**2 + _C1) * (var1 + var2 + _C2))
    return float(ssim_map.mean())


def _gaussian_valid(x: np.ndarray, size: int = 11, sigma: float = 1.5) -> np.ndarray:
    """Filter with the normalised size×size Gaussian where it fits entirely (output shrinks by size − 1)."""
    t = np.arange(size) - (size - 1) / 2
    g = np.exp(-(t**2) / (2 * sigma**2))
    g /= g.sum()  # the 2-D window is the outer product of this 1-D one, so it is normalised too
    windows = np.lib.stride_tricks.sliding_window_view
    rows = windows(x, size, axis=0) @ g  # (H − size + 1, W)
    return windows(rows, size, axis=1) @ g


# ---- NIQE ----------------------------------------------------------------------------------------------------------

_NIQE_BLOCK = 96
_NIQE_PARAMS = Path(__file__).with_name("niqe_pris_params.npz")
# MATLAB's estimateaggdparam searches the shape α on this grid (0.2:0.001:10).
_ALPHAS = 0.2 + 0.001 * np.arange(9801)
# (row, column) circular shifts of the pairwise products: horizontal, vertical, main and anti-diagonal neighbours.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def niqe(image: np.ndarray, crop: int = 0) -> float:
    """NIQE (Mittal et al. 2013), ≥ 0, lower = more natural: distance of the image's 96×96-block statistics to
    the pristine model of the authors' MATLAB release.

    ``image``: uint8 RGB (H, W, 3), scored on its MATLAB-rounded luma (``rgb_to_y``), or a single-channel (H, W)
    array taken as that luma (0–255). ``crop`` border pixels are removed first; blocks then tile the top left.
    """
    if image.ndim == 3:
        y = np.floor(rgb_to_y(image) + 0.5)  # MATLAB's rgb2ycbcr rounds to uint8 (halves up)
    elif image.ndim == 2:
        y = image
    else:
        raise ValueError(f"expected an (H, W, 3) RGB or (H, W) luma image, got shape {image.shape}")
    y = _crop(y, crop)
    h, w = (n // _NIQE_BLOCK * _NIQE_BLOCK for n in y.shape)
    if h == 0 or w == 0:
        raise ValueError(f"NIQE needs at least {_NIQE_BLOCK}×{_NIQE_BLOCK} pixels after the border crop, "
                         f"got {y.shape[1]}×{y.shape[0]}")
    y = y[:h, :w].astype(np.float32)  # float32 as MATLAB's result: flat areas then give exact zeros (see _mscn)
    mu_pris, cov_pris, taps = _niqe_model()
    half = imresize(y, 0.5)  # MATLAB's imresize(im, 0.5): bicubic with antialiasing
    feats = np.concatenate([_block_features(_mscn(y, taps), _NIQE_BLOCK),
                            _block_features(_mscn(half, taps), _NIQE_BLOCK // 2)], axis=1)  # (blocks, 36)
    mu = np.nanmean(feats, axis=0)
    complete = feats[~np.isnan(feats).any(axis=1)]
    # MATLAB's nancov over complete rows; one block has no spread to estimate (the pristine covariance alone is used)
    cov = np.cov(complete, rowvar=False) if len(complete) > 1 else np.zeros_like(cov_pris)
    d = mu_pris - mu
    return float(np.sqrt(d @ np.linalg.pinv((cov_pris + cov) / 2) @ d))


@lru_cache(maxsize=1)
def _niqe_model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(μ (36,), Σ (36, 36), 1-D taps of the 7×7 Gaussian window) of the pristine model; see niqe_pris_params.md."""
    with np.load(_NIQE_PARAMS) as f:
        # the window is fspecial('gaussian', 7, 7/6), an outer product: its row sums are the 1-D taps
        return f["mu_pris_param"][0], f["cov_pris_param"], f["gaussian_window"].sum(axis=1)


def _mscn(y: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Mean-subtracted, contrast-normalised luma (y − μ) / (σ + 1), float32, with MATLAB imfilter's 'replicate' edge.

    The local sums are accumulated in float64 and stored in float32, where a flat 7×7 neighbourhood gives μ = y and
    σ = 0 exactly; float64 leaves residues of ~1e-14 there, which the AGGD fit then reads as signs.
    """
    mu = _filter(y, taps).astype(np.float32)
    var = _filter(y.astype(np.float64) ** 2, taps).astype(np.float32) - mu * mu
    return (y - mu) / (np.sqrt(np.abs(var)) + 1)


def _filter(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Correlate (H, W) with the separable window outer(taps, taps), edges replicated, in float64 (same size out)."""
    k, (h, w) = len(taps), x.shape
    padded = np.pad(x.astype(np.float64), k // 2, mode="edge")
    rows = sum(t * padded[i:i + h] for i, t in enumerate(taps))
    return sum(t * rows[:, i:i + w] for i, t in enumerate(taps))


def _block_features(mscn: np.ndarray, block: int) -> np.ndarray:
    """The 18 features of each non-overlapping block×block tile of ``mscn``: (blocks, 18).

    Per block: AGGD shape and mean scale of the MSCN values; then for each neighbour product (circular within the
    block, like MATLAB's circshift) AGGD shape, mean, left and right scale.
    """
    h, w = mscn.shape
    tiles = mscn.reshape(h // block, block, w // block, block).swapaxes(1, 2).reshape(-1, block, block)
    alpha, _, left, right = _aggd(tiles.reshape(len(tiles), -1))
    feats = [alpha, (left + right) / 2]
    for shift in _SHIFTS:
        pairs = tiles * np.roll(tiles, shift, axis=(1, 2))
        feats += _aggd(pairs.reshape(len(tiles), -1))
    return np.stack(feats, axis=1)


def _aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching fit of an asymmetric generalised Gaussian to each row of ``x`` (n, m), as MATLAB's
    estimateaggdparam: (shape α, mean, left scale β_l, right scale β_r), each (n,); NaN scales where a side is empty.
    """
    x = x.astype(np.float64)
    sq = x * x
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt((sq * (x < 0)).sum(axis=1) / (x < 0).sum(axis=1))
        right_std = np.sqrt((sq * (x > 0)).sum(axis=1) / (x > 0).sum(axis=1))
        g = left_std / right_std
        r_hat = np.abs(x).mean(axis=1) ** 2 / sq.mean(axis=1)
        r_norm = r_hat * (g**3 + 1) * (g + 1) / (g**2 + 1) ** 2
    r_gamma, std_to_scale, scale_to_mean = _aggd_tables()
    i = _nearest(r_gamma, r_norm)
    left, right = left_std * std_to_scale[i], right_std * std_to_scale[i]
    return _ALPHAS[i], (right - left) * scale_to_mean[i], left, right


@lru_cache(maxsize=1)
def _aggd_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Over the α grid: ρ(α) = Γ(2/α)² / (Γ(1/α) Γ(3/α)) (increasing), √(Γ(1/α) / Γ(3/α)) and Γ(2/α) / Γ(1/α)."""
    g1, g2, g3 = (np.array([math.gamma(k / a) for a in _ALPHAS]) for k in (1, 2, 3))
    return g2**2 / (g1 * g3), np.sqrt(g1 / g3), g2 / g1


def _nearest(grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Index of the entry of the increasing ``grid`` nearest to each value: MATLAB's min((grid − v).^2), so the
    first on a tie and 0 for NaN or ±inf."""
    hi = np.clip(np.searchsorted(grid, values), 1, len(grid) - 1)
    with np.errstate(invalid="ignore"):
        right_nearer = (grid[hi] - values) ** 2 < (grid[hi - 1] - values) ** 2
    return np.where(right_nearer, hi, hi - 1) * np.isfinite(values)


# ---- sub-pixel grid ------------------------------------------------------------------------------------------------


def grid_index(image: np.ndarray, period: int = 4, crop: int = 0) -> float:
    """Periodic structure at the upscaling period, ≥ 1 (1 = none): a ×``period`` upscaler that treats the ``period``
    sub-pixel positions of each LR pixel differently leaves a grid, which PSNR barely sees.

    On the luma of uint8 RGB (H, W, 3) or grayscale (H, W), ``crop`` border pixels removed: the mean |ΔY| between
    columns j and j + 1 for each phase j mod ``period``, max over min of those; the same for rows; the mean of both.
    Infinite when some phase never changes while another does (nearest-neighbour upscaling).
    """
    y = _crop(rgb_to_y(image), crop)
    if period < 2 or min(y.shape) <= period:
        raise ValueError(f"a grid of period {period} needs more than {period}×{period} pixels after the border "
                         f"crop, got {y.shape[1]}×{y.shape[0]}")
    ratios = []
    for axis in (1, 0):
        steps = np.abs(np.diff(y, axis=axis))
        phases = np.array([steps.take(range(p, steps.shape[axis], period), axis=axis).mean() for p in range(period)])
        top, bottom = phases.max(), phases.min()
        ratios.append(1.0 if top == 0 else math.inf if bottom == 0 else float(top / bottom))
    return float(np.mean(ratios))


# ---- block grid ----------------------------------------------------------------------------------------------------


def blocking(image: np.ndarray, block: int = 8, period: int = 1, crop: int = 0) -> float:
    """JPEG-style block edges, ≥ 0 (1 = none): how much larger the luma steps across the lines of a ``block``-pixel
    grid are than comparable steps elsewhere. A model that reads a JPEG's 8×8 blocks as structure sharpens these.

    On the luma of uint8 RGB (H, W, 3) or grayscale (H, W): a horizontal step is |Y[i, j + 1] − Y[i, j]|, across the
    grid when j + 1 is a multiple of ``block`` (the grid starts at the top-left corner), and comparable when j + 1 is
    a multiple of ``period`` but not of ``block``; vertical steps likewise. The index is the mean of the steps across
    the grid over the mean of the comparable ones, horizontal and vertical pooled, counting only steps between pixels
    at least ``crop`` pixels inside the border. For an image upscaled ×s from a JPEG-compressed LR, block = 8·s puts
    the grid on the LR's block boundaries, and period = s compares them with the steps between the other LR pixels
    only: the steps there differ from those inside an LR pixel even without JPEG (MATLAB-bicubic ×4 of a clean LR
    scores 1.16 on Set14 with period 1, 1.00 with period 4). Infinite when only the steps across the grid are
    non-zero.
    """
    if period < 1 or block < 2 * period or block % period:
        raise ValueError(f"the block size ({block}) must be a multiple of the period ({period}), at least twice it")
    y = _crop(rgb_to_y(image), crop)
    across, other = [], []
    for axis in (0, 1):
        steps = np.abs(np.diff(y, axis=axis))
        end = np.arange(steps.shape[axis]) + crop + 1  # each step's second pixel, in full-image coordinates
        on_grid = end % block == 0
        across.append(steps.compress(on_grid, axis=axis).ravel())
        other.append(steps.compress((end % period == 0) & ~on_grid, axis=axis).ravel())
    a, o = np.concatenate(across), np.concatenate(other)
    if a.size == 0 or o.size == 0:
        raise ValueError(f"a block grid of {block} needs more than {block}×{block} pixels after the border crop, "
                         f"got {y.shape[1]}×{y.shape[0]}")
    top, bottom = a.mean(), o.mean()
    return 1.0 if top == bottom == 0 else math.inf if bottom == 0 else float(top / bottom)


# ---- dot lattice in flat areas -------------------------------------------------------------------------------------

LATTICE_WINDOW = 7  # side of the box window of the local mean and spread
LATTICE_FLAT_STD = 2.0  # a pixel is flat where the HR's 7×7 standard deviation of Y is below this (8-bit levels)
LATTICE_MIN_FLAT = 64  # flat pixels each phase needs: the mean of n noisy pixels of σ < 2 varies by < 2/√n = 0.25


def lattice(image: np.ndarray, hr: np.ndarray, period: int = 4, crop: int = 0) -> float:
    """Dot lattice at the upscaling period in the HR's flat areas, ≥ 0 Y levels (0 = none): max − min over the
    ``period``² pixel phases (y mod period, x mod period) of the mean high-pass (Y minus its 7×7 box mean) of
    ``image`` over the pixels where ``hr`` is flat (7×7 standard deviation of its Y below 2 levels).

    ``image``, ``hr``: uint8 RGB (H, W, 3) or grayscale (H, W) of one shape, Y as ``rgb_to_y`` (8-bit levels). The
    windows are centred on each pixel and must fit in the image, so only pixels at least max(``crop``, 3) inside
    the border count (``srgan eval`` passes crop = scale, as for PSNR: a model computes the outermost pixels from
    its padding, which is no flat area of the scene); the phases are counted from the top-left corner, where an
    upscaled image's LR pixels start. At period 4 a planted dot of amplitude A scores 52A/49 (the 7×7 mean holds
    one dot, and 2 or 4 of them around the other phases). ``NoFlatArea`` (a ``ValueError``) when a phase has fewer
    than ``LATTICE_MIN_FLAT`` flat pixels.
    """
    if image.shape != hr.shape:
        raise ValueError(f"images differ in shape: {image.shape} vs {hr.shape}")
    if period < 1:
        raise ValueError(f"the period must be at least 1, got {period}")
    y, y_hr = rgb_to_y(image), rgb_to_y(hr)
    mean_hr, sq_hr = _box_mean(y_hr), _box_mean(y_hr * y_hr)
    flat = np.sqrt(np.maximum(sq_hr - mean_hr * mean_hr, 0)) < LATTICE_FLAT_STD
    r = LATTICE_WINDOW // 2
    high = y[r:y.shape[0] - r, r:y.shape[1] - r] - _box_mean(y)  # pixel (i, j) here is (i + r, j + r) of the image
    inside = max(crop, r) - r
    if 2 * inside >= min(high.shape, default=0):
        raise ValueError(f"a border crop of {crop} leaves no {LATTICE_WINDOW}×{LATTICE_WINDOW} window in a "
                         f"{y.shape[1]}×{y.shape[0]} image")
    means = []
    for py in range(period):
        for px in range(period):
            rows = slice((py - r - inside) % period + inside, high.shape[0] - inside, period)
            cols = slice((px - r - inside) % period + inside, high.shape[1] - inside, period)
            chosen = high[rows, cols][flat[rows, cols]]
            if chosen.size < LATTICE_MIN_FLAT:
                raise NoFlatArea(f"only {chosen.size} flat pixels (7×7 std of Y < {LATTICE_FLAT_STD:g}) at phase "
                                 f"({py}, {px}); the lattice score needs {LATTICE_MIN_FLAT}")
            means.append(chosen.mean())
    return float(max(means) - min(means))


class NoFlatArea(ValueError):
    """The HR image has too little flat area for a lattice score: left out of that mean only."""


def _box_mean(x: np.ndarray, size: int = LATTICE_WINDOW) -> np.ndarray:
    """Mean of each size×size window that fits in (H, W) float64 (output shrinks by size − 1), by summed areas."""
    c = np.zeros((x.shape[0] + 1, x.shape[1] + 1))
    c[1:, 1:] = x.cumsum(axis=0).cumsum(axis=1)
    return (c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]) / (size * size)
