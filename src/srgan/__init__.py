"""srgan: SRGAN / SRResNet super-resolution (Ledig et al. 2017) — train, evaluate, upscale."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("srgan")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["Upscaler", "__version__", "load_model"]


def __getattr__(name: str) -> object:
    """``srgan.load_model`` and ``srgan.Upscaler`` import torch only when first used, so ``import srgan`` stays fast."""
    if name in ("load_model", "Upscaler"):
        from srgan import api

        return getattr(api, name)
    raise AttributeError(f"module 'srgan' has no attribute {name!r}")
