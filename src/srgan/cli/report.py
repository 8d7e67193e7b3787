"""``srgan report``: a self-contained HTML page for images (SR vs bicubic or another model) or a training run."""

from __future__ import annotations

import argparse

from srgan.cli.common import add_device_options, list_failures
from srgan.errors import SrganError, check_number
from srgan.fileio import check_output, write_output


def add(sub: argparse._SubParsersAction) -> None:
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
    add_device_options(p, when="with --model: ")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT.html")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
            return list_failures(
                f"srgan report: nothing to report ({len(problems)} inputs failed; no file written):", problems)
    write_output(out, lambda tmp: tmp.write_text(page, encoding="utf-8"), args.overwrite)
    print(f"wrote {out} ({len(page) / 1e6:.1f} MB)")
    if problems:
        return list_failures(f"srgan report: {len(problems)} inputs left out (listed in the report too):", problems)
    return 0
