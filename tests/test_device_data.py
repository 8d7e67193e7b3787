"""Patches made on the device (``srgan.data.device``) are the DataLoader path's patches, item for item."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan.cli import main
from srgan.data.datasets import PatchDataset, apply_symmetry
from srgan.data.device import DevicePatches, symmetry_grids
from srgan.errors import SrganError
from srgan.train.config import build_config
from srgan.train.degradation import RealisticDegradation

from .test_train import TINY, records

pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def odd_sizes(tmp_path: Path) -> Path:
    """Images of different, odd sizes: the flat buffer's offsets and row lengths differ per image."""
    d = tmp_path / "odd"
    d.mkdir()
    rng = np.random.default_rng(1)
    for i, (h, w) in enumerate([(37, 53), (64, 41), (49, 49), (100, 33)]):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(d / f"{i}.png")
    return d


def test_symmetry_grids_gather_what_apply_symmetry_makes() -> None:
    crop = np.arange(5 * 5).reshape(5, 5)
    grids = symmetry_grids(5).numpy()
    for s in range(8):
        assert np.array_equal(crop[grids[s, 0], grids[s, 1]], apply_symmetry(crop, s))
    assert len({apply_symmetry(crop, s).tobytes() for s in range(8)}) == 8  # the eight are distinct


@pytest.mark.parametrize("scale", [2, 4])
def test_device_items_equal_the_datasets(odd_sizes: Path, scale: int) -> None:
    dataset = PatchDataset([odd_sizes], patch=32, scale=scale, seed=3, length=10**6)
    patches = DevicePatches(dataset, torch.device("cpu"))
    index = np.array([0, 1, 2, 5, 77, 1234, 999_999, 31, 8, 9, 10, 11], dtype=np.int64)
    lr, hr = patches.items(index)
    items = dataset.__getitems__(index.tolist())
    assert lr.shape == (len(index), 3, 32 // scale, 32 // scale) and hr.shape == (len(index), 3, 32, 32)
    assert torch.equal(lr, torch.stack([a for a, _ in items]))
    assert torch.equal(hr, torch.stack([b for _, b in items]))
    image, _, _, sym = dataset.draw(index)
    assert len(set(image.tolist())) == 4 and len(set(sym.tolist())) > 4  # every image and many symmetries drawn


def test_device_batches_follow_the_index_stream(odd_sizes: Path) -> None:
    dataset = PatchDataset([odd_sizes], patch=16, scale=4, seed=0, length=100)
    batches = DevicePatches(dataset, torch.device("cpu")).batches(iter(range(6, 100)), 3)
    next(batches)
    _, hr = next(batches)
    assert torch.equal(hr, torch.stack([dataset[i][1] for i in (9, 10, 11)]))


def test_the_realistic_chain_is_not_made_on_the_device(odd_sizes: Path, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    dataset = PatchDataset([odd_sizes], patch=16, scale=4, degradation=RealisticDegradation())
    with pytest.raises(ValueError, match="bicubic degradation only"):
        DevicePatches(dataset, torch.device("cpu"))
    with pytest.raises(SrganError, match="--loader device makes the bicubic degradation only"):
        build_config({"out": str(tmp_path / "r"), "data": [str(odd_sizes)], "loader": "device",
                      "degradation": "realistic"})
    assert main(["train", "--out", str(tmp_path / "r2"), "--data", str(odd_sizes), "--loader", "device",
                 "--degradation", "realistic", *TINY, "--steps", "1"]) == 2
    assert "--loader device makes the bicubic degradation only" in capsys.readouterr().err
    assert not (tmp_path / "r2").exists()


def test_a_run_with_device_patches_trains_as_one_with_workers(tmp_path: Path, data_dir: Path) -> None:
    runs = {}
    for loader, workers in (("workers", "1"), ("device", "0")):
        run = tmp_path / loader
        args = [*TINY, "--workers", workers, "--loader", loader, "--steps", "4", "--seed", "5"]
        assert main(["train", "--out", str(run), "--data", str(data_dir), *args]) == 0
        assert f"patches made by {loader}" in (run / "train.log").read_text()
        runs[loader] = [r["g"] for r in records(run)]
    assert len(runs["device"]) == 4
    assert runs["device"] == runs["workers"]
