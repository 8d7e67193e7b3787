"""An inference-only SRResNet graph, rebuilt from a trained ``Generator`` at load time and never saved.

It computes the same function as ``Generator.forward`` in eval mode, rearranged for speed and memory:

* BatchNorm (running statistics) is folded into the preceding convolution's weights and bias.
* The input is scaled to 0…255 and the head's weights by 1/255, so that 8-bit pixels are exact in bf16.
* Every activation runs in the ``dtype`` chosen once (weights converted at build time, so no per-call casts and no
  autocast) and in channels_last, the layout oneDNN's fast convolutions use, fp32 included. The graph converts its
  input itself, so callers (``srgan.tiling``, ``srgan.api``) deal in plain fp32 NCHW windows and never choose a
  precision or a layout; they ask the graph for its memory (``FastGenerator.window_bytes_per_pixel``).
* PReLU of an upsampling block is applied *before* its PixelShuffle, with each slope repeated for the r² channels
  that the shuffle moves into that output channel (PReLU is per-channel, so this commutes).
* The last PixelShuffle and the 9×9 output convolution become one convolution on the pre-shuffle tensor followed by
  a shuffle of its 3·r² output channels (``subpixel_conv_weight``): the C-channel map at full output resolution is
  never materialised.
* The upsampling blocks (the last one with the output convolution) run in strips of rows (``strip_rows``), each
  strip's shuffle writing straight into the preallocated result: the 4·C-channel maps only ever exist strip by
  strip, cache-sized and reused by the allocator, so peak memory is set by the low-resolution body and the result.
"""

from __future__ import annotations

import itertools
import math

import torch
import torch.nn.functional as F
from torch import nn

from srgan import runtime
from srgan.models.generator import Generator

# Elements of an upsampling block's 4·C-channel pre-shuffle map per strip: 4 MiB in bf16, 8 MiB in fp32, so a strip
# stays in the last-level cache and under glibc's mmap threshold (fresh mmaps page-fault on every call).
STRIP_ELEMENTS = 1 << 21
# The input enters as x · 255 (the head's weights divided to match): 8-bit levels 0…255 are exact in bf16, whereas
# x = level / 255 rounded to bf16 moves by up to half a level, which alone cost 0.03 dB PSNR-Y in a measured case.
INPUT_SCALE = 255.0
# oneDNN ran the 5×5 sub-pixel tail 1.4× faster with its 3·r² = 12 output channels padded with zeros to 16.
_OUT_CHANNEL_MULTIPLE = 16
_CL = torch.channels_last


