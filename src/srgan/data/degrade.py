"""MATLAB-compatible bicubic ``imresize``: the degradation every SR paper's LR images are made with.

MATLAB's algorithm, restated: a Keys cubic kernel with a = −0.5; when shrinking by s < 1 the kernel is widened
to 4/s taps and scaled by s (antialiasing); output pixel j (1-based) is centred at j/s + (1 − 1/s)/2 in input
coordinates; out-of-range taps mirror the image ("symmetric" padding); output size is ceil(s · size); integer
results are rounded like MATLAB's conversion from double (nearest, halves away from zero — not numpy's
half-to-even, which differs on exact ties, and ties are common: at ×2 and ×4 every weight is a multiple of 2⁻¹¹)
and saturated. Resizing is separable, so it is applied as one dense matrix per axis,
which vectorises over channels and batches and runs unchanged on a GPU.

Much software shrinks without antialiasing: OpenCV's ``resize`` (and with it many thumbnailers, game and video
scalers) samples the source at a fixed kernel width whatever the factor, so detail finer than the new pixel grid
aliases into false patterns. ``naive_resize`` restates OpenCV's four methods: output pixel j of an axis shrunk or
grown by s = in/out samples the input at (j + 0.5)·s − 0.5, with Keys' cubic at a = −0.75 ("bicubic", INTER_CUBIC),
the tent ("bilinear", INTER_LINEAR), floor(j·s) ("nearest", INTER_NEAREST), or averages the input over the
interval [j·s, (j + 1)·s] it covers, partly covered pixels weighted by their share ("area", INTER_AREA); taps past
an edge read the edge pixel (clamped). It is ours, in float64 weights: OpenCV's own uint8 path rounds its weights to
11 bits, so its results may differ from these by one level.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch


def _cubic(x: np.ndarray) -> np.ndarray:
    ax = np.abs(x)
    ax2, ax3 = ax * ax, ax * ax * ax
    return ((1.5 * ax3 - 2.5 * ax2 + 1) * (ax <= 1)
            + (-0.5 * ax3 + 2.5 * ax2 - 4 * ax + 2) * ((ax > 1) & (ax <= 2)))


def resize_taps(in_len: int, out_len: int, scale: float) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's imresize of one axis as taps: output i = Σ_k weight[i, k] · input[index[i, k]] (0-based indices,
    symmetric padding already folded in). ``scale`` is out/in, as MATLAB computes it from a requested size."""
    antialias = scale < 1
    width = 4.0 / scale if antialias else 4.0
    j = np.arange(1, out_len + 1, dtype=np.float64)
    u = j / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2
    idx = left[:, None] + np.arange(taps)[None, :]  # 1-based input positions
    dist = u[:, None] - idx
    w = scale * _cubic(scale * dist) if antialias else _cubic(dist)
    w /= w.sum(axis=1, keepdims=True)
    # Symmetric padding: positions 0, -1, ... mirror to 1, 2, ...; in_len+1 mirrors to in_len.
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len)[::-1]])
    return mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_len)], w


@lru_cache(maxsize=256)
def resize_matrix(in_len: int, out_len: int, scale: float) -> np.ndarray:
    """The (out_len, in_len) float64 matrix that resizes one axis exactly as MATLAB's imresize does."""
    src, w = resize_taps(in_len, out_len, scale)
    m = np.zeros((out_len, in_len), dtype=np.float64)
    np.add.at(m, (np.repeat(np.arange(out_len), src.shape[1]), src.ravel()), w.ravel())
    m.setflags(write=False)
    return m


def resize_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """MATLAB's ``imresize(x, [rows cols])`` of a float tensor (..., H, W), no rounding: each axis by its own
    scale (out/in). Applied as taps rather than dense matrices, so that memory and time grow with the image, not
    its square: this resizes whole ×4 outputs (``srgan upscale --outscale``)."""
    for axis, out_len in ((-2, size[0]), (-1, size[1])):
        in_len = x.shape[axis]
        if out_len != in_len:
            x = _apply_taps(x, axis, *resize_taps(in_len, out_len, out_len / in_len))
    return x


