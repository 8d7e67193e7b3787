"""Training throughput of the real loop (``srgan.train.trainer.train``), both phases, 96² patches.

On a CPU (batch 16): ``fp32`` (channels_last), ``auto`` (this machine's default precision policy) and ``bf16``
(bf16 autocast + channels_last, forced), patches made by DataLoader workers. With ``--device cuda``: the old GPU
recipe (fp32, batch 16, DataLoader workers) against patches made on the device (``--loader device``) at growing
batches in fp32 and bf16, the ratio to the old recipe in the last column. All variants run in this one process, so
their ratios are comparable. Each run takes WARMUP + MEASURED steps; patches/s comes from the loop's own log over
the measured steps. Random weights and synthetic photo-like images: speed only.
Usage: python benchmarks/train_step.py [--device cuda] [--steps N] [--warmup N]
"""

from __future__ import annotations

import argparse
import json
import os
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

# (phase, precision, loader, batch); the first row of each phase is the baseline of the ratio column.
CPU_VARIANTS = [(phase, precision, "workers", 16) for phase in ("srresnet", "srgan")
                for precision in ("fp32", "auto", "bf16")]
GPU_VARIANTS = [("srresnet", "fp32", "workers", 16), ("srresnet", "fp32", "device", 16),
                ("srresnet", "bf16", "device", 16), ("srresnet", "fp32", "device", 128),
                ("srresnet", "bf16", "device", 128), ("srresnet", "bf16", "device", 256),
                ("srresnet", "bf16", "device", 512),
                ("srgan", "fp32", "workers", 16), ("srgan", "bf16", "device", 128)]


def _images(folder: Path, n: int = 4, size: int = 256) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        img = np.stack([np.sin(xx / (5 + i)), np.cos(yy / 7), np.sin((xx + yy) / (9 + i))], -1) * 90 + 128
        Image.fromarray(np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)).save(folder / f"{i}.png")


def run(tmp: Path, variant: tuple[str, str, str, int], device: str, workers: int, warmup: int,
        measured: int) -> float:
    phase, precision, loader, batch = variant
    out = tmp / "-".join(map(str, variant))
    flags = {"out": str(out), "phase": phase, "data": [str(tmp / "data")], "precision": precision,
             "workers": workers if loader == "workers" else 0, "loader": loader, "batch": batch, "device": device,
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
    parser.add_argument("--device", default="auto", help="auto (default), cpu, cuda")
    parser.add_argument("--warmup", type=int, help="unmeasured steps per variant (2 on a CPU, 20 on a GPU)")
    parser.add_argument("--steps", type=int, help="measured steps per variant (4 on a CPU, 60 on a GPU)")
    parser.add_argument("--workers", type=int, default=min(14, max(1, (os.cpu_count() or 2) - 2)),
                        help="DataLoader workers of the workers rows on a GPU (CPUs - 2, at most 14)")
    args = parser.parse_args()
    device = resolve_device(args.device)
    gpu = device.type == "cuda"
    warmup, steps = args.warmup or (20 if gpu else 2), args.steps or (60 if gpu else 4)
    auto = resolve_precision("auto", device)
    name = torch.cuda.get_device_name(device) if gpu else f"CPU, native bf16: {cpu_has_native_bf16()}"
    print(f"device {device} ({name}); auto precision = {auto or 'fp32'}; {warmup} + {steps} steps per variant")
    results: dict[tuple[str, str, str, int], float] = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "data").mkdir()
        _images(tmp / "data", n=16 if gpu else 4)
        weights.save(Generator(), tmp / "init.safetensors")
        torch.save({f"features.{k}": v for k, v in _build_features(36).state_dict().items()}, tmp / "vgg19.pth")
        for variant in GPU_VARIANTS if gpu else CPU_VARIANTS:
            t0 = time.monotonic()
            try:
                results[variant] = run(tmp, variant, str(device), args.workers if gpu else 1, warmup, steps)
            except torch.OutOfMemoryError:
                print(f"  {variant}: out of memory", flush=True)
                continue
            print(f"  {' '.join(map(str, variant))}: {results[variant]:9.1f} patches/s "
                  f"({time.monotonic() - t0:.0f} s)", flush=True)
    print("\n| phase | precision | patches made by | batch | patches/s | × first row of the phase |")
    print("|---|---|---|---:|---:|---:|")
    for variant, rate in results.items():
        base = next((r for v, r in results.items() if v[0] == variant[0]), rate)
        print(f"| {' | '.join(map(str, variant))} | {rate:,.1f} | {rate / base:.2f}× |")
    print(f"\npeak RSS: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if gpu:
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**30:.1f} GiB")


if __name__ == "__main__":
    main()
