"""Batches of files: which inputs a command line names and where each result goes (``srgan upscale``; ``srgan report``
finds its inputs the same way).

Planning needs no network, so this module imports neither torch nor the model: ``srgan report RUN`` and a planning
error stay fast, and every process of a sharded run computes the same plan on its own.
"""

from __future__ import annotations

import glob
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from srgan.errors import SrganError, check_number
from srgan.images import EXTENSION_FORMATS, made_by_srgan, not_a_file, scan_folder


@dataclass(frozen=True)
class Job:
    """One input file and where its result goes."""

    src: Path
    dst: Path


def find_inputs(inputs: Sequence[str], exclude: Path | None = None) -> tuple[list[tuple[Path, Path]], list[str]]:
    """Files named by ``inputs`` (files, folders searched recursively, glob patterns) as (file, path relative to
    its folder input) pairs, and one message per input that names nothing or cannot be one. Folders are searched
    by ``images.scan_folder`` (``exclude`` is left out silently); every entry it finds unusable is named. A glob
    match or file that is a broken or looping link is one message, not the end of the batch."""
    found: list[tuple[Path, Path]] = []
    problems: list[str] = []
    for text in inputs:
        path = Path(text)
        if path.is_dir():
            files, unusable = scan_folder(path, exclude)
            found += [(f, f.relative_to(path)) for f in files]
            problems += [f"{f}: skipped ({why})" for f, why in unusable]
            if not files and not unusable:
                problems.append(f"{text}: no images in this folder")
        elif path.exists() or path.is_symlink():
            found.append((path, Path(path.name)))
        elif any(c in text for c in "*?["):
            matches = [Path(m) for m in sorted(glob.glob(text, recursive=True))]
            for m in matches:
                why = None if m.is_dir() and not m.is_symlink() else not_a_file(m)
                if why:
                    problems.append(f"{m}: skipped ({why})")
                elif not m.is_dir():
                    found.append((m, Path(m.name)))
            if not matches:
                problems.append(f"{text}: no file matches this pattern")
        else:
            problems.append(f"{text}: no such file or folder")
    return found, problems


def plan_jobs(inputs: Sequence[str], output: str | Path | None, suffix: str, fmt: str | None,
              ) -> tuple[list[Job], list[str]]:
    """Where each input's result goes, and the problems found on the way.

    ``output`` None: next to each input. An ``output`` with an image extension that is not an existing folder
    is a file, allowed for exactly one input file. Otherwise it is a folder; files found in a folder input keep
    their path relative to it. Names are ``<stem><suffix>.<ext>``, ext from ``fmt`` or else the input's (GIF and
    other extensions srgan does not write become .png). Two inputs may not share an output. An input that is the
    output of another (``srgan upscale DIR`` run twice in place) is skipped with a warning, not upscaled again; so is
    any srgan output found in a folder or by a pattern (``images.made_by_srgan``: an earlier run's with another suffix),
    unless the input names the file itself.
    """
    if os.sep in suffix or (os.altsep and os.altsep in suffix):
        raise SrganError(f"--suffix must be part of a file name, got {suffix!r} (it holds a path separator)")
    out = None if output is None else Path(output)
    out_is_file = out is not None and out.suffix.lower() in EXTENSION_FORMATS and not out.is_dir()
    found, problems = find_inputs(inputs, exclude=None if out is None or out_is_file else out)
    if out_is_file and (len(found) != 1 or Path(inputs[0]).is_dir() or len(inputs) != 1):
        raise SrganError(f"-o {out} names a file, so it needs exactly one input file (got {len(found)}); "
                         "give a folder to write several results")
    jobs: list[Job] = []
    seen: dict[Path, Path] = {}
    for src, rel in found:
        ext = f".{fmt}" if fmt else (src.suffix if src.suffix.lower() in EXTENSION_FORMATS else ".png")
        name = f"{src.stem}{suffix}{ext}"
        dst = out if out_is_file else src.with_name(name) if out is None else out / rel.parent / name
        key = Path(os.path.abspath(dst))
        if key in seen:
            problems.append(f"{src}: writes the same output as {seen[key]} ({dst}); rename one of them")
            continue
        seen[key] = src
        jobs.append(Job(src, dst))
    named = {os.path.abspath(text) for text in inputs if not Path(text).is_dir()}
    kept = []
    for job in jobs:
        maker = seen.get(Path(os.path.abspath(job.src)))
        if maker is not None and maker != job.src:
            warnings.warn(f"{job.src}: skipped (the output of {maker})", stacklevel=2)
        elif os.path.abspath(job.src) not in named and made_by_srgan(job.src):
            warnings.warn(f"{job.src}: skipped (written by srgan; name the file itself to upscale it again)",
                          stacklevel=2)
        else:
            kept.append(job)
    return kept, problems


def shard(jobs: Sequence[Job], rank: int, size: int) -> list[Job]:
    """The jobs of process ``rank`` out of ``size`` (torchrun): every ``size``-th of the jobs sorted by input path,
    starting at ``rank``. Every process computes the same split from the same plan, without talking to the others,
    so each input is done by exactly one; sorting makes the split independent of the order inputs were found in."""
    check_number("rank", rank, 0)
    check_number("size", size, rank, strict=True)
    return sorted(jobs, key=lambda job: str(job.src))[rank::size]
