"""srgan: SRGAN / SRResNet super-resolution (Ledig et al. 2017) — train, evaluate, upscale."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("srgan")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
