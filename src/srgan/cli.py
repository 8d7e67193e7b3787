"""The ``srgan`` command. Each subcommand parses its flags here and calls one library function;
errors the user can fix (SrganError) become one line on stderr and a non-zero exit, never a traceback."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from srgan import __version__
from srgan.errors import SrganError


def _info(args: argparse.Namespace) -> int:
    from srgan import weights

    path = weights.resolve(args.weights)
    meta = weights.read_metadata(path)
    model = weights.load(path)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"file: {path}")
    print(f"architecture: {meta['architecture']}  scale: x{model.scale}  "
          f"blocks: {model.config.n_blocks}  channels: {model.config.channels}")
    print(f"parameters: {n_params:,}")
    for key, value in meta.items():
        if key not in ("architecture", "config"):
            print(f"{key}: {value}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srgan", description="SRGAN / SRResNet super-resolution: upscale, train, evaluate, export."
    )
    parser.add_argument("--version", action="version", version=f"srgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("info", help="print a weight file's metadata, scale and parameter count")
    p.add_argument("weights", help="a .safetensors file or a shipped model name")
    p.set_defaults(run=_info)
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
