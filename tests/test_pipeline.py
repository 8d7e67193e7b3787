"""The batch pipeline: decode, compute and encode of different images overlap, within bounded memory; a failure in
any stage is that image's one line; ``srgan upscale --jobs`` does not change a byte of the outputs."""

from __future__ import annotations

import contextlib
import errno
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan import images, pipeline, weights
from srgan.api import Upscaler
from srgan.batch import Job
from srgan.errors import SrganError

from .conftest import tiny_generator

N = 6


class Recorder:
    """Stand-in stages that record when each call starts and ends, and how many items are held between stages."""

    def __init__(self, decode_s: float = 0.0, compute_s: float = 0.0, encode_s: float = 0.0) -> None:
        self.seconds = {"decode": decode_s, "compute": compute_s, "encode": encode_s}
        self.spans: dict[tuple[str, int], tuple[float, float]] = {}
        self.lock = threading.Lock()
        self.started = {i: threading.Event() for i in range(N + 1)}  # compute of item i has started
        self.held = {"decoded": 0, "results": 0}
        self.most = {"decoded": 0, "results": 0}
        self.fail: dict[tuple[str, int], Exception] = {}
        self.encode_waits_for_next = False

    def _count(self, what: str, change: int) -> None:
        with self.lock:
            self.held[what] += change
            self.most[what] = max(self.most[what], self.held[what])

    def _stage(self, name: str, i: int) -> None:
        start = time.monotonic()
        if name == "compute":
            self.started[i].set()
        if name == "encode" and self.encode_waits_for_next and i < N - 1:
            # Finish only once the next image's compute has begun (or 5 s passed): in a pipeline that happens at
            # once; one stage after the other, never, and the recorded spans show it.
            self.started[i + 1].wait(5)
        time.sleep(self.seconds[name])
        with self.lock:
            self.spans[name, i] = (start, time.monotonic())
        if (name, i) in self.fail:
            raise self.fail[name, i]

    def decode(self, i: int) -> int:
        self._stage("decode", i)
        self._count("decoded", 1)
        return i

    def compute(self, i: int, decoded: int) -> int:
        assert decoded == i
        try:
            self._stage("compute", i)
        finally:
            self._count("decoded", -1)
        self._count("results", 1)
        return i

    def encode(self, i: int, result: int) -> None:
        assert result == i
        try:
            self._stage("encode", i)
        finally:
            self._count("results", -1)

    def run(self, threads: int) -> list[pipeline.Done[int]]:
        return list(pipeline.run(range(N), self.decode, self.compute, self.encode, threads))


@pytest.mark.parametrize("threads", [1, 3])
def test_encode_of_one_image_overlaps_compute_of_the_next(threads: int) -> None:
    rec = Recorder(decode_s=0.01, compute_s=0.05, encode_s=0.01)
    rec.encode_waits_for_next = True
    done = rec.run(threads)
    assert sorted(d.index for d in done) == list(range(N)) and all(d.error is None for d in done)
    for i in range(N - 1):
        compute_next, encode = rec.spans["compute", i + 1], rec.spans["encode", i]
        assert compute_next[0] < encode[1], i  # compute of i+1 began before encode of i ended
        assert rec.spans["compute", i][1] <= compute_next[0]  # one compute at a time, in input order
    for i in range(N):
        assert rec.spans["decode", i][1] <= rec.spans["compute", i][0] <= rec.spans["compute", i][1] \
            <= rec.spans["encode", i][0], i


@pytest.mark.parametrize("threads", [1, 2])
def test_decoded_inputs_and_results_held_are_bounded(threads: int) -> None:
    slow_compute = Recorder(compute_s=0.03)  # decoding outruns the network: decoded inputs pile up to the bound
    slow_compute.run(threads)
    assert 1 <= slow_compute.most["decoded"] <= threads + 1
    slow_encode = Recorder(encode_s=0.03)  # the network outruns encoding: results pile up to the bound
    slow_encode.run(threads)
    assert 1 <= slow_encode.most["results"] <= threads + 1
    assert slow_compute.held == slow_encode.held == {"decoded": 0, "results": 0}


def test_a_failure_in_any_stage_ends_only_that_item() -> None:
    rec = Recorder()
    rec.fail = {("decode", 1): SrganError("cannot decode", "1.png"), ("compute", 3): SrganError("NaN", "3.png"),
                ("encode", 4): SrganError("disk full", "4.png")}
    done = rec.run(2)
    assert sorted(d.index for d in done) == list(range(N))  # each once
    errors = {d.index: str(d.error) for d in done if d.error is not None}
    assert errors == {1: "1.png: cannot decode", 3: "3.png: NaN", 4: "4.png: disk full"}
    assert ("compute", 1) not in rec.spans and ("encode", 3) not in rec.spans  # a failed item goes no further
    assert {i for (stage, i) in rec.spans if stage == "encode"} == {0, 2, 4, 5}


def test_an_unexpected_exception_ends_the_run_after_the_running_stages() -> None:
    rec = Recorder(encode_s=0.02)
    rec.fail = {("encode", 1): RuntimeError("a bug")}
    with pytest.raises(RuntimeError, match="a bug"):
        rec.run(2)
    running = {(stage, i) for (stage, i) in rec.spans}
    time.sleep(0.1)
    assert {(stage, i) for (stage, i) in rec.spans} == running  # nothing still running or started after the end
    assert not any(t.name.startswith("srgan-io") for t in threading.enumerate())


def test_threads_must_be_positive() -> None:
    with pytest.raises(SrganError, match="threads must be a whole number >= 1, got 0"):
        list(pipeline.run([1], int, max, print, 0))


