"""Every command refuses to replace an existing output without --overwrite, in the same words, and replaces it with.

The one check is ``srgan.fileio.check_output`` (before the expensive part) and ``write_output`` (the write itself,
exclusive without --overwrite); these tests hold each command to it through its command line.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srgan import weights
from srgan.cli import main
from srgan.data.degrade import imresize
from srgan.errors import SrganError
from srgan.fileio import check_output, write_output
from tests.conftest import load_script, tiny_generator

EXISTS = "already exists (pass --overwrite to replace it)"
KEEP = b"someone else's file"


def png(path: Path, shape: tuple[int, int], seed: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (*shape, 3), dtype=np.uint8)).save(path)
    return path


def make_figure(args: list[str]) -> int:
    return load_script("make_figure").main(args)


@dataclass(frozen=True)
class Command:
    """How to run one command on the files of ``inputs`` (``args(tmp, model)``), the output it writes, the exit
    status and stderr line of a refusal, and a check that a replaced output is the command's own."""

    args: Callable[[Path, Path], list[str]]
    output: str  # relative to tmp
    refused: tuple[int, str]  # exit status, stderr line before "<output>: already exists …"
    written: Callable[[Path], bool]
    run: Callable[[list[str]], int] = main


def is_png(path: Path) -> bool:
    with Image.open(path) as im:
        return im.format == "PNG"


COMMANDS = {
    "upscale": Command(lambda t, m: ["upscale", str(t / "lr.png"), "--model", str(m), "-o", str(t / "out.png")],
                       "out.png", (1, "  "), is_png),
    "eval --json": Command(lambda t, m: ["eval", "--model", "bicubic", "--data", str(t / "Bench"),
                                         "--json", str(t / "r.json")],
                           "r.json", (2, "srgan eval: error: "), lambda p: json.loads(p.read_text())["scale"] == 4),
    "eval --save": Command(lambda t, m: ["eval", "--model", "bicubic", "--data", str(t / "Bench"),
                                         "--save", str(t / "sr")],
                           "sr/bicubic/Bench/hr.png", (2, "srgan eval: error: "), is_png),
    "export": Command(lambda t, m: ["export", str(m), "--onnx", str(t / "m.onnx"), "--size", "8", "8"],
                      "m.onnx", (2, "srgan export: error: "), lambda p: p.read_bytes() != KEEP),
    "report": Command(lambda t, m: ["report", str(t / "lr.png"), "--model", str(m), "-o", str(t / "r.html")],
                      "r.html", (2, "srgan report: error: "), lambda p: p.read_text().startswith("<!doctype html>")),
    "make_figure": Command(lambda t, m: ["--model", str(m), "--example", str(t / "lr"), "--crop", "0", "0", "32",
                                         "-o", str(t / "fig.png")],
                           "fig.png", (2, "make_figure: error: "), is_png, make_figure),
}


@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_keeps_an_existing_output_without_overwrite_and_replaces_it_with(
        name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if name == "export" and importlib.util.find_spec("onnxscript") is None:
        pytest.skip("ONNX export needs the onnx extra")
    command = COMMANDS[name]
    model = weights.save(tiny_generator(scale=4, blocks=1), tmp_path / "tiny.safetensors")
    hr = np.asarray(Image.open(png(tmp_path / "Bench" / "hr.png", (64, 64), 0)))
    Image.fromarray(hr).save(tmp_path / "lr_hr.png")  # make_figure's original beside its input
    Image.fromarray(imresize(hr, 1 / 4)).save(tmp_path / "lr.png")
    out = tmp_path / command.output
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(KEEP)
    args = command.args(tmp_path, model)

    code, prefix = command.refused
    assert command.run(args) == code
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == f"{prefix}{out}: {EXISTS}"
    assert len(err) == 1 + (name == "upscale")  # upscale's failures come after a headline that counts them
    assert out.read_bytes() == KEEP

    assert command.run([*args, "--overwrite"]) == 0, capsys.readouterr().err
    assert command.written(out)
    assert not [p for p in out.parent.iterdir() if p.name.startswith(".")]  # no temporary file left


def test_a_folder_is_never_an_output(tmp_path: Path) -> None:
    for overwrite in (False, True):
        with pytest.raises(SrganError, match=f"^{re.escape(str(tmp_path))}: is a folder; give a file name$"):
            check_output(tmp_path, overwrite)


def test_a_file_that_appears_during_the_write_is_kept_and_refused_alike(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"

    def slow(tmp: Path) -> None:
        tmp.write_text("mine")
        out.write_bytes(KEEP)  # another writer finishes first

    with pytest.raises(SrganError) as e:
        write_output(out, slow, overwrite=False)
    assert str(e.value) == f"{out}: {EXISTS}"
    assert out.read_bytes() == KEEP and [p.name for p in tmp_path.iterdir()] == ["out.txt"]
    write_output(out, lambda tmp: tmp.write_text("mine"), overwrite=True)
    assert out.read_text() == "mine"


def test_a_failed_write_is_one_line_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    out = tmp_path / "blocker" / "out.txt"
    with pytest.raises(SrganError, match=re.escape(f"{out}: cannot write output (") + r".+\)$"):
        write_output(out, lambda tmp: tmp.write_text("x"), overwrite=False)