def _apply_taps(x: torch.Tensor, axis: int, src: np.ndarray, w: np.ndarray) -> torch.Tensor:
    """Output i along ``axis`` (negative) = Σ_k w[i, k] · x[src[i, k]]: one axis of a separable resize."""
    index = torch.tensor(src, device=x.device)
    weight = torch.tensor(w, device=x.device, dtype=x.dtype)
    shape, out_shape = [1] * x.dim(), list(x.shape)
    shape[axis] = out_shape[axis] = len(src)
    out = x.new_zeros(out_shape)
    for k in range(src.shape[1]):
        out += x.index_select(x.dim() + axis, index[:, k]) * weight[:, k].reshape(shape)
    return out


NAIVE_METHODS = ("bicubic", "bilinear", "nearest", "area")  # OpenCV's CUBIC, LINEAR, NEAREST and AREA


@lru_cache(maxsize=256)
def naive_taps(in_len: int, out_len: int, method: str) -> tuple[np.ndarray, np.ndarray]:
    """One axis of ``naive_resize`` as taps: output i = Σ_k weight[i, k] · input[index[i, k]] (0-based indices,
    clamped to the edges), weights float64 summing to 1 per output. Cached: training draws the same few sizes."""
    s = in_len / out_len
    j = np.arange(out_len, dtype=np.float64)
    if method == "nearest":
        return np.minimum(np.floor(j * s), in_len - 1).astype(np.int64)[:, None], np.ones((out_len, 1))
    if method == "area":  # the input pixels k whose [k, k + 1] overlaps [j·s, (j + 1)·s], weighted by the overlap
        k = np.floor(j * s)[:, None] + np.arange(math.ceil(s) + 1)[None, :]
        overlap = np.minimum(k + 1, (j[:, None] + 1) * s) - np.maximum(k, j[:, None] * s)
        return np.minimum(k, in_len - 1).astype(np.int64), np.maximum(overlap, 0) / s
    src = (j + 0.5) * s - 0.5
    left = np.floor(src)
    t = (src - left)[:, None]
    if method == "bilinear":
        offsets, w = np.arange(2), np.concatenate([1 - t, t], axis=1)
    elif method == "bicubic":
        offsets = np.arange(-1, 3)
        w = _keys_cubic(t - offsets[None, :], -0.75)
    else:
        raise ValueError(f"unknown resize method {method!r} (known: {', '.join(NAIVE_METHODS)})")
    return np.clip(left[:, None] + offsets[None, :], 0, in_len - 1).astype(np.int64), w


def _keys_cubic(x: np.ndarray, a: float) -> np.ndarray:
    """Keys' cubic convolution kernel with parameter ``a`` (−0.5: MATLAB; −0.75: OpenCV), support (−2, 2)."""
    ax = np.abs(x)
    inner = ((a + 2) * ax - (a + 3)) * ax * ax + 1
    outer = a * (((ax - 5) * ax + 8) * ax - 4)
    return inner * (ax <= 1) + outer * ((ax > 1) & (ax < 2))


def naive_resize(x: torch.Tensor, size: tuple[int, int], method: str = "bicubic") -> torch.Tensor:
    """Resize a float tensor (..., H, W) to ``size`` (rows, cols) without antialiasing, as OpenCV's ``resize``
    with the INTER_* ``method`` of ``NAIVE_METHODS`` (see the module docstring); no rounding or clipping, so bicubic
    overshoots [0, 1] or [0, 255] near edges like the real thing before saturation."""
    if method not in NAIVE_METHODS:
        raise ValueError(f"unknown resize method {method!r} (known: {', '.join(NAIVE_METHODS)})")
    for axis, out_len in ((-2, size[0]), (-1, size[1])):
        if out_len != x.shape[axis]:
            x = _apply_taps(x, axis, *naive_taps(x.shape[axis], out_len, method))
    return x


