"""The one way files are written: to a hidden temporary file beside the target, then renamed over it.

A reader (or a crash, or a kill) therefore never sees a partial file, and an interrupted write leaves the previous
version in place. The temporary name keeps the target's extension, so writers that look at it (Pillow, numpy)
behave, and it starts with a dot, so folder scans skip it. New files get the usual umask permissions. Without
``replace`` the last step is exclusive (a hard link, which fails if the target exists), so of two writers racing
for one new file exactly one succeeds and neither replaces the other's. A command's output (an upscaled image, a
report, an ONNX file, eval's JSON and images) goes through ``write_output`` (a function that writes a path) or
``output_file`` (a file object to stream into), which also refuse to replace a file without ``--overwrite``, in the
same words for every command. The one way a torch-saved file (a checkpoint, third-party weights) is read is here
too: ``load_torch_state``, which never unpickles code.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

from srgan.errors import SrganError

_EXISTS = "already exists (pass --overwrite to replace it)"


def atomic_write(path: str | Path, write: Callable[[Path], object], durable: bool = False,
                 replace: bool = True) -> Path:
    """Call ``write(tmp)`` to produce the file, then move it onto ``path``.

    ``durable`` also fsyncs the file and its folder, so the rename survives a power loss (training checkpoints).
    ``replace=False`` raises FileExistsError if ``path`` exists by then, however recently it appeared.
    """
    with _committed(Path(path), durable, replace) as tmp:
        write(tmp)
    return Path(path)


@contextlib.contextmanager
def _committed(path: Path, durable: bool, replace: bool) -> Iterator[Path]:
    """The temporary path to write; moved onto ``path`` when the block ends without an exception, removed always."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.{secrets.token_hex(4)}{path.suffix}")  # as leftover_temps matches
    try:
        yield tmp
        if durable:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        if replace:
            os.replace(tmp, path)
        else:
            _link_new(tmp, path)
        if durable:
            fd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    finally:
        tmp.unlink(missing_ok=True)


def check_output(path: str | Path, overwrite: bool) -> None:
    """Refuse to write a command's output over an existing file without ``overwrite`` (or onto a folder at all):
    every command calls this before its expensive part, and every one says the same."""
    path = Path(path)
    if path.is_dir():
        raise SrganError("is a folder; give a file name", path)
    if not overwrite and (path.exists() or path.is_symlink()):
        raise SrganError(_EXISTS, path)


def write_output(path: str | Path, write: Callable[[Path], object], overwrite: bool) -> Path:
    """``write(tmp)`` produces a command's output, committed as ``output_file`` commits it."""
    with _output_path(Path(path), overwrite) as tmp:
        write(tmp)
    return Path(path)


@contextlib.contextmanager
def output_file(path: str | Path, overwrite: bool) -> Iterator[BinaryIO]:
    """A new file to write a command's output into (image writers stream into it), which takes the name ``path``
    when the block ends without an exception; any exception leaves no file."""
    with _output_path(Path(path), overwrite) as tmp, open(tmp, "xb") as f:
        yield f


@contextlib.contextmanager
def _output_path(path: Path, overwrite: bool) -> Iterator[Path]:
    """``atomic_write``'s temporary path for a command's output, after ``check_output``. Without ``overwrite`` the
    final step is exclusive, so a file that appeared meanwhile (another writer) is kept and refused the same way; a
    failed write is one line naming the file."""
    check_output(path, overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # here, so a file in its way is not "already exists"
        try:
            with _committed(path, durable=False, replace=overwrite) as tmp:
                yield tmp
        except FileExistsError as e:
            raise SrganError(_EXISTS, path) from e
    except OSError as e:
        raise SrganError(f"cannot write output ({e.strerror or e})", path) from e


def _link_new(tmp: Path, path: Path) -> None:
    """Give ``tmp``'s content the name ``path`` only if that name is free (``tmp`` is removed by the caller)."""
    try:
        os.link(tmp, path)
    except OSError as e:
        if e.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        # No hard links here (FAT, some network shares): the check and the rename are two steps.
        if path.exists():
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(path)) from e
        os.replace(tmp, path)


def leftover_temps(path: str | Path) -> list[Path]:
    """Temporary files a killed ``atomic_write`` to ``path`` left behind; the name of ``path`` may hold wildcards.

    Only for a writer that knows no other write to those targets is in flight (one trainer per run folder).
    """
    path = Path(path)
    return sorted(path.parent.glob(f".{path.stem}.*{path.suffix}"))


def given_file(path: str | Path | None, env_var: str, what: str) -> Path | None:
    """The file a user named for ``what`` (e.g. "VGG19 weights"): ``path`` if given, else ``$env_var`` if set, else
    None (the caller's own fallback). A named file that does not exist is an error here, naming where it came from,
    rather than a silent fallback to another file."""
    if path is not None:
        if not Path(path).is_file():
            raise SrganError(f"{what} file does not exist", path)
        return Path(path)
    env = os.environ.get(env_var)
    if env:
        if not Path(env).is_file():
            raise SrganError(f"{what} file does not exist (from ${env_var})", env)
        return Path(env)
    return None


def load_torch_state(path: str | Path, unreadable: str) -> Any:
    """A file saved by ``torch.save``, read with ``weights_only`` (tensors and plain containers, never code). Any
    failure is one error naming the file, "``unreadable`` (ExceptionType: first sentence)": torch raises many types
    for bad files and they all mean the same to a user. torch's warning about an unusual pickle protocol is silenced,
    since whatever it foretells is reported here in that one line."""
    import torch

    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any failure to unpickle means the file is unusable
        reason = str(e).strip().splitlines()[0].split(". ")[0] if str(e).strip() else ""
        raise SrganError(f"{unreadable} ({type(e).__name__}: {reason})", path) from e
