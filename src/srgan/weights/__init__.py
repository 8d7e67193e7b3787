"""Generator weight files: safetensors tensors + metadata that rebuilds the architecture.

A weight file never contains code, so loading one cannot execute anything. Metadata values are strings
(safetensors' rule); structured values are stored as JSON and decoded on read.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from srgan.errors import SrganError
from srgan.fileio import atomic_write
from srgan.models import Generator, GeneratorConfig

FORMAT = "srgan-generator"
FORMAT_VERSION = 1
_RESERVED = ("format", "format_version", "architecture", "config")

WEIGHTS_DIR = Path(__file__).parent
# Shipped models: name → (file inside this package, sha256 of that file). Checked on every load.
SHIPPED: dict[str, tuple[str, str]] = {
    "srresnet-x4": ("srresnet_x4.safetensors", "b2cb8cd04c6b807777c13ed05eb376db25c3afa930ff0683ee37c52a07dfd815"),
}
DEFAULT_MODEL = "srresnet-x4"
T = TypeVar("T")


def save(model: Generator, path: str | Path, dtype: torch.dtype | None = None, **metadata: Any) -> Path:
    """Write ``model`` and ``metadata`` (JSON-serialisable values) atomically to ``path``.

    ``dtype`` (e.g. ``torch.float16``) shrinks floating-point tensors for shipping; BatchNorm counters stay int.
    """
    path = Path(path)
    bad = [k for k in metadata if k in _RESERVED]
    if bad:
        raise ValueError(f"metadata keys {bad} are reserved")
    header = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "architecture": "srresnet",
        "config": json.dumps(model.config.to_dict()),
    } | {k: json.dumps(v) for k, v in metadata.items()}
    tensors = {}
    for k, v in model.state_dict().items():
        v = v.detach().to("cpu")
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        tensors[k] = v.contiguous()
    # Written through open() rather than safetensors.save_file, which creates files readable by their owner only.
    return atomic_write(path, lambda tmp: tmp.write_bytes(safetensors_bytes(tensors, metadata=header)))


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The file's metadata with JSON values decoded; raises SrganError for anything not an srgan weight file."""
    path = Path(path)
    raw = _open(path, lambda f: f.metadata())
    return _decode(path, raw)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> Generator:
    """Rebuild the generator described by the file's metadata and load its tensors (cast to fp32)."""
    path = Path(path)
    meta = read_metadata(path)
    model = Generator(**meta["config"])
    own = model.state_dict()
    tensors = _open(path, lambda f: {k: f.get_tensor(k) for k in f.keys()})  # noqa: SIM118 (safe_open API)
    missing = sorted(set(own) - set(tensors))
    extra = sorted(set(tensors) - set(own))
    if missing or extra:
        raise SrganError(f"tensors do not match the {meta['config']} generator "
                         f"(missing: {missing[:3]}, unexpected: {extra[:3]})", path)
    for k, v in tensors.items():
        if v.shape != own[k].shape:
            raise SrganError(f"tensor {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}", path)
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})
    return model.to(map_location).eval()


def sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def resolve(name_or_path: str | Path | None) -> Path:
    """A shipped model name (or None for the default) → its verified file; anything else is a path."""
    name = DEFAULT_MODEL if name_or_path is None else str(name_or_path)
    if name in SHIPPED:
        file, digest = SHIPPED[name]
        path = WEIGHTS_DIR / file
        if not path.is_file():
            raise SrganError(f"shipped model {name!r} is missing from the installation", path)
        if sha256(path) != digest:
            raise SrganError(f"shipped model {name!r} failed its sha256 check (file damaged?)", path)
        return path
    if name_or_path is None:
        raise SrganError(f"no shipped default model yet; pass a weights file (known names: {sorted(SHIPPED)})")
    path = Path(name)
    if not path.is_file():
        raise SrganError(f"no such weights file (shipped models: {', '.join(sorted(SHIPPED)) or 'none'})", path)
    return path


def _open(path: Path, read: Callable[[Any], T]) -> T:
    """Run ``read`` on the opened file, turning every parse failure into one SrganError naming the file."""
    if not path.is_file():
        raise SrganError("no such weights file", path)
    try:
        with safe_open(str(path), framework="pt") as f:
            return read(f)
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise SrganError(f"not a valid safetensors weight file ({str(e).splitlines()[0]})", path) from e


def _decode(path: Path, raw: dict[str, str] | None) -> dict[str, Any]:
    if not raw or raw.get("format") != FORMAT:
        raise SrganError("safetensors file without srgan generator metadata (format != 'srgan-generator')", path)
    if int(raw.get("format_version", "0")) > FORMAT_VERSION:
        raise SrganError(f"weights format version {raw['format_version']} is newer than this srgan "
                         f"(reads up to {FORMAT_VERSION}); upgrade srgan", path)
    meta: dict[str, Any] = {}
    for k, v in raw.items():
        try:
            meta[k] = json.loads(v) if k not in ("format", "architecture") else v
        except json.JSONDecodeError:
            meta[k] = v
    try:
        GeneratorConfig(**meta["config"])
    except (KeyError, TypeError, ValueError) as e:
        raise SrganError(f"bad architecture metadata ({e})", path) from e
    return meta
