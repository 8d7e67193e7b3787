"""Batch planning (``srgan.batch``): which files a command line names and where each result goes; no torch."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from srgan.batch import plan_jobs
from srgan.errors import SrganError


def test_plan_jobs_mirrors_folders_and_names_outputs(tmp_path: Path) -> None:
    src = tmp_path / "in"
    for rel in ("a.png", "sub/b.JPG", "sub/deep/c.gif", "notes.txt", ".hidden.png", "out/old_x2.png"):
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(b"x")
    jobs, problems = plan_jobs([str(src)], src / "out", "_x2", None)
    assert problems == []
    assert {(j.src.relative_to(src).as_posix(), j.dst.relative_to(src / "out").as_posix()) for j in jobs} == {
        ("a.png", "a_x2.png"), ("sub/b.JPG", "sub/b_x2.JPG"), ("sub/deep/c.gif", "sub/deep/c_x2.png")}
    jobs, _ = plan_jobs([str(src / "a.png")], None, "_x2", "webp")
    assert [j.dst for j in jobs] == [src / "a_x2.webp"]
    jobs, _ = plan_jobs([str(src / "a.png")], tmp_path / "result.tif", "_x2", None)
    assert [j.dst for j in jobs] == [tmp_path / "result.tif"]
    jobs, problems = plan_jobs([str(src / "sub" / "*.JPG"), str(tmp_path / "nope.png"), str(tmp_path / "*.bmp")],
                               tmp_path / "o", "_x2", None)
    assert [j.dst for j in jobs] == [tmp_path / "o" / "b_x2.JPG"]
    assert problems == [f"{tmp_path / 'nope.png'}: no such file or folder",
                        f"{tmp_path / '*.bmp'}: no file matches this pattern"]


def test_plan_jobs_refuses_ambiguous_outputs(tmp_path: Path) -> None:
    for name in ("a.png", "a.jpg"):
        (tmp_path / name).write_bytes(b"x")
    jobs, problems = plan_jobs([str(tmp_path / "a.png"), str(tmp_path / "a.jpg")], tmp_path / "o", "", "png")
    assert len(jobs) == 1 and "writes the same output as" in problems[0]
    with pytest.raises(SrganError, match="needs exactly one input file"):
        plan_jobs([str(tmp_path)], tmp_path / "one.png", "_x2", None)





def test_planning_and_the_run_report_do_not_import_torch(tmp_path: Path) -> None:
    """``srgan report RUN`` and batch planning stay fast: they never load torch (seconds, and GBs on a GPU box)."""
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").write_text("srresnet: step 0 → 10\n")
    (run / "metrics.jsonl").write_text(json.dumps({"kind": "train", "step": 1, "time": 1.0, "g": 0.5}) + "\n")
    (tmp_path / "a.png").write_bytes(b"x")
    code = (
        "import sys\n"
        "from srgan.batch import plan_jobs\n"
        "from srgan.cli import main\n"
        f"assert plan_jobs([{str(tmp_path / 'a.png')!r}], None, '_x4', None)[0]\n"
        f"code = main(['report', {str(run)!r}, '-o', {str(tmp_path / 'run.html')!r}])\n"
        "print(code, sorted(m for m in sys.modules if m.split('.')[0] == 'torch')[:3])\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "0 []"
    assert (tmp_path / "run.html").stat().st_size > 0
