"""The paper's discriminator (Ledig et al. 2017, Fig. 4): eight 3×3 convolutions and two dense layers."""

from __future__ import annotations

import torch
from torch import nn

# (out_channels, stride) of the seven conv + BN + LeakyReLU blocks after the first convolution.
_BLOCKS = ((64, 2), (128, 1), (128, 2), (256, 1), (256, 2), (512, 1), (512, 2))


class Discriminator(nn.Module):
    """HR/SR patch in [−1, 1], shape (N, 3, P, P) → one logit per image, shape (N, 1).

    The sigmoid is left to the loss (BCE-with-logits) for numerical stability. The dense layer's input
    size depends on the patch size, which must be divisible by 16 (four stride-2 convolutions).
    """

    def __init__(self, patch_size: int = 96) -> None:
        super().__init__()
        if patch_size % 16 or patch_size <= 0:
            raise ValueError(f"patch_size must be a positive multiple of 16, got {patch_size}")
        self.patch_size = patch_size
        layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, padding=1), nn.LeakyReLU(0.2)]
        c_in = 64
        for c_out, stride in _BLOCKS:
            layers += [nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out), nn.LeakyReLU(0.2)]
            c_in = c_out
        self.features = nn.Sequential(*layers)
        side = patch_size // 16
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(512 * side * side, 1024), nn.LeakyReLU(0.2), nn.Linear(1024, 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2:] != (self.patch_size, self.patch_size):
            raise ValueError(f"expected {self.patch_size}² patches, got {tuple(x.shape[-2:])}")
        return self.classifier(self.features(x))