def fold_batchnorm(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of the single convolution equal to ``bn(conv(x))`` with ``bn`` in eval mode."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    return conv.weight * scale[:, None, None, None], (bias - bn.running_mean) * scale + bn.bias


def subpixel_conv_weight(weight: torch.Tensor, r: int) -> tuple[torch.Tensor, int]:
    """Rewrite ``conv(PixelShuffle_r(z), weight, padding=k // 2)`` as ``PixelShuffle_r(conv(z, w', padding=p'))``.

    ``weight`` (O, C, k, k) with k odd acts at the fine resolution. Output pixel (r·h + i, r·w + j), tap dy reads
    fine row r·h + i + dy − k//2 = r·(h + q) + s, i.e. pre-shuffle channel c·r² + s·r + s_x at coarse row h + q. So
    w' has shape (O·r², C·r², K, K), its output channel o·r² + i·r + j being output phase (i, j) of channel o,
    K = 2·ceil((k//2) / r) + 1, and zero padding p' = K // 2 equals the original zero padding exactly.
    Returns (w', p').
    """
    o, c, k, k2 = weight.shape
    if k != k2 or k % 2 == 0:
        raise ValueError(f"expected a square odd kernel, got {k}×{k2}")
    pad = k // 2
    p = -((-pad) // r)  # ceil(pad / r): reach in coarse pixels on each side
    out = weight.new_zeros(o, r, r, c, r, r, 2 * p + 1, 2 * p + 1)  # o, i, j, c, s_y, s_x, q_y, q_x
    for i, j, dy, dx in itertools.product(range(r), range(r), range(k), range(k)):
        ay, ax = i + dy - pad, j + dx - pad
        out[:, i, j, :, ay % r, ax % r, ay // r + p, ax // r + p] = weight[:, :, dy, dx]
    return out.reshape(o * r * r, c * r * r, 2 * p + 1, 2 * p + 1), p


def strip_rows(channels: int, width: int) -> int:
    """Input rows per strip: ``STRIP_ELEMENTS`` of a (channels, rows, width) pre-shuffle map, at least 8."""
    return max(8, STRIP_ELEMENTS // max(1, channels * width))


def _rows(x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
    """Rows [start, stop) of ``x`` (N, C, H, W), zeros where they fall outside [0, H): a conv's zero padding."""
    height = x.shape[2]
    lo, hi = max(start, 0), min(stop, height)
    if lo == start and hi == stop:
        return x[:, :, lo:hi]
    return F.pad(x[:, :, lo:hi], (0, 0, lo - start, stop - hi))


class _Conv(nn.Module):
    """A frozen convolution, optionally followed by a per-channel PReLU (slopes as given, one per output channel)."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, slope: torch.Tensor | None = None) -> None:
        super().__init__()
        # Buffers, not parameters: nothing here is trained, and persistent=False keeps the graph out of state_dict.
        self.register_buffer("weight", weight.detach().clone().contiguous(memory_format=_CL), persistent=False)
        self.register_buffer("bias", bias.detach().clone(), persistent=False)
        self.register_buffer("slope", None if slope is None else slope.detach().clone(), persistent=False)
        self.padding = weight.shape[-1] // 2

    def forward(self, x: torch.Tensor, padding: int | tuple[int, int] | None = None) -> torch.Tensor:
        y = F.conv2d(x, self.weight, self.bias, padding=self.padding if padding is None else padding)
        return y if self.slope is None else F.prelu(y, self.slope)


class _Residual(nn.Module):
    """conv → PReLU → conv, BatchNorms folded, plus the identity."""

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.conv1 = _Conv(*fold_batchnorm(block.conv1, block.bn1), block.act.weight)
        self.conv2 = _Conv(*fold_batchnorm(block.conv2, block.bn2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x)).add_(x)


class _Upsample(nn.Module):
    """Conv to 4·C channels → PReLU (slopes repeated ×4, before the shuffle) → PixelShuffle ×2, in strips of rows.

    Each strip's conv output is shuffled straight into the preallocated channels_last result, so the 4·C-channel
    map never exists at full size.
    """

    def __init__(self, block: nn.Module) -> None:
        super().__init__()
        self.conv = _Conv(block.conv.weight, block.conv.bias, block.act.weight.repeat_interleave(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, height, width = x.shape
        out = torch.empty((n, c, 2 * height, 2 * width), dtype=x.dtype, device=x.device, memory_format=_CL)
        step = strip_rows(4 * c, width)
        for k, a in itertools.product(range(n), range(0, height, step)):
            b = min(a + step, height)
            z = self.conv(_rows(x[k : k + 1], a - 1, b + 1), padding=(0, 1))[0]  # (4·C, b − a, width)
            # channel c·4 + i·2 + j goes to output (c, 2h + i, 2w + j); write it through NHWC views of both
            out[k, :, 2 * a : 2 * b].permute(1, 2, 0).view(b - a, 2, width, 2, c).copy_(
                z.permute(1, 2, 0).view(b - a, width, c, 2, 2).permute(0, 3, 1, 4, 2))
        return out


class _LastStage(nn.Module):
    """The last upsampling block fused with the 9×9 output convolution, run in strips of rows.

    For output rows (at this stage's input resolution) [a, b) the sub-pixel tail reads the pre-shuffle map z at rows
    [a − p, b + p), zero outside the image. Strips go top to bottom and the 2p rows of z shared with the previous
    strip are kept rather than recomputed, so each row of z is computed once.
    """

    def __init__(self, block: nn.Module, tail: nn.Conv2d) -> None:
        super().__init__()
        self.up = _Conv(block.conv.weight, block.conv.bias, block.act.weight.repeat_interleave(4))
        w, self.reach = subpixel_conv_weight(tail.weight, 2)
        self.n_out = w.shape[0]
        padded = math.ceil(self.n_out / _OUT_CHANNEL_MULTIPLE) * _OUT_CHANNEL_MULTIPLE
        b = tail.bias.repeat_interleave(4)
        self.tail = _Conv(F.pad(w, (0, 0, 0, 0, 0, 0, 0, padded - self.n_out)), F.pad(b, (0, padded - self.n_out)))

    def _z(self, x: torch.Tensor, start: int, stop: int) -> torch.Tensor:
        """Rows [start, stop) of z = PReLU(conv(x)), zero outside the image (the tail's zero padding)."""
        height = x.shape[2]
        lo, hi = max(start, 0), min(stop, height)
        if lo >= hi:  # only padding rows (short last strips)
            shape = (x.shape[0], self.up.weight.shape[0], stop - start, x.shape[3])
            return torch.zeros(shape, dtype=x.dtype, device=x.device).contiguous(memory_format=_CL)
        z = self.up(_rows(x, lo - 1, hi + 1), padding=(0, 1))  # a conv reads input rows t − 1 … t + 1 for row t
        return _rows(z, start - lo, stop - lo)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n, c, height, width = x.shape
        out = torch.empty((n, self.n_out // 4, 2 * height, 2 * width), dtype=torch.float32, device=x.device)
        step, p = strip_rows(4 * c, width), self.reach
        for k in range(n):
            z = self._z(x[k : k + 1], -p, p)  # rows [a − p, a + p) for a = 0
            for a in range(0, height, step):
                b = min(a + step, height)
                z = torch.cat([z[:, :, -2 * p :], self._z(x[k : k + 1], a + p, b + p)], dim=2)  # [a − p, b + p)
                y = self.tail(z, padding=(0, p))[0, : self.n_out]
                # y: (3·4, b − a, width), channel o·4 + i·2 + j is output channel o at sub-pixel (i, j)
                out[k, :, 2 * a : 2 * b].view(-1, b - a, 2, width, 2).copy_(
                    y.view(-1, 2, 2, b - a, width).permute(0, 3, 1, 4, 2))
        return out


class FastGenerator(nn.Module):
    """Inference-only SRResNet equal to a ``Generator`` in eval mode (see the module docstring).

    Tensor contract: LR RGB float (N, 3, H, W) in [0, 1], any dtype and layout, on the weights' device → float32
    (N, 3, s·H, s·W), NCHW contiguous, nominally in [−1, 1]; computed in ``dtype`` (None or float32: fp32), in
    channels_last whatever the input's layout. Run it without autocast: the precision is already fixed.
    """

    def __init__(self, g: Generator, dtype: torch.dtype | None = None) -> None:
        super().__init__()
        self.config = g.config
        self.dtype = dtype or torch.float32
        with torch.no_grad():
            self.head = _Conv(g.head[0].weight / INPUT_SCALE, g.head[0].bias, g.head[1].weight)
            self.body = nn.Sequential(*(_Residual(b) for b in g.body))
            self.body_tail = _Conv(*fold_batchnorm(g.body_tail[0], g.body_tail[1]))
            self.upsample = nn.Sequential(*(_Upsample(b) for b in g.upsample[:-1]))
            self.last = _LastStage(g.upsample[-1], g.tail)
        self.to(self.dtype)

    @property
    def scale(self) -> int:
        return self.config.scale

    @property
    def device(self) -> torch.device:
        return self.head.weight.device

    def window_bytes_per_pixel(self) -> float:
        """Peak memory of one forward pass in bytes per LR pixel of its input, for sizing tiles.

        Elements per LR pixel (C channels, k = log2(scale) upsampling blocks): the residual body holds 4·C; a middle
        upsampling block its input and output, 5·C·4^(j−1); the last stage its input, C·4^(k−1), while its strips
        stay cache-sized. Counted on top: the float32 result and the caller's cropped copy, 2·3·scale². Measured at
        ×4 in fp32: 1.14 KB per pixel against the 1.66 KB estimated here. On a CPU without native bf16, PyTorch
        runs reduced precision through its unfolding convolution, which also buffers the sub-pixel tail's 5×5 taps
        of its 4·C channels at twice the LR size.
        """
        c, s = self.config.channels, self.config.scale
        k, itemsize = int(math.log2(s)), self.dtype.itemsize
        elements = max([4 * c, c * 4 ** (k - 1)] + [5 * c * 4 ** (j - 1) for j in range(1, k)])
        im2col = self.device.type == "cpu" and self.dtype != torch.float32 and not runtime.cpu_has_native_bf16()
        unfold = 25 * c * s**2 * itemsize if im2col else 0
        return elements * itemsize + 2 * 3 * s**2 * 4 + unfold

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(self.upsample(self._features(x)))

    def _features(self, x: torch.Tensor) -> torch.Tensor:
        """The low-resolution trunk: head, residual blocks, body tail and the long skip connection."""
        h = self.head((x * INPUT_SCALE).to(self.dtype, memory_format=_CL))
        return self.body_tail(self.body(h)).add_(h)


def optimize_for_inference(g: Generator, dtype: torch.dtype | None = None) -> FastGenerator:
    """The inference graph of ``g`` (weights copied, on ``g``'s device), computing in ``dtype`` (None: fp32).

    BatchNorm contributes its running statistics whatever mode ``g`` is in; ``g`` itself is left unchanged."""
    return FastGenerator(g, dtype).eval()
