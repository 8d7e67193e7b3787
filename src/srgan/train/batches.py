"""Where a step's batch comes from: the step-indexed sampler, and the patches made on the device or by DataLoader
workers (``patch_batches``), which gives the same items either way."""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Sampler

from srgan.data.datasets import PatchDataset
from srgan.data.device import DevicePatches
from srgan.train.config import TrainConfig
from srgan.train.distributed import World
from srgan.train.state import Session


class StepSampler(Sampler[int]):
    """Dataset indices for steps start, start+1, …: step k, rank r gets [k·B·W + r·B, k·B·W + (r+1)·B)."""

    def __init__(self, start_step: int, batch: int, world: World) -> None:
        self.start_step, self.batch, self.world = start_step, batch, world

    def __iter__(self) -> Iterator[int]:
        global_batch = self.batch * self.world.size
        step = self.start_step
        while True:
            first = step * global_batch + self.world.rank * self.batch
            yield from range(first, first + self.batch)
            step += 1


def _leave_stop_signals_to_the_main_process(_worker_id: int) -> None:
    """``docker stop``, systemd and ``kill -- -PGID`` send SIGTERM to every process of the job: a data worker
    dying of it would crash the main process before its checkpoint. Workers ignore it (and Ctrl-C's SIGINT); the
    main process stops them, and they exit by themselves if it dies."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def loader_kind(config: TrainConfig, device: torch.device) -> str:
    """``--loader`` resolved: "device" on a GPU when the degradation can be made there, else "workers"."""
    if config.loader != "auto":
        return config.loader
    return "device" if device.type == "cuda" and config.degradation == "bicubic" else "workers"


@contextlib.contextmanager
def patch_batches(s: Session, dataset: PatchDataset, loader: str,
                  start_step: int) -> Iterator[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
    """The (lr, hr) batches of steps start_step, start_step + 1, … (``StepSampler``'s items), made on the device or
    by DataLoader workers. Workers are stopped when the block ends, however it ends: they ignore SIGTERM (see
    ``_leave_stop_signals_to_the_main_process``), so multiprocessing's exit handler, which terminates and then joins
    them, would wait forever for any the loader had not shut down itself."""
    config = s.config
    sampler = StepSampler(start_step, config.batch, s.world)
    if loader == "device":
        yield DevicePatches(dataset, s.device).batches(iter(sampler), config.batch)
        return
    batches = iter(DataLoader(dataset, batch_size=config.batch, sampler=sampler, num_workers=config.workers,
                              pin_memory=s.device.type == "cuda", persistent_workers=config.workers > 0,
                              prefetch_factor=4 if config.workers else None,
                              worker_init_fn=_leave_stop_signals_to_the_main_process))
    try:
        yield batches
    finally:
        shutdown_workers = getattr(batches, "_shutdown_workers", None)  # absent without workers
        if shutdown_workers is not None:
            shutdown_workers()
