"""The benchmark protocol: mod-crop HR to the scale, LR = MATLAB-bicubic ×1/scale, super-resolve, score on Y with a
border crop of ``scale`` pixels, average per dataset over images. Any upscaler is a function LR → SR on uint8 arrays,
so the same code scores bicubic, a weight file, or the trainer's generator mid-run.

PSNR-Y and SSIM-Y compare SR with HR. NIQE, the grid index and the blocking index score an image alone, and the
lattice score uses the HR only to find its flat areas, so a table that shows them also scores the HR images
themselves: the reference row an SR result is read against (a GAN can beat it on NIQE). An image without enough
flat area has no lattice score: it is left out of that mean only (listed in ``DatasetResult.left_out``), since
such images (Set14's baboon, bridge and coastguard) are an ordinary part of a benchmark, not a failure.

Real inputs are rarely clean bicubic downscales. ``degrade`` names one of ``DEGRADE_PRESETS``: a fixed,
deterministic degradation of each image's LR (JPEG, noise, blur), applied before super-resolving and identically
for every upscaler, bicubic included, so that the table still compares like with like. ``alias`` replaces the
MATLAB downscale itself by a naive one, as thumbnailers and OpenCV users make their small images.
"""

from __future__ import annotations

import json
import math
import warnings
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from srgan import images
from srgan.data.datasets import EvalPairs
from srgan.data.degrade import alias_downscale, imresize, quantize
from srgan.data.draws import normal_draws
from srgan.data.realistic import jpeg
from srgan.errors import SrganError
from srgan.fileio import write_output
from srgan.images import Picture
from srgan.metrics import NoFlatArea, blocking, grid_index, lattice, niqe, psnr_y, ssim_y

UpscaleFn = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Metric:
    """One score of the protocol: its key in results and JSON, its table column and legend, and whether it compares
    with the HR image (``reference``: then the HR images get no row of it)."""

    key: str
    label: str
    note: str
    fmt: str
    reference: bool
    score: Callable[[np.ndarray, np.ndarray, int], float]  # (image, hr, scale) → value


METRICS: dict[str, Metric] = {
    "psnr": Metric("psnr_y", "PSNR-Y", "dB vs HR", ".3f", True, psnr_y),
    "ssim": Metric("ssim_y", "SSIM-Y", "vs HR", ".4f", True, ssim_y),
    "niqe": Metric("niqe", "NIQE", "lower = more natural", ".3f", False, lambda img, hr, scale: niqe(img, scale)),
    "grid": Metric("grid", "grid", "1 = no sub-pixel grid", ".3f", False,
                   lambda img, hr, scale: grid_index(img, period=scale, crop=scale)),
    "blocking": Metric("blocking", "blocking", "1 = no edges on the LR's 8×8 block grid", ".3f", False,
                       lambda img, hr, scale: blocking(img, block=8 * scale, period=scale, crop=scale)),
    "lattice": Metric("lattice", "lattice", "Y levels of dots per LR pixel in flat areas, 0 = none", ".3f", False,
                      lambda img, hr, scale: lattice(img, hr, period=scale, crop=scale)),
}
DEFAULT_METRICS = ("psnr", "ssim")


@dataclass(frozen=True)
class Degradation:
    """A fixed degradation of the benchmark LR: ``make_lr(name, hr, lr, scale)`` → the uint8 LR every upscaler gets
    instead of the clean ``lr``; the same pixels in every run (``name``, the image's path in its folder, seeds it)."""

    name: str
    description: str
    make_lr: Callable[[str, np.ndarray, np.ndarray, int], np.ndarray]


def _noisy(name: str, lr: np.ndarray, sigma: float) -> np.ndarray:
    """``lr`` plus Gaussian noise of σ ``sigma`` (8-bit units), independent per pixel and channel, rounded."""
    return quantize(lr + sigma * normal_draws(zlib.crc32(name.encode()), lr.shape))


