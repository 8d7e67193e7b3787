"""The README's shell commands run as written: each ``sh`` block's commands, in order, in a temporary folder that
holds what they name (photos, a folder of shots, Set5/Set14 stand-ins, a trained generator, a training run
folder). Commands that need what a test cannot have are skipped, each for a stated reason (``SKIPPED``); any other
command of the README, including ones added later, must exit 0."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from srgan import weights

from .conftest import tiny_generator
from .test_report import make_run

ROOT = Path(__file__).resolve().parents[1]
# First words of commands not run here → why.
SKIPPED = {
    "make": "sets up .venv and runs the demo or this very suite",
    "torchrun": "several processes on several machines; tests/test_shards.py runs the sharded upscale",
    "srgan train": "needs training photos and hours of computing; tests/test_train.py trains tiny models",
    "srgan serve": "a server runs until stopped; its own tests start and stop it",
    "pip": "installs packages (no network in tests)",
    "git": "changes a repository",
    "cd": "the commands run in the test's folder",
}
TIMEOUT = 600  # seconds per command: the shipped model on small images, on a loaded CPU


def shell_blocks(markdown: str) -> list[list[str]]:
    """The commands of each ```sh block: continuation lines joined, comments and blank lines dropped."""
    blocks = []
    for block in re.findall(r"^```(?:sh|bash|console)\n(.*?)^```", markdown, flags=re.M | re.S):
        lines = (_without_comment(line).strip() for line in re.sub(r"\s*\\\n\s*", " ", block).splitlines())
        blocks.append([line for line in lines if line])
    return blocks


def _without_comment(line: str) -> str:
    """``line`` up to a ``#`` that starts a shell comment (at the start or after blank space)."""
    return re.split(r"(?:^|\s)#", line, maxsplit=1)[0]


def why_skipped(command: str) -> str | None:
    for start, reason in SKIPPED.items():
        if command == start or command.startswith(start + " "):
            return reason
    if re.search(r"--device\s+cuda", command) and not torch.cuda.is_available():
        return "needs a GPU"
    return None


def test_shell_commands_are_found_and_comments_dropped() -> None:
    text = "x\n```sh\nsrgan info   # a comment\nsrgan eval --data A \\\n    B  # more\n\n# only a comment\n```\n"
    assert shell_blocks(text + "```sh\nsrgan info\n```\n") == [["srgan info", "srgan eval --data A B"], ["srgan info"]]
    assert why_skipped("torchrun --nproc_per_node=4 -m srgan.cli upscale x") is not None
    assert why_skipped("srgan upscale x") is None


def make_workspace(folder: Path) -> Path:
    """What the README's commands name, small enough for the shipped models on a CPU."""
    with Image.open(ROOT / "examples" / "coffee_hr.png") as im:
        hr = np.asarray(im.convert("RGB"))

    def save(rows: slice, cols: slice, path: str, step: int = 1, **options: object) -> None:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.ascontiguousarray(hr[rows, cols][::step, ::step])).save(folder / path, **options)

    save(slice(0, 160), slice(0, 192), "photo.png", 4)
    save(slice(0, 160), slice(0, 192), "photo_hr.png")
    save(slice(0, 160), slice(0, 192), "photo.jpg", 4, quality=85)
    save(slice(40, 120), slice(60, 160), "scan.png", 4)
    save(slice(0, 96), slice(0, 96), "shots/a.jpg", 4, quality=90)
    save(slice(64, 160), slice(64, 192), "shots/sub/b.png", 4)
    for k in range(2):  # Set5/Set14 stand-ins: HR images large enough for NIQE's 96×96 blocks at ×4
        save(slice(k * 20, k * 20 + 192), slice(0, 192), f"Set5/img{k}.png")
        save(slice(0, 192), slice(k * 20, k * 20 + 200), f"Set14/img{k}.png")
    torch.manual_seed(0)
    weights.save(tiny_generator(scale=4, blocks=1), folder / "runs" / "srgan" / "generator.safetensors")
    make_run(folder / "RUN_DIR")
    return folder


def test_every_readme_command_runs_as_written(tmp_path: Path) -> None:
    """Each block in a fresh folder (blocks are separate examples: two may write the same output), its commands
    in order."""
    blocks = shell_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(c.startswith("srgan upscale") for block in blocks for c in block)  # the parser found the blocks
    env = os.environ | {"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    template = make_workspace(tmp_path / "template")
    ran, failed = [], []
    for k, block in enumerate(blocks):
        commands = [c for c in block if not why_skipped(c)]
        if not commands:
            continue
        workspace = tmp_path / f"block{k}"
        shutil.copytree(template, workspace)
        for command in commands:
            r = subprocess.run(["bash", "-c", command], cwd=workspace, env=env, capture_output=True, text=True,
                               timeout=TIMEOUT)
            ran.append(command)
            if r.returncode != 0:
                failed.append(f"{command}\n  exit {r.returncode}: {r.stderr.strip()[-600:]}")
    assert not failed, "\n".join(failed)
    assert len(ran) >= 10
    assert any((tmp_path / f"block{k}" / "big" / "sub" / "b_x4.png").is_file() for k in range(len(blocks)))
