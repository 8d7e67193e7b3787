"""``srgan report``: one self-contained HTML page to look at results rather than read them.

Two kinds of page. For images: per LR image a before/after slider (any two of LR, bicubic, SR and HR when it is
known; or, for two models, of LR, each model's result and HR), the crops where the compared pair differs most shown
enlarged with nearest-neighbour pixels, and PSNR-Y/SSIM-Y with the benchmark protocol (border crop = scale) when HR
is known. For a training run folder: loss, validation and throughput curves (matplotlib, Agg) — for a GAN run also
D's accuracy and NIQE —, the newest preview grids, a summary (best validation, a failed stop), the config and the end
of the log.

Everything is inline (images as data: URIs, CSS, a few lines of JS) and a Content-Security-Policy forbids any
fetch, so the file can be mailed or archived and opens offline exactly as it was written.
"""

from __future__ import annotations

import base64
import datetime
import glob
import html
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from srgan import __version__
from srgan.api import find_inputs
from srgan.data.datasets import mod_crop
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.fileio import atomic_write
from srgan.imageio import INPUT_EXTENSIONS
from srgan.imageread import read_rgb8
from srgan.metrics import psnr_y, ssim_y

CROP_HR = 128  # side of a zoomed crop, in HR pixels
PAGE_WIDTH = 1200  # room for the slider; small images start enlarged by the largest integer factor that fits
START_ZOOM = 4  # at most this enlargement at first (more of a small image is too much to take in); up to MAX_ZOOM
MAX_ZOOM = 8
ZOOM_MAX_WIDTH = 4800  # zoom choices stop here (CSS pixels)
SLIDER_MAX_SIDE = 1600  # larger results show their centre window of this many HR pixels (keeps the file sane)
RUN_FILES = ("metrics.jsonl", "train.log")  # a folder holding either is a training run


# ------------------------------------------------------------------------------------------------ image pages


@dataclass(frozen=True)
class ModelSR:
    """Super-resolve with a network: ``upscale`` maps uint8 (h, w, 3) to uint8 (scale·h, scale·w, 3)."""

    upscale: Callable[[np.ndarray], np.ndarray]
    scale: int
    label: str


@dataclass(frozen=True)
class Layer:
    """One picture of an image on the page: ``key`` names it in the HTML (data-layer), ``label`` is what the
    reader sees (slider tags, layer choices, crops)."""

    key: str
    label: str
    image: np.ndarray


@dataclass(frozen=True)
class Comparison:
    """One LR image and its upscales, all uint8 RGB (H, W, 3); ``bicubic``, the models' results and ``hr`` are
    scale× ``lr``. ``models`` holds one SR result (compared with bicubic) or two (compared with each other)."""

    name: str
    lr: np.ndarray
    bicubic: np.ndarray
    models: tuple[Layer, ...]
    hr: np.ndarray | None
    scale: int
    source: str  # where the SR results come from, for the page
    hr_label: str | None

    @property
    def pair(self) -> tuple[Layer, Layer]:
        """The two upscales the slider starts with and the crops are chosen by, (left, right): bicubic and the one
        model — the baseline is bicubic — or the two models in the order given."""
        if len(self.models) == 2:
            return self.models[0], self.models[1]
        return Layer("bicubic", "bicubic", self.bicubic), self.models[0]

    @property
    def layers(self) -> list[Layer]:
        """Everything the slider can show, in order: LR, the compared pair, HR when known."""
        return [Layer("lr", "LR (nearest)", self.lr), *self.pair] + (
            [] if self.hr is None else [Layer("hr", "HR", self.hr)])


def image_report(inputs: Sequence[str], sr: Sequence[ModelSR] | Path, hr: str | Path | None = None, crops: int = 3,
                 ) -> tuple[str | None, list[str]]:
    """The page comparing each LR image named by ``inputs`` (files, folders, globs), or None when not one could
    be compared, and one message per input left out (also listed on the page).

    ``sr``: one network (compared with bicubic), two networks of one scale (compared with each other; the scores
    still include bicubic), or a folder of results (``srgan upscale -o DIR``: ``<stem>.*`` or ``<stem>_x<N>.*``,
    under the same sub-folder as the input; the scale is read from the sizes). ``hr``: the HR image (one input)
    or a folder holding ``<stem>.*`` or ``<stem>_hr.*`` per input; HR may exceed scale × LR by up to scale − 1
    pixels per side (cut from the bottom and right, the benchmark's mod-crop). Images are turned into HTML one at
    a time, so a folder of large photos never holds more than one in memory.
    """
    hr = None if hr is None else Path(hr)
    found, problems = find_inputs(inputs, exclude=sr if isinstance(sr, Path) else None)
    if hr is not None and not hr.is_dir() and len(found) > 1:
        raise SrganError(f"--hr names a file, so it needs exactly one input image (got {len(found)}); "
                         "give a folder of HR images instead", hr)
    sections: list[str] = []
    scored: list[tuple[str, int, list[tuple[str, float, float]]]] = []
    for src, rel in found:
        try:
            c = _compare(src, rel, sr, hr)
        except SrganError as e:
            problems.append(str(e))
            continue
        scores = comparison_scores(c)
        if scores is not None:
            scored.append((c.name, len(sections), scores))
        sections.append(_comparison_html(c, len(sections), crops, scores))
    if not sections:
        return None, problems
    n = len(sections)
    body = _problems_html(problems) + _overview_html(scored) + "".join(sections)
    return _page("srgan report", f"{n} image{'s' * (n != 1)}", body), problems


