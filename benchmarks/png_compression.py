"""Encoding time and size of PNG outputs per deflate level, to choose ``srgan.images.PNG_COMPRESSION``.

Each input (e.g. a real ×4 result of ``srgan upscale``) is decoded once and written with ``srgan.images.save``,
the writer ``srgan upscale`` uses (Paeth-filtered rows, libdeflate), at every level, and with Pillow's PNG writer
(adaptive filters, zlib) at its levels for reference, in the same run; the best of ``--repeat`` runs is kept.
Prints a Markdown table and each column's encoding speed in output megapixels per second (one thread).

Usage: python benchmarks/png_compression.py IMAGE.png [...] [--levels 0 1 2 3 6 9] [--pillow-levels 3 6] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from PIL import Image

from srgan import images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", type=Path, help="8-bit PNG files to re-encode")
    ap.add_argument("--levels", nargs="+", type=int, default=[0, 1, 2, 3, 6, 9], help="srgan's levels (0 1 2 3 6 9)")
    ap.add_argument("--pillow-levels", nargs="+", type=int, default=[3, 6], help="Pillow's zlib levels (3 6)")
    ap.add_argument("--repeat", type=int, default=3, help="timed encodings per level (best is kept)")
    args = ap.parse_args()
    pictures = {path.name: images.load(path) for path in args.images}
    writers: dict[str, Callable[[images.Picture, Path], object]] = {
        **{f"srgan {level}": lambda p, out, level=level: images.save(p, out, overwrite=True, png_compression=level)
           for level in args.levels},
        **{f"Pillow {level}": lambda p, out, level=level: Image.fromarray(p.color.squeeze(2) if p.color.shape[2] == 1
                                                                          else p.color).save(out, compress_level=level)
           for level in args.pillow_levels},
    }
    print("| image | " + " | ".join(writers) + " |")
    print("|---|" + "---|" * len(writers))
    totals = {name: [0.0, 0] for name in writers}
    pixels = 0
    with tempfile.TemporaryDirectory() as folder:
        for name, picture in pictures.items():
            h, w = picture.color.shape[:2]
            pixels += h * w
            cells = []
            for writer, write in writers.items():
                out = Path(folder) / f"{writer.replace(' ', '_')}_{name}"
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    write(picture, out)
                    times.append(time.perf_counter() - start)
                size = out.stat().st_size
                totals[writer][0] += min(times)
                totals[writer][1] += size
                cells.append(f"{min(times):.2f} s, {size / 1e6:.2f} MB")
            print(f"| {name} ({w}×{h}) | " + " | ".join(cells) + " |")
    print("| **total** | " + " | ".join(f"**{t:.2f} s, {s / 1e6:.2f} MB**" for t, s in totals.values()) + " |")
    print("| **MP/s** | " + " | ".join(f"{pixels / 1e6 / t:.1f}" for t, _ in totals.values()) + " |")


if __name__ == "__main__":
    main()
