import json
import os
import pickle
from pathlib import Path

import pytest
import torch

from srgan import weights
from srgan.errors import SrganError

from .conftest import tiny_generator


def test_round_trip_is_bit_identical(tmp_path: Path) -> None:
    g = tiny_generator(scale=8, blocks=3, channels=12)
    path = weights.save(g, tmp_path / "g.safetensors", steps=123, data=[{"source": "x", "license": "CC0"}])
    h = weights.load(path)
    assert h.config == g.config
    assert not h.training
    x = torch.rand(1, 3, 9, 10)
    with torch.no_grad():
        assert torch.equal(g(x), h(x))
    for (k, a), (_, b) in zip(g.state_dict().items(), h.state_dict().items(), strict=True):
        assert torch.equal(a, b), k
    meta = weights.read_metadata(path)
    assert meta["config"] == {"scale": 8, "blocks": 3, "channels": 12}
    assert meta["steps"] == 123 and meta["data"][0]["license"] == "CC0"
    assert meta["format_version"] == 2


def test_same_weights_and_metadata_give_the_same_bytes(tmp_path: Path) -> None:
    # safetensors orders the header by hash map, anew per file: re-shipping unchanged weights changed the sha256.
    g = tiny_generator(scale=2, blocks=2, channels=8)
    metadata = {"name": "x", "card": "≈ ×4 — 26.4 dB", "steps": 10, "data": [{"source": "a"}], "seed": 1, "lr": 1e-4}
    files = [weights.save(g, tmp_path / f"{i}.safetensors", **metadata).read_bytes() for i in range(4)]
    assert all(f == files[0] for f in files[1:])
    n = int.from_bytes(files[0][:8], "little")
    assert n % 8 == 0
    header = json.loads(files[0][8 : 8 + n])
    assert list(header["__metadata__"]) == sorted(header["__metadata__"])
    assert weights.read_metadata(tmp_path / "0.safetensors")["card"] == metadata["card"]
    loaded = weights.load(tmp_path / "0.safetensors").state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in g.state_dict().items())

def test_format_version_1_loads(tmp_path: Path) -> None:
    """Version 1, the shipped files among them, called the block count n_blocks: read as ``blocks``."""
    from safetensors.torch import save_file

    g = tiny_generator(scale=2, blocks=3, channels=8)
    path = tmp_path / "v1.safetensors"
    save_file({k: v.contiguous() for k, v in g.state_dict().items()}, path, metadata={
        "format": "srgan-generator", "format_version": "1", "architecture": "srresnet",
        "config": json.dumps({"scale": 2, "n_blocks": 3, "channels": 8})})
    assert weights.read_metadata(path)["config"] == {"scale": 2, "blocks": 3, "channels": 8}
    for (k, a), b in zip(g.state_dict().items(), weights.load(path).state_dict().values(), strict=True):
        assert torch.equal(a, b), k
    for name in weights.SHIPPED:  # not rewritten: each keeps the version it was shipped in
        assert sorted(weights.read_metadata(weights.resolve(name))["config"]) == ["blocks", "channels", "scale"]


def test_half_storage_loads_as_float(tmp_path: Path) -> None:
    g = tiny_generator()
    path = weights.save(g, tmp_path / "g16.safetensors", dtype=torch.float16)
    h = weights.load(path)
    assert all(p.dtype == torch.float32 for p in h.parameters())
    assert h.state_dict()["body.0.bn1.num_batches_tracked"].item() == 7


def test_new_weight_files_get_umask_permissions(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = weights.save(tiny_generator(), tmp_path / "g.safetensors")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644


def test_reserved_metadata_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="reserved"):
        weights.save(tiny_generator(), tmp_path / "x.safetensors", config={})


@pytest.mark.parametrize("kind", ["empty", "truncated", "pickle", "text", "no-metadata", "wrong-shape"])
def test_bad_files_give_clear_errors(tmp_path: Path, kind: str) -> None:
    from safetensors.torch import save_file

    good = weights.save(tiny_generator(), tmp_path / "good.safetensors")
    bad = tmp_path / f"{kind}.safetensors"
    if kind == "empty":
        bad.write_bytes(b"")
    elif kind == "truncated":
        bad.write_bytes(good.read_bytes()[:-100])
    elif kind == "pickle":
        bad.write_bytes(pickle.dumps(tiny_generator().state_dict()))
    elif kind == "text":
        bad.write_text("hello, I am not weights\n")
    elif kind == "no-metadata":
        save_file({"a": torch.zeros(2)}, bad)
    else:
        g = tiny_generator(channels=8)
        meta = weights.read_metadata(good)
        state = {k: v.contiguous() for k, v in g.state_dict().items()}
        state["tail.bias"] = torch.zeros(5)
        save_file(state, bad, metadata={k: weights.json.dumps(v) if k == "config" else str(v)
                                        for k, v in meta.items()})
    with pytest.raises(SrganError) as err:
        weights.load(bad)
    msg = str(err.value)
    assert msg.startswith(str(bad) + ": ")
    assert "\n" not in msg
    expected = {"empty": "not a valid safetensors", "truncated": "not a valid safetensors",
                "pickle": "this is a Python pickle", "text": "not a valid safetensors",
                "no-metadata": "without srgan generator metadata", "wrong-shape": "tail.bias has shape (5,)"}
    assert expected[kind] in msg


def test_missing_file() -> None:
    with pytest.raises(SrganError, match=r"nope\.safetensors: no such weights file"):
        weights.resolve("nope.safetensors")
