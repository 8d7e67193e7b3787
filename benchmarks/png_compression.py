"""Encoding time and size of PNG outputs per zlib level, to choose ``srgan.images.PNG_COMPRESSION``.

Each input (e.g. a real ×4 result of ``srgan upscale``) is decoded once and written with ``srgan.images.save``,
the writer ``srgan upscale`` uses, at every level; the best of ``--repeat`` runs is kept. Prints a Markdown table.

Usage: python benchmarks/png_compression.py IMAGE.png [...] [--levels 0 1 3 6 9] [--repeat 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from srgan import images


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("images", nargs="+", type=Path, help="PNG files to re-encode")
    ap.add_argument("--levels", nargs="+", type=int, default=[0, 1, 3, 6, 9], help="zlib levels (0 1 3 6 9)")
    ap.add_argument("--repeat", type=int, default=3, help="timed encodings per level (best is kept)")
    args = ap.parse_args()
    pictures = {path.name: images.load(path) for path in args.images}
    print("| image | " + " | ".join(f"level {level}" for level in args.levels) + " |")
    print("|---|" + "---|" * len(args.levels))
    totals = {level: [0.0, 0] for level in args.levels}
    with tempfile.TemporaryDirectory() as folder:
        for name, picture in pictures.items():
            h, w = picture.color.shape[:2]
            cells = []
            for level in args.levels:
                out = Path(folder) / f"{level}_{name}"
                times = []
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    images.save(picture, out, overwrite=True, png_compression=level)
                    times.append(time.perf_counter() - start)
                size = out.stat().st_size
                totals[level][0] += min(times)
                totals[level][1] += size
                cells.append(f"{min(times):.2f} s, {size / 1e6:.2f} MB")
            print(f"| {name} ({w}×{h}) | " + " | ".join(cells) + " |")
    print("| **total** | " + " | ".join(f"**{t:.2f} s, {s / 1e6:.2f} MB**" for t, s in totals.values()) + " |")


if __name__ == "__main__":
    main()