# ---------------------------------------------------------------- upscale_files: real images, files and failures


def write_folder(root: Path, names: list[str], size: tuple[int, int] = (12, 10)) -> None:
    rng = np.random.default_rng(0)
    root.mkdir()
    for name in names:
        Image.fromarray(rng.integers(0, 256, (*size, 3), dtype=np.uint8)).save(root / name)


def test_upscale_files_writes_what_upscale_file_writes_and_no_partial_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    names = ["a.png", "b.png", "c.png", "d.png", "e.png"]
    write_folder(tmp_path / "in", names)
    (tmp_path / "in" / "bad.png").write_bytes(b"not a PNG")
    jobs = [Job(tmp_path / "in" / n, tmp_path / "out" / n.replace(".png", "_x2.png")) for n in [*names, "bad.png"]]
    up = Upscaler(tiny_generator(), "cpu", "fp32")

    class NoMemory(Upscaler):
        def upscale_picture(self, picture: images.Picture, progress: object = None) -> images.Picture:
            raise MemoryError

    no_memory = NoMemory(tiny_generator(), "cpu", "fp32")

    encoder = images.output._encoder

    def full_disk(picture: images.Picture, fmt: str, path: Path, level: int) -> Callable[[object], None]:
        write = encoder(picture, fmt, path, level)
        if path.name != "c_x2.png":
            return write

        def half_then_fail(f) -> None:  # type: ignore[no-untyped-def]
            f.write(b"\x89PNG half of it")
            raise OSError(errno.ENOSPC, "No space left on device")

        return half_then_fail

    monkeypatch.setattr(images.output, "_encoder", full_disk)
    tiles: list[str] = []

    def tile_progress(job: Job):  # type: ignore[no-untyped-def]
        tiles.append(job.src.name)
        return contextlib.nullcontext(None)

    done = list(pipeline.upscale_files(jobs, lambda job: no_memory if job.src.name == "d.png" else up,
                                       threads=2, tiles=tile_progress))
    assert sorted(d.index for d in done) == list(range(len(jobs)))
    errors = {d.item.src.name: str(d.error) for d in done if d.error is not None}
    assert errors == {
        "bad.png": f"{tmp_path / 'in' / 'bad.png'}: not an image file (or a format Pillow cannot read)",
        "c.png": f"{tmp_path / 'out' / 'c_x2.png'}: cannot write output (No space left on device)",
        "d.png": f"{tmp_path / 'in' / 'd.png'}: out of memory; try a smaller --tile",
    }, errors
    assert sorted(tiles) == ["a.png", "b.png", "c.png", "d.png", "e.png"]  # each computed image, not bad.png
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a_x2.png", "b_x2.png", "e_x2.png"]  # no temps
    monkeypatch.setattr(images.output, "_encoder", encoder)
    for name in ("a", "b", "e"):
        up.upscale_file(tmp_path / "in" / f"{name}.png", tmp_path / f"{name}_ref.png")
        assert (tmp_path / f"{name}_ref.png").read_bytes() == (tmp_path / "out" / f"{name}_x2.png").read_bytes()

    again = list(pipeline.upscale_files(jobs[:1], up, threads=1))  # an existing output: refused before decoding
    assert str(again[0].error) == f"{jobs[0].dst}: already exists (pass --overwrite to replace it)"


def test_default_threads_are_the_cores_left_over(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: set(range(16)))
    monkeypatch.delenv("LOCAL_WORLD_SIZE", raising=False)
    assert pipeline.default_threads() == pipeline.MAX_DEFAULT_THREADS == 8
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")  # torchrun: 4 processes share the 16 cores
    assert pipeline.default_threads() == 3
    monkeypatch.setattr(pipeline.os, "sched_getaffinity", lambda _pid: {0})
    assert pipeline.default_threads() == 1


# ---------------------------------------------------------------- the command


def srgan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srgan.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def test_cli_jobs_1_and_3_write_the_same_bytes(tmp_path: Path) -> None:
    names = [f"{k}.png" for k in "abcdefg"]
    write_folder(tmp_path / "in", names, size=(14, 18))
    (tmp_path / "in" / "broken.png").write_bytes(b"not a PNG")
    model = weights.save(tiny_generator(), tmp_path / "tiny.safetensors")
    outputs = {}
    for jobs in (1, 3):
        r = srgan("upscale", tmp_path / "in", "-o", tmp_path / f"j{jobs}", "--model", model, "--device", "cpu",
                  "--jobs", jobs)
        assert r.returncode == 1, r.stderr
        assert "Traceback" not in r.stderr
        assert [line.strip() for line in r.stderr.splitlines() if line.startswith("  ")] == [
            f"{tmp_path / 'in' / 'broken.png'}: not an image file (or a format Pillow cannot read)"]
        lines = sorted(line for line in r.stdout.splitlines() if " -> " in line)
        assert lines == sorted(f"{tmp_path / 'in' / n} -> {tmp_path / f'j{jobs}' / n.replace('.png', '_x2.png')}"
                               for n in names)
        outputs[jobs] = {p.name: p.read_bytes() for p in (tmp_path / f"j{jobs}").iterdir()}
    assert sorted(outputs[1]) == sorted(n.replace(".png", "_x2.png") for n in names)
    assert outputs[1] == outputs[3]

    r = srgan("upscale", tmp_path / "in", "-o", tmp_path / "j0", "--model", model, "--jobs", "0")
    assert r.returncode == 2 and "--jobs must be a whole number >= 1, got 0" in r.stderr
    assert not (tmp_path / "j0").exists()