def alias_downscale(img: np.ndarray, scale: int) -> np.ndarray:
    """uint8 (H, W, 3) or (H, W), H and W multiples of ``scale``, shrunk by 1/``scale`` with ``naive_resize``'s
    bicubic (OpenCV's INTER_CUBIC) and rounded halves up, saturated: an LR that aliases, as a naive
    downscaler makes it."""
    x = torch.from_numpy(np.ascontiguousarray(np.moveaxis(np.atleast_3d(img), -1, 0))).double()
    out = naive_resize(x, (img.shape[0] // scale, img.shape[1] // scale), "bicubic")
    return quantize(np.moveaxis(out.numpy(), 0, -1)).reshape(img.shape[0] // scale, img.shape[1] // scale,
                                                             *img.shape[2:])


def output_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """MATLAB's output size: ceil(scale · size) per axis."""
    return math.ceil(size[0] * scale - 1e-9), math.ceil(size[1] * scale - 1e-9)


def imresize(img: np.ndarray | torch.Tensor, scale: float) -> np.ndarray | torch.Tensor:
    """Resize by ``scale`` (e.g. 1/4 to make an LR image) with MATLAB's bicubic.

    numpy: HW or HWC, uint8 (rounded and clipped like MATLAB) or float (no clipping).
    torch: float tensor (..., H, W) — e.g. (N, C, H, W) — on any device; no rounding or clipping.
    """
    if isinstance(img, torch.Tensor):
        h, w = img.shape[-2:]
        oh, ow = output_size((h, w), scale)
        mh = torch.tensor(resize_matrix(h, oh, scale), device=img.device, dtype=img.dtype)
        mw = torch.tensor(resize_matrix(w, ow, scale), device=img.device, dtype=img.dtype)
        return mh @ img @ mw.T
    h, w = img.shape[:2]
    oh, ow = output_size((h, w), scale)
    x = img.astype(np.float64) if img.dtype != np.float64 else img
    mh, mw = resize_matrix(h, oh, scale), resize_matrix(w, ow, scale)
    rest = x.shape[2:]
    out = (mh @ x.reshape(h, -1)).reshape(oh, w, -1)  # rows
    out = np.matmul(mw, out).reshape(oh, ow, *rest)  # columns, batched over output rows
    if img.dtype in (np.uint8, np.uint16):
        return quantize(out, img.dtype)
    return out.astype(img.dtype)


def imresize_uint8(x: torch.Tensor, scale: float) -> torch.Tensor:
    """``imresize`` of uint8 pixel values held in a float32 tensor (..., H, W), quantised as for uint8 (float32 out).

    Bit-identical to numpy ``imresize`` on the uint8 image. This is the training-patch hot path: the vertical pass
    (the larger one when shrinking) runs in float32 when that is exact — every weight a multiple of 2⁻ᵏ and every
    partial sum below 2²⁴·2⁻ᵏ, as at ×1/2 and ×1/4 — and the horizontal pass in float64, which is then exact too;
    otherwise both passes run in float64.
    """
    h, w = x.shape[-2:]
    oh, ow = output_size((h, w), scale)
    mh, mw = resize_matrix(h, oh, scale), resize_matrix(w, ow, scale)
    if _float32_exact(h, oh, scale):
        rows = (torch.tensor(mh, dtype=torch.float32, device=x.device) @ x).double()
    else:
        rows = torch.tensor(mh, device=x.device) @ x.double()
    return quantize(rows @ torch.tensor(mw.T, device=x.device)).float()


@lru_cache(maxsize=64)
def _float32_exact(in_len: int, out_len: int, scale: float) -> bool:
    """Whether resize_matrix(in_len, out_len, scale) applied to values in [0, 255] is exact in float32."""
    m = resize_matrix(in_len, out_len, scale)
    for k in range(24):
        if np.array_equal(m * 2.0**k, np.round(m * 2.0**k)):
            return float(np.abs(m).sum(axis=1).max()) * 255 * 2.0**k < 2.0**24
    return False


def quantize(x: np.ndarray | torch.Tensor, dtype: type[np.integer] = np.uint8) -> np.ndarray | torch.Tensor:
    """MATLAB's double → uint8/uint16 conversion: round halves up (values are clipped at 0 first), saturate.

    numpy input returns an array of ``dtype``; a torch tensor stays floating point (integer-valued), in place.
    """
    top = float(np.iinfo(dtype).max)
    if isinstance(x, torch.Tensor):
        return x.clamp_(0, top).add_(0.5).floor_()
    return np.floor(np.clip(x, 0, top) + 0.5).astype(dtype)
