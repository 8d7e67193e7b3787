"""``srgan eval``: benchmark tables (PSNR-Y/SSIM-Y, NIQE, grid and blocking indices, lattice) with the MATLAB
protocol."""

from __future__ import annotations

import argparse
import sys

from srgan.cli.common import add_device_options, list_failures
from srgan.errors import SrganError, check_number
from srgan.fileio import check_output


def add(sub: argparse._SubParsersAction) -> None:
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
    add_device_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
        return list_failures(f"srgan eval: {len(skipped)} images left out of the means (pass --allow-missing to "
                             "accept that):", [f"{file}: {reason}" for file, reason in skipped])
    for file, reason in skipped:
        print(f"srgan eval: warning: {file}: skipped ({reason})", file=sys.stderr)
    return 0