def _gaussian_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W, C) filtered with a normalised Gaussian of σ ``sigma`` pixels (radius ⌈3σ⌉), edges replicated, in
    float64: same size out."""
    r = math.ceil(3 * sigma)
    taps = np.exp(-(np.arange(-r, r + 1) ** 2) / (2 * sigma**2))
    taps /= taps.sum()
    h, w = img.shape[:2]
    padded = np.pad(img.astype(np.float64), ((r, r), (r, r), (0, 0)), mode="edge")
    rows = sum(t * padded[i:i + h] for i, t in enumerate(taps))
    return sum(t * rows[:, i:i + w] for i, t in enumerate(taps))


DEGRADE_PRESETS: dict[str, Degradation] = {
    "jpeg75": Degradation("jpeg75", "JPEG quality 75 (4:2:0) of the LR", lambda name, hr, lr, scale: jpeg(lr, 75)),
    "jpeg50": Degradation("jpeg50", "JPEG quality 50 (4:2:0) of the LR", lambda name, hr, lr, scale: jpeg(lr, 50)),
    "noise5": Degradation("noise5", "Gaussian noise σ = 5/255 on the LR, seeded by the image's name",
                          lambda name, hr, lr, scale: _noisy(name, lr, 5.0)),
    # Optics blur the scene before the sensor samples it: so the blur acts on the HR, before the downscale.
    "blur": Degradation("blur", "Gaussian blur σ = scale/2 HR pixels (half an LR pixel) before the MATLAB-bicubic "
                                "downscale",
                        lambda name, hr, lr, scale: quantize(imresize(_gaussian_blur(hr, scale / 2), 1 / scale))),
    # A naive downscaler samples the HR instead of averaging it: fine detail aliases into the LR.
    "alias": Degradation("alias", "the LR made by a bicubic without antialiasing (OpenCV's INTER_CUBIC: a = -0.75, "
                                  "edges clamped) instead of MATLAB's",
                         lambda name, hr, lr, scale: alias_downscale(hr, scale)),
}


@dataclass(frozen=True)
class ImageResult:
    """One image's scores, keyed by ``Metric.key`` ("psnr_y", "ssim_y", ...): the metrics asked for, less any it was
    left out of (``DatasetResult.left_out``)."""

    name: str
    scores: Mapping[str, float]

    @property
    def psnr_y(self) -> float:
        return self.scores["psnr_y"]

    @property
    def ssim_y(self) -> float:
        return self.scores["ssim_y"]


@dataclass(frozen=True)
class DatasetResult:
    """One folder's scores; each metric's value is the mean over the images of ``per_image`` that have it (the
    published tables' convention). ``skipped`` lists (file, reason) of the images left out of every mean,
    ``left_out`` (file, metric key, reason) those left out of one metric's mean (no flat area for the lattice)."""

    dataset: str
    per_image: tuple[ImageResult, ...]
    skipped: tuple[tuple[str, str], ...] = ()
    left_out: tuple[tuple[str, str, str], ...] = ()

    @property
    def images(self) -> int:
        return len(self.per_image)

    def mean(self, key: str) -> float:
        """The mean over the images scored on ``key``; NaN when none was."""
        values = [r.scores[key] for r in self.per_image if key in r.scores]
        return float(np.mean(values)) if values else math.nan

    def metric_keys(self) -> list[str]:
        """The metric keys of this row, in the order asked (including a metric no image could be scored on)."""
        found = [k for r in self.per_image for k in r.scores] + [key for _, key, _ in self.left_out]
        return list(dict.fromkeys(found))

    @property
    def psnr_y(self) -> float:
        return self.mean("psnr_y")

    @property
    def ssim_y(self) -> float:
        return self.mean("ssim_y")


@dataclass(frozen=True)
class Report:
    """Several upscalers on the same folders (``models``: (name, one result per folder)), plus the no-reference
    scores of the HR images (``hr``; empty when only PSNR/SSIM were asked)."""

    scale: int
    metrics: tuple[str, ...]
    models: tuple[tuple[str, tuple[DatasetResult, ...]], ...]
    hr: tuple[DatasetResult, ...] = ()
    degrade: str | None = None  # a DEGRADE_PRESETS name: what the LR went through

    def skipped(self) -> list[tuple[str, str]]:
        """Every (file, reason) left out of some mean, once each."""
        found: dict[str, str] = {}
        for results in [r for _, r in self.models] + [self.hr]:
            for r in results:
                for file, reason in r.skipped:
                    found.setdefault(file, reason)
        return list(found.items())


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """The baseline every SR table starts with: MATLAB-bicubic ×scale of uint8 (H, W, 3), rounded to uint8."""
    return imresize(lr, scale)


def evaluate(upscale_fn: UpscaleFn, folders: Sequence[str | Path], scale: int,
             save_dir: str | Path | None = None, overwrite: bool = False,
             metrics: Sequence[str] = DEFAULT_METRICS, degrade: str | None = None) -> list[DatasetResult]:
    """Score ``upscale_fn`` (uint8 (h, w, 3) LR → uint8 (h·scale, w·scale, 3) SR) on each folder of HR images.

    ``metrics``: names from ``METRICS``; ``degrade``: a name from ``DEGRADE_PRESETS``, applied to each LR before
    ``upscale_fn`` sees it. With ``save_dir``, SR images are written losslessly to
    ``save_dir/<dataset>/<name stem>.png``; an existing file there is an error unless ``overwrite``. Undecodable HR
    files, and images too small for a metric, are skipped with a warning naming them and listed in ``skipped``.
    """
    chosen = [_metric(m) for m in metrics]
    make_lr = None if degrade is None else _degradation(degrade).make_lr

    def upscaled(name: str, hr: np.ndarray, lr: np.ndarray) -> np.ndarray:
        sr = upscale_fn(lr if make_lr is None else make_lr(name, hr, lr, scale))
        if sr.dtype != np.uint8 or sr.shape != hr.shape:
            raise ValueError(f"upscaler returned {sr.dtype} {sr.shape} for {name}; expected uint8 {hr.shape}")
        return sr

    save = None if save_dir is None else Path(save_dir)
    return [_score_folder(Path(f), scale, upscaled, chosen, save, overwrite) for f in folders]


def evaluate_hr(folders: Sequence[str | Path], scale: int, metrics: Sequence[str]) -> list[DatasetResult]:
    """The no-reference ``metrics`` (the others are ignored) of the HR images themselves, mod-cropped to ``scale`` and
    with its border crop: what the benchmark's natural images score."""
    chosen = [m for m in map(_metric, metrics) if not m.reference]
    if not chosen:
        raise ValueError(f"none of {list(metrics)} scores an image alone (no-reference metrics: "
                         f"{[n for n, m in METRICS.items() if not m.reference]})")
    return [_score_folder(Path(f), scale, lambda name, hr, lr: hr, chosen) for f in folders]


def evaluate_models(upscalers: Mapping[str, UpscaleFn], folders: Sequence[str | Path], scale: int,
                    metrics: Sequence[str] = DEFAULT_METRICS, save_dir: str | Path | None = None,
                    overwrite: bool = False, degrade: str | None = None) -> Report:
    """:func:`evaluate` for each named upscaler (on LR degraded by ``degrade``, if given), and :func:`evaluate_hr`
    when a no-reference metric is asked.

    With ``save_dir``, each model's images go to ``save_dir/<name stem>/<dataset>/``; names whose stems coincide
    (two files called generator.safetensors) are refused before anything runs.
    """
    stems = [Path(name).stem for name in upscalers]
    if save_dir is not None and len(set(stems)) < len(stems):
        raise SrganError(f"two models would save to the same folder ({', '.join(upscalers)}); "
                         "rename a weights file", save_dir)
    if degrade is not None:
        _degradation(degrade)  # an unknown name fails before anything runs
    models = tuple(
        (name, tuple(evaluate(fn, folders, scale, None if save_dir is None else Path(save_dir) / stem, overwrite,
                              metrics, degrade)))
        for (name, fn), stem in zip(upscalers.items(), stems, strict=True))
    no_reference = any(not _metric(m).reference for m in metrics)
    hr = tuple(evaluate_hr(folders, scale, metrics)) if no_reference else ()
    return Report(scale, tuple(metrics), models, hr, degrade)


def format_table(report: Report) -> str:
    """The table ``srgan eval`` prints: one row per (dataset, model), then the HR row of each dataset."""
    chosen = [METRICS[m] for m in report.metrics]
    rows: list[tuple[str, DatasetResult]] = []
    for i in range(len(report.models[0][1])):  # every model has one result per folder, in the same order
        rows += [(name, results[i]) for name, results in report.models]
        rows += [("HR", report.hr[i])] if report.hr else []
    dw = max(len("dataset"), *(len(r.dataset) for _, r in rows)) + 2
    mw = max(len("model"), *(len(m) for m, _ in rows)) + 2
    widths = [max(len(m.label), 7) + 2 for m in chosen]
    lines = [f"x{report.scale}, border crop {report.scale}: " + "; ".join(f"{m.label} {m.note}" for m in chosen)]
    if report.degrade is not None:
        lines.append(f"LR degraded ({report.degrade}): {DEGRADE_PRESETS[report.degrade].description}")
    lines.append(f"{'dataset':<{dw}}{'model':<{mw}}{'images':>6}"
                 + "".join(f"{m.label:>{w}}" for m, w in zip(chosen, widths, strict=True)))
    for model, r in rows:
        cells = [format(r.mean(m.key), m.fmt) if any(m.key in i.scores for i in r.per_image) else "-"
                 for m in chosen]
        lines.append(f"{r.dataset:<{dw}}{model:<{mw}}{r.images:>6}"
                     + "".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True))
                     + (f"  ({len(r.skipped)} skipped)" if r.skipped else ""))
    lines += _left_out_notes(rows)
    return "\n".join(lines)


