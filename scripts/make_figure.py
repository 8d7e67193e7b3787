"""Make the README's comparison figures (docs/comparison.png, docs/srgan.png) from the bundled example photo.

One crop of the photo, side by side: the LR input (nearest neighbour, so its pixels show; left out with --no-input),
bicubic, each model, and the original, all enlarged by the same integer factor without smoothing; under each its
PSNR-Y on the whole image (benchmark protocol: Y channel, border crop = scale) and, with --niqe, its NIQE.

Usage: python scripts/make_figure.py [--model NAME|WEIGHTS ...] [--crop X Y SIZE] [--niqe] [--no-input]
       [--degrade jpeg75] [-o docs/comparison.png] [--overwrite]
``--degrade`` gives every upscaler the LR after one of ``srgan eval --degrade``'s presets (docs/jpeg.png: JPEG q75).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from srgan import api, weights
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.evaluate import DEGRADE_PRESETS
from srgan.fileio import check_output, write_output
from srgan.images import read_rgb8
from srgan.metrics import niqe, psnr_y

ROOT = Path(__file__).resolve().parent.parent
PANEL = 320  # side of each panel, pixels
PAD, LABEL_H = 12, 58
# Labels are ASCII: Pillow's built-in font has no "×".
BACKGROUND, TEXT, DIM = (255, 255, 255), (20, 20, 20), (95, 95, 95)


def crop_box(x: int, y: int, size: int, scale: int, hr_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """The crop (x, y, size) in HR pixels snapped down to multiples of ``scale`` (so it is whole LR pixels) and
    checked to lie inside the image."""
    x, y, size = (v // scale * scale for v in (x, y, size))
    h, w = hr_shape[:2]
    if size < scale or x < 0 or y < 0 or x + size > w or y + size > h:
        raise SrganError(f"--crop {x} {y} {size} does not fit in the {w}×{h} photo at ×{scale}")
    return x, y, size


def figure(lr: np.ndarray, panels: list[tuple[np.ndarray, str, str]], box: tuple[int, int, int], scale: int,
           with_input: bool = True) -> Image.Image:
    """panels: (HR-sized uint8 image, title, subtitle); the LR input panel comes first, drawn from ``lr`` (or is
    dropped when not ``with_input``)."""
    x, y, size = box
    tiles = [Image.fromarray(lr[y // scale:(y + size) // scale, x // scale:(x + size) // scale])]
    tiles += [Image.fromarray(img[y:y + size, x:x + size]) for img, _, _ in panels[1:]]
    if not with_input:
        tiles, panels = tiles[1:], panels[1:]
    fig = Image.new("RGB", (len(tiles) * (PANEL + PAD) + PAD, PANEL + LABEL_H + 2 * PAD), BACKGROUND)
    draw = ImageDraw.Draw(fig)
    title, small = ImageFont.load_default(size=19), ImageFont.load_default(size=15)
    for i, (tile, (_, name, detail)) in enumerate(zip(tiles, panels, strict=True)):
        left = PAD + i * (PANEL + PAD)
        fig.paste(tile.resize((PANEL, PANEL), Image.Resampling.NEAREST), (left, PAD))
        centre = left + PANEL // 2
        draw.text((centre, PAD + PANEL + 8), name, fill=TEXT, font=title, anchor="mt")
        draw.text((centre, PAD + PANEL + 34), detail, fill=DIM, font=small, anchor="mt")
    return fig


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", nargs="+", help="weights files or shipped model names (default: the shipped model)")
    p.add_argument("--niqe", action="store_true", help="also print each panel's NIQE (whole image; lower = more "
                   "natural)")
    p.add_argument("--no-input", action="store_true", help="leave out the LR input panel")
    p.add_argument("--example", default=str(ROOT / "examples" / "coffee"),
                   help="the example's path without extension: <EXAMPLE>.png is LR, <EXAMPLE>_hr.png the original")
    p.add_argument("--crop", type=int, nargs=3, default=(312, 168, 160), metavar=("X", "Y", "SIZE"),
                   help="the crop in original-image pixels (default: the spoon and the cup's rim)")
    p.add_argument("--degrade", choices=sorted(DEGRADE_PRESETS), help="degrade the LR input first (as srgan eval "
                   "--degrade does), e.g. jpeg75: what a web image or phone photo looks like")
    p.add_argument("-o", "--output", default=str(ROOT / "docs" / "comparison.png"))
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    args = p.parse_args(argv)
    out = Path(args.output)
    try:
        check_output(out, args.overwrite)
        lr, hr = read_rgb8(f"{args.example}.png"), read_rgb8(f"{args.example}_hr.png")
        names = args.model or [weights.DEFAULT_MODEL]
        upscalers = [api.load_model(weights.resolve(name)) for name in names]
        scale = upscalers[0].scale
        if any(u.scale != scale for u in upscalers):
            raise SrganError("the models differ in scale")
        if hr.shape[:2] != (lr.shape[0] * scale, lr.shape[1] * scale):
            raise SrganError(f"the original is not ×{scale} the LR image", f"{args.example}_hr.png")

        def scores(img: np.ndarray) -> str:
            text = f"PSNR-Y {psnr_y(img, hr, scale):.2f} dB"
            return text + (f", NIQE {niqe(img):.2f}" if args.niqe else "")

        box = crop_box(*args.crop, scale, hr.shape)
        label = f"input (nearest x{scale})"
        if args.degrade:
            lr = DEGRADE_PRESETS[args.degrade].make_lr(Path(args.example).name, hr, lr, scale)
            label = f"{args.degrade} input (nearest x{scale})"
        bicubic = imresize(lr, scale)
        panels = [(lr, label, f"{lr.shape[1]} x {lr.shape[0]} pixels"),
                  (bicubic, f"bicubic x{scale}", scores(bicubic))]
        for name, upscaler in zip(names, upscalers, strict=True):
            sr = upscaler.upscale(lr)
            panels.append((sr, Path(name).stem if Path(name).suffix else name, scores(sr)))
        size_text = f"{hr.shape[1]} x {hr.shape[0]} pixels"
        panels.append((hr, "original", f"NIQE {niqe(hr):.2f}" if args.niqe else size_text))
        fig = figure(lr, panels, box, scale, with_input=not args.no_input)
        write_output(out, lambda tmp: fig.save(tmp, format="PNG", optimize=True), args.overwrite)
    except SrganError as e:
        print(f"make_figure: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} (crop x={box[0]} y={box[1]} size={box[2]}; PSNR-Y on the whole {hr.shape[1]}×{hr.shape[0]} "
          f"image, border {scale})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
