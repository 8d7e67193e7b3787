"""The training run page: summary (progress, speed, best and latest validation, why it stopped), curves (losses,
GAN health, validation, learning rate and throughput), the newest previews, the config and the end of train.log.

It reads only the run folder's files: no torch and no model code, so a report on a running job is cheap.
"""

from __future__ import annotations

import io
import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from srgan.errors import SrganError
from srgan.report.page import esc, html_page, png_uri
from srgan.train.runfolder import RunFolder


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
    runs = [Path(p) for p in inputs if Path(p).is_dir() and RunFolder(Path(p)).is_run()]
    if runs and len(inputs) > 1:
        raise SrganError("is a training run folder: report on it alone (srgan report RUN_DIR -o OUT.html)", runs[0])
    return runs[0] if runs else None


def run_report(run: Path, previews: int = 4) -> str:
    """The HTML page for a training run folder."""
    from srgan.train.config import build_config

    folder = RunFolder(run)
    metrics = read_metrics(folder.metrics) if folder.metrics.is_file() else RunMetrics((), (), 0)
    saved = _read_json(folder.config)
    total = None
    if saved is not None:
        try:
            total = build_config({}, None, saved).steps
        except (SrganError, TypeError) as e:
            raise SrganError(f"not a valid run configuration ({e})", folder.config) from e
    log = _read_log(folder.log)
    body = [_summary_html(run, metrics, saved, total, log), _curves_html(metrics), _previews_html(run, previews),
            _config_html(saved), _log_tail_html(log)]
    return html_page(f"srgan run: {run.resolve().name}", esc(str(run)), "".join(body))


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
    cards = "".join(f"<div><b>{esc(v)}</b><span>{esc(k)}</span></div>" for v, k in stats)
    problem = stop_problem(log)
    notes = []
    if not RunFolder(run).metrics.is_file():
        notes.append("No metrics.jsonl yet: the run has not logged a step.")
    if m.unreadable:
        notes.append(f"{m.unreadable} unreadable line(s) in metrics.jsonl skipped (cut short by a kill?).")
    weights = RunFolder(run).weight_files()
    if weights:
        notes.append("Weights: " + ", ".join(f"{p.name} ({p.stat().st_size / 1e6:.1f} MB)" for p in weights))
    return ("<section class='card'><h2>Summary</h2>"
            + (f"<p class='warn'>Training stopped: {esc(problem)}</p>" if problem else "")
            + f"<div class='stats'>{cards}</div>"
            + "".join(f"<p class='note'>{esc(n)}</p>" for n in notes) + "</section>")


def _curves_html(m: RunMetrics) -> str:
    try:
        figures = training_figures(m)
    except ImportError:
        return ("<section class='card'><h2>Curves</h2><p class='warn'>matplotlib is not installed, so there are no "
                "curves: <code>pip install 'srgan[report]'</code></p></section>")
    if not figures:
        return "<section class='card'><h2>Curves</h2><p class='note'>Nothing logged yet.</p></section>"
    return ("<section class='card'><h2>Curves</h2>" + "".join(
        f"<figure class='plot'><img alt='{esc(t)}' src='{png_uri(png)}'>"
        f"<figcaption>{esc(t)}</figcaption></figure>" for t, png in figures) + "</section>")


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
    files = RunFolder(run).list_previews()[::-1][:n]
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
        figures.append(f"<figure><img alt='preview step {step}' src='{png_uri(data)}'>"
                       f"<figcaption>step {step:,}</figcaption></figure>" if ok else
                       f"<p class='warn'>{esc(str(path))}: not a readable PNG, skipped</p>")
    return ("<section class='card'><h2>Previews</h2><p class='note'>Newest first. Columns: LR (nearest) | bicubic | "
            "SR | HR, PSNR-Y under each.</p><div class='previews'>" + "".join(figures) + "</div></section>")


def _config_html(config: dict[str, Any] | None) -> str:
    if config is None:
        return ""
    rows = "".join(f"<div><dt>{esc(k)}</dt><dd>{esc(v if isinstance(v, str) else json.dumps(v))}</dd></div>"
                   for k, v in config.items())
    return f"<section class='card'><h2>Configuration</h2><dl class='config'>{rows}</dl></section>"


def _log_tail_html(log: Sequence[str], lines: int = 15) -> str:
    if not log:
        return ""
    return f"<section class='card'><h2>End of train.log</h2><pre>{esc(chr(10).join(log[-lines:]))}</pre></section>"


def _finite(v: Any) -> bool:
    return isinstance(v, int | float) and math.isfinite(v)


def _duration(seconds: float) -> str:
    h, rem = divmod(int(seconds), 3600)
    return f"{h} h {rem // 60:02d} min" if h else f"{rem // 60} min {rem % 60:02d} s"
