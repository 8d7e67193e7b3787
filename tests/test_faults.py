"""What happens when things go wrong: corrupt, torn or contested run folders, a full disk, hostile or damaged
weight files, odd inputs to `srgan upscale`, out-of-range flags. Each fault ends in one line naming the file and
the problem (or a one-line notice and a clean recovery), a non-zero exit where something was refused, and nothing
the user had overwritten or lost."""

from __future__ import annotations

import errno
import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan import images, weights
from srgan.api import Upscaler
from srgan.cli import main
from srgan.train import checkpoint
from srgan.train.runfolder import RunFolder

from .conftest import tiny_generator, write_vgg19
from .test_train import TINY, _wait_for_step, cli

pytestmark = pytest.mark.usefixtures("isolated_cache")


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
    for path in RunFolder(run).list_checkpoints():
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
    for path in RunFolder(run).list_checkpoints():
        truncate(path)
    before = snapshot(run)
    assert main(["train", "--out", str(run), "--restart", "--data", str(data_dir), *TINY, "--steps", "2"]) == 0
    (old,) = [p for p in tmp_path.iterdir() if p.name.startswith("run.old-")]
    assert snapshot(old) == {k: v for k, v in before.items() if k != ".lock"}  # everything kept, nothing changed
    assert [p.name for p in RunFolder(run).list_checkpoints()] == ["step_00000002.pt"]
    assert "resumed" not in (run / "train.log").read_text()
    with pytest.raises(SystemExit):  # argparse: the two contradict
        main(["train", "--out", str(run), "--restart", "--resume"])


