"""The benchmark protocol: mod-crop HR to the scale, LR = MATLAB-bicubic ×1/scale, super-resolve, PSNR-Y/SSIM-Y with a
border crop of ``scale`` pixels, averaged per dataset over images. Any upscaler is a function LR → SR on uint8
arrays, so the same code scores bicubic, a weight file, or the trainer's generator mid-run.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from srgan.data.datasets import EvalPairs
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.fileio import atomic_write
from srgan.metrics import psnr_y, ssim_y

UpscaleFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ImageResult:
    name: str
    psnr_y: float
    ssim_y: float


@dataclass(frozen=True)
class DatasetResult:
    """One folder's scores; ``psnr_y``/``ssim_y`` are means over ``per_image`` (the published tables' convention)."""

    dataset: str
    per_image: tuple[ImageResult, ...]
    skipped: tuple[tuple[str, str], ...] = ()

    @property
    def images(self) -> int:
        return len(self.per_image)

    @property
    def psnr_y(self) -> float:
        return float(np.mean([r.psnr_y for r in self.per_image]))

    @property
    def ssim_y(self) -> float:
        return float(np.mean([r.ssim_y for r in self.per_image]))


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """The baseline every SR table starts with: MATLAB-bicubic ×scale of uint8 (H, W, 3), rounded to uint8."""
    return imresize(lr, scale)


def evaluate(upscale_fn: UpscaleFn, folders: Sequence[str | Path], scale: int,
             save_dir: str | Path | None = None, overwrite: bool = False) -> list[DatasetResult]:
    """Score ``upscale_fn`` (uint8 (h, w, 3) LR → uint8 (h·scale, w·scale, 3) SR) on each folder of HR images.

    With ``save_dir``, SR images are written losslessly to ``save_dir/<dataset>/<name stem>.png``; an existing
    file there is an error unless ``overwrite``. Undecodable HR files are skipped with a warning naming them.
    """
    results = []
    for folder in folders:
        folder = Path(folder)
        pairs = EvalPairs(folder, scale)
        dataset = folder.resolve().name
        per_image = []
        for name, hr, lr in pairs:
            sr = upscale_fn(lr)
            if sr.dtype != np.uint8 or sr.shape != hr.shape:
                raise ValueError(f"upscaler returned {sr.dtype} {sr.shape} for {name}; expected uint8 {hr.shape}")
            if save_dir is not None:
                _save_png(sr, Path(save_dir) / dataset / Path(name).with_suffix(".png"), overwrite)
            per_image.append(ImageResult(name, psnr_y(sr, hr, scale), ssim_y(sr, hr, scale)))
        if not per_image:
            raise SrganError("no usable images (all skipped)", folder)
        results.append(DatasetResult(dataset, tuple(per_image), tuple(pairs.skipped)))
    return results


def results_json(model: str, scale: int, results: Sequence[DatasetResult]) -> dict[str, Any]:
    """The ``srgan eval --json`` document: {"model", "scale", "results": [{"dataset", "images", "psnr_y", "ssim_y",
    "per_image": [{"name", "psnr_y", "ssim_y"}]}]}."""
    return {
        "model": model,
        "scale": scale,
        "results": [
            {"dataset": r.dataset, "images": r.images, "psnr_y": r.psnr_y, "ssim_y": r.ssim_y,
             "per_image": [{"name": i.name, "psnr_y": i.psnr_y, "ssim_y": i.ssim_y} for i in r.per_image]}
            for r in results
        ],
    }


def write_json(path: str | Path, model: str, scale: int, results: Sequence[DatasetResult]) -> None:
    """Write :func:`results_json` to ``path`` (replacing it atomically)."""
    text = json.dumps(results_json(model, scale, results), indent=2) + "\n"
    atomic_write(path, lambda tmp: tmp.write_text(text))


def _save_png(img: np.ndarray, path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise SrganError("already exists (pass --overwrite to replace it)", path)
    atomic_write(path, lambda tmp: Image.fromarray(img).save(tmp, format="PNG"))

