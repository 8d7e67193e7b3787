"""What several commands share: the device and precision flags, and how a batch command lists its failures."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from srgan.precision import PRECISIONS


def add_device_options(p: argparse.ArgumentParser, when: str = "") -> None:
    """--device and --precision of a command that runs a model (``when``: the flag that makes it run one)."""
    p.add_argument("--device", default="auto", help=f"{when}auto (default), cpu, cuda, cuda:N")
    p.add_argument("--precision", default="auto", choices=PRECISIONS, help=f"{when}auto: bf16 where native, else fp32")


def list_failures(headline: str, failures: Sequence[str]) -> int:
    """Print a batch command's failures (one line each, after the headline) to stderr; the exit status is 1."""
    print(headline, file=sys.stderr)
    for line in failures:
        print(f"  {line}", file=sys.stderr)
    return 1
