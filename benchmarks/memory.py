"""Peak memory (RSS) of upscaling a 2048×2048 RGB image ×4 with the default (automatic) tile size.

Target: < 3 GB. Uses a randomly initialised paper-size generator (16 blocks, 64 channels): memory does not depend
on the weights. Prints the tile size chosen, the time, the peak RSS and its parts, measured in this run.

    python benchmarks/memory.py                 # the target case (slow on a laptop CPU: ~35 TFLOP with overlap)
    python benchmarks/memory.py --size 512      # a quick look
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch
from tqdm import tqdm

from srgan import runtime, tiling
from srgan.api import Upscaler
from srgan.images import Picture
from srgan.models import Generator

TARGET_GB = 3.0


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="input side in pixels (2048)")
    parser.add_argument("--scale", type=int, default=4)
    parser.add_argument("--blocks", type=int, default=16)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--tile", default="auto", help="auto (default) or LR pixels")
    args = parser.parse_args()
    threads = runtime.configure_threads()

    torch.manual_seed(0)
    model = Generator(scale=args.scale, blocks=args.blocks)
    tile = args.tile if args.tile == "auto" else int(args.tile)
    up = Upscaler(model, args.device, args.precision, tile=tile)
    image = np.random.default_rng(0).integers(0, 256, (args.size, args.size, 3), dtype=np.uint8)
    core = up.tile_size((args.size, args.size))
    n_tiles = len(tiling.tiles(1, args.size, args.size, core))
    before = peak_rss_gb()
    print(f"device {up.device}, {threads} threads, precision {args.precision}, x{args.scale}, "
          f"{args.blocks} blocks; input {args.size}x{args.size}")
    print(f"tile {core[0]}x{core[1]} (+{up.overlap} context per side), {n_tiles} tiles; "
          f"tile memory budget {runtime.memory_budget(up.device) / 2**30:.2f} GiB")

    with tqdm(total=n_tiles, unit="tile", mininterval=10) as bar:
        start = time.perf_counter()
        result = up.upscale_picture(Picture(image), progress=lambda done, _: bar.update(done - bar.n))
        seconds = time.perf_counter() - start
    peak = peak_rss_gb()
    output_gb = result.color.nbytes / 2**30
    float_gb = 4 * result.color.size / 2**30
    print(f"time {seconds:.1f} s ({seconds / (args.size**2 / 1e6):.1f} s per input megapixel)")
    print(f"peak RSS {peak:.2f} GiB (before upscaling {before:.2f} GiB; float32 result {float_gb:.2f} GiB, "
          f"uint8 result {output_gb:.2f} GiB)")
    print(f"target < {TARGET_GB} GB: {'PASS' if peak * 2**30 < TARGET_GB * 1e9 else 'FAIL'} "
          f"({peak * 2**30 / 1e9:.2f} GB)")


if __name__ == "__main__":
    main()
