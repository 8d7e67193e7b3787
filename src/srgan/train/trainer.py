"""One training loop for both phases of the paper.

Phase ``srresnet``: the generator alone, MSE on [−1, 1] images (the paper's SRResNet-MSE).
Phase ``srgan``: generator initialised from SRResNet weights, loss = content + 1e-3 · adversarial, the
discriminator trained by its own Adam on real/fake, alternating with the generator (k = 1). The losses live in
``srgan.train.losses``; D's accuracy on real and fake patches is logged as the run's health signal.

The batch of step k is a pure function of (seed, k) (see ``StepSampler``), so a resumed run sees exactly the data
an uninterrupted one would, without saving any sampler state beyond the step.

The stages, in the order ``_train`` runs them: ``build_nets`` (models and optimisers), ``resume`` (the newest
checkpoint), ``distribute`` (DDP under torchrun), the data, then ``run_loop``: each step's ``train_step`` and the
events between steps (``log_losses``, ``write_preview``, ``validate``, ``save_checkpoint``, ``stop_for``). What
they share is explicit: the ``Session`` (settings, run folder, log, device), the ``Nets`` and the ``Progress``
(step and counters, which a checkpoint carries). Previews and validation run the generator as ``srgan eval`` runs
its saved weights (``eval_upscaler``), so a validation PSNR in train.log is the one ``srgan eval`` reports.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.parallel import DistributedDataParallel

from srgan import weights
from srgan.api import Upscaler
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
from srgan.train.batches import loader_kind, patch_batches
from srgan.train.config import TrainConfig, parse_duration, parse_every
from srgan.train.distributed import World, convert_batchnorm, init_from_env, shutdown
from srgan.train.losses import CollapseWatch, ContentLoss, discriminator_loss, generator_adversarial_loss
from srgan.train.previews import preview_grid, save_preview
from srgan.train.runfolder import RunFolder
from srgan.train.state import Nets, Progress, RunLog, Session, StopFlag

N_PREVIEWS = 4
VAL_METRICS = {"srresnet": ("psnr", "ssim"), "srgan": ("psnr", "ssim", "niqe")}


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


def train(config: TrainConfig, restart: bool = False) -> Path:
    """Run (or resume) training as configured; returns the path of the final generator weights. ``restart``
    first moves an existing run's files aside (``RunFolder.move_aside``) instead of resuming it. Rank 0 holds
    the run folder's lock (``checkpoint.RunLock``) for all ranks until training ends, however it ends."""
    device = resolve_device(config.device)
    # What the run reads besides its photos is loaded before its folder exists: a refused --init or --vgg-weights
    # leaves nothing behind.
    init = weights.load(config.init) if config.init else None
    content_loss = ContentLoss(config.content if config.phase == "srgan" else "mse", config.vgg_weights)
    world = init_from_env(device.type)
    with checkpoint.RunLock(RunFolder(Path(config.out))) if world.is_main else contextlib.nullcontext():
        return _train(config, restart, device, world, Inputs(init, content_loss))


@dataclass(frozen=True)
class Inputs:
    """The generator to start from (``--init``) and the content loss with its feature network, loaded first."""

    init: Generator | None
    content_loss: ContentLoss


