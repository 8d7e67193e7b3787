"""Turn a training run into the shipped ``srresnet-x4`` model: weights, metadata, model card, registry hash.

Usage: python scripts/ship_weights.py RUN_DIR DATA_DIR [--weights generator_best.safetensors]
Writes src/srgan/weights/srresnet_x4.safetensors (fp16 storage: half the size; the card records what that costs on
Set5), evaluates the written file on ../shared/benchmarks Set5/Set14 (evaluation only; never training data), and
writes the model card src/srgan/weights/srresnet_x4.md and the sha256 in src/srgan/weights/__init__.py.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
from pathlib import Path

import torch

from srgan import weights
from srgan.api import Upscaler
from srgan.evaluate import bicubic_upscale, evaluate

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT.parent / "shared" / "benchmarks"
NAME, FILE = "srresnet-x4", "srresnet_x4.safetensors"
# Where the run's stages ran (see scripts/train_shipped.sh); a card states it since quality per hour depends on it.
HARDWARE = ("steps 0–23,982: AMD EPYC (2 cores, AVX2, no native bf16), CPU only, 1 loader worker; "
            "steps 23,982–52,382: one NVIDIA H200, fp32, 14 loader workers, 437 s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("data", type=Path, help="the folder scripts/prepare_data.py made (for SOURCES.tsv)")
    parser.add_argument("--weights", default="generator_best.safetensors")
    args = parser.parse_args()

    src = args.run / args.weights
    meta = weights.read_metadata(src)
    model = weights.load(src)
    config = json.loads((args.run / "config.json").read_text())
    with open(args.data / "SOURCES.tsv") as f:
        sources = list(csv.DictReader(f, delimiter="\t"))
    train_sources = [{"file": r["file"], "source": r["source"], "licence": r["licence"]}
                     for r in sources if r["split"] == "train"]

    training = meta["training"] | {"hardware": HARDWARE,
                                   "command": "scripts/train_shipped.sh",
                                   "data": "the train photos listed under 'data' (scripts/prepare_data.py)"}
    dest = ROOT / "src" / "srgan" / "weights" / FILE
    weights.save(model, dest, torch.float16, name=NAME, training=training, data=train_sources,
                 licence="MIT (weights); training images under their own licences, listed in 'data'")
    shipped = weights.load(dest)
    folders = [BENCH / "Set5", BENCH / "Set14"]
    sr = evaluate(Upscaler(shipped, "cpu", "fp32").upscale, folders, 4)
    fp32_set5 = evaluate(Upscaler(model, "cpu", "fp32").upscale, folders[:1], 4)[0].psnr_y
    training["fp16_storage_set5_psnr_change_db"] = round(sr[0].psnr_y - fp32_set5, 4)
    bic = evaluate(lambda lr: bicubic_upscale(lr, 4), folders, 4)
    table = {r.dataset: {"psnr_y": round(r.psnr_y, 3), "ssim_y": round(r.ssim_y, 4),
                         "bicubic_psnr_y": round(b.psnr_y, 3), "bicubic_ssim_y": round(b.ssim_y, 4),
                         "per_image_psnr_y": {i.name: round(i.psnr_y, 3) for i in r.per_image},
                         "per_image_bicubic_psnr_y": {i.name: round(i.psnr_y, 3) for i in b.per_image}}
             for r, b in zip(sr, bic, strict=True)}
    weights.save(shipped, dest, torch.float16, name=NAME, training=training, eval=table, data=train_sources,
                 licence="MIT (weights); training images under their own licences, listed in 'data'")
    digest = weights.sha256(dest)
    init = ROOT / "src" / "srgan" / "weights" / "__init__.py"
    text = init.read_text()
    text = re.sub(r"SHIPPED: dict\[str, tuple\[str, str\]\] = \{.*?\}\n",
                  f'SHIPPED: dict[str, tuple[str, str]] = {{\n    "{NAME}": ("{FILE}", "{digest}"),\n}}\n',
                  text, flags=re.S)
    init.write_text(text)
    write_card(dest.with_suffix(".md"), training, table, train_sources, config)
    for name, row in table.items():
        print(f"{name}: {row['psnr_y']:.3f} dB / {row['ssim_y']:.4f}  (bicubic {row['bicubic_psnr_y']:.3f} / "
              f"{row['bicubic_ssim_y']:.4f})")
    print(f"wrote {dest} (sha256 {digest})")


def _schedule(lr: float, gamma: float) -> str:
    """The learning-rate stages as scripts/train_shipped.sh runs them (each stage resumes the run)."""
    script = (ROOT / "scripts" / "train_shipped.sh").read_text()
    stages = re.findall(r"^train --steps (\d+) --milestones ([\d ]+?)(?: --.*)?$", script, flags=re.M)
    parts, start = [], 0
    for steps, milestones in stages:
        marks = [int(m) for m in milestones.split()]
        # A milestone at or before the stage's first step only sets the lr it restarts at.
        first = lr * gamma ** sum(m <= start for m in marks)
        decays = ", ".join(str(m) for m in marks if m > start)
        parts.append(f"steps {start}–{steps}: lr {first:g}" + (f" × {gamma} at {decays}" if decays else ""))
        start = int(steps)
    return "; then (restart) ".join(parts)


def write_card(path: Path, training: dict, table: dict, sources: list[dict], config: dict) -> None:
    rows = "\n".join(f"| {n} | {r['psnr_y']:.3f} / {r['ssim_y']:.4f} | {r['bicubic_psnr_y']:.3f} / "
                     f"{r['bicubic_ssim_y']:.4f} |" for n, r in table.items())
    per_image = "\n".join(f"| {n} | {img} | {p:.3f} | {r['per_image_bicubic_psnr_y'][img]:.3f} |"
                          for n, r in table.items() for img, p in r["per_image_psnr_y"].items())
    data = "\n".join(f"| {s['file']} | `{s['source']}` | {s['licence']} |" for s in sources)
    hours = training.get("train_hours", 0)
    path.write_text(f"""# Model card: srresnet-x4

