"""A randomised degradation chain: training LR that looks like the photos people actually upscale.

The paper's LR is a clean MATLAB-bicubic downscale. Real inputs are blurred by optics, resized by cameras and
software, noisy, and mostly JPEG-compressed; a model that has only seen clean LR sharpens JPEG block edges into
structure. Following the idea of Real-ESRGAN (Wang et al. 2021, "Training Real-World Blind Super-Resolution with
Pure Synthetic Data"), the LR of each training patch is made by a random chain instead:

    pass 1, on the HR crop:           blur → resize to r × the LR size → noise → JPEG
    pass 2 (probability second_prob): the same, with its own (milder) ranges
    final:                            resize to exactly the LR size → JPEG of the whole LR crop
    or, with probability clean_prob:  the paper's clean MATLAB-bicubic LR, as ``--degradation bicubic`` makes it

Each stage runs with its own probability and draws its parameters from the ranges of ``RealisticDegradation``
(``srgan.train.degradation``), a frozen dataclass saved in the run's config.json, so that the run is described
completely. The final JPEG compresses
the whole LR crop, so its 8×8 blocks lie on the LR pixel grid, as in a real JPEG photo. Every random number comes
from ``uniform_draws`` on a stream of its own, so the LR of patch i is a pure function of (seed, i) like its crop,
and a bicubic and a realistic run with the same seed train on the same HR crops. Every stage draws its numbers
whether or not it runs, so switching one stage off leaves the others' parameters as they were.

Blur: a Gaussian exp(−½ xᵀΣ⁻¹x), isotropic (one σ) or anisotropic (two σ and a rotation), or its generalised form
exp(−½ (xᵀΣ⁻¹x)^β) (β < 1: heavier tails, β > 1: a flatter top); odd square support, edges replicated. Resize:
one of ``resize_methods`` per resize, drawn uniformly: OpenCV's bicubic, bilinear, nearest or area
(``srgan.data.degrade.naive_resize``), without antialiasing, so that shrinking aliases as naive downscalers do (the
LR of ``srgan eval --degrade alias`` is the bicubic one), or MATLAB's antialiased bicubic ("matlab", as Pillow and
image editors shrink).
Noise: Gaussian with σ in 8-bit units, or Poisson (photon counting, Poisson(x·P)/P with P photons
at white, σ at white = 255/√P 8-bit units), independent per channel or one grey field for all channels. JPEG:
Pillow's libjpeg encoder, in memory, with 4:2:0 chroma as most cameras and web images use. Values are clipped to
[0, 1] after each stage; the LR ends on 8-bit levels, like a decoded image.
"""

from __future__ import annotations

import io
import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from srgan.data.degrade import imresize_uint8, naive_resize, resize_to
from srgan.data.draws import normal_draws, poisson_draws, uniform_draws
from srgan.train.degradation import DegradationPass, RealisticDegradation

# The chain's draws use the dataset seed with the top bit flipped: a stream apart from the crops' own draws.
_STREAM = 1 << 63
_PASS_DRAWS = 17  # the uniforms one pass consumes; see _pass
# two passes, then: second pass?, final resize method, final JPEG?, its quality, clean LR?
N_DRAWS = 2 * _PASS_DRAWS + 5


def realistic_lr(pixels: torch.Tensor, scale: int, chain: RealisticDegradation, seed: int,
                 index: np.ndarray) -> torch.Tensor:
    """LR of a batch of HR crops: ``pixels`` (n, 3, H, W) float32 holding uint8 values, crop k being item
    ``index[k]`` of a dataset with ``seed``; returns (n, 3, H/scale, W/scale) float32 in [0, 1] on 8-bit levels."""
    u = uniform_draws(seed ^ _STREAM, index, N_DRAWS)
    return torch.stack([degrade_crop(hr / 255, scale, chain, row) for hr, row in zip(pixels, u, strict=True)])


def degrade_crop(hr: torch.Tensor, scale: int, chain: RealisticDegradation, u: np.ndarray) -> torch.Tensor:
    """The chain on one HR crop ``hr`` (3, H, W) float32 in [0, 1], H and W multiples of ``scale``, with its
    ``N_DRAWS`` uniforms ``u``: (3, H/scale, W/scale) float32 in [0, 1] on 8-bit levels (k/255)."""
    lr_size = (hr.shape[1] // scale, hr.shape[2] // scale)
    second, method, final_jpeg, quality, clean = u[2 * _PASS_DRAWS:]
    if clean < chain.clean_prob:
        return imresize_uint8((hr * 255).round_(), 1 / scale).div_(255)
    img = _pass(hr[None], lr_size, chain.first, chain.resize_methods, u[:_PASS_DRAWS])
    if second < chain.second_prob:
        img = _pass(img, lr_size, chain.second, chain.resize_methods, u[_PASS_DRAWS:2 * _PASS_DRAWS])
    pixels = _to_uint8(_resize(img, lr_size, _choice(method, chain.resize_methods)))
    if final_jpeg < chain.final_jpeg_prob:
        pixels = jpeg(pixels, _whole(quality, chain.final_quality))
    return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255)