def _train(config: TrainConfig, restart: bool, device: torch.device, world: World, inputs: Inputs) -> Path:
    # ---- setup: device, precision, run folder -----------------------------------------------------------------
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
        torch.backends.cudnn.benchmark = True  # fixed patch and batch sizes: cuDNN picks each conv's fastest kernel
    else:
        configure_threads()
    run = RunFolder(Path(config.out))
    # What the folder holds is checked before anything is written to it.
    moved = run.move_aside() if restart and world.is_main else None
    if world.size > 1:
        torch.distributed.barrier()  # the other ranks read the folder once rank 0 owns (and maybe emptied) it
    latest = checkpoint.load_latest(run)  # None for a new run; refuses one whose checkpoints all fail to load
    if world.is_main:
        run.previews.mkdir(parents=True, exist_ok=True)
    s = Session(config, run, RunLog(run, world.is_main), device, resolve_precision(config.precision, device), world)
    if moved is not None:
        s.log.line(f"--restart: the earlier run's files are now in {moved}")
    if latest is not None and world.is_main:
        aside = run.set_aside([Path(str(e.path)) for e in latest.skipped])
        for error, path in zip(latest.skipped, aside, strict=True):
            s.log.line(f"skipped checkpoint {error}; renamed to {path.name}")
    stop = StopFlag()
    stop.install()

    # ---- models, optimisers, resume ---------------------------------------------------------------------------
    nets = build_nets(s, inputs)
    progress = resume(s, nets, latest)
    if world.is_main:  # what a later `srgan train --out RUN` resumes with, once everything above has accepted it
        atomic_write(run.config, lambda tmp: tmp.write_text(json.dumps(config.to_dict(), indent=1)))
    nets = distribute(s, nets)

    # ---- data -------------------------------------------------------------------------------------------------
    # Items depend only on (seed, index) and the sampler never wraps, so the virtual length is unbounded.
    dataset = PatchDataset(config.data, patch=config.patch, scale=config.scale, seed=config.seed, length=2**62,
                           degradation=config.realistic if config.degradation == "realistic" else None)
    if dataset.skipped:
        s.log.line(f"skipped {len(dataset.skipped)} unusable image(s): "
                   + "; ".join(f"{p} ({why})" for p, why in dataset.skipped[:5]))
    previews = _fixed_crops(config.val or config.data, config.patch, config.scale) if world.is_main else []

    # ---- the loop, then the final checkpoint and generator ----------------------------------------------------
    loader = loader_kind(config, device)
    s.log.line(f"{config.phase}: step {progress.step} → {config.steps}, batch {config.batch}×{world.size}, patch "
               f"{config.patch}, device {device}, precision {s.dtype or 'fp32'}, {len(dataset.sources)} images, "
               f"patches made by {loader}")
    started, start_step = time.monotonic(), progress.step
    with patch_batches(s, dataset, loader, progress.step) as batches:
        reason = run_loop(s, nets, progress, batches, previews, stop)
    save_checkpoint(s, nets, progress)
    if world.is_main:
        weights.save(nets.g, run.generator, training=summary(s, progress))
        s.log.line(f"stopped at step {progress.step} ({reason}) after {time.monotonic() - started:.0f} s "
                   f"({progress.step - start_step} steps); weights: {run.generator}")
    if s.log.tensorboard is not None:
        s.log.tensorboard.close()
    shutdown(world)
    return run.generator


def build_nets(s: Session, inputs: Inputs) -> Nets:
    """The networks from the seed (the generator from ``--init`` when given), on the device, and their optimisers;
    not yet wrapped for DDP (``distribute``)."""
    config, device, init, content_loss = s.config, s.device, inputs.init, inputs.content_loss
    torch.manual_seed(config.seed)
    g = Generator(config.scale, config.blocks, config.channels)
    if init is not None:  # srgan phase: the SRResNet to start from; srresnet phase: a model to fine-tune
        if init.config != g.config:
            raise SrganError(f"--init generator is {init.config}, but the run asks for {g.config}", config.init)
        g.load_state_dict(init.state_dict())
    d = Discriminator(config.patch) if config.phase == "srgan" else None
    if s.world.size > 1:  # before the optimisers are built: conversion replaces the BatchNorm parameters
        g = convert_batchnorm(g, device.type)
        d = convert_batchnorm(d, device.type) if d is not None else None
    # On the device before the optimisers load a checkpoint: Adam puts its resumed state beside each parameter.
    fmt = memory_format(device, s.dtype)
    for m in (g, d, content_loss):
        if m is not None:
            m.to(device, memory_format=fmt)
    betas = (0.9, 0.999)
    fused = device.type == "cuda"  # one kernel for the whole update instead of several per parameter
    opt_g = torch.optim.Adam(g.parameters(), lr=config.lr, betas=betas, fused=fused)
    opt_d = torch.optim.Adam(d.parameters(), lr=config.lr, betas=betas, fused=fused) if d else None
    scaler = torch.amp.GradScaler(device.type, enabled=s.dtype == torch.float16)
    return Nets(g, d, content_loss, opt_g, opt_d, scaler, g_train=g, d_train=d)


