"""`srgan upscale` under torchrun: disjoint shards, the same files as one process, and --skip-existing resumes."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan import weights
from srgan.batch import Job, shard
from srgan.errors import SrganError

from .conftest import tiny_generator


def test_shards_are_disjoint_deterministic_and_cover_every_job() -> None:
    jobs = [Job(Path(f"in/{name}.png"), Path(f"out/{name}.png")) for name in "edcbagf"]
    parts = [shard(jobs, rank, 3) for rank in range(3)]
    assert [[job.src.stem for job in part] for part in parts] == [["a", "d", "g"], ["b", "e"], ["c", "f"]]
    assert parts == [shard(list(reversed(jobs)), rank, 3) for rank in range(3)]  # the order found does not matter
    assert shard(jobs, 0, 1) == sorted(jobs, key=lambda job: str(job.src))
    assert shard(jobs[:1], 1, 2) == []  # more processes than inputs: some have nothing to do
    with pytest.raises(SrganError, match="size must be a whole number > 2, got 2"):
        shard(jobs, 2, 2)


def upscale(*args: str | Path, ranks: int = 1) -> subprocess.CompletedProcess[str]:
    launcher: list[str] = []
    if ranks > 1:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        launcher = ["-m", "torch.distributed.run", f"--nproc_per_node={ranks}", f"--master_port={port}",
                    "--master_addr=127.0.0.1"]
    return subprocess.run([sys.executable, *launcher, "-m", "srgan.cli", "upscale", *map(str, args)],
                          capture_output=True, text=True, env=os.environ | {"OMP_NUM_THREADS": "1"}, timeout=300)


def test_two_processes_write_the_files_of_one_and_resume(tmp_path: Path) -> None:
    model = weights.save(tiny_generator(scale=2, blocks=2), tmp_path / "tiny.safetensors")
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    rng = np.random.default_rng(0)
    names = ["a.png", "b.png", "c.png", "sub/d.png", "sub/e.png"]
    for name in names:
        Image.fromarray(rng.integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(src / name)
    common = ["--model", model, "--device", "cpu", "--precision", "fp32"]
    r = upscale(src, "-o", tmp_path / "one", *common)
    assert r.returncode == 0, r.stderr

    two = tmp_path / "two"
    r = upscale(src, "-o", two, *common, ranks=2)
    assert r.returncode == 0, r.stderr[-3000:]
    outputs = sorted(str(p.relative_to(two)) for p in two.rglob("*.png"))
    assert outputs == sorted(n.replace(".png", "_x2.png") for n in names)
    for rel in outputs:
        assert (two / rel).read_bytes() == (tmp_path / "one" / rel).read_bytes(), rel
    lines = [line for line in r.stdout.splitlines() if " -> " in line]
    assert len(lines) == len(names)  # each input once, by one rank, one whole line each
    assert {line.split("]")[0] for line in lines} == {"[rank 0", "[rank 1"}
    assert "2 processes: 5 done, 0 skipped, 0 failed" in r.stdout

    # A crash left two outputs missing: the rerun writes them and leaves the others alone.
    for rel in ("a_x2.png", "sub/e_x2.png"):
        (two / rel).unlink()
    kept = {rel: (two / rel).stat().st_mtime_ns for rel in outputs if (two / rel).exists()}
    r = upscale(src, "-o", two, *common, "--skip-existing", ranks=2)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "2 processes: 2 done, 3 skipped, 0 failed" in r.stdout
    assert {rel: (two / rel).stat().st_mtime_ns for rel in kept} == kept
    for rel in outputs:
        assert (two / rel).read_bytes() == (tmp_path / "one" / rel).read_bytes(), rel

    # A bad input fails only the rank that holds it; the exit status says so.
    (src / "sub" / "d.png").write_bytes(b"not a PNG")
    r = upscale(src, "-o", tmp_path / "three", *common, ranks=2)
    assert r.returncode != 0
    assert "2 processes: 4 done, 0 skipped, 1 failed" in r.stdout
    assert "d.png" in r.stderr
