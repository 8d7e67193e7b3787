"""Peak memory (RSS) of large ×4 upscales with the default (automatic) tile size, in two cases.

* in memory (the default): ``Upscaler.upscale_picture`` of a 2048×2048 RGB image, whose 8192² result is held whole.
  Target: < 3 GB.
* ``--file``: ``Upscaler.upscale_file`` of a 4096×4096 PNG photo mosaic into a 16384×16384 PNG (what ``srgan
  upscale`` does). The float result alone would take 3 GiB, so it is written a row of tiles at a time as they
  finish (``Upscaler.writes_in_bands``). Target: ≤ 2 GB. The input is 16 Set5/Set14 photos resized to a 4×4 grid
  (real content: random pixels compress so badly that the PNG would be 800 MB).

Uses a randomly initialised generator (``--blocks``, default 16: the paper's size; 64 channels): memory does not
depend on the weights and hardly on the depth. Prints the tile size chosen, the time, the peak RSS and its parts,
measured in this run.

    python benchmarks/memory.py                         # in memory (slow on a laptop CPU: ~22 TFLOP with overlap)
    python benchmarks/memory.py --file                  # 4096² → 16384² PNG (~90 TFLOP)
    python benchmarks/memory.py --file --size 512       # a quick look
    python benchmarks/memory.py --file --noise          # uniform noise instead of photos (issue 39: content)
"""

from __future__ import annotations

import argparse
import resource
import struct
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from srgan import images, runtime, tiling
from srgan.api import Upscaler
from srgan.images import Picture
from srgan.models import Generator

TARGET_GB = 3.0  # in memory, 2048² → 8192²
TARGET_FILE_GB = 2.0  # written in bands, 4096² → 16384² (issue 18)
PHOTOS = Path(__file__).resolve().parents[2] / "shared" / "benchmarks"


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def mosaic(side: int) -> np.ndarray:
    """A side × side RGB image of real photos: the Set5 and Set14 images, 16 of them, each resized (bicubic) to a
    cell of a 4 × 4 grid."""
    files = sorted(PHOTOS.glob("Set*/*.png"))[:16]
    if len(files) < 16:
        raise SystemExit(f"need 16 photos under {PHOTOS}/Set5 and Set14, found {len(files)}")
    cell = side // 4
    out = np.zeros((side, side, 3), np.uint8)
    for k, f in enumerate(files):
        y, x = divmod(k, 4)
        with Image.open(f) as im:
            out[y * cell : (y + 1) * cell, x * cell : (x + 1) * cell] = np.asarray(
                im.convert("RGB").resize((cell, cell), Image.Resampling.BICUBIC))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", action="store_true", help="upscale a PNG photo mosaic into a PNG file")
    parser.add_argument("--size", type=int, help="input side in pixels (2048; 4096 with --file)")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--tile", default="auto", help="auto (default) or LR pixels")
    parser.add_argument("--noise", action="store_true", help="with --file: uniform random pixels, not photos")
    parser.add_argument("--keep", type=Path, help="with --file: write the output here instead of a temporary folder")
    args = parser.parse_args()
    size = args.size or (4096 if args.file else 2048)
    threads = runtime.configure_threads()

    torch.manual_seed(0)
    model = Generator(scale=args.scale, blocks=args.blocks)
    tile = args.tile if args.tile == "auto" else int(args.tile)
    up = Upscaler(model, args.device, args.precision, tile=tile)
    dtype = runtime.resolve_precision(args.precision, up.device) or torch.float32
    print(f"{runtime.cpu_model()}; device {up.device}, {threads} threads, precision {args.precision} ({dtype}), "
          f"x{args.scale}, {args.blocks} blocks; input {size}x{size}")
    if args.file:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "mosaic.png"
            noise = np.random.default_rng(0).integers(0, 256, (size, size, 3), np.uint8) if args.noise else None
            pixels = mosaic(size) if noise is None else noise
            images.save(Picture(pixels), src)
            dst = args.keep or Path(tmp) / "mosaic_x4.png"
            measure_file(up, src, dst, size)
    else:
        measure_in_memory(up, size)


def measure_in_memory(up: Upscaler, size: int) -> None:
    image = np.random.default_rng(0).integers(0, 256, (size, size, 3), dtype=np.uint8)
    core = up.tile_size((size, size))
    n_tiles = len(tiling.tiles(1, size, size, core))
    before = peak_rss_gb()
    print(f"in memory: tile {core[0]}x{core[1]} (+{up.overlap} context per side), {n_tiles} tiles; "
          f"tile memory budget {runtime.memory_budget(up.device) / 2**30:.2f} GiB")
    with tqdm(total=n_tiles, unit="tile", mininterval=10) as bar:
        start = time.perf_counter()
        result = up.upscale_picture(Picture(image), progress=lambda done, _: bar.update(done - bar.n))
        seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    output_gb = result.color.nbytes / 2**30
    float_gb = 4 * result.color.size / 2**30
    print(f"time {seconds:.1f} s ({seconds / (size**2 / 1e6):.1f} s per input megapixel)")
    print(f"peak RSS {peak:.2f} GiB (before upscaling {before:.2f} GiB; float32 result {float_gb:.2f} GiB, "
          f"uint8 result {output_gb:.2f} GiB)")
    print(f"target < {TARGET_GB} GB: {'PASS' if peak * 2**30 < TARGET_GB * 1e9 else 'FAIL'} "
          f"({peak * 2**30 / 1e9:.2f} GB)")


def measure_file(up: Upscaler, src: Path, dst: Path, size: int) -> None:
    picture = images.load(src)
    banded = up.writes_in_bands(picture, dst)
    out_side = up.scale * size
    row_bytes = up.scale**2 * size * 3  # uint8 RGB
    core = up.tile_size((size, size), band_row_bytes=row_bytes if banded else 0)
    n_tiles = len(tiling.tiles(1, size, size, core))
    del picture
    before = peak_rss_gb()
    how = f"written in bands of {core[0] * row_bytes / 2**30:.2f} GiB (integers)" if banded else "held in memory"
    print(f"file: {src.stat().st_size / 1e6:.1f} MB PNG in, the result {how}; tile {core[0]}x{core[1]} "
          f"(+{up.overlap} context per side), {n_tiles} tiles; memory budget "
          f"{runtime.memory_budget(up.device) / 2**30:.2f} GiB")
    with tqdm(total=n_tiles, unit="tile", mininterval=30) as bar:

        def progress(done: int, _total: int) -> None:  # the peak so far, for runs stopped early
            bar.set_postfix_str(f"peak RSS {peak_rss_gb():.2f} GiB", refresh=False)
            bar.update(done - bar.n)

        start = time.perf_counter()
        up.upscale_file(src, dst, overwrite=True, progress=progress)
        seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    with open(dst, "rb") as f:  # the PNG header's size (Pillow's bomb guard refuses to open 268 MP)
        assert struct.unpack(">II", f.read(24)[16:]) == (out_side, out_side)
    print(f"time {seconds:.1f} s ({seconds / (size**2 / 1e6):.1f} s per input megapixel); output {dst.name} "
          f"{out_side}x{out_side}, {dst.stat().st_size / 1e6:.0f} MB (uint8 pixels {3 * out_side**2 / 2**30:.2f} GiB, "
          f"as float32 {12 * out_side**2 / 2**30:.2f} GiB)")
    print(f"peak RSS {peak:.2f} GiB (before upscaling {before:.2f} GiB)")
    print(f"target <= {TARGET_FILE_GB} GB: {'PASS' if peak * 2**30 <= TARGET_FILE_GB * 1e9 else 'FAIL'} "
          f"({peak * 2**30 / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
