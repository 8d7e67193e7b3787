"""Generator weight files: safetensors tensors + metadata that rebuilds the architecture.

A weight file never contains code, so loading one cannot execute anything. Metadata values are strings
(safetensors' rule); structured values are stored as JSON and decoded on read. A file is checked before it costs
anything: metadata types and ranges, then every tensor's name and shape from the header against the architecture
the metadata describes (so hostile metadata cannot make srgan allocate more than the file holds), then every value
is finite (a diverged run's NaN would otherwise upscale to a black image).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save as safetensors_bytes

from srgan.errors import SrganError, check_number
from srgan.fileio import atomic_write
from srgan.models import Generator, GeneratorConfig

FORMAT = "srgan-generator"
# Version 2 names the architecture's settings as GeneratorConfig and `srgan train` do; version 1 (the shipped
# files among them) called the residual block count n_blocks. Both are read.
FORMAT_VERSION = 2
_V1_CONFIG_NAMES = {"n_blocks": "blocks"}
_RESERVED = ("format", "format_version", "architecture", "config")

WEIGHTS_DIR = Path(__file__).parent
# Shipped models: name → (file inside this package, sha256 of that file). Checked on every load.
SHIPPED: dict[str, tuple[str, str]] = {
    "srresnet-x4": ("srresnet_x4.safetensors", "6ba5949f55f67d06884eeb41f405f930ce17a09b0045c0da50af0fd9a94179db"),
    "srgan-x4": ("srgan_x4.safetensors", "c1f0ceeea6c71f373124e5cbb89e5bb2927a5bb79b5e160376af38ca447d5806"),
    "real-x4": ("real_x4.safetensors", "1a14bfae7011418740579400986dc6b078ae86a3bdfedf74cb16380ed2f67ade"),
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
    try:
        data = _sorted_header(safetensors_bytes(tensors, metadata=header))
        return atomic_write(path, lambda tmp: tmp.write_bytes(data))
    except OSError as e:
        raise SrganError(f"weights not written ({e.strerror or e})", path) from e


def _sorted_header(data: bytes) -> bytes:
    """safetensors writes the header's keys in hash-map order, another one per file: the same tensors and metadata
    gave other bytes, and another sha256 for the registry, at every save. The same file with the header's keys
    sorted (tensor offsets count from the end of the header, so its length may change)."""
    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + n]), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    text = header.encode() + b" " * (-len(header.encode()) % 8)  # padded to 8 bytes, as safetensors does
    return len(text).to_bytes(8, "little") + text + data[8 + n :]


def read_metadata(path: str | Path) -> dict[str, Any]:
    """The file's metadata with JSON values decoded; raises SrganError for anything not an srgan weight file."""
    path = Path(path)
    raw = _open(path, lambda f: f.metadata())
    return _decode(path, raw)


def load(path: str | Path, map_location: str | torch.device = "cpu") -> Generator:
    """Rebuild the generator described by the file's metadata and load its tensors (cast to fp32)."""
    path = Path(path)
    config = read_metadata(path)["config"]
    _check_shapes(path, config, _open(path, lambda f: {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}))  # noqa: SIM118
    tensors = _open(path, lambda f: {k: f.get_tensor(k) for k in f.keys()})  # noqa: SIM118 (safe_open API)
    for k, v in tensors.items():
        if v.is_floating_point() and not torch.isfinite(v).all():
            raise SrganError(f"tensor {k} holds NaN or infinite values (a damaged file, or saved from a diverged "
                             "run)", path)
    model = Generator(**config)
    own = model.state_dict()
    model.load_state_dict({k: v.to(own[k].dtype) for k, v in tensors.items()})
    return model.to(map_location).eval()


def _check_shapes(path: Path, config: dict[str, int], shapes: dict[str, tuple[int, ...]]) -> None:
    """The header's tensor names and shapes against the architecture ``config`` describes, before anything is
    allocated: the block count first (the expected shapes come from a generator built on the meta device, whose
    cost grows with it), then every name and shape."""
    blocks = len({k.split(".")[1] for k in shapes if k.startswith("body.")})
    if blocks != config["blocks"]:
        raise SrganError(f"the metadata says {config['blocks']} residual blocks, the file holds {blocks}", path)
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Generator(**config).state_dict().items()}
    missing = sorted(set(expected) - set(shapes))
    extra = sorted(set(shapes) - set(expected))
    if missing or extra:
        raise SrganError(f"tensors do not match the {config} generator "
                         f"(missing: {missing[:3]}, unexpected: {extra[:3]})", path)
    for k, shape in expected.items():
        if shapes[k] != shape:
            raise SrganError(f"tensor {k} has shape {shapes[k]}, but the metadata's architecture needs {shape}", path)


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
        kind = _other_format(path)
        if kind:
            raise SrganError(f"this is {kind}; srgan reads .safetensors weight files (it never unpickles)",
                             path) from e
        raise SrganError(f"not a valid safetensors weight file ({str(e).splitlines()[0]})", path) from e


def _other_format(path: Path) -> str | None:
    """What a file safetensors cannot read is, when its first bytes say so: the formats people mistake for weight
    files, whose first eight bytes safetensors would otherwise report as an absurd header size."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError:
        return None
    if head.startswith(b"PK\x03\x04"):
        return "a PyTorch checkpoint (torch.save: a zip of pickles)"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "a Python pickle (torch.save's legacy format, or pickle.dump)"
    if head.startswith(b"\x89HDF"):
        return "an HDF5 (Keras) file"
    # ONNX: a protobuf ModelProto, field 1 (ir_version, a small varint) and then another of its fields.
    if len(head) >= 3 and head[0] == 0x08 and head[1] < 0x80 and head[2] in (0x12, 0x1A, 0x22, 0x28, 0x32, 0x3A, 0x42):
        return "an ONNX model"
    return None


def _decode(path: Path, raw: dict[str, str] | None) -> dict[str, Any]:
    """Decoded metadata whose format version and architecture config are checked: types first (a file may say
    "4" or 2.5 where a whole number belongs), then GeneratorConfig's own rules."""
    if not raw or raw.get("format") != FORMAT:
        raise SrganError("safetensors file without srgan generator metadata (format != 'srgan-generator')", path)
    meta: dict[str, Any] = {}
    for k, v in raw.items():
        try:
            meta[k] = json.loads(v) if k not in ("format", "architecture") else v
        except json.JSONDecodeError:
            meta[k] = v
    check_number("metadata format_version", meta.get("format_version"), 1, path=path)
    if meta["format_version"] > FORMAT_VERSION:
        raise SrganError(f"weights format version {meta['format_version']} is newer than this srgan "
                         f"(reads up to {FORMAT_VERSION}); upgrade srgan", path)
    # The config's keys as this version spells them; the decoded metadata has GeneratorConfig's.
    renamed = _V1_CONFIG_NAMES if meta["format_version"] == 1 else {}
    spelling = {new: old for old, new in renamed.items()}
    config, keys = meta.get("config"), sorted(spelling.get(f.name, f.name) for f in fields(GeneratorConfig))
    if not isinstance(config, dict) or sorted(config) != keys:
        raise SrganError(f"metadata config must be a JSON object with the keys {', '.join(keys)}, got "
                         f"{raw.get('config')!r}", path)
    for key in keys:
        check_number(f"metadata config.{key}", config[key], 1, path=path)
    meta["config"] = {renamed.get(k, k): v for k, v in config.items()}
    try:
        GeneratorConfig(**meta["config"])
    except ValueError as e:
        raise SrganError(f"bad architecture metadata ({e})", path) from e
    return meta