def _compare(src: Path, rel: Path, sr: Sequence[ModelSR] | Path, hr: Path | None) -> Comparison:
    lr = read_rgb8(src)
    if isinstance(sr, Path):
        sr_path = _find_partner(sr / rel.parent, src, r"(_x\d+)?", "SR result", "_x<N>")
        results = [read_rgb8(sr_path)]
        scale = infer_scale(lr.shape, results[0].shape, src, sr_path)
        labels = [str(sr_path)]
    else:
        results, scale, labels = [m.upscale(lr) for m in sr], sr[0].scale, [m.label for m in sr]
    named = enumerate(zip(labels, results, strict=True), 1)
    models = ((Layer("sr", "SR", results[0]),) if len(results) == 1 else
              tuple(Layer(f"sr{i}", label, img) for i, (label, img) in named))
    hr_img, hr_label = None, None
    if hr is not None:
        hr_path = _find_partner(hr / rel.parent, src, "(_hr)?", "HR image", "_hr") if hr.is_dir() else hr
        full = read_rgb8(hr_path)
        hr_img, hr_label = mod_crop(full, scale), str(hr_path)
        if hr_img.shape != results[0].shape:
            raise SrganError(f"HR image is {_size(full)}; the {_size(lr)} LR image {src} at ×{scale} "
                             f"needs {_size(results[0])} (up to {scale - 1} extra pixels per side are cut)", hr_path)
    return Comparison(rel.as_posix(), lr, imresize(lr, scale), models, hr_img, scale, "SR: " + ", ".join(labels),
                      hr_label)


def _find_partner(folder: Path, src: Path, suffix: str, what: str, hint: str) -> Path:
    """The one image in ``folder`` named ``<src stem><suffix>.<image ext>`` (``suffix`` a regex, ``hint`` its
    readable form), never ``src`` itself."""
    pattern = re.compile(re.escape(src.stem) + suffix)
    found = sorted(p for p in folder.glob(f"{glob.escape(src.stem)}*") if p.suffix.lower() in INPUT_EXTENSIONS
                   and pattern.fullmatch(p.stem) and p.is_file() and p.resolve() != src.resolve())
    if not found:
        raise SrganError(f"no {what} for it in {folder} (looked for {src.stem}.* and {src.stem}{hint}.*)", src)
    if len(found) > 1:
        raise SrganError(f"{len(found)} candidates for its {what}: {', '.join(p.name for p in found)}; keep one", src)
    return found[0]


def infer_scale(lr_shape: tuple[int, ...], sr_shape: tuple[int, ...], lr_path: Path, sr_path: Path) -> int:
    """The integer factor ≥ 2 between an LR and an SR image of exactly that many times its width and height."""
    (h, w), (sh, sw) = lr_shape[:2], sr_shape[:2]
    scale = sh // h
    if scale < 2 or sh != scale * h or sw != scale * w:
        raise SrganError(f"SR result is {sw}×{sh}, not an integer multiple (×2, ×3, …) of the {w}×{h} LR image "
                         f"{lr_path}", sr_path)
    return scale


def block_difference(a: np.ndarray, b: np.ndarray, scale: int) -> np.ndarray:
    """Mean |a − b| over RGB and each scale × scale block: float64 (H/scale, W/scale), one value per LR pixel."""
    d = np.abs(a.astype(np.int16) - b.astype(np.int16)).mean(axis=2)
    h, w = d.shape[0] // scale, d.shape[1] // scale
    return d[: h * scale, : w * scale].reshape(h, scale, w, scale).mean(axis=(1, 3))


def pick_crops(score: np.ndarray, side: int, n: int) -> list[tuple[int, int]]:
    """Top-left corners (y, x) of up to ``n`` side × side windows of ``score`` (H, W) with the largest sums.

    Greedy, best first: each window is the best among those not overlapping any window already taken (ties go
    to the first in row-major order), so the crops show different places.
    """
    h, w = score.shape
    side = min(side, h, w)
    integral = np.zeros((h + 1, w + 1))
    integral[1:, 1:] = score.astype(np.float64).cumsum(0).cumsum(1)
    sums = integral[side:, side:] - integral[:-side, side:] - integral[side:, :-side] + integral[:-side, :-side]
    picks: list[tuple[int, int]] = []
    while len(picks) < n and np.isfinite(sums).any():
        y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
        picks.append((int(y), int(x)))
        sums[max(0, y - side + 1): y + side, max(0, x - side + 1): x + side] = -np.inf
    return picks


def comparison_scores(c: Comparison) -> list[tuple[str, float, float]] | None:
    """(label, PSNR-Y, SSIM-Y) of bicubic and of each model's result, bicubic first, with border crop = scale;
    None without HR or when too small."""
    if c.hr is None or min(c.hr.shape[:2]) - 2 * c.scale < 11:  # SSIM's 11×11 window must fit after the crop
        return None
    return [(label, psnr_y(img, c.hr, c.scale), ssim_y(img, c.hr, c.scale)) for label, img in
            [("bicubic", c.bicubic), *((m.label, m.image) for m in c.models)]]


