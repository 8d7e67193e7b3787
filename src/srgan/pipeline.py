"""Batch upscaling as a pipeline: one image is decoded and another encoded while the network computes a third.

Encoding a ×4 result is slow (about a second of a core for the PNG of a 1080p photo's output, 33 MP) and so is
decoding a large JPEG; done in turn with the network, a GPU waits for one CPU core most of the time. Here the
network runs in the calling thread (one model, one device, its own intra-op threads), and decoding and encoding run
in a pool of ``threads`` worker threads, where Pillow, numpy, zlib, libdeflate and the file writes release the GIL.
Memory stays bounded whatever the number of inputs: at most ``threads + 1`` decoded inputs (``threads`` decoded
ahead, one in the network) and ``threads + 1`` results (``threads`` queued or encoding, one just computed) are held
at once, plus the network's working memory.

``run`` is the pipeline itself, with the three stages as plain callables (tests drive it with stand-ins);
``upscale_files`` is the API's batch entry point, which ``srgan upscale`` uses. Results come back in the order they
finish, each once, whether it went through or failed in one of the stages.
"""

from __future__ import annotations

import contextlib
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar

from srgan import images
from srgan.errors import SrganError, check_number

if TYPE_CHECKING:  # run() needs no torch; upscale_files imports it (with srgan.api) when called
    from pathlib import Path

    from srgan.api import Upscaler
    from srgan.batch import Job
    from srgan.images import Picture

# Worker threads by default: the cores the network's thread leaves over (on a GPU that thread mostly waits), at least
# one; at most this many, since each holds a decoded input and a result (≈ 100 MB for the ×4 output of a 1080p photo).
MAX_DEFAULT_THREADS = 8
T = TypeVar("T")  # an item (a Job for upscale_files)
D = TypeVar("D")  # what decode gives compute
R = TypeVar("R")  # what compute gives encode
TileProgress = Callable[[int, int], None]  # (tiles done, tiles in the image)


def default_threads() -> int:
    """Decoder and encoder threads when none are given (``srgan upscale --jobs``): the CPUs this process may run on,
    shared with the other processes of this machine under torchrun ($LOCAL_WORLD_SIZE), minus one for the network's
    thread; at least 1, at most ``MAX_DEFAULT_THREADS``."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    per_process = cores // max(1, int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    return min(MAX_DEFAULT_THREADS, max(1, per_process - 1))


@dataclass(frozen=True)
class Done(Generic[T]):
    """An item out of the pipeline: ``index`` is its position in the input, ``error`` the one-line failure of the
    stage that stopped it (None when it went through all three)."""

    index: int
    item: T
    error: SrganError | None = None


def run(items: Sequence[T], decode: Callable[[T], D], compute: Callable[[T, D], R],
        encode: Callable[[T, R], object], threads: int) -> Iterator[Done[T]]:
    """Put every item through ``decode``, ``compute`` and ``encode``: compute in this thread, in input order,
    decode (``threads`` items ahead) and encode in ``threads`` worker threads. Yields each item once as it finishes.

    A stage that raises ``SrganError`` ends that item only (its ``Done.error``); any other exception is a bug and
    ends the run, after the stages already running in the pool have finished (so a file being written is complete
    or absent, never partial, when the writer is atomic). Closing the iterator early does the same.
    """
    check_number("threads", threads, 1)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="srgan-io")
    decoding: deque[tuple[int, Future[D]]] = deque()
    encoding: dict[Future[object], int] = {}
    queued = 0  # items handed to decode so far

    def finished(futures: set[Future[object]]) -> Iterator[Done[T]]:
        for future in futures & encoding.keys():
            i = encoding.pop(future)
            yield Done(i, items[i], _failure(future))

    try:
        for _ in range(len(items)):
            while queued < len(items) and len(decoding) < threads + 1:
                decoding.append((queued, pool.submit(decode, items[queued])))
                queued += 1
            i, future = decoding.popleft()
            while not future.done():  # report what finishes meanwhile
                yield from finished(wait({future, *encoding}, return_when=FIRST_COMPLETED).done)
            error = _failure(future)
            if error is None:
                decoded = future.result()
                del future  # the decoded input is not held while its result waits for an encoder
                try:
                    result = compute(items[i], decoded)
                except SrganError as e:
                    error = e
                del decoded
            if error is not None:
                yield Done(i, items[i], error)
                continue
            while len(encoding) >= threads:
                yield from finished(wait(encoding, return_when=FIRST_COMPLETED).done)
            encoding[pool.submit(encode, items[i], result)] = i
            del result
        while encoding:
            yield from finished(wait(encoding, return_when=FIRST_COMPLETED).done)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _failure(future: Future) -> SrganError | None:
    """The SrganError a finished stage raised, None if it succeeded; any other exception is raised here."""
    error = future.exception()
    if error is None or isinstance(error, SrganError):
        return error
    raise error


def upscale_files(jobs: Sequence[Job], upscaler: Upscaler | Callable[[Job], Upscaler], *, overwrite: bool = False,
                  max_pixels: int | None = images.DEFAULT_MAX_PIXELS, png_compression: int = images.PNG_COMPRESSION,
                  quality: int = images.QUALITY, threads: int | None = None,
                  tiles: Callable[[Job], contextlib.AbstractContextManager[TileProgress | None]] | None = None,
                  ) -> Iterator[Done[Job]]:
    """Upscale each ``job.src`` into ``job.dst`` through ``run``: the three steps of ``Upscaler.upscale_file``
    (``srgan.api``: read_input, compute_output, save_result), each in its stage.

    ``upscaler`` is one Upscaler or a function choosing one per job (called in this thread, so it may load models
    lazily). ``max_pixels`` (None: no limit), ``png_compression`` and ``quality`` are ``upscale_file``'s;
    ``threads`` defaults to ``default_threads()``. ``tiles(job)``, if given, is entered around each job's computation
    and gives its tile progress callback (done, total), or None. An existing output is refused before decoding
    unless ``overwrite``; outputs are written atomically, so a failed job leaves no file. Running out of memory is
    that job's failure. An output too large for memory is written by the compute stage, a row of tiles at a time.
    """
    from srgan import api

    check_number("png_compression", png_compression, choices=range(10))
    check_number("quality", quality, 1, high=100)
    choose = upscaler if callable(upscaler) else lambda _job: upscaler

    def decode(job: Job) -> Picture:
        return api.read_input(job.src, job.dst, overwrite, max_pixels)

    def compute(job: Job, picture: Picture) -> Picture | Path:
        with tiles(job) if tiles else contextlib.nullcontext() as progress:
            return choose(job).compute_output(picture, job.src, job.dst, overwrite, png_compression, progress,
                                              max_pixels)

    def encode(job: Job, result: Picture | Path) -> None:
        api.save_result(result, job.src, job.dst, overwrite, png_compression, quality)

    return run(jobs, decode, compute, encode, default_threads() if threads is None else threads)
