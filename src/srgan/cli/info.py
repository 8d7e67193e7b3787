"""``srgan info``: what a weight file holds."""

from __future__ import annotations

import argparse


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="print a weight file's metadata, scale and parameter count")
    p.add_argument("weights", help="a .safetensors file or a shipped model name")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
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
