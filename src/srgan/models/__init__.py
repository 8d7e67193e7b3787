"""The paper's three networks, as plain ``nn.Module``s."""

from srgan.models.discriminator import Discriminator
from srgan.models.generator import Generator, GeneratorConfig
from srgan.models.vgg import VGG19Features

__all__ = ["Discriminator", "Generator", "GeneratorConfig", "VGG19Features"]
