"""The ``srgan`` command. Each subcommand is a module here (``add`` defines its flags, ``run`` calls one library
function); flags several commands share are in ``common``. Errors the user can fix (SrganError) become one line on
stderr and a non-zero exit, never a traceback. A new command is a new module, named once in ``COMMANDS``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from srgan import __version__
from srgan.cli import eval, export, info, report, train, upscale
from srgan.errors import SrganError

COMMANDS = (info, train, eval, upscale, export, report)  # in the order of `srgan --help`


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="srgan", description="SRGAN / SRResNet super-resolution: upscale, train, evaluate, export."
    )
    parser.add_argument("--version", action="version", version=f"srgan {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add(sub)
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
