"""The GPU side of the default path, for a lent GPU (`benchmarks/gpu_check.sh` runs this file first; skipped
without CUDA, so `make test` never needs one): the result assembled and rounded on the device, integers crossing
to it as they are, bands copied from it, the pipeline around it. These paths run nowhere else, so each is held to
a path that runs everywhere: the same pixels as the host-assembled result on the same GPU, and the CPU's within
TF32 rounding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from srgan import api, images, pipeline, runtime
from srgan.api import Upscaler
from srgan.batch import Job
from srgan.images import Picture

from .conftest import tiny_generator
from .test_bands import smooth

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def upscaler(device: str = "cuda", tile: int | str = 16) -> Upscaler:
    return Upscaler(tiny_generator(scale=2, blocks=1), device, "fp32", tile=tile)


@pytest.mark.parametrize(("channels", "dtype"), [(3, np.uint8), (1, np.uint16), (4, np.uint8), (3, np.uint16)])
def test_the_result_assembled_on_the_gpu_is_the_host_assembled_one(monkeypatch: pytest.MonkeyPatch, channels: int,
                                                                    dtype: type) -> None:
    image = smooth(37, 29, channels, dtype)
    up = upscaler()
    on_device = up.upscale(image)
    monkeypatch.setattr(api, "GPU_RESULT_FRACTION", 0)  # the float result is assembled in host memory instead
    on_host = up.upscale(image)
    assert on_device.dtype == dtype and on_device.shape == (74, 58, channels)
    assert np.array_equal(on_device, on_host)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_result_copied_from_the_gpu_is_the_cpus_rounding(dtype: type) -> None:
    """Three row chunks, a uint8 one queued into page-locked memory (the last chunk's copy must be waited for);
    rounding one float32 product is exact on both devices, so the integers are equal."""
    t = torch.rand(1, 3, 2000, 2048, generator=torch.Generator().manual_seed(0))
    out = api._to_integer(t.cuda(), np.dtype(dtype))
    assert out.dtype == dtype and torch.from_numpy(out).is_pinned() == (dtype == np.uint8)
    assert np.array_equal(out, api._to_integer(t, np.dtype(dtype)))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_the_gpu_agrees_with_the_cpu(dtype: type) -> None:
    """Within TF32's rounding of the convolutions: a level or two at most, and a fraction of a level on average;
    a swapped channel or a transposed copy would be off by tens."""
    image = smooth(40, 33, 3, dtype)
    levels = np.iinfo(dtype).max / 255
    diff = np.abs(upscaler().upscale(image).astype(np.int64) - upscaler("cpu").upscale(image)) / levels
    assert diff.max() <= 2 and diff.mean() < 0.5


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_bands_from_the_gpu_are_the_in_memory_result(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     dtype: type) -> None:
    src = tmp_path / "in.png"
    images.save(Picture(smooth(40, 33, 3, dtype)), src)
    up = upscaler(tile=8)
    whole = up.upscale_file(src, tmp_path / "whole.png")
    monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", 1)  # every output that can be written in bands is
    assert up.writes_in_bands(images.load(src), "x.png")
    banded = up.upscale_file(src, tmp_path / "banded.png")
    assert np.array_equal(images.load(banded).color, images.load(whole).color)


def test_the_pipeline_on_the_gpu_writes_what_upscale_gives(tmp_path: Path) -> None:
    up = upscaler(tile="auto")
    pictures = [smooth(24 + 8 * k, 30, 3) for k in range(4)]
    jobs = []
    for k, p in enumerate(pictures):
        images.save(Picture(p), tmp_path / f"{k}.png")
        jobs.append(Job(tmp_path / f"{k}.png", tmp_path / "out" / f"{k}.png"))
    done = list(pipeline.upscale_files(jobs, up, threads=2))
    assert [d.error for d in done] == [None] * 4
    for job, p in zip(jobs, pictures, strict=True):
        assert np.array_equal(images.load(job.dst).color, up.upscale(p))
