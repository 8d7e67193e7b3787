"""Frozen VGG19 feature extractor for the perceptual (content) loss.

The convolutional stack keeps torchvision's ``features.N`` indices so that torchvision's
``vgg19-dcbb9e9d.pth`` (and any file with the same keys) loads unchanged. Keras'
``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5`` (the seed project's VGG) loads too.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from pathlib import Path

import torch
from torch import nn

from srgan.errors import SrganError
from srgan.fileio import atomic_write, given_file, load_torch_state

TORCHVISION_URL = "https://download.pytorch.org/models/vgg19-dcbb9e9d.pth"
TORCHVISION_FILE = "vgg19-dcbb9e9d.pth"
ENV_VAR = "SRGAN_VGG19_WEIGHTS"

# torchvision's VGG19 configuration "E": channel counts, "M" = 2×2 max-pool.
_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
# φi,j of the paper = output of the ReLU after the j-th conv before the i-th pool; value = index of that ReLU.
LAYERS = {"22": 8, "54": 35}
# Semantic names on top of the indices (relu2_2 = φ2,2).
LAYER_NAMES = {"22": "relu2_2", "54": "relu5_4"}

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
# Keras/Caffe VGG: BGR input in [0, 255] minus these per-channel means (listed here in RGB order).
_CAFFE_MEAN_RGB = (123.68 / 255, 116.779 / 255, 103.939 / 255)

_HELP = (
    "VGG19 weights not found. Provide torchvision's vgg19 file (vgg19-dcbb9e9d.pth, keys features.N.weight) "
    f"with --vgg-weights PATH or ${ENV_VAR}, or put it in the torch hub cache "
    "(~/.cache/torch/hub/checkpoints/); it is downloaded there automatically when online."
)


def _build_features(last: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    c_in = 3
    for v in _CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c_in, int(v), 3, padding=1), nn.ReLU(inplace=True)]
            c_in = int(v)
    return nn.Sequential(*layers[: last + 1])


class VGG19Features(nn.Module):
    """RGB in [−1, 1] (the generator's range), shape (N, 3, H, W) → φ2,2 or φ5,4 features (after the ReLU).

    Normalisation to the weights' expected input (ImageNet mean/std for torchvision files, Caffe BGR mean for
    Keras files) happens inside, using registered buffers. Parameters are frozen and the module stays in eval
    mode; gradients still flow to the input, which is what the content loss needs.
    """

    def __init__(self, layer: str = "54", weights: str | Path | None = None, random_init: bool = False) -> None:
        """``random_init``: no weights at all; He-normal convolutions from the current torch RNG (a fixed random
        perceptual network; He init keeps the activation scale through the 16 convs, PyTorch's default shrinks it)."""
        super().__init__()
        if layer not in LAYERS:
            raise ValueError(f"layer must be one of {sorted(LAYERS)}, got {layer!r}")
        self.layer = layer
        self.features = _build_features(LAYERS[layer])
        self.register_buffer("mean", torch.tensor(_IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(_IMAGENET_STD).view(1, 3, 1, 1))
        if random_init:
            for conv in (m for m in self.features if isinstance(m, nn.Conv2d)):
                nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                nn.init.zeros_(conv.bias)
        else:
            path = resolve_weights(weights)
            if path.suffix.lower() in (".h5", ".hdf5"):
                self._load_keras(path)
            else:
                self._load_torchvision(path)
        self.requires_grad_(False)
        self.eval()

    @property
    def layer_name(self) -> str:
        return LAYER_NAMES[self.layer]

    def train(self, mode: bool = True) -> VGG19Features:
        """Always eval: the extractor is frozen, and VGG19 has no BN, so this only keeps intent explicit."""
        return super().train(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = ((x + 1) / 2 - self.mean) / self.std
        return self.features(x)

    def _needed_keys(self) -> list[str]:
        return [f"features.{i}.{p}" for i, m in enumerate(self.features) if isinstance(m, nn.Conv2d)
                for p in ("weight", "bias")]

    def _load_torchvision(self, path: Path) -> None:
        state = load_torch_state(path, "not a readable VGG19 state dict")
        if not isinstance(state, dict):
            raise SrganError("not a VGG19 state dict (expected a dict of tensors)", path)
        missing = [k for k in self._needed_keys() if k not in state]
        if missing:
            raise SrganError(f"not torchvision VGG19 weights: missing {', '.join(missing[:3])}"
                             + (f" and {len(missing) - 3} more" if len(missing) > 3 else ""), path)
        own = self.state_dict()
        for k in self._needed_keys():
            if tuple(state[k].shape) != tuple(own[k].shape):
                raise SrganError(f"{k} has shape {tuple(state[k].shape)}, expected {tuple(own[k].shape)}", path)
        self.features.load_state_dict({k.removeprefix("features."): state[k] for k in self._needed_keys()})

    def _load_keras(self, path: Path) -> None:
        try:
            import h5py
        except ImportError as e:
            raise SrganError("loading Keras .h5 VGG19 weights needs h5py (pip install h5py)", path) from e
        convs = [m for m in self.features if isinstance(m, nn.Conv2d)]
        # Keras names conv layers block{b}_conv{c}; the order matches torchvision's conv order.
        names = [f"block{b}_conv{c}" for b, n in enumerate((2, 2, 4, 4, 4), 1) for c in range(1, n + 1)]
        try:
            with h5py.File(path, "r") as f:
                for name, conv in zip(names, convs, strict=False):
                    if name not in f:
                        raise SrganError(f"not Keras VGG19 weights: missing layer {name}", path)
                    arrays: list = []
                    f[name].visititems(
                        lambda _name, obj, found=arrays: found.append(obj[()])
                        if isinstance(obj, h5py.Dataset) else None
                    )
                    kernel = next((a for a in arrays if a.ndim == 4), None)
                    bias = next((a for a in arrays if a.ndim == 1), None)
                    if kernel is None or bias is None:
                        raise SrganError(f"layer {name} has no kernel/bias", path)
                    # Keras kernels are (kh, kw, in, out); torch wants (out, in, kh, kw).
                    w = torch.from_numpy(kernel).permute(3, 2, 0, 1).contiguous()
                    if w.shape != conv.weight.shape:
                        raise SrganError(f"{name} kernel has shape {tuple(w.shape)}, expected "
                                         f"{tuple(conv.weight.shape)}", path)
                    conv.weight.data.copy_(w)
                    conv.bias.data.copy_(torch.from_numpy(bias))
        except OSError as e:
            raise SrganError(f"not a readable HDF5 file ({e})", path) from e
        # Caffe-converted weights expect BGR input in [0, 255] minus the mean: flip the first conv's input
        # channels so the model takes RGB, and express the rest as mean/std buffers.
        convs[0].weight.data = convs[0].weight.data.flip(1)
        self.mean.copy_(torch.tensor(_CAFFE_MEAN_RGB).view(1, 3, 1, 1))
        self.std.fill_(1 / 255)


def hub_cache_dir() -> Path:
    """torch hub's checkpoint folder (honours $TORCH_HOME), where torchvision also keeps its downloads."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def resolve_weights(weights: str | Path | None) -> Path:
    """Explicit path → $SRGAN_VGG19_WEIGHTS → torch hub cache → download torchvision's file when online."""
    given = given_file(weights, ENV_VAR, "VGG19 weights")
    if given is not None:
        return given
    cached = hub_cache_dir() / TORCHVISION_FILE
    if cached.is_file():
        return cached
    return download(TORCHVISION_URL, cached)


def download(url: str, dest: Path, timeout: float = 30.0) -> Path:
    """Fetch ``url`` to ``dest`` atomically (temp file + rename); offline → a SrganError that says what to do."""
    def fetch(tmp: Path) -> None:
        with urllib.request.urlopen(url, timeout=timeout) as response, open(tmp, "wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)

    try:
        return atomic_write(dest, fetch)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise SrganError(f"{_HELP} (download from {url} failed: {e})") from e
