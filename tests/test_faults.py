"""What happens when things go wrong: corrupt, torn or contested run folders, a full disk, hostile or damaged
weight files, odd inputs to `srgan upscale`, out-of-range flags. Each fault ends in one line naming the file and
the problem (or a one-line notice and a clean recovery), a non-zero exit where something was refused, and nothing
the user had overwritten or lost."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest
import torch

from srgan import weights
from srgan.cli import main
from srgan.train import checkpoint

from .conftest import tiny_generator, write_vgg19
from .test_train import TINY, _wait_for_step, cli, write_images


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return write_images(tmp_path / "data")


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def tiny_run(run: Path, data_dir: Path, steps: int = 6, *extra: str) -> Path:
    """A finished tiny run with checkpoints at steps 2, 4 and 6."""
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TINY, "--steps", str(steps),
                 "--save-every", "2", *extra]) == 0
    return run


def resume(run: Path, *flags: str) -> int:
    """``srgan train --out RUN FLAGS`` in this process, without data workers (forks of the test process)."""
    return main(["train", "--out", str(run), "--workers", "0", *flags])


def truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


# ---------------------------------------------------------------- the run folder


def test_all_checkpoints_corrupt_refuses_to_resume_and_touches_nothing(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    for path in checkpoint.list_checkpoints(run):
        truncate(path)
    before = snapshot(run)
    capsys.readouterr()
    assert resume(run, "--steps", "10") == 2
    line = one_line_error(capsys.readouterr().err)
    assert str(run) in line and "all 3 checkpoint(s)" in line and "--restart" in line
    assert snapshot(run) == before  # the trained generator, the logs, the corrupt files: all as they were
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]


def test_restart_moves_the_old_run_aside_and_starts_fresh(tmp_path: Path, data_dir: Path) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    for path in checkpoint.list_checkpoints(run):
        truncate(path)
    before = snapshot(run)
    assert main(["train", "--out", str(run), "--restart", "--data", str(data_dir), *TINY, "--steps", "2"]) == 0
    (old,) = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert snapshot(old) == {k: v for k, v in before.items() if k != ".lock"}  # everything kept, nothing changed
    assert [p.name for p in checkpoint.list_checkpoints(run)] == ["step_00000002.pt"]
    assert "resumed" not in (run / "train.log").read_text()
    with pytest.raises(SystemExit):  # argparse: the two contradict
        main(["train", "--out", str(run), "--restart", "--resume"])


def test_corrupt_newest_checkpoints_are_moved_aside_and_never_outrank_the_loadable_one(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    ckpts = checkpoint.list_checkpoints(run)
    for path in ckpts[1:]:
        truncate(path)
    capsys.readouterr()
    assert resume(run, "--steps", "3", "--keep", "1") == 0
    out = capsys.readouterr().out
    notices = [line for line in out.splitlines() if "skipped checkpoint" in line]
    assert len(notices) == 2 and all(".corrupt" in n for n in notices)  # one line each, not a Python warning
    assert "step_00000006.pt" in notices[0] and "step_00000004.pt" in notices[1]
    assert "resumed from step 2" in out
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == [
        "step_00000003.pt", "step_00000004.pt.corrupt", "step_00000006.pt.corrupt"]
    assert (run / "latest").read_text().strip() == "checkpoints/step_00000003.pt"
    assert checkpoint.load_latest(run).state["step"] == 3


def test_torn_latest_is_ignored_and_rewritten(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    (run / "latest").write_text("checkpoints/step_0000")  # as a torn write would leave it
    capsys.readouterr()
    assert resume(run, "--steps", "8") == 0
    assert "resumed from step 6" in capsys.readouterr().out
    assert (run / "latest").read_text().strip() == "checkpoints/step_00000008.pt"


def test_second_trainer_on_a_run_folder_is_refused(tmp_path: Path, data_dir: Path,
                                                   capsys: pytest.CaptureFixture) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    before = snapshot(run)
    with checkpoint.RunLock(run):
        assert resume(run, "--steps", "8") == 2
        line = one_line_error(capsys.readouterr().err)
        assert str(run) in line and "another process" in line
        assert snapshot(run) == before
    assert resume(run, "--steps", "8") == 0  # released


def test_a_killed_trainer_leaves_no_lock(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "run"
    args = ["train", "--out", str(run), "--data", str(data_dir), *TINY, "--steps", "100000", "--save-every", "2"]
    args[args.index("--workers") + 1] = "1"  # a forked data worker must not keep the lock alive
    proc = cli(*args)
    try:
        _wait_for_step(run, 4, proc)
        assert main(["train", "--out", str(run), "--data", str(data_dir), *TINY, "--steps", "100000"]) == 2
        assert f"pid {proc.pid}" in one_line_error(capsys.readouterr().err)
    finally:
        proc.kill()
        proc.communicate()
    step = checkpoint.load_latest(run).state["step"]
    assert resume(run, "--steps", str(step + 1)) == 0  # the kernel released the lock


def test_disk_full_while_checkpointing_stops_cleanly(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    real_save = torch.save
    saves = []

    def save_on_a_full_disk(obj: object, f: object) -> None:
        saves.append(f)
        if len(saves) < 2:
            return real_save(obj, f)
        if hasattr(f, "write"):
            f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", save_on_a_full_disk)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TINY, "--steps", "6",
                 "--save-every", "2"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "no space left on" in line and str(run / "checkpoints") in line
    assert "step_00000002.pt" in line  # says what it still has
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["step_00000002.pt"]  # no temp file left
    assert (run / "latest").read_text().strip() == "checkpoints/step_00000002.pt"
    monkeypatch.setattr(torch, "save", real_save)
    assert checkpoint.load_latest(run).state["step"] == 2
    assert not (run / "generator.safetensors").exists()


def test_invalid_flag_on_resume_changes_nothing(tmp_path: Path, data_dir: Path,
                                                 capsys: pytest.CaptureFixture) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    before = snapshot(run)
    capsys.readouterr()
    assert resume(run, "--resume", "--lr", "-0.001") == 2
    assert one_line_error(capsys.readouterr().err) == "srgan train: error: --lr must be a number > 0, got -0.001"
    assert snapshot(run) == before
    assert resume(run, "--resume", "--steps", "8") == 0  # the run still resumes


def test_config_json_is_written_only_once_the_run_has_started(tmp_path: Path, data_dir: Path) -> None:
    """A setting that fails after the flag checks (a missing --vgg-weights file) leaves config.json alone."""
    init = weights.save(tiny_generator(scale=2, n_blocks=1, channels=8), tmp_path / "init.safetensors")
    run = tmp_path / "gan"
    assert main(["train", "--phase", "srgan", "--init", str(init), "--vgg-weights",
                 str(write_vgg19(tmp_path / "vgg19.pth")), "--content", "vgg22", "--out", str(run),
                 "--data", str(data_dir), *TINY, "--steps", "2", "--save-every", "2"]) == 0
    saved = (run / "config.json").read_bytes()
    assert resume(run, "--steps", "4", "--vgg-weights", str(tmp_path / "missing.pth")) == 2
    assert (run / "config.json").read_bytes() == saved
    assert resume(run, "--steps", "4") == 0


# ---------------------------------------------------------------- flags


@pytest.mark.parametrize(("flag", "value", "rule"), [
    ("--batch", "0", "a whole number >= 1"), ("--lr", "-1e-3", "a number > 0"), ("--scale", "3", "one of 2, 4, 8"),
    ("--blocks", "0", "a whole number >= 1"), ("--workers", "-1", "a whole number >= 0"),
    ("--steps", "-5", "a whole number >= 1"), ("--save-every", "0", "a whole number > 0"),
    ("--keep", "0", "a whole number >= 1"), ("--save-every", "0s", "a number > 0"),
])
def test_train_flags_out_of_range_are_one_line(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture,
                                               flag: str, value: str, rule: str) -> None:
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TINY, "--steps", "3", f"{flag}={value}"]) == 2
    shown = float(value.rstrip("s")) if flag in ("--lr",) or value.endswith("s") else int(value)
    assert one_line_error(capsys.readouterr().err) == f"srgan train: error: {flag} must be {rule}, got {shown!r}"
    assert not run.exists()


def test_toml_values_of_the_wrong_type_are_one_line(tmp_path: Path, data_dir: Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    toml = tmp_path / "run.toml"
    toml.write_text(f'data = ["{data_dir}"]\nbatch = "4"\n')
    assert main(["train", "--out", str(tmp_path / "run"), "--config", str(toml)]) == 2
    assert one_line_error(capsys.readouterr().err) == "srgan train: error: --batch must be a whole number >= 1, got '4'"
