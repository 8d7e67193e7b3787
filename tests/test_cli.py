import subprocess
import sys
from pathlib import Path

from srgan import __version__, weights

from .conftest import tiny_generator


def srgan(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srgan.cli", *args], capture_output=True, text=True, timeout=120)


def test_help_and_version() -> None:
    r = srgan("--help")
    assert r.returncode == 0 and "info" in r.stdout
    r = srgan("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"srgan {__version__}"


def test_info_prints_metadata(tmp_path: Path) -> None:
    path = weights.save(tiny_generator(scale=4, blocks=2, channels=8), tmp_path / "m.safetensors",
                        training={"steps": 42})
    r = srgan("info", str(path))
    assert r.returncode == 0, r.stderr
    assert "scale: x4" in r.stdout and "blocks: 2" in r.stdout
    n = sum(p.numel() for p in tiny_generator(scale=4, blocks=2, channels=8).parameters())
    assert f"parameters: {n:,}" in r.stdout
    assert "training:\n  steps: 42\n" in r.stdout  # a table's entries one a line (srgan info --json: as stored)


def test_info_bad_file_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.safetensors"
    bad.write_text("garbage")
    r = srgan("info", str(bad))
    assert r.returncode != 0
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and "not a valid safetensors" in lines[0]
    assert "Traceback" not in r.stderr


def test_train_help_documents_restart() -> None:
    r = srgan("train", "--help")
    assert r.returncode == 0
    text = " ".join(r.stdout.split())
    assert "--restart" in text and "OUT.old-<date>-<time>" in text and "nothing is deleted" in text
