"""One training loop for both phases of the paper.

Phase ``srresnet``: the generator alone, MSE on [−1, 1] images (the paper's SRResNet-MSE).
Phase ``srgan``: generator initialised from SRResNet weights, loss = content + 1e-3 · adversarial, the
discriminator trained by its own Adam on real/fake, alternating with the generator (k = 1). The losses live in
``srgan.train.losses``; D's accuracy on real and fake patches is logged as the run's health signal.

The batch of step k is a pure function of (seed, k) (see ``StepSampler``), so a resumed run sees exactly the data
an uninterrupted one would, without saving any sampler state beyond the step.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Sampler

from srgan import weights
from srgan.data.datasets import PatchDataset
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.evaluate import bicubic_upscale, evaluate
from srgan.fileio import atomic_write
from srgan.images import read_rgb8, scan_folder
from srgan.metrics import psnr_y
from srgan.models import Discriminator, Generator
from srgan.runtime import autocast, configure_threads, memory_format, resolve_device, resolve_precision
from srgan.train import checkpoint
from srgan.train.config import TrainConfig, parse_duration, parse_every
from srgan.train.distributed import World, convert_batchnorm, init_from_env, shutdown
from srgan.train.losses import CollapseWatch, ContentLoss, discriminator_loss, generator_adversarial_loss
from srgan.train.previews import preview_grid, save_preview

N_PREVIEWS = 4
VAL_METRICS = {"srresnet": ("psnr", "ssim"), "srgan": ("psnr", "ssim", "niqe")}


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


@dataclass
class StopFlag:
    """Set by SIGINT/SIGTERM; the loop finishes the current step, checkpoints and exits 0."""

    signal: int | None = None

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, _frame: Any) -> None:
        self.signal = signum


def _leave_stop_signals_to_the_main_process(_worker_id: int) -> None:
    """``docker stop``, systemd and ``kill -- -PGID`` send SIGTERM to every process of the job: a data worker
    dying of it would crash the main process before its checkpoint. Workers ignore it (and Ctrl-C's SIGINT); the
    main process stops them, and they exit by themselves if it dies."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


@dataclass
class RunLog:
    """train.log (plain lines), metrics.jsonl (one JSON record per event) and optional TensorBoard scalars."""

    run: Path
    enabled: bool
    tensorboard: Any = None
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.enabled:
            return
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(str(self.run / "tensorboard"))
        except ImportError:
            self.tensorboard = None

    def line(self, text: str, echo: bool = True) -> None:
        if not self.enabled:
            return
        self._append("train.log", text)
        if echo:
            print(text, flush=True)

    def _append(self, name: str, text: str) -> None:
        """One line to a log file; a full disk (or any write error) stops the run with one line, not a traceback
        (the newest checkpoint stays as it was)."""
        try:
            with open(self.run / name, "a") as f:
                f.write(text + "\n")
        except OSError as e:
            raise SrganError(f"cannot append to the log ({e.strerror or e}); the run stopped", self.run / name) from e

    def record(self, kind: str, step: int, values: dict[str, float]) -> None:
        if not self.enabled:
            return
        self._append("metrics.jsonl", json.dumps({"kind": kind, "step": step, "time": time.time(), **values}))
        if self.tensorboard is not None:
            for k, v in values.items():
                self.tensorboard.add_scalar(f"{kind}/{k}", v, step)


def _fixed_crops(folders: tuple[str, ...], patch: int, scale: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to N_PREVIEWS centre crops (hr uint8, lr uint8) from the first images of ``folders``."""
    crops = []
    paths = [p for folder in folders for p in scan_folder(folder)[0]]
    for path in paths[:N_PREVIEWS]:
        try:
            img = read_rgb8(path)
        except SrganError:
            continue
        h, w = img.shape[:2]
        side = min(h, w, patch * 2) // scale * scale
        if side < scale * 4:
            continue
        y, x = (h - side) // 2, (w - side) // 2
        hr = np.ascontiguousarray(img[y:y + side, x:x + side])
        crops.append((hr, imresize(hr, 1 / scale)))
    return crops


def _to_image(y: torch.Tensor) -> np.ndarray:
    """Generator output (1, 3, H, W) in nominal [−1, 1] → uint8 HWC."""
    y = ((y.float() + 1) * 127.5).round().clamp(0, 255)
    return y[0].permute(1, 2, 0).to(torch.uint8).cpu().numpy()


def _super_resolve(g: Generator, device: torch.device, dtype: torch.dtype | None, lr: np.ndarray) -> np.ndarray:
    """Whole-image SR of one uint8 RGB image with the training graph in eval mode (validation images are small)."""
    x = torch.from_numpy(lr).permute(2, 0, 1)[None].float().div(255)
    x = x.to(device, memory_format=memory_format(device, dtype))
    with torch.no_grad(), autocast(device, dtype):
        return _to_image(g(x))


def train(config: TrainConfig, restart: bool = False) -> Path:
    """Run (or resume) training as configured; returns the path of the final generator weights. ``restart``
    first moves an existing run's files aside (``checkpoint.move_aside``) instead of resuming it. Rank 0 holds
    the run folder's lock (``checkpoint.RunLock``) for all ranks until training ends, however it ends."""
    device = resolve_device(config.device)
    world = init_from_env(device.type)
    with checkpoint.RunLock(Path(config.out)) if world.is_main else contextlib.nullcontext():
        return _train(config, restart, device, world)


def _train(config: TrainConfig, restart: bool, device: torch.device, world: World) -> Path:
    # ---- setup: device, precision, world, run folder --------------------------------------------------------
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    else:
        configure_threads()
    dtype = resolve_precision(config.precision, device)
    fmt = memory_format(device, dtype)
    run = Path(config.out)
    # What the folder holds is checked before anything is written to it.
    moved = checkpoint.move_aside(run) if restart and world.is_main else None
    if world.size > 1:
        torch.distributed.barrier()  # the other ranks read the folder once rank 0 owns (and maybe emptied) it
    latest = checkpoint.load_latest(run)  # None for a new run; refuses one whose checkpoints all fail to load
    if world.is_main:
        (run / "previews").mkdir(parents=True, exist_ok=True)
    log = RunLog(run, world.is_main)
    if moved is not None:
        log.line(f"--restart: the earlier run's files are now in {moved}")
    if latest is not None and world.is_main:
        aside = checkpoint.set_aside([Path(str(e.path)) for e in latest.skipped])
        for error, path in zip(latest.skipped, aside, strict=True):
            log.line(f"skipped checkpoint {error}; renamed to {path.name}")
    stop = StopFlag()
    stop.install()

    # ---- models and optimisers --------------------------------------------------------------------------
    torch.manual_seed(config.seed)
    g = Generator(config.scale, config.blocks, config.channels)
    if config.init:  # srgan phase: the SRResNet to start from; srresnet phase: a model to fine-tune
        init = weights.load(config.init)
        if init.config != g.config:
            raise SrganError(f"--init generator is {init.config}, but the run asks for {g.config}", config.init)
        g.load_state_dict(init.state_dict())
    d = Discriminator(config.patch) if config.phase == "srgan" else None
    if world.size > 1:  # before the optimisers are built: conversion replaces the BatchNorm parameters
        g = convert_batchnorm(g, device.type)
        d = convert_batchnorm(d, device.type) if d is not None else None
    content_loss = ContentLoss(config.content if config.phase == "srgan" else "mse", config.vgg_weights)
    # On the device before the optimisers load a checkpoint: Adam puts its resumed state beside each parameter.
    for m in (g, d, content_loss):
        if m is not None:
            m.to(device, memory_format=fmt)
    betas = (0.9, 0.999)
    opt_g = torch.optim.Adam(g.parameters(), lr=config.learning_rate, betas=betas)
    opt_d = torch.optim.Adam(d.parameters(), lr=config.learning_rate, betas=betas) if d else None
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)

    # ---- resume -----------------------------------------------------------------------------------------
    step, stats = 0, {"nonfinite_total": 0, "train_seconds": 0.0, "best_psnr": -math.inf, "best_step": -1}
    if latest is not None:
        state = latest.state
        if state["phase"] != config.phase:
            raise SrganError(f"run holds a {state['phase']} run; use a new --out for phase {config.phase}", run)
        g.load_state_dict(state["generator"])
        opt_g.load_state_dict(state["opt_g"])
        if d is not None:
            d.load_state_dict(state["discriminator"])
            opt_d.load_state_dict(state["opt_d"])
        scaler.load_state_dict(state["scaler"])
        checkpoint.set_rng_state(state["rng"])
        step, stats = state["step"], state["stats"]
        log.line(f"resumed from step {step} ({latest.path})")
    if world.is_main:  # what a later `srgan train --out RUN` resumes with, once everything above has accepted it
        atomic_write(run / "config.json", lambda tmp: tmp.write_text(json.dumps(config.to_dict(), indent=1)))

    # Distributed: BatchNorm over the global batch, gradients averaged by DDP; the unwrapped modules are saved.
    g_train: nn.Module = g
    d_train: nn.Module | None = d
    if world.size > 1:
        g_train = DistributedDataParallel(g)
        d_train = DistributedDataParallel(d) if d is not None else None
    g.train()
    if d is not None:
        d.train()

    # ---- data -------------------------------------------------------------------------------------------
    # Items depend only on (seed, index) and the sampler never wraps, so the virtual length is unbounded.
    dataset = PatchDataset(config.data, patch=config.patch, scale=config.scale, seed=config.seed, length=2**62,
                           degradation=config.realistic if config.degradation == "realistic" else None)
    if dataset.skipped:
        log.line(f"skipped {len(dataset.skipped)} unusable image(s): "
                 + "; ".join(f"{p} ({why})" for p, why in dataset.skipped[:5]))
    loader = DataLoader(dataset, batch_size=config.batch, sampler=StepSampler(step, config.batch, world),
                        num_workers=config.workers, pin_memory=device.type == "cuda",
                        persistent_workers=config.workers > 0, prefetch_factor=4 if config.workers else None,
                        worker_init_fn=_leave_stop_signals_to_the_main_process)
    previews = _fixed_crops(config.val or config.data, config.patch, config.scale) if world.is_main else []

    # ---- helpers bound to this run ------------------------------------------------------------------------
    save_steps, save_seconds = parse_every(config.save_every)
    budget = parse_duration(config.max_time) if config.max_time else math.inf
    total = config.total_steps

    def state_dict() -> dict[str, Any]:
        return {
            "phase": config.phase, "step": step, "config": config.to_dict(), "stats": stats,
            "generator": g.state_dict(), "opt_g": opt_g.state_dict(),
            "discriminator": d.state_dict() if d else None, "opt_d": opt_d.state_dict() if opt_d else None,
            "scaler": scaler.state_dict(),
            "rng": checkpoint.rng_state(),
        }

    def summary() -> dict[str, Any]:
        return {"phase": config.phase, "steps": step, "batch": config.batch * world.size, "patch": config.patch,
                "lr": config.learning_rate, "milestones": list(config.lr_milestones), "seed": config.seed,
                "content": config.content if config.phase == "srgan" else "mse",
                "train_hours": round(stats["train_seconds"] / 3600, 3), "data": list(config.data),
                "best_val_psnr_y": stats["best_psnr"] if stats["best_step"] >= 0 else None,
                "best_step": stats["best_step"]} | (
                   {"best_val_niqe": stats["best_niqe"]} if "best_niqe" in stats else {}) | config.extra_metadata

    def write_preview() -> None:
        g.eval()
        rows, psnrs = [], []
        for hr, lr in previews:
            sr = _super_resolve(g, device, dtype, lr)
            bic = bicubic_upscale(lr, config.scale)
            rows.append((lr, bic, sr, hr))
            psnrs.append((psnr_y(bic, hr, config.scale), psnr_y(sr, hr, config.scale)))
        g.train()
        if rows:
            save_preview(preview_grid(rows, psnrs), run / "previews" / f"step_{step:07d}.png")

    def validate() -> None:
        # The MSE phase keeps its best PSNR-Y; the GAN phase trades PSNR for naturalness, so it also scores NIQE and
        # its best generator is the most natural one (lowest mean NIQE).
        gan = config.phase == "srgan"
        g.eval()
        results = evaluate(lambda lr: _super_resolve(g, device, dtype, lr), config.val, config.scale,
                           metrics=VAL_METRICS[config.phase])
        g.train()
        values = {f"{r.dataset}/{key}": r.mean(key) for r in results for key in r.per_image[0].scores}
        log.record("val", step, values)
        log.line(f"val step {step}: " + "  ".join(
            f"{r.dataset} {r.psnr_y:.3f} dB / {r.ssim_y:.4f}" + (f" / NIQE {r.mean('niqe'):.3f}" if gan else "")
            for r in results))
        mean_psnr = float(np.mean([r.psnr_y for r in results]))
        if gan:
            mean_niqe = float(np.mean([r.mean("niqe") for r in results]))
            better = mean_niqe < stats.get("best_niqe", math.inf)
        else:
            better = mean_psnr > stats["best_psnr"]
        if better:
            stats["best_psnr"], stats["best_step"] = mean_psnr, step
            if gan:
                stats["best_niqe"] = mean_niqe
            weights.save(g, run / "generator_best.safetensors", training=summary())

    def save_checkpoint() -> None:
        if world.is_main:
            checkpoint.save(run, state_dict(), step, config.keep)

    def stop_for(problem: str) -> SrganError:
        """A fault that ends the run (non-finite losses, a collapsed GAN): checkpoint, say why in train.log (where
        `srgan report` finds it), and the error for the caller to raise."""
        save_checkpoint()
        log.line(f"stopped: {problem}")
        return SrganError(problem, run)

    # ---- the loop -----------------------------------------------------------------------------------------
    log.line(f"{config.phase}: step {step} → {total}, batch {config.batch}×{world.size}, patch {config.patch}, "
             f"device {device}, precision {dtype or 'fp32'}, {len(dataset.sources)} images")
    started = last_save = last_log = time.monotonic()
    start_step, log_step, nonfinite_run = step, step, 0
    collapse = CollapseWatch(config.collapse_steps)
    seconds_before = stats["train_seconds"]
    data_iter = iter(loader)
    stop_reason = "steps"
    while step < total:
        for opt in filter(None, (opt_g, opt_d)):
            for group in opt.param_groups:
                group["lr"] = config.lr_at(step)

        # data
        lr_img, hr_img = next(data_iter)
        lr_img = lr_img.to(device, non_blocking=True, memory_format=fmt)
        hr_img = hr_img.to(device, non_blocking=True, memory_format=fmt)

        # forward + losses
        with autocast(device, dtype):
            sr = g_train(lr_img)
        losses: dict[str, torch.Tensor] = {}
        if d_train is not None:
            # discriminator step on real vs (detached) fake
            with autocast(device, dtype):
                real, fake = d_train(hr_img), d_train(sr.detach())
            loss_d = discriminator_loss(real, fake)
            acc_real, acc_fake = collapse.update(real, fake)
            losses["d"] = loss_d
            losses["d_acc_real"], losses["d_acc_fake"] = torch.tensor(acc_real), torch.tensor(acc_fake)
            if torch.isfinite(loss_d):
                opt_d.zero_grad(set_to_none=True)
                scaler.scale(loss_d).backward()
                scaler.step(opt_d)
            # generator: content + adversarial (−log D(G(x))). D is frozen and called unwrapped here: its
            # parameter gradients would be discarded anyway, and DDP must not wait for them.
            d.requires_grad_(False)
            with autocast(device, dtype):
                judged = d(sr)
                content = content_loss(sr, hr_img)
            d.requires_grad_(True)
            adversarial = generator_adversarial_loss(judged)
            losses["content"], losses["adv"] = content, adversarial
            loss_g = content + config.adv_weight * adversarial
        else:
            loss_g = content_loss(sr, hr_img)
        losses["g"] = loss_g

        # backward (a non-finite loss skips the step; too many in a row stops the run)
        if torch.isfinite(loss_g):
            nonfinite_run = 0
            opt_g.zero_grad(set_to_none=True)
            scaler.scale(loss_g).backward()
            scaler.step(opt_g)
        else:
            nonfinite_run += 1
            stats["nonfinite_total"] += 1
            opt_g.zero_grad(set_to_none=True)
            if nonfinite_run >= config.max_nonfinite:
                raise stop_for(f"{nonfinite_run} non-finite losses in a row at step {step}; last checkpoint kept "
                               "— lower --lr or use --precision fp32")
        scaler.update()
        step += 1
        now = time.monotonic()
        stats["train_seconds"] = seconds_before + now - started
        if collapse.collapsed:
            raise stop_for(f"GAN collapsed: the discriminator was right on every real and generated patch for "
                           f"{collapse.run} steps in a row (up to step {step}); checkpoint saved — resume from an "
                           "earlier generator, lower --lr or raise --adv-weight")

        # logging
        if step % config.log_every == 0 or step == total:
            elapsed = now - last_log
            rate = (step - log_step) * config.batch * world.size / max(elapsed, 1e-9)
            last_log, log_step = now, step
            values = {k: v.item() for k, v in losses.items()} | {"lr": opt_g.param_groups[0]["lr"],
                                                                 "patches_per_s": rate}
            log.record("train", step, values)
            left_steps = (total - step) * config.batch * world.size / max(rate, 1e-9)
            eta = min(left_steps, budget - (now - started))
            log.line(f"step {step:>8d}  " + "  ".join(f"{k} {v:.5g}" for k, v in values.items())
                     + f"  eta {time.strftime('%H:%M:%S', time.gmtime(max(eta, 0)))}")

        # previews, validation, checkpoint, stop
        if world.is_main and previews and step % config.preview_every == 0:
            write_preview()
        if world.is_main and config.val and step % config.val_every == 0:
            validate()
        if stop.signal is not None:
            stop_reason = signal.Signals(stop.signal).name
            break
        if now - started >= budget:
            stop_reason = "max-time"
            break
        if (save_steps and step % save_steps == 0) or (save_seconds and now - last_save >= save_seconds):
            save_checkpoint()
            last_save = now

    # ---- the end: final checkpoint and generator ------------------------------------------------------------
    save_checkpoint()
    final = run / "generator.safetensors"
    if world.is_main:
        weights.save(g, final, training=summary())
        log.line(f"stopped at step {step} ({stop_reason}) after {time.monotonic() - started:.0f} s "
                 f"({step - start_step} steps); weights: {final}")
    if log.tensorboard is not None:
        log.tensorboard.close()
    shutdown(world)
    return final