def resume(s: Session, nets: Nets, latest: checkpoint.Latest | None) -> Progress:
    """Load the newest checkpoint into ``nets`` and restore the RNG states; the run's progress (step 0 when there
    is nothing to resume)."""
    if latest is None:
        return Progress()
    state = latest.state
    if state["phase"] != s.config.phase:
        raise SrganError(f"run holds a {state['phase']} run; use a new --out for phase {s.config.phase}", s.run.root)
    nets.load_state_dict(state)
    checkpoint.set_rng_state(state["rng"])
    progress = Progress.from_checkpoint(state)
    s.log.line(f"resumed from step {progress.step} ({latest.path})")
    return progress


def distribute(s: Session, nets: Nets) -> Nets:
    """In training mode; under torchrun wrapped for DDP (BatchNorm over the global batch, gradients averaged)."""
    nets.g.train()
    if nets.d is not None:
        nets.d.train()
    if s.world.size == 1:
        return nets
    return replace(nets, g_train=DistributedDataParallel(nets.g),
                   d_train=DistributedDataParallel(nets.d) if nets.d is not None else None)


def train_step(s: Session, nets: Nets, lr_img: torch.Tensor, hr_img: torch.Tensor,
               collapse: CollapseWatch) -> dict[str, torch.Tensor]:
    """One step's forward passes and updates: in the srgan phase D on real vs generated patches, then G on content
    + adversarial; else G on content. An update whose loss is not finite is skipped. Returns the logged values."""
    device, dtype = s.device, s.dtype
    with autocast(device, dtype):
        sr = nets.g_train(lr_img)
    losses: dict[str, torch.Tensor] = {}
    if nets.d is not None:
        # discriminator step on real vs (detached) fake
        with autocast(device, dtype):
            real, fake = nets.d_train(hr_img), nets.d_train(sr.detach())
        loss_d = discriminator_loss(real, fake)
        acc_real, acc_fake = collapse.update(real, fake)
        losses["d"] = loss_d
        losses["d_acc_real"], losses["d_acc_fake"] = torch.tensor(acc_real), torch.tensor(acc_fake)
        if torch.isfinite(loss_d):
            nets.opt_d.zero_grad(set_to_none=True)
            nets.scaler.scale(loss_d).backward()
            nets.scaler.step(nets.opt_d)
        # generator: content + adversarial (−log D(G(x))). D is frozen and called unwrapped here: its parameter
        # gradients would be discarded anyway, and DDP must not wait for them.
        nets.d.requires_grad_(False)
        with autocast(device, dtype):
            judged = nets.d(sr)
            content = nets.content_loss(sr, hr_img)
        nets.d.requires_grad_(True)
        adversarial = generator_adversarial_loss(judged)
        losses["content"], losses["adv"] = content, adversarial
        loss_g = content + s.config.adv_weight * adversarial
    else:
        loss_g = nets.content_loss(sr, hr_img)
    losses["g"] = loss_g
    nets.opt_g.zero_grad(set_to_none=True)
    if torch.isfinite(loss_g):
        nets.scaler.scale(loss_g).backward()
        nets.scaler.step(nets.opt_g)
    return losses