def test_corrupt_newest_checkpoints_are_moved_aside_and_never_outrank_the_loadable_one(
        tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    ckpts = RunFolder(run).list_checkpoints()
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
    assert checkpoint.load_latest(RunFolder(run)).state["step"] == 3


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
    with checkpoint.RunLock(RunFolder(run)):
        assert resume(run, "--steps", "8") == 2
        line = one_line_error(capsys.readouterr().err)
        assert str(run) in line and "another process" in line
        assert snapshot(run) == before
    assert resume(run, "--steps", "8") == 0  # released


def test_a_file_system_without_locks_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_locks(*_: object) -> None:
        raise OSError(errno.ENOLCK, os.strerror(errno.ENOLCK))

    monkeypatch.setattr(checkpoint.fcntl, "flock", no_locks)
    with pytest.raises(weights.SrganError, match=r"run: cannot lock the run folder \(No locks available\)$"):
        checkpoint.RunLock(RunFolder(tmp_path / "run"))


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
    step = checkpoint.load_latest(RunFolder(run)).state["step"]
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
    assert checkpoint.load_latest(RunFolder(run)).state["step"] == 2
    assert not (run / "generator.safetensors").exists()


def test_disk_full_while_logging_stops_with_one_line(tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """train.log and metrics.jsonl are appended every log step: a full disk there was a traceback."""
    import builtins

    real_open = builtins.open

    def open_on_a_full_disk(file: object, mode: str = "r", *args: object, **kwargs: object) -> object:
        if str(file).endswith("metrics.jsonl") and "a" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(builtins, "open", open_on_a_full_disk)
    run = tmp_path / "run"
    assert main(["train", "--out", str(run), "--data", str(data_dir), *TINY, "--steps", "4"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "cannot append to the log (No space left on device)" in line and str(run / "metrics.jsonl") in line


def test_saved_config_from_another_version_is_one_line(tmp_path: Path, data_dir: Path,
                                                       capsys: pytest.CaptureFixture) -> None:
    run = tiny_run(tmp_path / "run", data_dir)
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps(config | {"warp_drive": 9}))
    capsys.readouterr()
    assert resume(run, "--steps", "8") == 2
    line = one_line_error(capsys.readouterr().err)
    assert "settings this version does not know: warp_drive" in line


@pytest.mark.parametrize(("args", "message"), [
    (["eval", "--model", "bicubic", "--scale", "3", "--data", "."], "--scale must be one of 2, 4, 8, got 3"),
    (["report", "x.png", "-o", "r.html", "--crops", "-1"], "--crops must be a whole number >= 0, got -1"),
    (["report", "x.png", "-o", "r.html", "--previews", "-2"], "--previews must be a whole number >= 0, got -2"),
    (["export", "m.safetensors", "--onnx", "m.onnx", "--size", "0", "64"], "--size must be a whole number >= 1, got 0"),
])
def test_other_commands_number_flags_are_one_line(args: list[str], message: str, capsys: pytest.CaptureFixture
                                                  ) -> None:
    assert main(args) == 2
    assert one_line_error(capsys.readouterr().err).endswith(message)


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
    init = weights.save(tiny_generator(scale=2, blocks=1, channels=8), tmp_path / "init.safetensors")
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
    toml.write_text(f'data = ["{data_dir}"]\nprecision = "fp8"\n')  # checked with the config, not when training
    assert main(["train", "--out", str(tmp_path / "run"), "--config", str(toml)]) == 2
    assert one_line_error(capsys.readouterr().err) == ("srgan train: error: --precision must be one of auto, fp32, "
                                                       "bf16, fp16, got 'fp8'")
    assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------- weight files


def info(path: Path, capsys: pytest.CaptureFixture) -> str:
    """`srgan info PATH`, which must refuse the file with one line naming it; that line."""
    assert main(["info", str(path)]) == 2
    captured = capsys.readouterr()
    line = one_line_error(captured.err)
    assert captured.out == "" and line.startswith(f"srgan info: error: {path}: ")
    return line


def with_metadata(path: Path, **changes: object) -> Path:
    """The tiny generator's tensors under hostile metadata (``config`` entries given as config_<key>), in a format
    version 1 file unless ``format_version`` says otherwise (version 1 calls the block count n_blocks)."""
    from safetensors.torch import save_file

    config = {"scale": 2, "n_blocks": 2, "channels": 8}
    config |= {k.removeprefix("config_"): v for k, v in changes.items() if k.startswith("config_")}
    meta = {"format": "srgan-generator", "format_version": "1", "architecture": "srresnet",
            "config": json.dumps(config)} | {k: str(v) for k, v in changes.items() if not k.startswith("config_")}
    save_file({k: v.contiguous() for k, v in tiny_generator().state_dict().items()}, path, metadata=meta)
    return path


@pytest.fixture
def built_on(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The device of every generator the weights module builds (meta = shapes only, no memory)."""
    devices: list[str] = []
    real = weights.Generator

    def spy(*args: object, **kwargs: object) -> object:
        devices.append(torch.get_default_device().type)
        return real(*args, **kwargs)

    monkeypatch.setattr(weights, "Generator", spy)
    return devices


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         built_on: list[str], value: float) -> None:
    g = tiny_generator()
    with torch.no_grad():
        g.body[1].conv2.weight[0, 0, 0, 0] = value
    path = weights.save(g, tmp_path / "diverged.safetensors")
    assert "tensor body.1.conv2.weight holds NaN or infinite values" in info(path, capsys)
    assert set(built_on) <= {"meta"}  # refused before a model was built


@pytest.mark.parametrize(("changes", "expected"), [
    ({"config_n_blocks": 2.5}, "metadata config.n_blocks must be a whole number >= 1, got 2.5"),
    ({"config_scale": "2"}, "metadata config.scale must be a whole number >= 1, got '2'"),
    ({"config_scale": 3}, "bad architecture metadata (scale must be 2, 4 or 8, got 3)"),
    ({"format_version": "abc"}, "metadata format_version must be a whole number >= 1, got 'abc'"),
    ({"config_channels": 200000}, "tensor head.0.weight has shape (8, 3, 9, 9), but the metadata's architecture "
                                  "needs (200000, 3, 9, 9)"),
    ({"config_n_blocks": 100000}, "the metadata says 100000 residual blocks, the file holds 2"),
    ({"config_depth": 3}, "metadata config must be a JSON object with the keys channels, n_blocks, scale"),
    ({"format_version": "2"}, "metadata config must be a JSON object with the keys blocks, channels, scale"),
    ({"format_version": "3"}, "weights format version 3 is newer than this srgan (reads up to 2); upgrade srgan"),
])
def test_hostile_metadata_is_one_line_and_builds_nothing(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         built_on: list[str], changes: dict, expected: str) -> None:
    path = with_metadata(tmp_path / "hostile.safetensors", **changes)
    assert expected in info(path, capsys)
    assert set(built_on) <= {"meta"}  # at most the shapes of the declared architecture, never its memory


def test_huge_declared_sizes_are_refused_from_the_header(tmp_path: Path, capsys: pytest.CaptureFixture,
                                                         built_on: list[str]) -> None:
    header = json.dumps({"__metadata__": {"format": "srgan-generator"},
                         "head.0.weight": {"dtype": "F32", "shape": [200000, 200000, 3, 3], "data_offsets": [0, 8]}})
    huge_tensor = tmp_path / "huge_tensor.safetensors"
    huge_tensor.write_bytes(struct.pack("<Q", len(header)) + header.encode() + bytes(8))
    assert "not a valid safetensors weight file" in info(huge_tensor, capsys)
    huge_header = tmp_path / "huge_header.safetensors"
    huge_header.write_bytes(struct.pack("<Q", 1 << 60) + b"{}")
    assert "not a valid safetensors weight file" in info(huge_header, capsys)
    assert built_on == []


@pytest.mark.parametrize("kind", ["torch.save", "pickle", "onnx", "keras"])
def test_other_model_formats_are_named(tmp_path: Path, capsys: pytest.CaptureFixture, kind: str) -> None:
    path = tmp_path / f"model.{kind}"
    if kind == "torch.save":
        torch.save(tiny_generator().state_dict(), path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"weights": [1.0, 2.0]}))
    elif kind == "onnx":  # ModelProto: ir_version 8, producer_name "pytorch", ...
        path.write_bytes(b"\x08\x08\x12\x07pytorch\x1a\x052.0.0:\x00")
    else:
        path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(64))
    line = info(path, capsys)
    name = {"torch.save": "a PyTorch checkpoint", "pickle": "a Python pickle", "onnx": "an ONNX model",
            "keras": "an HDF5 (Keras) file"}[kind]
    assert f"this is {name}" in line and "srgan reads .safetensors weight files" in line


# ---------------------------------------------------------------- inputs and outputs of `srgan upscale`


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return weights.save(tiny_generator(), tmp_path / "tiny.safetensors")


def image(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (10, 12, 3), dtype=np.uint8)).save(path)
    return path


def upscale(capsys: pytest.CaptureFixture, *args: str | Path) -> tuple[int, str, str]:
    code = main(["upscale", *map(str, args)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


@pytest.mark.parametrize("to_folder", [False, True])
def test_odd_folder_entries_are_each_named_once(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture,
                                                to_folder: bool) -> None:
    src = tmp_path / "in"
    image(src / "good.png")
    (src / "loop.png").symlink_to("loop.png")
    (src / "dangling.png").symlink_to(tmp_path / "gone.png")
    (src / "folder.png").symlink_to(tmp_path)  # a link to a folder is not followed
    out = ["-o", tmp_path / "out"] if to_folder else []
    code, _, err = upscale(capsys, src, "--model", model, *out)
    assert code == 1
    named = [line.strip() for line in err.splitlines() if line.startswith("  ")]
    assert named == [f"{src / 'dangling.png'}: skipped (broken symbolic link to {tmp_path / 'gone.png'})",
                     f"{src / 'folder.png'}: skipped (a folder)",
                     f"{src / 'loop.png'}: skipped (symbolic link loop)"]
    assert (tmp_path / "out" / "good_x2.png" if to_folder else src / "good_x2.png").is_file()


@pytest.mark.parametrize("name", ["empty", "x.png"])
def test_a_folder_without_images_is_nothing_to_do(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture,
                                                  name: str) -> None:
    (tmp_path / name).mkdir()
    code, _, err = upscale(capsys, tmp_path / name, "--model", model)
    assert code == 1
    assert err.splitlines() == ["srgan upscale: nothing to upscale:", f"  {tmp_path / name}: no images in this folder"]


def test_upscaling_a_folder_in_place_twice_leaves_its_outputs_alone(tmp_path: Path, model: Path,
                                                                     capsys: pytest.CaptureFixture) -> None:
    image(tmp_path / "shots" / "a.png")
    assert upscale(capsys, tmp_path / "shots", "--model", model)[0] == 0
    first = (tmp_path / "shots" / "a_x2.png").read_bytes()
    code, _, err = upscale(capsys, tmp_path / "shots", "--model", model)
    assert code == 1 and f"{tmp_path / 'shots' / 'a_x2.png'}: already exists" in err  # not replaced unasked
    assert f"warning: {tmp_path / 'shots' / 'a_x2.png'}: skipped (the output of {tmp_path / 'shots' / 'a.png'})" in err
    code, _, err = upscale(capsys, tmp_path / "shots", "--model", model, "--overwrite")
    assert code == 0 and err.count("skipped") == 1
    assert sorted(p.name for p in (tmp_path / "shots").iterdir()) == ["a.png", "a_x2.png"]
    assert (tmp_path / "shots" / "a_x2.png").read_bytes() == first


def test_two_writers_to_one_output_only_the_first_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The output appears while this upscale writes its own (another process got there first): the final step
    fails instead of replacing it."""
    src, dst = image(tmp_path / "a.png"), tmp_path / "a_x2.png"
    real = images.output._encoder

    def racing(picture: images.Picture, fmt: str, path: Path, png_compression: int) -> object:
        write = real(picture, fmt, path, png_compression)

        def after_the_other(f: object) -> None:
            dst.write_bytes(b"the other process's result")
            write(f)

        return after_the_other

    monkeypatch.setattr(images.output, "_encoder", racing)
    with pytest.raises(weights.SrganError, match="already exists"):
        Upscaler(tiny_generator(), "cpu", "fp32").upscale_file(src, dst)
    assert dst.read_bytes() == b"the other process's result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "a_x2.png"]  # no temp file left


def test_suffix_with_a_path_separator_is_refused(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture) -> None:
    src = image(tmp_path / "deep" / "er" / "a.png")
    code, _, err = upscale(capsys, src, "--model", model, "--suffix", "../../x")
    assert code == 2
    assert one_line_error(err) == ("srgan upscale: error: --suffix must be part of a file name, got '../../x' "
                                   "(it holds a path separator)")
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["a.png", "tiny.safetensors"]


@pytest.mark.parametrize(("flag", "value", "rule"), [
    ("--max-pixels", "-5", "a whole number >= 0"), ("--batch", "0", "a whole number >= 1"),
    ("--overlap", "-1", "a whole number >= 0"), ("--tile", "-8", "a whole number >= 0"),
])
def test_upscale_flags_out_of_range_are_one_line(tmp_path: Path, model: Path, capsys: pytest.CaptureFixture,
                                                 flag: str, value: str, rule: str) -> None:
    src = image(tmp_path / "a.png")
    code, _, err = upscale(capsys, src, "--model", model, f"{flag}={value}")
    assert code == 2
    assert one_line_error(err) == f"srgan upscale: error: {flag} must be {rule}, got {value}"
    assert not (tmp_path / "a_x2.png").exists()


def test_non_finite_output_fails_that_image_instead_of_writing_black(tmp_path: Path, capsys: pytest.CaptureFixture
                                                                     ) -> None:
    g = tiny_generator()
    with torch.no_grad():
        g.head[0].weight.fill_(1e37)  # finite weights whose activations overflow: inf - inf = NaN downstream
    model = weights.save(g, tmp_path / "overflowing.safetensors")
    src = image(tmp_path / "a.png")
    code, _, err = upscale(capsys, src, "--model", model)
    assert code == 1
    assert f"{src}: the model's output holds NaN values" in err
    assert not (tmp_path / "a_x2.png").exists()
