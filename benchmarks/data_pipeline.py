"""How fast PatchDataset feeds training: patches/s for HR crops at batch 16 with 0, 1 and 2 DataLoader workers.

Usage: python benchmarks/data_pipeline.py [--data DIR ...] [--patch 96] [--scale 4] [--batches 300]
                                          [--degradation bicubic realistic] [--workers 0 1 2]

``--degradation`` measures the LR made by MATLAB bicubic (the paper's, the default) and/or by the realistic chain
(``srgan.data.realistic``, default settings) in the same run, so that their ratio is meaningful on a busy machine.

Without --data, the Set14 benchmark images are used (fine for a speed test; never train on them). The decode
cache goes to a temporary folder, so the first dataset construction includes decoding.

Other jobs on the machine compete for the same cores, so wall-clock patches/s alone says little; every row also
shows patches per CPU-second (main process + workers), and the load average is printed. Two references are
measured in the same run: the dataset's own cost (batches made in-process, no DataLoader), and the DataLoader's
transfer floor (a dataset that returns ready-made tensors of the same shapes, so only collation and the
worker → main process hand-over are left).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler

from srgan.data import PatchDataset
from srgan.train.degradation import DEGRADATIONS, RealisticDegradation

SET14 = Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "Set14"


class ReadyMade(Dataset):
    """Tensors shaped like PatchDataset's, made for free: what is left is the DataLoader's own cost."""

    def __init__(self, length: int, patch: int, scale: int) -> None:
        self.length, self.patch, self.scale = length, patch, scale

    def __len__(self) -> int:
        return self.length

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        n, p = len(indices), self.patch
        lr, hr = torch.zeros(n, 3, p // self.scale, p // self.scale), torch.zeros(n, 3, p, p)
        return list(zip(lr.unbind(), hr.unbind(), strict=True))


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished children (DataLoader workers, once shut down)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _batch_cpu_seconds(ds: PatchDataset, batch: int, seed: int) -> float:
    """CPU time of one batch made in this process (no DataLoader): the pipeline's own cost."""
    indices = torch.randint(len(ds), (batch,), generator=torch.Generator().manual_seed(seed)).tolist()
    start = time.process_time()
    ds.__getitems__(indices)
    return time.process_time() - start


def measure(ds: Dataset, workers: int, batch: int, batches: int) -> tuple[float, float]:
    """(patches/s of wall time, patches per CPU-second) for a shuffled DataLoader, after a short warm-up."""
    cpu_start = _cpu_seconds()
    sampler = RandomSampler(ds, replacement=True, num_samples=batch * (batches + 10),
                            generator=torch.Generator().manual_seed(0))
    loader = DataLoader(ds, batch_size=batch, sampler=sampler, num_workers=workers,
                        persistent_workers=False, prefetch_factor=4 if workers else None)
    it = iter(loader)
    for _ in range(10):  # warm-up: worker start, page cache, first memory maps
        next(it)
    start = time.perf_counter()
    n = 0
    for lr, _hr in it:
        n += lr.shape[0]
    wall = time.perf_counter() - start
    del it, loader  # shut the workers down so that their CPU time is counted
    return n / wall, (n + 10 * batch) / (_cpu_seconds() - cpu_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", type=Path, default=[SET14])
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--batches", type=int, default=300)
    parser.add_argument("--degradation", nargs="+", choices=DEGRADATIONS, default=["bicubic"])
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args()
    torch.set_num_threads(1)  # as in DataLoader workers

    with tempfile.TemporaryDirectory() as cache:
        start = time.perf_counter()
        with warnings.catch_warnings(record=True) as skipped:
            warnings.simplefilter("always")
            ds = PatchDataset(args.data, patch=args.patch, scale=args.scale, cache_dir=Path(cache))
        print(f"dataset: {len(ds.sources)} images ({len(skipped)} skipped), decode + cache "
              f"{time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        PatchDataset(args.data, patch=args.patch, scale=args.scale, cache_dir=Path(cache))
        print(f"reopening from cache: {time.perf_counter() - start:.2f} s")
        print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")

        results: dict[tuple[str, int], float] = {}
        for degradation in args.degradation:
            chain = RealisticDegradation() if degradation == "realistic" else None
            ds = PatchDataset(args.data, patch=args.patch, scale=args.scale, cache_dir=Path(cache), degradation=chain)
            cost = min(_batch_cpu_seconds(ds, args.batch, seed) for seed in range(20)) / args.batch
            print(f"{degradation}: dataset alone (in-process, best of 20 batches of {args.batch}): "
                  f"{cost * 1e6:.0f} µs CPU per patch = {1 / cost:.0f} patches per CPU-second")
            floor = ReadyMade(len(ds), args.patch, args.scale)
            for workers in args.workers:
                speed, per_cpu = measure(ds, workers, args.batch, args.batches)
                results[degradation, workers] = speed
                _, floor_per_cpu = measure(floor, workers, args.batch, args.batches)
                print(f"{degradation}: workers={workers}: {speed:6.0f} patches/s, {per_cpu:6.0f} patches per "
                      f"CPU-second; transfer floor alone {floor_per_cpu:6.0f} per CPU-second "
                      f"({1e6 / floor_per_cpu:.0f} µs per patch)")
        print(f"load average after: {os.getloadavg()[0]:.2f}")

    rss_self = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rss_children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(f"peak RSS: main process {rss_self:.0f} MiB, largest worker {rss_children:.0f} MiB")
    for workers in args.workers:
        if ("bicubic", workers) in results and ("realistic", workers) in results:
            ratio = results["realistic", workers] / results["bicubic", workers]
            print(f"workers={workers}: realistic makes {ratio:.2f}× the patches/s of bicubic")
    if ("bicubic", 2) in results:
        print(f"target 5000 patches/s with 2 workers: {'met' if results['bicubic', 2] >= 5000 else 'NOT met'} "
              f"({results['bicubic', 2]:.0f})")


if __name__ == "__main__":
    main()