def run_loop(s: Session, nets: Nets, progress: Progress, batches: Iterator[tuple[torch.Tensor, torch.Tensor]],
             previews: list[tuple[np.ndarray, np.ndarray]], stop: StopFlag) -> str:
    """Train until ``--steps``, a stop signal or ``--max-time``, with the events between steps (log lines,
    previews, validation, checkpoints); returns why it stopped. A fault that ends the run raises SrganError."""
    config, world = s.config, s.world
    save_steps, save_seconds = parse_every(config.save_every)
    budget = parse_duration(config.max_time) if config.max_time else math.inf
    started = last_save = last_log = time.monotonic()
    log_step, nonfinite_run = progress.step, 0
    collapse = CollapseWatch(config.collapse_steps)
    seconds_before = progress.train_seconds
    fmt = memory_format(s.device, s.dtype)
    while progress.step < config.steps:
        nets.set_lr(config.lr_at(progress.step))

        # data, forward, losses, backward
        lr_img, hr_img = next(batches)
        lr_img = lr_img.to(s.device, non_blocking=True, memory_format=fmt)
        hr_img = hr_img.to(s.device, non_blocking=True, memory_format=fmt)
        losses = train_step(s, nets, lr_img, hr_img, collapse)

        # faults: a non-finite loss skipped the step, too many in a row stop the run; so does a collapsed GAN
        if torch.isfinite(losses["g"]):
            nonfinite_run = 0
        else:
            nonfinite_run += 1
            progress.nonfinite_total += 1
            if nonfinite_run >= config.max_nonfinite:
                raise stop_for(s, nets, progress, f"{nonfinite_run} non-finite losses in a row at step "
                               f"{progress.step}; last checkpoint kept — lower --lr or use --precision fp32")
        nets.scaler.update()
        progress.step += 1
        now = time.monotonic()
        progress.train_seconds = seconds_before + now - started
        if collapse.collapsed:
            raise stop_for(s, nets, progress, f"GAN collapsed: the discriminator was right on every real and "
                           f"generated patch for {collapse.run} steps in a row (up to step {progress.step}); "
                           "checkpoint saved — resume from an earlier generator, lower --lr or raise --adv-weight")

        # logging
        if progress.step % config.log_every == 0 or progress.step == config.steps:
            rate = (progress.step - log_step) * config.batch * world.size / max(now - last_log, 1e-9)
            last_log, log_step = now, progress.step
            left = (config.steps - progress.step) * config.batch * world.size / max(rate, 1e-9)
            log_losses(s, progress.step, losses, nets.opt_g.param_groups[0]["lr"], rate,
                       eta=min(left, budget - (now - started)))

        # previews and validation, through the inference path of `srgan eval`
        preview_due = world.is_main and bool(previews) and progress.step % config.preview_every == 0
        val_due = world.is_main and bool(config.val) and progress.step % config.val_every == 0
        if preview_due or val_due:
            upscaler = eval_upscaler(s, nets.g)
            if preview_due:
                write_preview(s, upscaler, previews, progress.step)
            if val_due:
                validate(s, upscaler, nets.g, progress)

        # stop, checkpoint
        if stop.signal is not None:
            return signal.Signals(stop.signal).name
        if now - started >= budget:
            return "max-time"
        if (save_steps and progress.step % save_steps == 0) or (save_seconds and now - last_save >= save_seconds):
            save_checkpoint(s, nets, progress)
            last_save = now
    return "steps"


def log_losses(s: Session, step: int, losses: dict[str, torch.Tensor], lr: float, rate: float, eta: float) -> None:
    """A train record in metrics.jsonl and its line in train.log: the losses, lr, patches/s and the time left."""
    values = {k: v.item() for k, v in losses.items()} | {"lr": lr, "patches_per_s": rate}
    s.log.record("train", step, values)
    s.log.line(f"step {step:>8d}  " + "  ".join(f"{k} {v:.5g}" for k, v in values.items())
               + f"  eta {time.strftime('%H:%M:%S', time.gmtime(max(eta, 0)))}")


def eval_upscaler(s: Session, g: Generator) -> Upscaler:
    """``g`` as ``srgan eval`` runs its saved weights: a plain copy (the training modules stay as they are)
    through ``srgan.api.Upscaler`` — the inference graph, tiles and mirrored edges — at the run's ``--precision``.
    The copy is built on the meta device, so it draws no initial weights from the run's RNG."""
    with torch.device("meta"):
        copy = Generator(**g.config.to_dict())
    copy.load_state_dict({k: v.detach().clone() for k, v in g.state_dict().items()}, assign=True)
    return Upscaler(copy, device=s.device, precision=s.config.precision)


