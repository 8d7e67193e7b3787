"""The image comparison page: LR, bicubic, one or two models' SR results and HR on a slider, the crops where the
compared pair differs most, and the benchmark protocol's scores when HR is known."""

from __future__ import annotations

import glob
import io
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from srgan.batch import find_inputs
from srgan.data.datasets import mod_crop
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.images import INPUT_EXTENSIONS, read_rgb8, software
from srgan.metrics import psnr_y, ssim_y
from srgan.report.page import esc, html_page, png_uri

CROP_HR = 128  # side of a zoomed crop, in HR pixels
PAGE_WIDTH = 1200  # room for the slider; small images start enlarged by the largest integer factor that fits
START_ZOOM = 4  # at most this enlargement at first (more of a small image is too much to take in); up to MAX_ZOOM
MAX_ZOOM = 8
ZOOM_MAX_WIDTH = 4800  # zoom choices stop here (CSS pixels)
SLIDER_MAX_SIDE = 1600  # larger results show their centre window of this many HR pixels (keeps the file sane)



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
    return html_page("srgan report", f"{n} image{'s' * (n != 1)}", body), problems


def _compare(src: Path, rel: Path, sr: Sequence[ModelSR] | Path, hr: Path | None) -> Comparison:
    lr = read_rgb8(src)
    if isinstance(sr, Path):
        sr_path = _find_partner(sr / rel.parent, src, r"(_x\d+)?", "SR result", "_x<N>")
        results = [read_rgb8(sr_path)]
        scale = infer_scale(lr.shape, results[0].shape, src, sr_path)
        maker = _model_of(sr_path)
        labels = [f"{sr_path} ({maker})" if maker else str(sr_path)]
        names = [maker or "SR"]
    else:
        results, scale, labels = [m.upscale(lr) for m in sr], sr[0].scale, [m.label for m in sr]
        names = labels
    named = enumerate(zip(labels, results, strict=True), 1)
    models = ((Layer("sr", names[0], results[0]),) if len(results) == 1 else
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


def _model_of(path: Path) -> str | None:
    """The model that made an srgan output, from its Software mark ("srgan 0.1.0 (real-x4)"); None if unknown."""
    match = re.fullmatch(r"srgan \S+ \((.+)\)", software(path) or "")
    return match[1] if match else None


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
    rows = [f"<tr><td><a href='#img{i}'>{esc(name)}</a></td>{cells(values)}</tr>"
            for (name, i, _), values in zip(scored, table, strict=True)]
    rows.append(f"<tr class='mean'><td>mean of {len(rows)}</td>{cells(np.mean(table, axis=0))}</tr>")
    head = "".join(f"<th>{esc(labels[0])} {what}</th>"
                   + "".join(f"<th>{esc(label)} {what}</th><th>gain</th>" for label in labels[1:])
                   for what in ("PSNR-Y", "SSIM-Y"))
    return ("<section class='card'><h2>Overview</h2><table class='scores'><tr><th>image</th>" + head + "</tr>"
            + "".join(rows) + "</table></section>")


def _comparison_html(c: Comparison, index: int, n_crops: int, scores: list[tuple[str, float, float]] | None,
                     ) -> str:
    s = c.scale
    left, right = c.pair
    parts = [f"<section class='card' id='img{index}'><h2>{esc(c.name)}</h2><p class='dim'>{_size(c.lr)} → "
             f"{_size(right.image)} (×{s}) · {esc(c.source)}"
             + (f" · HR: {esc(c.hr_label)}" if c.hr_label else " · no HR image given: no scores") + "</p>"]
    if scores is not None:
        (_, pb, sb), *rest = scores
        parts.append("<table class='scores'><tr><th></th><th>PSNR-Y</th><th>SSIM-Y</th></tr>"
                     f"<tr><td>bicubic</td><td>{pb:.2f} dB</td><td>{sb:.4f}</td></tr>" + "".join(
                         f"<tr><td>{esc(label)}</td><td>{p:.2f} dB <span class='{_sign(p - pb)}'>({p - pb:+.2f})</span>"
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
        parts.append(f"<p class='note'>{esc(right.label)} and {esc(left.label)} are identical: no crops to "
                     "compare.</p>")
    elif picks:
        parts.append(f"<h3>Where {esc(right.label)} and {esc(left.label)} differ most</h3><div class='crops'>"
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
                     f" alt='{esc(layer.label)}' src='{png_data_uri(_cut(layer, top, left, wh, ww, s))}'>"
                     for layer in c.layers)
    boxes = ""
    for k, (y, x) in enumerate(picks):
        by, bx, side = y * s - top, x * s - left, crop_lr * s
        if 0 <= by <= wh - side and 0 <= bx <= ww - side:
            boxes += (f"<div class='box' style='top:{100 * by / wh:.3f}%;left:{100 * bx / ww:.3f}%;"
                      f"width:{100 * side / ww:.3f}%;height:{100 * side / wh:.3f}%'><span>{k + 1}</span></div>")

    def select(side: str, chosen: str) -> str:
        options = "".join(f"<option value='{layer.key}'{' selected' * (layer.key == chosen)}>{esc(layer.label)}"
                          "</option>" for layer in c.layers)
        return f"<label>{side} <select data-side='{side}'>{options}</select></label>"

    note = "" if (wh, ww) == (height, width) else f" Showing the centre {ww}×{wh} of the {_size(c.bicubic)} result."
    zoom = "".join(f"<option value='{z}'{' selected' * (z == fit)}>{z}×</option>" for z in zooms)
    tags = "".join(f"<span class='tag {side}'>{esc(layer.label)}</span>" for side, layer in pair.items())
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
    figures = "".join(f"<figure><img alt='{esc(layer.label)}' "
                      f"src='{png_data_uri(_cut(layer, y * s, x * s, side * s, side * s, s))}'>"
                      f"<figcaption>{esc(layer.label)}</figcaption></figure>" for layer in c.layers)
    return (f"<div class='crop'><div class='crop-id'><b>{k + 1}</b><span>x {x * s}<br>y {y * s}</span></div>"
            f"{figures}</div>")


def png_data_uri(img: np.ndarray) -> str:
    """A uint8 RGB (H, W, 3) image as a lossless ``data:image/png;base64,…`` URI."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", compress_level=6)
    return png_uri(buf.getvalue())


def _problems_html(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    return (f"<section class='card warn'><h2>{len(problems)} input(s) left out</h2><ul>"
            + "".join(f"<li>{esc(p)}</li>" for p in problems) + "</ul></section>")


def _size(img: np.ndarray) -> str:
    return f"{img.shape[1]}×{img.shape[0]}"


def _sign(x: float) -> str:
    return "gain" if x > 0 else "loss" if x < 0 else ""


def _delta(x: float, digits: int) -> str:
    return f"<td class='{_sign(x)}'>{x:+.{digits}f}</td>"
