"""The paper's SRResNet generator (Ledig et al. 2017, Fig. 4)."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    """Architecture settings; stored in every weight file so loading can rebuild the network."""

    scale: int = 4
    blocks: int = 16  # residual blocks (``srgan train --blocks``)
    channels: int = 64

    def __post_init__(self) -> None:
        if self.scale not in (2, 4, 8):
            raise ValueError(f"scale must be 2, 4 or 8, got {self.scale}")
        if self.blocks < 1 or self.channels < 1:
            raise ValueError(f"blocks and channels must be positive, got {self.blocks}, {self.channels}")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


class ResidualBlock(nn.Module):
    """conv3×3 → BN → PReLU → conv3×3 → BN, plus the identity."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.act = nn.PReLU(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))


class UpsampleBlock(nn.Module):
    """conv3×3 to 4·C channels → PixelShuffle ×2 → PReLU (sub-pixel convolution, Shi et al. 2016)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(channels, channels * 4, 3, padding=1)
        self.shuffle = nn.PixelShuffle(2)
        self.act = nn.PReLU(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shuffle(self.conv(x)))


class Generator(nn.Module):
    """SRResNet: LR RGB in [0, 1], shape (N, 3, H, W) → SR RGB in [−1, 1], shape (N, 3, s·H, s·W).

    The last layer is a plain convolution with no activation, as drawn in the paper's Fig. 4: a tanh would
    saturate and slow the MSE pre-training at bright and dark pixels. The output is therefore only
    *nominally* in [−1, 1]; callers clamp when converting to an image (see ``srgan.tiling``).
    """

    def __init__(self, scale: int = 4, blocks: int = 16, channels: int = 64) -> None:
        super().__init__()
        self.config = GeneratorConfig(scale, blocks, channels)
        c = channels
        self.head = nn.Sequential(nn.Conv2d(3, c, 9, padding=4), nn.PReLU(c))
        self.body = nn.Sequential(*(ResidualBlock(c) for _ in range(blocks)))
        self.body_tail = nn.Sequential(nn.Conv2d(c, c, 3, padding=1), nn.BatchNorm2d(c))
        self.upsample = nn.Sequential(*(UpsampleBlock(c) for _ in range(int(math.log2(scale)))))
        self.tail = nn.Conv2d(c, 3, 9, padding=4)

    @property
    def scale(self) -> int:
        return self.config.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.head(x)
        h = h + self.body_tail(self.body(h))
        return self.tail(self.upsample(h))

    @staticmethod
    def receptive_radius(config: GeneratorConfig) -> int:
        """Radius, in LR pixels, of the input region that can influence one output pixel.

        Tiling uses it as the minimum overlap: head 9×9 (4) + 2 per residual block + body tail (1)
        + each upsampling conv (1 pixel at its own resolution) + the 9×9 tail (4 output pixels).
        """
        n_up = int(math.log2(config.scale))
        radius = 4 + 2 * config.blocks + 1 + sum(2.0**-i for i in range(n_up)) + 4 / config.scale
        return math.ceil(radius)