def _left_out_notes(rows: Sequence[tuple[str, DatasetResult]]) -> list[str]:
    """One line per (dataset, metric) with images left out of that metric's mean (the same for every row: they
    depend on the HR image alone)."""
    notes: dict[tuple[str, str], list[str]] = {}
    for _, r in rows:
        for file, key, _ in r.left_out:
            files = notes.setdefault((r.dataset, key), [])
            if Path(file).name not in files:
                files.append(Path(file).name)
    label = {m.key: m.label for m in METRICS.values()}
    return [f"{dataset}: {label[key]} is the mean over the other images; left out (too little flat area): "
            + ", ".join(files) for (dataset, key), files in notes.items()]


def results_json(report: Report) -> dict[str, Any]:
    """The ``srgan eval --json`` document: {"scale", "metrics": [keys], "degrade", "models": [{"model", "results":
    [dataset]}], "hr": [dataset]} where "degrade" is null (the clean LR) or {"name", "description"}, a dataset is
    {"dataset", "images", <key>: mean, ..., "skipped": [{"file", "reason"}], "left_out": [{"file", "metric",
    "reason"}], "per_image": [{"name", <key>: value, ...}]} and the keys are "psnr_y", "ssim_y", "niqe", "grid",
    "blocking", "lattice" as asked ("hr" has the no-reference ones of the clean HR images, and is empty when none
    was asked). An image in "left_out" has no value of that metric in "per_image"; a mean over no image is null."""
    def dataset(r: DatasetResult) -> dict[str, Any]:
        means = {k: r.mean(k) for k in r.metric_keys()}
        return {"dataset": r.dataset, "images": r.images,
                **{k: None if math.isnan(v) else v for k, v in means.items()},
                "skipped": [{"file": f, "reason": why} for f, why in r.skipped],
                "left_out": [{"file": f, "metric": key, "reason": why} for f, key, why in r.left_out],
                "per_image": [{"name": i.name, **i.scores} for i in r.per_image]}

    return {
        "scale": report.scale,
        "metrics": [METRICS[m].key for m in report.metrics],
        "degrade": None if report.degrade is None else {"name": report.degrade,
                                                        "description": DEGRADE_PRESETS[report.degrade].description},
        "models": [{"model": name, "results": [dataset(r) for r in results]} for name, results in report.models],
        "hr": [dataset(r) for r in report.hr],
    }


