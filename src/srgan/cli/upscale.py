"""``srgan upscale``: super-resolve files, folders and globs, in one process or one per rank under torchrun."""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, TextIO

from srgan.cli.common import add_device_options, list_failures
from srgan.errors import check_number
from srgan.images import PNG_COMPRESSION
from srgan.pipeline import MAX_DEFAULT_THREADS

if TYPE_CHECKING:
    from srgan.api import OutputSize, Upscaler
    from srgan.batch import Job


def add(sub: argparse._SubParsersAction) -> None:
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
    add_device_options(p)
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
    p.set_defaults(run=run)


def _tile_arg(text: str) -> int | str:
    if text == "auto":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'auto' or a number of pixels, got {text!r}") from None


def run(args: argparse.Namespace) -> int:
    import datetime
    import os

    import torch.distributed as dist

    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return _shard(args, 0, 1, args.device)
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
        return _shard(args, dist.get_rank(), size, device)
    finally:
        dist.destroy_process_group()



def _shard(args: argparse.Namespace, rank: int, size: int, device: str) -> int:
    """Upscale this process's share of the inputs (all of them when ``size`` is 1); under torchrun each line is
    prefixed with the rank, and rank 0 prints the counts summed over all ranks."""
    import warnings
    from functools import partial

    import torch
    from tqdm import tqdm

    from srgan import api, runtime, weights
    from srgan.api import Upscaler, model_for
    from srgan.batch import plan_jobs, shard
    from srgan.pipeline import upscale_files

    resize, max_pixels = _options(args)
    runtime.configure_threads()
    upscalers: dict[str, Upscaler] = {}

    def upscaler_for(name: str) -> Upscaler:  # each model loaded once, when an input first needs it
        if name not in upscalers:
            upscalers[name] = Upscaler(weights.load(weights.resolve(name)), device, args.precision, tile=args.tile,
                                       overlap=args.overlap, batch=args.batch, alpha=args.alpha, size=resize)
        return upscalers[name]

    scale = upscaler_for(args.model or weights.DEFAULT_MODEL).scale  # the shipped models are all ×4
    suffix = _suffix(args.suffix, scale, resize)
    tag = "" if size == 1 else f"[rank {rank}] "
    say = partial(_say, tag)

    with warnings.catch_warnings(record=True) as caught:  # inputs skipped as outputs of other inputs
        warnings.simplefilter("always")
        jobs, failures = plan_jobs(args.inputs, args.output, suffix, args.format)
    if rank > 0:
        failures = []  # every rank found the same problems while planning: rank 0 reports them
    for w in caught if rank == 0 else ():
        print(f"srgan upscale: warning: {w.message}", file=sys.stderr)
    if not jobs:  # the same on every rank, so none waits for the final sum
        return list_failures("srgan upscale: nothing to upscale:", failures) if rank == 0 else 1
    jobs = shard(jobs, rank, size)
    total = len(jobs) + len(failures)

    chosen: dict[Job, str] = {}  # the model each job ran with

    def upscaler_of(job: Job) -> Upscaler:
        chosen[job] = args.model or model_for(job.src)
        return upscaler_for(chosen[job])

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
                                    png_compression=args.png_compression, threads=args.jobs,
                                    tiles=partial(_tile_bar, quiet=size > 1)):
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
        return list_failures(f"{tag}srgan upscale: {len(failures)} of {total} inputs failed:", failures)
    return 0


def _options(args: argparse.Namespace) -> tuple[OutputSize | None, int | None]:
    """The numeric flags checked (one line each when out of range); the output size and the pixel limit."""
    from srgan.api import OutputSize
    from srgan.images import DEFAULT_MAX_PIXELS

    for flag, value, low in (("--max-pixels", args.max_pixels, 0), ("--overlap", args.overlap, 0),
                             ("--batch", args.batch, 1), ("--tile", None if args.tile == "auto" else args.tile, 0),
                             ("--jobs", args.jobs, 1)):
        if value is not None:
            check_number(flag, value, low)
    check_number("--png-compression", args.png_compression, choices=range(10))
    max_pixels = DEFAULT_MAX_PIXELS if args.max_pixels is None else args.max_pixels or None
    resize = None
    if args.outscale is not None or args.width is not None or args.height is not None:
        resize = OutputSize(args.outscale, args.width, args.height)
    return resize, max_pixels


def _suffix(given: str | None, scale: int, resize: OutputSize | None) -> str:
    """What each output's name gets: --suffix, else _x<scale>, _x<outscale> or _w<width>h<height>."""
    if given is not None:
        return given
    if resize is None:
        return f"_x{scale}"
    if resize.outscale is not None:
        return f"_x{resize.outscale:g}"
    return "_" + "x".join(f"{k[0]}{v}" for k, v in (("width", resize.width), ("height", resize.height)) if v)


def _say(tag: str, text: str, file: TextIO = sys.stdout) -> None:
    """One output line. Under torchrun (``tag`` names the rank) the ranks share one pipe: a line goes out in one
    write, flushed at once, so lines of different ranks never interleave (tqdm.write writes the text and its newline
    separately)."""
    from tqdm import tqdm

    if not tag:
        tqdm.write(text, file=file)
    else:
        file.write(f"{tag}{text}\n")
        file.flush()


@contextlib.contextmanager
def _tile_bar(job: Job, quiet: bool) -> Iterator[Callable[[int, int], None]]:
    """A second bar, for images of several tiles (none under torchrun: ``quiet``)."""
    from tqdm import tqdm

    bars: list[tqdm] = []

    def update(done: int, n: int) -> None:
        if n > 1 and not bars:
            bars.append(tqdm(total=n, desc=job.src.name, unit="tile", leave=False, disable=True if quiet else None))
        if bars:
            bars[0].update(done - bars[0].n)

    try:
        yield update
    finally:
        for tiles in bars:
            tiles.close()
