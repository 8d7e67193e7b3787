"""The paper's three networks, and an offline-installable perceptual feature network, as plain ``nn.Module``s."""

from srgan.models.discriminator import Discriminator
from srgan.models.efficientnet import EfficientNetLite0Features
from srgan.models.generator import Generator, GeneratorConfig
from srgan.models.vgg import VGG19Features

__all__ = ["Discriminator", "EfficientNetLite0Features", "Generator", "GeneratorConfig", "VGG19Features"]
