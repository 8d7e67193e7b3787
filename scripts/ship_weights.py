"""Turn a training run into a shipped model (srresnet-x4, srgan-x4, real-x4): weights, metadata, card, registry hash.

Usage: python scripts/ship_weights.py RUN_DIR DATA_DIR [--name srgan-x4|real-x4] [--weights FILE.safetensors]
       [--comparison FILE.md]
Writes src/srgan/weights/<name>.safetensors (fp16 storage: half the size; the card records what that costs on
Set5), evaluates the written file on ../shared/benchmarks Set5/Set14 (evaluation only; never training data) — for
the GAN model also NIQE and the sub-pixel grid index, for real-x4 also with JPEG-75 inputs — and writes the model
card src/srgan/weights/<name>.md and the sha256 in src/srgan/weights/__init__.py. ``--comparison`` is a Markdown
section (the content-loss comparison) copied into the GAN model's card. The cards' text is in scripts/cards/NAME.md,
with the numbers as ``str.format`` fields that this script fills in.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import re
from pathlib import Path

import torch

from srgan import weights
from srgan.api import Upscaler
from srgan.evaluate import bicubic_upscale, evaluate
from srgan.runtime import cpu_model
from srgan.train.runfolder import RunFolder

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "benchmarks"
CARDS = Path(__file__).resolve().parent / "cards"  # the cards' text, with the numbers left as fields
# Where each run's stages ran (scripts/train_shipped*.sh); a card states it since quality per hour depends on it.
HARDWARE = {
    "srresnet-x4": ("first run: steps 0–23,982 on an AMD EPYC (2 cores, AVX2, no native bf16), CPU only, 1 loader "
                    "worker; steps 23,982–52,382 on one NVIDIA H200, fp32, 14 loader workers, 437 s; later runs: one "
                    "NVIDIA H200, bf16 autocast, patches made on the device (--loader device)"),
    "srgan-x4": f"{cpu_model()} (2 cores, AVX512-BF16), CPU only, bf16 autocast, 1 loader worker",
    "real-x4": f"{cpu_model()} (2 cores, AVX512-BF16), CPU only, bf16 autocast, 1 loader worker",
}
HR_NIQE = {"Set5": 5.437, "Set14": 4.922}  # NIQE of the originals (metrics.niqe, the protocol's crops)
LICENCE = "MIT (weights); training images under their own licences, listed in 'data'"
SCRIPTS = {"srresnet-x4": "scripts/train_shipped.sh", "srgan-x4": "scripts/train_shipped_gan.sh",
           "real-x4": "scripts/train_shipped_real.sh"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path, help="the folder scripts/prepare_data.py made (for SOURCES.tsv)")
    parser.add_argument("--name", choices=sorted(HARDWARE), default="srresnet-x4")
    parser.add_argument("--weights", type=Path, help="the weights to ship (default: the run's best generator)")
    parser.add_argument("--comparison", type=Path, help="srgan-x4: Markdown section for the card")
    args = parser.parse_args()
    name, file = args.name, args.name.replace("-", "_") + ".safetensors"
    gan = name == "srgan-x4"

    run = RunFolder(args.run)
    src = args.weights or run.best_generator
    meta = weights.read_metadata(src)
    model = weights.load(src)
    config = json.loads(run.config.read_text())
    with open(args.data / "SOURCES.tsv") as f:
        sources = list(csv.DictReader(f, delimiter="\t"))
    used = {Path(d).name for d in config["data"]}  # the prepare_data folders the run trained on (train, train_scaled)
    train_sources = [{"file": r["file"], "source": r["source"], "licence": r["licence"]}
                     for r in sources if r["split"] in used]
    photos = sum(r["split"] == "train" for r in sources)  # the rest of train_sources are shrunk copies of these
    if name == "srresnet-x4":  # the runs go on from the first one's generator: its photos are this model's too
        train_sources += weights.read_metadata(_lineage(config)[0])["data"]

    training = meta["training"] | {"hardware": HARDWARE[name],
                                   "command": SCRIPTS[name],
                                   "data": "the train photos listed under 'data' (scripts/prepare_data.py)"}
    dest = ROOT / "src" / "srgan" / "weights" / file
    weights.save(model, dest, torch.float16, name=name, training=training, data=train_sources, licence=LICENCE)
    shipped = weights.load(dest)
    folders = [BENCH / "Set5", BENCH / "Set14"]
    metrics = ("psnr", "ssim", "niqe", "grid") if gan else ("psnr", "ssim")
    sr = evaluate(Upscaler(shipped, "cpu", "fp32").upscale, folders, 4, metrics=metrics)
    fp32_set5 = evaluate(Upscaler(model, "cpu", "fp32").upscale, folders[:1], 4)[0].psnr_y
    training["fp16_storage_set5_psnr_change_db"] = round(sr[0].psnr_y - fp32_set5, 4)
    bic = evaluate(lambda lr: bicubic_upscale(lr, 4), folders, 4, metrics=metrics)
    table = {r.dataset: {"psnr_y": round(r.psnr_y, 3), "ssim_y": round(r.ssim_y, 4),
                         "bicubic_psnr_y": round(b.psnr_y, 3), "bicubic_ssim_y": round(b.ssim_y, 4),
                         "per_image_psnr_y": {i.name: round(i.psnr_y, 3) for i in r.per_image},
                         "per_image_bicubic_psnr_y": {i.name: round(i.psnr_y, 3) for i in b.per_image}}
             | ({"niqe": round(r.mean("niqe"), 3), "grid": round(r.mean("grid"), 3),
                 "bicubic_niqe": round(b.mean("niqe"), 3), "bicubic_grid": round(b.mean("grid"), 3)} if gan else {})
             for r, b in zip(sr, bic, strict=True)}
    # real-x4 also carries its scores with JPEG-75 inputs
    real = real_tables(shipped, folders) if name == "real-x4" else None
    weights.save(shipped, dest, torch.float16, name=name, training=training, eval=table, data=train_sources,
                 licence=LICENCE, **({"degraded_eval": real} if real else {}))
    digest = weights.sha256(dest)
    init = ROOT / "src" / "srgan" / "weights" / "__init__.py"
    text = init.read_text()
    entry = f'    "{name}": ("{file}", "{digest}"),\n'
    text, found = re.subn(rf'^    "{name}": \(.*?\),\n', entry, text, flags=re.M)
    if not found:  # a new shipped model: add its line at the end of the registry
        text = re.sub(r"(SHIPPED: dict\[str, tuple\[str, str\]\] = \{\n(?:    .*\n)*)", rf"\g<1>{entry}", text)
    init.write_text(text)
    if real:
        write_real_card(dest.with_suffix(".md"), training, config, real, train_sources, photos)
    elif gan:
        comparison = args.comparison.read_text() if args.comparison else ""
        write_gan_card(dest.with_suffix(".md"), training, table, train_sources, config, comparison)
    else:
        write_card(dest.with_suffix(".md"), training, table, train_sources, config, run, args.data)
    for dataset, row in table.items():
        print(f"{dataset}: {row['psnr_y']:.3f} dB / {row['ssim_y']:.4f}  (bicubic {row['bicubic_psnr_y']:.3f} / "
              f"{row['bicubic_ssim_y']:.4f})" + (f"  NIQE {row['niqe']:.3f}  grid {row['grid']:.3f}" if gan else ""))
    print(f"wrote {dest} (sha256 {digest})")


def real_tables(shipped: torch.nn.Module, folders: list[Path]) -> dict:
    """real-x4 against srresnet-x4 and bicubic, on clean and on JPEG-75 LR: PSNR-Y/SSIM-Y (and blocking)."""
    ups = {"real-x4": Upscaler(shipped, "cpu", "fp32").upscale,
           "srresnet-x4": Upscaler(weights.load(weights.resolve("srresnet-x4")), "cpu", "fp32").upscale,
           "bicubic": lambda lr: bicubic_upscale(lr, 4)}
    tables: dict = {}
    for degrade, metrics in ((None, ("psnr", "ssim")), ("jpeg75", ("psnr", "ssim", "blocking"))):
        rows = tables.setdefault(degrade or "clean", {})
        for model, fn in ups.items():
            for r in evaluate(fn, folders, 4, metrics=metrics, degrade=degrade):
                rows.setdefault(r.dataset, {})[model] = {
                    "psnr_y": round(r.psnr_y, 3), "ssim_y": round(r.ssim_y, 4),
                    **({"blocking": round(r.mean("blocking"), 3)} if degrade else {}),
                    "per_image_psnr_y": {i.name: round(i.psnr_y, 3) for i in r.per_image}}
    return tables


def write_real_card(path: Path, training: dict, config: dict, real: dict, sources: list[dict], photos: int) -> None:
    def rows(kind: str, blocking: bool) -> str:
        return "\n".join(
            f"| {dataset} | " + " | ".join(
                f"{m[k]['psnr_y']:.3f} / {m[k]['ssim_y']:.4f}" + (f" / {m[k]['blocking']:.3f}" if blocking else "")
                for k in ("real-x4", "srresnet-x4", "bicubic")) + " |"
            for dataset, m in real[kind].items())

    j75 = real["jpeg75"]["Set14"]
    per_image = "\n".join(
        f"| {img} | {p:.3f} | {j75['srresnet-x4']['per_image_psnr_y'][img]:.3f} | "
        f"{j75['bicubic']['per_image_psnr_y'][img]:.3f} | {p - j75['bicubic']['per_image_psnr_y'][img]:+.3f} |"
        for img, p in j75["real-x4"]["per_image_psnr_y"].items())
    chain = _toml(config.get("realistic", {}))
    gains = {img: p - j75["bicubic"]["per_image_psnr_y"][img] for img, p in j75["real-x4"]["per_image_psnr_y"].items()}
    gain = j75["real-x4"]["psnr_y"] - j75["bicubic"]["psnr_y"]
    better = f"every one of the {len(gains)}" if min(gains.values()) > 0 else \
        f"{sum(g > 0 for g in gains.values())} of the {len(gains)}"
    # The last stages are new runs, each from the one before's generator (its init): their steps, hours, seeds count.
    runs = [*_earlier_runs(config), training]
    schedule = _schedule(runs[0]["lr"], config["gamma"], training["command"])
    hours, steps = sum(r["train_hours"] for r in runs), sum(r["steps"] for r in runs)
    seeds = ", ".join(str(r["seed"]) for r in runs)
    crops = f"{training['batch']} × {runs[0]['patch']}² HR crops" + (
        f" ({training['patch']}² in the last run)" if training["patch"] != runs[0]["patch"] else "")
    path.write_text(_card("real-x4", training=training, chain=chain, schedule=schedule, seeds=seeds, crops=crops,
                          hours=hours, steps=steps, clean_rows=rows("clean", False), jpeg75_rows=rows("jpeg75", True),
                          per_image=per_image, photos=photos, better=better, gain=gain, data=_data(sources)))


def _card(name: str, **values: object) -> str:
    """The model card of ``name``: its Markdown template (scripts/cards/NAME.md, ``str.format`` fields) filled in."""
    return (CARDS / f"{name}.md").read_text(encoding="utf-8").format_map(values)


def _lineage(config: dict) -> list[Path]:
    """The generators this run descends from, oldest first: each run's init is the generator of the run before it
    (a run folder with its config.json), back to the shipped weights the oldest run started from (the first)."""
    chain = [Path(config["init"])]
    while (chain[0].parent / "config.json").is_file():
        chain.insert(0, Path(json.loads((chain[0].parent / "config.json").read_text())["init"]))
    return chain


def _earlier_runs(config: dict) -> list[dict]:
    """The training metadata of the runs before this one, oldest first (not that of the shipped weights the oldest
    started from: for real-x4 that is another model's training)."""
    return [weights.read_metadata(init)["training"] for init in _lineage(config)[1:]]


def _toml(table: dict) -> str:
    """A settings table as TOML lines: its values first, then its sub-tables under [realistic.NAME]."""
    lines = [f"{k} = {json.dumps(v)}" for k, v in table.items() if not isinstance(v, dict)]
    for name, sub in ((k, v) for k, v in table.items() if isinstance(v, dict)):
        lines += ["", f"[realistic.{name}]", *(f"{k} = {json.dumps(v)}" for k, v in sub.items())]
    return "\n".join(lines)


def _schedule(lr: float, gamma: float, command: str) -> str:
    """The learning-rate stages as the training script ``command`` runs them: each stage resumes the run, except after
    a line that sets ``OUT=`` again, which starts a new run from the last one's generator (steps from 0, new Adam).
    ``lr`` is the script's base lr; a stage line with its own ``--lr`` starts from that one instead."""
    script = (ROOT / command).read_text()
    lines = re.findall(r"^(?:train --steps (\d+) --milestones ([\d ]+?)((?: --.*)?)|(OUT)=.*)$", script, flags=re.M)
    text, start, last = "", 0, None
    for steps, milestones, options, new_run in lines:
        if new_run:
            if text:
                text += "; then a new run from that generator (its own Adam state):"
            start, last = 0, None
            continue
        own = re.search(r"--lr (\S+)", options)
        marks = [int(m) for m in milestones.split()]
        # A milestone at or before the stage's first step only sets the lr it restarts at.
        first = (float(own[1]) if own else lr) * gamma ** sum(m <= start for m in marks)
        passed = [m for m in marks if start < m < int(steps)]
        if last is not None:
            text += "; then (restart) " if first != last else "; then "
        elif text:
            text += " "
        text += f"steps {start}–{steps}: lr {first:g}" + (f" × {gamma} at {', '.join(map(str, passed))}"
                                                             if passed else "")
        start, last = int(steps), first * gamma ** len(passed)
    return text


def _naturalness(table: dict) -> str:
    """The card's claim about naturalness: each dataset's NIQE against its originals' (``HR_NIQE``)."""
    natural = [f"{n} ({r['niqe']:.3f} against their {HR_NIQE[n]})" for n, r in table.items() if r["niqe"] <= HR_NIQE[n]]
    not_yet = [f"{n} ({r['niqe']:.3f} against {HR_NIQE[n]})" for n, r in table.items() if r["niqe"] > HR_NIQE[n]]
    if not natural:
        return f"By NIQE it is not yet as natural as the originals: {', '.join(not_yet)}."
    return (f"By NIQE it is as natural as the originals on {', '.join(natural)}"
            + (f"; not yet on {', '.join(not_yet)}." if not_yet else "."))


def _below(table: dict) -> str:
    """The images on which the GAN model's PSNR-Y falls below bicubic's (the most textured ones, in practice)."""
    below = [f"{n} {img.removesuffix('.png')}" for n, r in table.items()
             for img, p in r["per_image_psnr_y"].items() if p < r["per_image_bicubic_psnr_y"][img]]
    if not below:
        return "Its PSNR-Y is above bicubic's on every Set5 and Set14 image."
    return f"On {', '.join(below)} its PSNR-Y falls below bicubic's."


def _per_image(table: dict) -> str:
    return "\n".join(f"| {n} | {img} | {p:.3f} | {r['per_image_bicubic_psnr_y'][img]:.3f} |"
                     for n, r in table.items() for img, p in r["per_image_psnr_y"].items())


def _data(sources: list[dict]) -> str:
    return "\n".join(f"| {s['file']} | `{s['source']}` | {s['licence']} |" for s in sources)


def _curve(folders: list[Path], start: float) -> str:
    """The validation PSNR-Y of runs against their steps (their metrics.jsonl), as a table, after ``start``: the
    score of the generator the first of them started from."""
    rows = [f"| start | 0 | {start:.3f} |"]
    for k, folder in enumerate(folders, 2):
        for line in RunFolder(folder).metrics.read_text().splitlines():
            r = json.loads(line)
            if r["kind"] == "val":
                psnr = next(v for key, v in r.items() if key.endswith("/psnr_y"))
                rows.append(f"| {k} | {r['step']:,} | {psnr:.3f} |")
    return "| run | step | PSNR-Y |\n|---|---:|---:|\n" + "\n".join(rows)


def write_card(path: Path, training: dict, table: dict, sources: list[dict], config: dict, run: RunFolder,
               data_dir: Path) -> None:
    """srresnet-x4's card: the runs from the first one's generator (``_lineage``), with their validation curve."""
    rows = "\n".join(f"| {n} | {r['psnr_y']:.3f} / {r['ssim_y']:.4f} | {r['bicubic_psnr_y']:.3f} / "
                     f"{r['bicubic_ssim_y']:.4f} |" for n, r in table.items())
    root, *inits = _lineage(config)
    first = weights.read_metadata(root)
    runs = [first["training"], *_earlier_runs(config), training]
    later = [r["train_hours"] for r in runs[1:]]
    start = evaluate(Upscaler(weights.load(root), "cpu", "fp32").upscale, config["val"], 4)[0].psnr_y
    new_photos = len(sources) - len(first["data"])
    manifest = hashlib.sha256((data_dir / "manifest.sha256").read_bytes()).hexdigest()
    path.write_text(_card(
        "srresnet-x4", training=training, rows=rows, per_image=_per_image(table), data=_data(sources[:new_photos]),
        first_data=_data(sources[new_photos:]), photos=new_photos, manifest=manifest, n_runs=len(runs),
        steps=sum(r["steps"] for r in runs), patches=sum(r["steps"] * r["batch"] for r in runs),
        runs_steps=", ".join(f"{r['steps']:,} of batch {r['batch']}" for r in runs),
        seeds=", ".join(str(r["seed"]) for r in runs), hours=sum(r["train_hours"] for r in runs),
        gpu_hours=sum(later), curve=_curve([*(i.parent for i in inits), run.root], start),
        schedule=_schedule(runs[0]["lr"], config["gamma"], training["command"])))


def write_gan_card(path: Path, training: dict, table: dict, sources: list[dict], config: dict,
                   comparison: str) -> None:
    rows = "\n".join(f"| {n} | {r['psnr_y']:.3f} / {r['ssim_y']:.4f} | {r['niqe']:.3f} | {r['grid']:.3f} | "
                     f"{r['bicubic_psnr_y']:.3f} / {r['bicubic_ssim_y']:.4f} | {r['bicubic_niqe']:.3f} | "
                     f"{r['bicubic_grid']:.3f} |" for n, r in table.items())
    originals = ", ".join(f"{n} {v}" for n, v in HR_NIQE.items())
    path.write_text(_card("srgan-x4", training=training, rows=rows, originals=originals, comparison=comparison,
                          adv_weight=config["adv_weight"], hours=training.get("train_hours", 0),
                          schedule=_schedule(training["lr"], config["gamma"], training["command"]),
                          per_image=_per_image(table), naturalness=_naturalness(table), below=_below(table),
                          data=_data(sources)))


if __name__ == "__main__":
    main()