def _overview_html(scored: Sequence[tuple[str, int, list[tuple[str, float, float]]]]) -> str:
    """A table of (name, section index, scores) with the means, when there is more than one image to sum up;
    each model's PSNR-Y and SSIM-Y are followed by its gain over bicubic."""
    if len(scored) < 2:
        return ""  # one image: its own section says it all
    labels = [label for label, _, _ in scored[0][2]]

    def cells(values: np.ndarray) -> str:  # (upscales, 2): PSNR-Y and SSIM-Y, bicubic first
        return "".join(f"<td>{values[0, j]:.{d}f}</td>" + "".join(
            f"<td>{v:.{d}f}</td>{_delta(v - values[0, j], d)}" for v in values[1:, j]) for j, d in ((0, 2), (1, 4)))

    table = [np.array([(p, s) for _, p, s in scores]) for _, _, scores in scored]
    rows = [f"<tr><td><a href='#img{i}'>{_e(name)}</a></td>{cells(values)}</tr>"
            for (name, i, _), values in zip(scored, table, strict=True)]
    rows.append(f"<tr class='mean'><td>mean of {len(rows)}</td>{cells(np.mean(table, axis=0))}</tr>")
    head = "".join(f"<th>{_e(labels[0])} {what}</th>"
                   + "".join(f"<th>{_e(label)} {what}</th><th>gain</th>" for label in labels[1:])
                   for what in ("PSNR-Y", "SSIM-Y"))
    return ("<section class='card'><h2>Overview</h2><table class='scores'><tr><th>image</th>" + head + "</tr>"
            + "".join(rows) + "</table></section>")


