"""PSNR and SSIM as super-resolution papers report them: on the luma (Y) channel, with a border crop.

The protocol (the MATLAB scripts behind the published tables): Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 for
8-bit R, G, B (BT.601, MATLAB's ``rgb2ycbcr`` constants), kept in float64 without rounding; ``crop`` pixels are
removed from every border (crop = scale by convention); PSNR uses a peak of 255; SSIM (Wang et al. 2004) uses an
11×11 Gaussian window with σ = 1.5, only where the window fits ('valid'), with C1 = (0.01·255)², C2 = (0.03·255)²,
averaged over the map. A grayscale (H, W) image counts as RGB with three equal channels.
"""

from __future__ import annotations

import math

import numpy as np

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


def _cropped_y(sr: np.ndarray, hr: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    if sr.shape != hr.shape:
        raise ValueError(f"images differ in shape: {sr.shape} vs {hr.shape}")
    if crop < 0 or 2 * crop >= min(sr.shape[:2]):
        raise ValueError(f"a border crop of {crop} leaves nothing of a {sr.shape[1]}×{sr.shape[0]} image")
    window = (slice(crop, sr.shape[0] - crop), slice(crop, sr.shape[1] - crop))
    return rgb_to_y(sr)[window], rgb_to_y(hr)[window]


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