def _pass(img: torch.Tensor, lr_size: tuple[int, int], p: DegradationPass, methods: tuple[str, ...],
          u: np.ndarray) -> torch.Tensor:
    """One pass on (1, 3, h, w) float32 in [0, 1]; the result is r × ``lr_size``."""
    (blur, size, anisotropic, sigma_x, sigma_y, angle, generalized, beta, resize, method,
     noise, poisson, noise_sigma, grey, noise_seed, compress, quality) = u
    if blur < p.blur_prob:
        sx = _uniform(sigma_x, p.sigma)
        sy = _uniform(sigma_y, p.sigma) if anisotropic < p.anisotropic_prob else sx
        shape = _log_uniform(beta, p.beta) if generalized < p.generalized_prob else 1.0
        lo, hi = p.kernel_size
        img = convolve(img, blur_kernel(lo + 2 * int(size * ((hi - lo) // 2 + 1)), sx, sy, math.pi * angle, shape))
    r = _log_uniform(resize, p.resize)
    img = _resize(img, (max(1, round(r * lr_size[0])), max(1, round(r * lr_size[1]))), _choice(method, methods))
    if noise < p.noise_prob:
        img = _add_noise(img, _uniform(noise_sigma, p.noise_sigma), poisson < p.poisson_prob,
                         grey < p.grey_noise_prob, int(noise_seed * 2**53))
    if compress < p.jpeg_prob:
        img = torch.from_numpy(jpeg(_to_uint8(img), _whole(quality, p.quality))).permute(2, 0, 1)[None] / 255
    return img


def blur_kernel(size: int, sigma_x: float, sigma_y: float, angle: float, beta: float = 1.0) -> np.ndarray:
    """(size, size) float64 kernel summing to 1: exp(−½ (xᵀΣ⁻¹x)^β) at the integer offsets x from the centre, with
    Σ = R diag(σx², σy²) Rᵀ and R the rotation by ``angle`` (radians). β = 1 is a Gaussian."""
    t = np.arange(size) - (size - 1) / 2
    x, y = np.meshgrid(t, t)  # x along columns, y along rows
    along = math.cos(angle) * x + math.sin(angle) * y  # coordinates on the kernel's own axes
    across = -math.sin(angle) * x + math.cos(angle) * y
    k = np.exp(-0.5 * ((along / sigma_x) ** 2 + (across / sigma_y) ** 2) ** beta)
    return k / k.sum()


def convolve(img: torch.Tensor, kernel: np.ndarray) -> torch.Tensor:
    """(1, C, H, W) filtered per channel with an odd square ``kernel`` (point-symmetric, so correlation is
    convolution), edges replicated: same size out."""
    pad = kernel.shape[0] // 2
    c = img.shape[1]
    weight = torch.from_numpy(kernel).to(img.dtype).expand(c, 1, *kernel.shape)
    return F.conv2d(F.pad(img, (pad, pad, pad, pad), mode="replicate"), weight, groups=c)


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """uint8 (H, W, 3) compressed as a JPEG of ``quality`` (1–100) and decoded again: real block, ringing and
    colour artefacts, on the image's own 8×8 grid (4:2:0 chroma, libjpeg via Pillow, in memory)."""
    buffer = io.BytesIO()
    Image.fromarray(img).save(buffer, format="JPEG", quality=quality, subsampling="4:2:0")
    return np.array(Image.open(buffer).convert("RGB"))


def _resize(img: torch.Tensor, size: tuple[int, int], method: str) -> torch.Tensor:
    """(1, 3, h, w) in [0, 1] resized to ``size`` by a ``RESIZE_METHODS`` name, clipped to [0, 1]."""
    out = resize_to(img, size) if method == "matlab" else naive_resize(img, size, method)
    return out.clamp_(0, 1)


def _add_noise(img: torch.Tensor, sigma: float, poisson: bool, grey: bool, seed: int) -> torch.Tensor:
    """``img`` plus noise of σ ``sigma`` (8-bit units; Poisson: at white), clipped to [0, 1]."""
    x = img[0].double().numpy()
    base = x.mean(axis=0, keepdims=True) if grey else x  # grey: one field, from the mean of the channels
    if poisson:
        photons = (255 / sigma) ** 2
        noise = (poisson_draws(base * photons, seed) - base * photons) / photons
    else:
        noise = normal_draws(seed, base.shape) * (sigma / 255)
    return torch.from_numpy(np.clip(x + noise, 0, 1)).to(img.dtype)[None]


def _to_uint8(img: torch.Tensor) -> np.ndarray:
    """(1, 3, h, w) in [0, 1] → uint8 (h, w, 3)."""
    return img[0].mul(255).round_().clamp_(0, 255).to(torch.uint8).permute(1, 2, 0).numpy()


def _uniform(u: float, bounds: tuple[float, float]) -> float:
    return bounds[0] + u * (bounds[1] - bounds[0])


def _log_uniform(u: float, bounds: tuple[float, float]) -> float:
    return bounds[0] * (bounds[1] / bounds[0]) ** u


def _whole(u: float, bounds: tuple[int, int]) -> int:
    """A whole number from ``bounds`` (inclusive), each equally likely."""
    return bounds[0] + int(u * (bounds[1] - bounds[0] + 1))


def _choice(u: float, options: tuple[str, ...]) -> str:
    return options[int(u * len(options))]