def _comparison_html(c: Comparison, index: int, n_crops: int, scores: list[tuple[str, float, float]] | None,
                     ) -> str:
    s = c.scale
    left, right = c.pair
    parts = [f"<section class='card' id='img{index}'><h2>{_e(c.name)}</h2><p class='dim'>{_size(c.lr)} → "
             f"{_size(right.image)} (×{s}) · {_e(c.source)}"
             + (f" · HR: {_e(c.hr_label)}" if c.hr_label else " · no HR image given: no scores") + "</p>"]
    if scores is not None:
        (_, pb, sb), *rest = scores
        parts.append("<table class='scores'><tr><th></th><th>PSNR-Y</th><th>SSIM-Y</th></tr>"
                     f"<tr><td>bicubic</td><td>{pb:.2f} dB</td><td>{sb:.4f}</td></tr>" + "".join(
                         f"<tr><td>{_e(label)}</td><td>{p:.2f} dB <span class='{_sign(p - pb)}'>({p - pb:+.2f})</span>"
                         f"</td><td>{q:.4f} <span class='{_sign(q - sb)}'>({q - sb:+.4f})</span></td></tr>"
                         for label, p, q in rest)
                     + f"</table><p class='note'>Y channel (BT.601), {s}-pixel border cropped: the benchmark "
                       "protocol.</p>")
    elif c.hr is not None:
        parts.append(f"<p class='note'>Too small to score: SSIM-Y needs 11×11 pixels after a {s}-pixel border "
                     "crop.</p>")
    crop_lr = min(max(1, CROP_HR // s), *c.lr.shape[:2])
    difference = block_difference(right.image, left.image, s)
    picks = pick_crops(difference, crop_lr, n_crops) if difference.any() else []
    parts.append(_slider_html(c, picks, crop_lr))
    if not difference.any():
        parts.append(f"<p class='note'>{_e(right.label)} and {_e(left.label)} are identical: no crops to compare.</p>")
    elif picks:
        parts.append(f"<h3>Where {_e(right.label)} and {_e(left.label)} differ most</h3><div class='crops'>"
                     + "".join(_crop_html(c, k, y, x, crop_lr) for k, (y, x) in enumerate(picks)) + "</div>")
    parts.append("</section>")
    return "".join(parts)


def slider_window(h: int, w: int, scale: int, limit: int = SLIDER_MAX_SIDE) -> tuple[int, int, int, int]:
    """(top, left, height, width) in HR pixels of the centre window shown by the slider: the whole image when both
    sides fit in ``limit``, else at most ``limit`` per side; all multiples of ``scale`` so LR pixels align."""
    wh, ww = (min(n, limit // scale * scale) for n in (h, w))
    return (h - wh) // 2 // scale * scale, (w - ww) // 2 // scale * scale, wh, ww


def _slider_html(c: Comparison, picks: list[tuple[int, int]], crop_lr: int) -> str:
    s = c.scale
    height, width = c.bicubic.shape[:2]
    top, left, wh, ww = slider_window(height, width, s)
    fit = max(1, min(START_ZOOM, PAGE_WIDTH // ww))
    zooms = [z for z in range(1, MAX_ZOOM + 1) if z <= fit or ww * z <= ZOOM_MAX_WIDTH]
    pair = dict(zip(("left", "right"), c.pair, strict=True))
    side_of = {layer.key: side for side, layer in pair.items()}
    layers = "".join(f"<img data-layer='{layer.key}' class='{side_of.get(layer.key, '')}'"
                     f" alt='{_e(layer.label)}' src='{png_data_uri(_cut(layer, top, left, wh, ww, s))}'>"
                     for layer in c.layers)
    boxes = ""
    for k, (y, x) in enumerate(picks):
        by, bx, side = y * s - top, x * s - left, crop_lr * s
        if 0 <= by <= wh - side and 0 <= bx <= ww - side:
            boxes += (f"<div class='box' style='top:{100 * by / wh:.3f}%;left:{100 * bx / ww:.3f}%;"
                      f"width:{100 * side / ww:.3f}%;height:{100 * side / wh:.3f}%'><span>{k + 1}</span></div>")

    def select(side: str, chosen: str) -> str:
        options = "".join(f"<option value='{layer.key}'{' selected' * (layer.key == chosen)}>{_e(layer.label)}"
                          "</option>" for layer in c.layers)
        return f"<label>{side} <select data-side='{side}'>{options}</select></label>"

    note = "" if (wh, ww) == (height, width) else f" Showing the centre {ww}×{wh} of the {_size(c.bicubic)} result."
    zoom = "".join(f"<option value='{z}'{' selected' * (z == fit)}>{z}×</option>" for z in zooms)
    tags = "".join(f"<span class='tag {side}'>{_e(layer.label)}</span>" for side, layer in pair.items())
    return (f"<div class='view'><div class='cmp{' zoomed' * (fit > 1)}' data-width='{ww}' data-fit='{fit}' "
            f"style='width:{ww * fit}px;aspect-ratio:{ww}/{wh}'>{layers}{boxes}<div class='bar'></div>{tags}"
            f"<input type='range' min='0' max='100' step='0.1' value='50' aria-label='comparison divider'></div></div>"
            f"<div class='ctl'>{''.join(select(side, layer.key) for side, layer in pair.items())}"
            f"<label>zoom <select data-zoom>{zoom}</select></label>"
            f"<span class='dim'>Drag across the image to move the divider; pixels are enlarged without smoothing."
            f"{note}</span></div>")


def _cut(layer: Layer, top: int, left: int, h: int, w: int, scale: int) -> np.ndarray:
    """The part of ``layer`` under a window given in HR pixels (multiples of ``scale``: the LR layer is cut at
    1/scale, so every layer shows the same place)."""
    f = scale if layer.key == "lr" else 1
    return layer.image[top // f: (top + h) // f, left // f: (left + w) // f]


def _crop_html(c: Comparison, k: int, y: int, x: int, side: int) -> str:
    s = c.scale
    figures = "".join(f"<figure><img alt='{_e(layer.label)}' "
                      f"src='{png_data_uri(_cut(layer, y * s, x * s, side * s, side * s, s))}'>"
                      f"<figcaption>{_e(layer.label)}</figcaption></figure>" for layer in c.layers)
    return (f"<div class='crop'><div class='crop-id'><b>{k + 1}</b><span>x {x * s}<br>y {y * s}</span></div>"
            f"{figures}</div>")


# ------------------------------------------------------------------------------------------------ run pages


@dataclass(frozen=True)
class RunMetrics:
    """metrics.jsonl by kind, sorted by step; when a resumed run logged a step twice, the later record wins."""

    train: tuple[dict[str, Any], ...]
    val: tuple[dict[str, Any], ...]
    unreadable: int  # lines that are not JSON records (e.g. cut short when the process was killed)


def read_metrics(path: Path) -> RunMetrics:
    """Parse RUN/metrics.jsonl ({"kind": "train"|"val", "step", "time", …values} per line)."""
    by_kind: dict[str, dict[int, dict[str, Any]]] = {"train": {}, "val": {}}
    unreadable = 0
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise SrganError(f"cannot read the training log ({e})", path) from e
    for line in lines:
        try:
            record = json.loads(line)
            by_kind[record["kind"]][int(record["step"])] = record
        except (json.JSONDecodeError, KeyError, TypeError, ValueError):
            unreadable += bool(line.strip())
    train, val = (tuple(d[k] for k in sorted(d)) for d in by_kind.values())
    return RunMetrics(train, val, unreadable)


def val_means(m: RunMetrics, key: str) -> list[tuple[float, int]]:
    """(mean of ``<set>/<key>`` over the validation sets, step) per validation that scored ``key`` ("psnr_y",
    "ssim_y", "niqe"), in step order."""
    suffix = f"/{key}"
    return [(float(np.mean([v for k, v in r.items() if k.endswith(suffix)])), r["step"]) for r in m.val
            if any(k.endswith(suffix) for k in r)]


def best_validation(m: RunMetrics) -> tuple[str, int] | None:
    """(the score ranked by, step) of the best validation as the trainer picks its best generator: the lowest mean
    NIQE where NIQE was scored (the GAN phase), else the highest mean PSNR-Y; the first of equal scores; None
    before any validation (or when no mean is finite)."""
    key = "niqe" if val_means(m, "niqe") else "psnr_y"
    sign = -1 if key == "niqe" else 1
    ranked = [(sign * v, step) for v, step in val_means(m, key) if math.isfinite(v)]
    return (key, max(ranked, key=lambda r: r[0])[1]) if ranked else None


_SESSION_START = re.compile(r"\w+: step \d+ → ")  # the trainer's first line in each session


def stop_problem(log: Sequence[str]) -> str | None:
    """Why training stopped when its last session failed — train.log's ``stopped: <problem>`` line (a GAN collapse,
    non-finite losses) — or None: it stopped normally, is still running, was killed, or was resumed since."""
    for line in reversed(log):
        if line.startswith("stopped: "):
            return line.removeprefix("stopped: ")
        if line.startswith("stopped") or _SESSION_START.match(line):
            return None
    return None


def run_folder(inputs: Sequence[str]) -> Path | None:
    """The training run folder when ``inputs`` names one (a folder holding metrics.jsonl or train.log), else None."""
    runs = [Path(p) for p in inputs if Path(p).is_dir() and any((Path(p) / f).is_file() for f in RUN_FILES)]
    if runs and len(inputs) > 1:
        raise SrganError("is a training run folder: report on it alone (srgan report RUN_DIR -o OUT.html)", runs[0])
    return runs[0] if runs else None


def run_report(run: Path, previews: int = 4) -> str:
    """The HTML page for a training run folder."""
    from srgan.train.config import build_config

    metrics = read_metrics(run / "metrics.jsonl") if (run / "metrics.jsonl").is_file() else RunMetrics((), (), 0)
    saved = _read_json(run / "config.json")
    total = None
    if saved is not None:
        try:
            total = build_config({}, None, saved).total_steps
        except (SrganError, TypeError) as e:
            raise SrganError(f"not a valid run configuration ({e})", run / "config.json") from e
    log = _read_log(run / "train.log")
    body = [_summary_html(run, metrics, saved, total, log), _curves_html(metrics), _previews_html(run, previews),
            _config_html(saved), _log_tail_html(log)]
    return _page(f"srgan run: {run.resolve().name}", _e(str(run)), "".join(body))


def _read_json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        config = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SrganError(f"unreadable run configuration ({e})", path) from e
    if not isinstance(config, dict):
        raise SrganError("not a run configuration (expected a JSON object)", path)
    return config


def _read_log(path: Path) -> list[str]:
    """train.log's lines; none when the run has not written one."""
    if not path.is_file():
        return []
    try:
        return path.read_text(errors="replace").splitlines()
    except OSError as e:
        raise SrganError(f"cannot read the training log ({e})", path) from e


def _summary_html(run: Path, m: RunMetrics, config: dict[str, Any] | None, total: int | None, log: Sequence[str],
                  ) -> str:
    stats = []
    step = max([r["step"] for r in m.train + m.val], default=0)
    of = f"of {total:,}" if total else "steps"
    stats.append((f"{step:,}", f"{of} ({100 * step / total:.0f}%)" if total else of))
    if config:
        stats.append((str(config.get("phase", "?")), f"phase, ×{config.get('scale', '?')}, batch "
                                                      f"{config.get('batch', '?')}, patch {config.get('patch', '?')}"))
    times = [r["time"] for r in m.train + m.val if isinstance(r.get("time"), int | float)]
    if len(times) > 1:
        stats.append((_duration(max(times) - min(times)), "from first to last record"))
    rates = [r["patches_per_s"] for r in m.train if isinstance(r.get("patches_per_s"), int | float)]
    if rates:
        stats.append((f"{float(np.median(rates)):.1f}", f"patches/s (median of {len(rates)} intervals)"))
    best = best_validation(m)
    if best is not None:
        ranked_by, best_step = best
        sets = len({k for r in m.val for k in r if k.endswith("/psnr_y")})
        mean_of = f" (mean of {sets} sets)" if sets > 1 else ""
        # NIQE (the GAN phase ranks by it) before PSNR-Y; each at the best step and the latest
        for key, what, value in (("niqe", "val NIQE", "{:.3f}"), ("psnr_y", "val PSNR-Y", "{:.2f} dB")):
            means = {s: v for v, s in val_means(m, key)}
            if best_step in means:
                caption = (f"best {what}{mean_of}, step {best_step:,}" if key == ranked_by else
                           f"{what}{mean_of} of the best step ({best_step:,})")
                stats.append((value.format(means[best_step]), caption + " · lower = more natural" * (key == "niqe")))
            if means:
                latest = max(means)
                stats.append((value.format(means[latest]), f"latest {what}{mean_of}, step {latest:,}"))
    cards = "".join(f"<div><b>{_e(v)}</b><span>{_e(k)}</span></div>" for v, k in stats)
    problem = stop_problem(log)
    notes = []
    if not (run / "metrics.jsonl").is_file():
        notes.append("No metrics.jsonl yet: the run has not logged a step.")
    if m.unreadable:
        notes.append(f"{m.unreadable} unreadable line(s) in metrics.jsonl skipped (cut short by a kill?).")
    weights = sorted(run.glob("generator*.safetensors"))
    if weights:
        notes.append("Weights: " + ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in weights))
    return ("<section class='card'><h2>Summary</h2>"
            + (f"<p class='warn'>Training stopped: {_e(problem)}</p>" if problem else "")
            + f"<div class='stats'>{cards}</div>"
            + "".join(f"<p class='note'>{_e(n)}</p>" for n in notes) + "</section>")


def _curves_html(m: RunMetrics) -> str:
    try:
        figures = training_figures(m)
    except ImportError:
        return ("<section class='card'><h2>Curves</h2><p class='warn'>matplotlib is not installed, so there are no "
                "curves: <code>pip install 'srgan[report]'</code></p></section>")
    if not figures:
        return "<section class='card'><h2>Curves</h2><p class='note'>Nothing logged yet.</p></section>"
    return ("<section class='card'><h2>Curves</h2>" + "".join(
        f"<figure class='plot'><img alt='{_e(t)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
        f"<figcaption>{_e(t)}</figcaption></figure>" for t, png in figures) + "</section>")


Series = dict[str, tuple[list[int], list[float]]]  # label → (steps, values)


@dataclass(frozen=True)
class Panel:
    """One axes of a plot: its series, and a dotted horizontal reference line ``level`` (value, label)."""

    ylabel: str
    series: Series
    log: bool = False
    ylim: tuple[float, float] | None = None
    level: tuple[float, str] | None = None


@dataclass(frozen=True)
class Plot:
    """One figure of panels side by side; ``best`` is a step marked on each (the best validation)."""

    title: str
    panels: tuple[Panel, ...]
    best: int | None = None


def run_plots(m: RunMetrics) -> list[Plot]:
    """What the run page plots, as data (``training_figures`` draws it): the losses — in a GAN run the generator's
    (content, total) beside the game's (D's loss, −log D(G(x))) —, D's accuracy on real and generated patches
    against chance, the validation scores (NIQE too in the GAN phase), learning rate and throughput."""

    def series(records: tuple[dict[str, Any], ...], labels: dict[str, str]) -> Series:
        return {label: ([r["step"] for r in records if _finite(r.get(k))],
                        [r[k] for r in records if _finite(r.get(k))]) for k, label in labels.items()}

    def logged(labels: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in labels.items() if any(_finite(r.get(k)) for r in m.train)}

    plots = []
    thin = " (thin: logged values; thick: running mean)" if len(m.train) > 50 else ""
    generator = logged({"g": "generator (total)", "content": "content"})
    game = logged({"d": "discriminator", "adv": "adversarial −log D(G(x))"})
    if game:
        plots.append(Plot("Training losses" + thin, (Panel("generator loss", series(m.train, generator), log=True),
                                                      Panel("BCE", series(m.train, game)))))
    elif generator:
        plots.append(Plot("Training losses" + thin, (Panel("loss", series(m.train, generator), log=True),)))
    accuracy = logged({"d_acc_real": "on real (HR) patches", "d_acc_fake": "on generated (SR) patches"})
    if accuracy:
        plots.append(Plot("Discriminator accuracy (1 on both for long = collapse)" + thin,
                          (Panel("D accuracy", series(m.train, accuracy), ylim=(-0.03, 1.03), level=(0.5, "chance")),)))
    sets = sorted({k.removesuffix("/psnr_y") for r in m.val for k in r if k.endswith("/psnr_y")})
    if sets:
        best = best_validation(m)
        panels = [Panel("PSNR-Y (dB)", series(m.val, {f"{d}/psnr_y": d for d in sets})),
                  Panel("SSIM-Y", series(m.val, {f"{d}/ssim_y": d for d in sets}))]
        if val_means(m, "niqe"):
            panels.append(Panel("NIQE (lower = more natural)", series(m.val, {f"{d}/niqe": d for d in sets})))
        plots.append(Plot("Validation (benchmark protocol, Y channel)", tuple(panels),
                          None if best is None else best[1]))
    if any(_finite(r.get("lr")) for r in m.train):
        plots.append(Plot("Learning rate and throughput", (
            Panel("learning rate", series(m.train, {"lr": "lr"}), log=True),
            Panel("patches/s", series(m.train, {"patches_per_s": "patches/s"})))))
    return plots


def training_figures(m: RunMetrics) -> list[tuple[str, bytes]]:
    """(title, PNG bytes) per plot of ``run_plots``.

    Raises ImportError without matplotlib (an optional dependency: the ``report`` extra)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    style = {"figure.facecolor": "#1f2226", "axes.facecolor": "#1f2226", "axes.edgecolor": "#5f6368",
             "axes.labelcolor": "#e6e6e6", "xtick.color": "#9aa0a6", "ytick.color": "#9aa0a6", "text.color": "#e6e6e6",
             "grid.color": "#33373d", "legend.facecolor": "#1f2226", "legend.edgecolor": "#33373d",
             "legend.framealpha": 0.9, "font.size": 9}
    out = []
    for plot in run_plots(m):
        with matplotlib.rc_context(style):
            fig = Figure(figsize=(11.6, 3.2), dpi=110, layout="constrained")
            FigureCanvasAgg(fig)
            for i, panel in enumerate(plot.panels):
                ax = fig.add_subplot(1, len(plot.panels), i + 1)
                for name, (xs, ys) in panel.series.items():
                    many = len(xs) > 50  # then a faint line of the values under a running mean that carries the label
                    ax.plot(xs, ys, lw=0.8 if many else 1.4, alpha=0.45 if many else 1,
                            marker="o" if len(xs) < 30 else None, ms=3, label=None if many else name)
                    if many:
                        ax.plot(xs, running_mean(ys, max(2, len(ys) // 40)), lw=1.6, color=ax.lines[-1].get_color(),
                                label=name)
                if panel.log:
                    ax.set_yscale("log")
                if panel.ylim is not None:
                    ax.set_ylim(*panel.ylim)
                if panel.level is not None:
                    ax.axhline(panel.level[0], color="#9aa0a6", lw=1, ls=":", label=panel.level[1])
                if plot.best is not None:
                    ax.axvline(plot.best, color="#f0b429", lw=1, ls="--", label=f"best (step {plot.best:,})")
                ax.set_xlabel("step")
                ax.set_ylabel(panel.ylabel)
                ax.grid(True, lw=0.5)
                if len(panel.series) > 1 or plot.best is not None or panel.level is not None:
                    ax.legend(fontsize=8)
            buf = io.BytesIO()
            fig.savefig(buf, format="png")
        out.append((plot.title, buf.getvalue()))
    return out


def running_mean(values: Sequence[float], window: int) -> np.ndarray:
    """Mean of the last ``window`` values (fewer at the start), one per value: a trend line without a lag-free
    pretence."""
    c = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    i = np.arange(1, len(values) + 1)
    lo = np.maximum(0, i - window)
    return (c[i] - c[lo]) / (i - lo)


def _previews_html(run: Path, n: int) -> str:
    files = sorted((run / "previews").glob("step_*.png"), key=lambda p: p.name)[::-1][:n]
    if not files:
        return ""
    figures = []
    for path in files:
        try:
            data = path.read_bytes()
            with Image.open(io.BytesIO(data)) as im:
                im.verify()
                ok = im.format == "PNG"
        except (OSError, UnidentifiedImageError, SyntaxError):
            ok = False
        step = int(re.sub(r"\D", "", path.stem) or 0)
        figures.append(f"<figure><img alt='preview step {step}' src='data:image/png;base64,"
                       f"{base64.b64encode(data).decode()}'><figcaption>step {step:,}</figcaption></figure>" if ok else
                       f"<p class='warn'>{_e(str(path))}: not a readable PNG, skipped</p>")
    return ("<section class='card'><h2>Previews</h2><p class='note'>Newest first. Columns: LR (nearest) | bicubic | "
            "SR | HR, PSNR-Y under each.</p><div class='previews'>" + "".join(figures) + "</div></section>")


def _config_html(config: dict[str, Any] | None) -> str:
    if config is None:
        return ""
    rows = "".join(f"<div><dt>{_e(k)}</dt><dd>{_e(v if isinstance(v, str) else json.dumps(v))}</dd></div>"
                   for k, v in config.items())
    return f"<section class='card'><h2>Configuration</h2><dl class='config'>{rows}</dl></section>"


def _log_tail_html(log: Sequence[str], lines: int = 15) -> str:
    if not log:
        return ""
    return f"<section class='card'><h2>End of train.log</h2><pre>{_e(chr(10).join(log[-lines:]))}</pre></section>"


# ------------------------------------------------------------------------------------------------ page


def check_output(path: Path, overwrite: bool) -> None:
    """Fail before any work when the report would replace a file without ``overwrite``."""
    if path.is_dir():
        raise SrganError("is a folder; give the report's file name (e.g. report.html)", path)
    if path.exists() and not overwrite:
        raise SrganError("already exists (pass --overwrite to replace it)", path)


def write_report(path: Path, page: str, overwrite: bool) -> Path:
    """Write ``page`` to ``path`` with the one atomic write (never a partial report; a new file gets the umask
    permissions, since reports are made to be shared; without ``overwrite`` two writers cannot both win)."""
    check_output(path, overwrite)
    try:
        return atomic_write(path, lambda tmp: tmp.write_text(page, encoding="utf-8"), replace=overwrite)
    except FileExistsError as e:  # appeared since the check: another writer got there first
        raise SrganError("already exists (pass --overwrite to replace it)", path) from e
    except OSError as e:
        raise SrganError(f"cannot write the report ({e.strerror or e})", path) from e


def png_data_uri(img: np.ndarray) -> str:
    """A uint8 RGB (H, W, 3) image as a lossless ``data:image/png;base64,…`` URI."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=6)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode()


def _page(title: str, subtitle: str, body: str) -> str:
    when = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    return (f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta http-equiv='Content-Security-Policy' content=\"{_CSP}\">"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{_e(title)}</title>"
            f"<style>{_CSS}</style></head><body><main><header><h1>{_e(title)}</h1>"
            f"<p class='dim'>{subtitle} · written {when} by srgan {_e(__version__)}</p></header>{body}</main>"
            f"<script>{_JS}</script></body></html>\n")


def _problems_html(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    return (f"<section class='card warn'><h2>{len(problems)} input(s) left out</h2><ul>"
            + "".join(f"<li>{_e(p)}</li>" for p in problems) + "</ul></section>")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _size(img: np.ndarray) -> str:
    return f"{img.shape[1]}×{img.shape[0]}"


def _sign(x: float) -> str:
    return "gain" if x > 0 else "loss" if x < 0 else ""


def _delta(x: float, digits: int) -> str:
    return f"<td class='{_sign(x)}'>{x:+.{digits}f}</td>"


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _duration(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    return f"{h} h {rem // 60:02d} min" if h else f"{rem // 60} min {rem % 60:02d} s"


_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"

_CSS = """
:root{--bg:#15171a;--card:#1f2226;--fg:#e6e6e6;--dim:#9aa0a6;--acc:#f0b429;--good:#5cc97b;--bad:#ef6b6b;--line:#33373d}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1320px;margin:0 auto;padding:20px 20px 60px}
h1{margin:0;font-size:26px;font-weight:650}
h2{margin:0 0 4px;font-size:19px;font-weight:600}
h3{margin:20px 0 10px;font-size:13px;font-weight:600;color:var(--dim);text-transform:uppercase;letter-spacing:.05em}
a{color:var(--acc)}
.dim,.note{color:var(--dim)} .note{font-size:13px;margin:6px 0}
.card{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:16px 20px;margin:18px 0}
.warn{color:#ffcf70} .card.warn{border-color:#7a5b12}
table{border-collapse:collapse;font-variant-numeric:tabular-nums;margin:8px 0}
th,td{padding:4px 14px;text-align:right;border-bottom:1px solid var(--line)}
th{color:var(--dim);font-weight:500} th:first-child,td:first-child{text-align:left;padding-left:0}
tr.mean td{font-weight:600;border-bottom:0}
.gain{color:var(--good)} .loss{color:var(--bad)}
.view{overflow:auto;max-height:88vh;margin:14px 0 6px}
.cmp{position:relative;max-width:100%;margin:0 auto;overflow:hidden;border-radius:6px;background:#000;
  user-select:none;--pos:50%}
.cmp img{position:absolute;inset:0;width:100%;height:100%;display:none}
.cmp img[data-layer=lr],.cmp.zoomed img{image-rendering:pixelated}
.cmp img.left{display:block} .cmp img.right{display:block;clip-path:inset(0 0 0 var(--pos))}
.cmp img.left.right{clip-path:none}
.cmp .bar{position:absolute;top:0;bottom:0;left:var(--pos);width:2px;margin-left:-1px;background:#fff;
  box-shadow:0 0 6px rgba(0,0,0,.7);pointer-events:none}
.cmp .bar::after{content:"\\2039\\203A";position:absolute;top:50%;left:50%;width:34px;height:34px;margin:-17px;
  border-radius:50%;background:#fff;color:#222;font:bold 18px/32px system-ui,sans-serif;text-align:center;
  letter-spacing:2px;box-shadow:0 1px 6px rgba(0,0,0,.6)}
.cmp:focus-within .bar,.cmp:focus-within .bar::after{background:var(--acc)}
.cmp .tag{position:absolute;top:10px;padding:2px 9px;border-radius:4px;background:rgba(0,0,0,.65);font-size:13px;
  pointer-events:none} .cmp .tag.left{left:10px} .cmp .tag.right{right:10px}
.cmp .box{position:absolute;border:2px solid var(--acc);border-radius:2px;pointer-events:none}
.cmp .box span{position:absolute;top:-2px;left:-2px;padding:0 5px;background:var(--acc);color:#111;font-size:11px;
  font-weight:700;line-height:16px}
.cmp input{position:absolute;inset:0;width:100%;height:100%;margin:0;opacity:0;cursor:ew-resize}
.ctl{display:flex;gap:18px;align-items:center;flex-wrap:wrap;font-size:13px}
.ctl select{background:#2a2e33;color:var(--fg);border:1px solid var(--line);border-radius:4px;padding:2px 6px}
.crops{display:flex;flex-direction:column;gap:14px}
.crop{display:flex;gap:10px;align-items:flex-start;flex-wrap:wrap}
.crop-id{width:44px;text-align:center;font-size:11px;color:var(--dim);line-height:1.3}
.crop-id b{display:block;margin:0 auto 6px;width:26px;height:26px;border-radius:50%;background:var(--acc);color:#111;
  font-size:14px;line-height:26px}
figure{margin:0} figcaption{font-size:13px;color:var(--dim);text-align:center;margin-top:3px}
.crop img{display:block;width:256px;height:256px;image-rendering:pixelated;border-radius:3px}
.plot img{display:block;width:100%;height:auto;margin-top:10px}
.previews{display:flex;flex-wrap:wrap;gap:16px} .previews img{display:block;max-width:100%;image-rendering:pixelated}
.stats{display:grid;grid-template-columns:repeat(auto-fill,minmax(180px,1fr));gap:10px;margin:10px 0}
.stats div{background:#262a2f;border-radius:8px;padding:10px 14px}
.stats b{display:block;font-size:22px;font-weight:600;font-variant-numeric:tabular-nums}
.stats span{font-size:12px;color:var(--dim)}
.config{display:grid;grid-template-columns:repeat(auto-fill,minmax(280px,1fr));gap:2px 20px;margin:8px 0;font-size:13px}
.config div{display:flex;justify-content:space-between;gap:10px;border-bottom:1px solid var(--line);padding:2px 0}
.config dt{color:var(--dim)} .config dd{margin:0;text-align:right;overflow-wrap:anywhere}
pre{background:#15171a;border-radius:6px;padding:10px 12px;font-size:12px;overflow-x:auto;margin:8px 0 0}
"""

# The slider: the range input covers the image; its value moves the divider (--pos) and clips the right layer.
# The selects choose which layer is on each side.
_JS = """
for (const c of document.querySelectorAll('.cmp')) {
  const range = c.querySelector('input');
  range.addEventListener('input', () => c.style.setProperty('--pos', range.value + '%'));
  const zoom = c.parentElement.nextElementSibling.querySelector('select[data-zoom]');
  zoom.addEventListener('change', () => {
    c.style.width = c.dataset.width * zoom.value + 'px';
    c.style.maxWidth = +zoom.value > +c.dataset.fit ? 'none' : '';
    c.classList.toggle('zoomed', +zoom.value > 1);
  });
  for (const sel of c.parentElement.nextElementSibling.querySelectorAll('select[data-side]')) {
    sel.addEventListener('change', () => {
      const side = sel.dataset.side;
      for (const img of c.querySelectorAll('img')) img.classList.toggle(side, img.dataset.layer === sel.value);
      c.querySelector('.tag.' + side).textContent = sel.selectedOptions[0].text;
    });
  }
}
"""
