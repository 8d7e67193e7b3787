"""Training throughput of the real loop (``srgan.train.trainer.train``), both phases, batch 16, 96² patches.

Variants, measured in this one process so their ratios are comparable: ``fp32`` (channels_last on a CPU, NCHW on
a GPU), ``auto`` (this machine's default precision policy) and ``bf16`` (bf16 autocast + channels_last, forced).
Each run takes WARMUP + MEASURED steps; patches/s comes from the loop's own log over the measured steps.
Random weights and synthetic photos-like images: speed only. Usage: python benchmarks/train_step.py [--steps N]
"""

from __future__ import annotations

import argparse
import json
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srgan import weights
from srgan.models import Generator
from srgan.models.vgg import _build_features
from srgan.runtime import cpu_has_native_bf16, resolve_device, resolve_precision
from srgan.train.config import build_config
from srgan.train.runfolder import RunFolder
from srgan.train.trainer import train


def _images(folder: Path, n: int = 4, size: int = 256) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        img = np.stack([np.sin(xx / (5 + i)), np.cos(yy / 7), np.sin((xx + yy) / (9 + i))], -1) * 90 + 128
        Image.fromarray(np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)).save(folder / f"{i}.png")


def run(tmp: Path, phase: str, precision: str, warmup: int, measured: int) -> float:
    out = tmp / f"{phase}-{precision}"
    flags = {"out": str(out), "phase": phase, "data": [str(tmp / "data")], "precision": precision, "workers": 1,
             "steps": warmup + measured, "log_every": warmup, "milestones": [], "preview_every": 10**9,
             "save_every": "100000"}
    if phase == "srgan":
        flags |= {"init": str(tmp / "init.safetensors"), "vgg_weights": str(tmp / "vgg19.pth")}
    train(build_config(flags))
    rows = [json.loads(line) for line in RunFolder(out).metrics.read_text().splitlines()]
    train_rows = [r for r in rows if r["kind"] == "train"]
    return float(train_rows[-1]["patches_per_s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=4, help="measured steps per variant")
    args = parser.parse_args()
    device = resolve_device("auto")
    auto = resolve_precision("auto", device)
    print(f"device {device}; native bf16 on this CPU: {cpu_has_native_bf16()}; auto precision = {auto or 'fp32'}")
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "data").mkdir()
        _images(tmp / "data")
        weights.save(Generator(), tmp / "init.safetensors")
        torch.save({f"features.{k}": v for k, v in _build_features(36).state_dict().items()}, tmp / "vgg19.pth")
        results: dict[tuple[str, str], float] = {}
        for phase in ("srresnet", "srgan"):
            for precision in ("fp32", "auto", "bf16"):
                t0 = time.monotonic()
                results[phase, precision] = run(tmp, phase, precision, args.warmup, args.steps)
                print(f"  {phase:8s} {precision:4s}: {results[phase, precision]:7.2f} patches/s "
                      f"({time.monotonic() - t0:.0f} s)", flush=True)
    print("\n| phase | fp32 | default (auto) | bf16 + channels_last | default / fp32 |")
    print("|---|---|---|---|---|")
    for phase in ("srresnet", "srgan"):
        r = results
        print(f"| {phase} | {r[phase, 'fp32']:.2f} | {r[phase, 'auto']:.2f} | {r[phase, 'bf16']:.2f} | "
              f"{r[phase, 'auto'] / r[phase, 'fp32']:.2f}× |")
    print(f"\npeak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB "
          "(batch 16, 96² patches, both phases)")


if __name__ == "__main__":
    main()