def write_json(path: str | Path, report: Report, overwrite: bool = False) -> None:
    """Write :func:`results_json` to ``path``; an existing file only with ``overwrite``."""
    text = json.dumps(results_json(report), indent=2) + "\n"
    write_output(path, lambda tmp: tmp.write_text(text), overwrite)


def _metric(name: str) -> Metric:
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r} (known: {', '.join(METRICS)})")
    return METRICS[name]


def _degradation(name: str) -> Degradation:
    if name not in DEGRADE_PRESETS:
        raise ValueError(f"unknown degradation {name!r} (known: {', '.join(DEGRADE_PRESETS)})")
    return DEGRADE_PRESETS[name]


def _score_folder(folder: Path, scale: int, image_of: Callable[[str, np.ndarray, np.ndarray], np.ndarray],
                  metrics: Sequence[Metric], save_dir: Path | None = None, overwrite: bool = False) -> DatasetResult:
    """Score ``image_of(name, hr, lr)`` for each image of ``folder`` (the SR result, or the HR image itself)."""
    pairs = EvalPairs(folder, scale)
    dataset = folder.resolve().name
    per_image, too_small, left_out = [], [], []
    for name, hr, lr in pairs:
        img = image_of(name, hr, lr)
        scores, unscored = {}, []
        try:
            for m in metrics:
                try:
                    scores[m.key] = m.score(img, hr, scale)
                except NoFlatArea as e:  # no lattice score for this image: left out of that mean only
                    unscored.append((str(folder / name), m.key, str(e)))
        except ValueError as e:  # the image is too small for a metric (shapes and types are checked before)
            too_small.append((str(folder / name), str(e)))
            warnings.warn(f"{folder / name}: skipped ({e})", stacklevel=3)
            continue
        if save_dir is not None:
            images.save(Picture(img), save_dir / dataset / Path(name).with_suffix(".png"), overwrite)
        per_image.append(ImageResult(name, scores))
        left_out += unscored
    if not per_image:
        raise SrganError("no usable images (all skipped)", folder)
    return DatasetResult(dataset, tuple(per_image), (*pairs.skipped, *too_small), tuple(left_out))