def write_preview(s: Session, upscaler: Upscaler, crops: list[tuple[np.ndarray, np.ndarray]], step: int) -> None:
    """The preview grid of ``step``: LR | bicubic | SR | HR for each fixed crop, with PSNR-Y."""
    rows, psnrs = [], []
    for hr, lr in crops:
        sr = upscaler.upscale(lr)
        bic = bicubic_upscale(lr, s.config.scale)
        rows.append((lr, bic, sr, hr))
        psnrs.append((psnr_y(bic, hr, s.config.scale), psnr_y(sr, hr, s.config.scale)))
    save_preview(preview_grid(rows, psnrs), s.run.preview(step))


def validate(s: Session, upscaler: Upscaler, g: Generator, progress: Progress) -> None:
    """Score the ``--val`` folders with the eval protocol, log it, and keep ``g`` as the best generator when it
    is. The MSE phase keeps its best PSNR-Y; the GAN phase trades PSNR for naturalness, so it also scores NIQE and
    its best generator is the most natural one (lowest mean NIQE)."""
    gan = s.config.phase == "srgan"
    results = evaluate(upscaler.upscale, s.config.val, s.config.scale, metrics=VAL_METRICS[s.config.phase])
    s.log.record("val", progress.step, {f"{r.dataset}/{key}": r.mean(key)
                                        for r in results for key in r.per_image[0].scores})
    s.log.line(f"val step {progress.step}: " + "  ".join(
        f"{r.dataset} {r.psnr_y:.3f} dB / {r.ssim_y:.4f}" + (f" / NIQE {r.mean('niqe'):.3f}" if gan else "")
        for r in results))
    mean_psnr = float(np.mean([r.psnr_y for r in results]))
    mean_niqe = float(np.mean([r.mean("niqe") for r in results])) if gan else None
    if mean_niqe is not None:
        better = mean_niqe < (math.inf if progress.best_niqe is None else progress.best_niqe)
    else:
        better = mean_psnr > progress.best_psnr
    if better:
        progress.best_psnr, progress.best_step, progress.best_niqe = mean_psnr, progress.step, mean_niqe
        weights.save(g, s.run.best_generator, training=summary(s, progress))


def summary(s: Session, progress: Progress) -> dict[str, Any]:
    """The training metadata of a saved generator."""
    config = s.config
    return {"phase": config.phase, "steps": progress.step, "batch": config.batch * s.world.size,
            "patch": config.patch, "lr": config.lr, "milestones": list(config.milestones), "seed": config.seed,
            "content": config.content if config.phase == "srgan" else "mse",
            "train_hours": round(progress.train_seconds / 3600, 3), "data": list(config.data),
            "best_val_psnr_y": progress.best_psnr if progress.best_step >= 0 else None,
            "best_step": progress.best_step} | (
               {} if progress.best_niqe is None else {"best_val_niqe": progress.best_niqe}) | config.extra_metadata


def save_checkpoint(s: Session, nets: Nets, progress: Progress) -> None:
    """The checkpoint of the current step (rank 0 writes it): ``checkpoint.FORMAT``'s plain dict."""
    if s.world.is_main:
        state = {"phase": s.config.phase, "step": progress.step, "config": s.config.to_dict(),
                 "stats": progress.stats(), **nets.state_dict(), "rng": checkpoint.rng_state()}
        checkpoint.save(s.run, state, progress.step, s.config.keep)


def stop_for(s: Session, nets: Nets, progress: Progress, problem: str) -> SrganError:
    """A fault that ends the run (non-finite losses, a collapsed GAN): checkpoint, say why in train.log (where
    `srgan report` finds it), and the error for the caller to raise."""
    save_checkpoint(s, nets, progress)
    s.log.line(f"stopped: {problem}")
    return SrganError(problem, s.run.root)
