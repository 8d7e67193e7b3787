"""Every way a run with DataLoader workers ends, the process exits: to --steps, by --max-time, by SIGTERM, fresh,
resumed, and resumed past a corrupt newest checkpoint (which once left the main process waiting forever on an idle
worker in multiprocessing's exit handler), each within 30 s of its last checkpoint. And a run refused for a bad
--init or --vgg-weights leaves no run folder behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from srgan import weights
from srgan.train import checkpoint
from srgan.train.runfolder import RunFolder

from .conftest import tiny_generator
from .test_train import TINY, _wait_for_step

pytestmark = pytest.mark.usefixtures("isolated_cache")
EXIT_AFTER_CHECKPOINT = 30  # seconds


def _start(run: Path, data: Path, workers: int, *extra: str) -> subprocess.Popen[str]:
    args = [*TINY, *extra]
    args[args.index("--workers") + 1] = str(workers)
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    return subprocess.Popen([sys.executable, "-m", "srgan.cli", "train", "--out", str(run), "--data", str(data),
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _exits_after_its_checkpoint(proc: subprocess.Popen[str], run: Path, reason: str) -> int:
    """Waits for ``proc`` (killing it if it hangs) and checks that it stopped for ``reason`` with exit status 0 within
    EXIT_AFTER_CHECKPOINT seconds of writing its newest checkpoint; returns that checkpoint's step."""
    try:
        out, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        pytest.fail(f"the run did not exit: {out[-500:]}")
    exited = time.time()
    assert proc.returncode == 0, err[-2000:]
    assert f"({reason})" in out
    latest = checkpoint.load_latest(RunFolder(run))
    assert latest is not None
    assert exited - latest.path.stat().st_mtime < EXIT_AFTER_CHECKPOINT
    return latest.state["step"]


def test_runs_with_workers_exit_however_they_end(tmp_path: Path, data_dir: Path) -> None:
    run = tmp_path / "run"
    proc = _start(run, data_dir, 2, "--steps", "4", "--save-every", "2")
    assert _exits_after_its_checkpoint(proc, run, "steps") == 4

    proc = _start(run, data_dir, 1, "--steps", "6", "--save-every", "2")  # resumed
    assert _exits_after_its_checkpoint(proc, run, "steps") == 6

    newest = RunFolder(run).list_checkpoints()[-1]
    newest.write_bytes(newest.read_bytes()[:500])  # resumed past a corrupt newest checkpoint: step 4 is used
    proc = _start(run, data_dir, 1, "--steps", "8", "--save-every", "2")
    assert _exits_after_its_checkpoint(proc, run, "steps") == 8
    assert "renamed to step_00000006.pt.corrupt" in (run / "train.log").read_text()

    proc = _start(run, data_dir, 2, "--steps", "100000", "--save-every", "100000", "--max-time", "3")
    assert _exits_after_its_checkpoint(proc, run, "max-time") > 8

    proc = _start(run, data_dir, 2, "--steps", "100000", "--save-every", "100000")
    step = checkpoint.load_latest(RunFolder(run)).state["step"]
    _wait_for_step(run, step + 2, proc)
    proc.send_signal(signal.SIGTERM)
    assert _exits_after_its_checkpoint(proc, run, "SIGTERM") >= step + 2


def test_a_refused_init_or_vgg_weights_leaves_no_run_folder(tmp_path: Path, data_dir: Path) -> None:
    run = tmp_path / "run"
    bad = tmp_path / "not_weights.safetensors"
    bad.write_bytes(b"not a weight file")
    for init in (bad, tmp_path / "missing.safetensors"):
        proc = _start(run, data_dir, 0, "--steps", "2", "--init", str(init))
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2
        assert str(init.name) in err and "Traceback" not in err
        assert not run.exists()
    init = tmp_path / "init.safetensors"
    weights.save(tiny_generator(scale=2, blocks=1, channels=8), init)
    proc = _start(run, data_dir, 0, "--steps", "2", "--phase", "srgan", "--init", str(init), "--vgg-weights", str(bad))
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and bad.name in err and "Traceback" not in err, err
    assert not run.exists()