The paper's SRResNet ×4 (16 residual blocks, 64 channels, 1,550,659 parameters), trained here with
`srgan train --phase srresnet` (MSE) on freely licensed photos — never on Set5/Set14. Reproduce with
`scripts/train_shipped.sh` (it downloads the two Debian packages, extracts them, and runs the exact command).

## Training

| setting | value |
|---|---|
| steps | {training['steps']} (batch {training['batch']}, {training['patch']}² HR crops) |
| optimiser | Adam β = (0.9, 0.999); {_schedule(training['lr'], config['gamma'])} |
| seed | {training['seed']} |
| precision | fp32 on both (the CPU has no native bf16) |
| wall time | {hours:.2f} h of training |
| hardware | {training['hardware']} |
| model selection | best validation PSNR-Y (held-out crops, see data) at step {training['best_step']} |
| storage | fp16 ({training['fp16_storage_set5_psnr_change_db']:+.4f} dB Set5 PSNR-Y against the fp32 weights) |

## Evaluation (`srgan eval`, MATLAB bicubic degradation, PSNR-Y / SSIM-Y, border crop 4)

| dataset | srresnet-x4 | bicubic |
|---|---|---|
{rows}

Per image (PSNR-Y dB):

| dataset | image | srresnet-x4 | bicubic |
|---|---|---|---|
{per_image}

## Limitations

This is a short run of a network the paper trained for 10⁶ steps on ImageNet (paper SRResNet Set5: 32.05 dB):
{training['steps']:,} steps on {len(sources)} photos. It is a faithful SRResNet, not a converged one;
`scripts/train_shipped.sh` resumes the run if given more time. The run was interrupted and resumed across work
sessions and moved from a 2-core CPU to a lent GPU (resuming is exact: the batch of each step is a pure function of
the seed and step, and the learning rate of the step); each later stage restarted the learning rate after the one
before had decayed. The wall time includes CPU periods when other jobs shared the two cores (≈ 8–10 patches/s when
idle; the GPU stage ran at ≈ 1,050). Its best validation checkpoint beats bicubic on every Set5 and Set14 image; the
gap to the paper is the steps and the data.

## Training data

| file | source (Debian package or library : path) | licence |
|---|---|---|
{data}
""")


if __name__ == "__main__":
    main()
