"""What a new user ran into (issue 39), each held by the test that failed before its fix: the output folder checked
before any computation, stale temporary files removed, --quality, a readable `srgan info`, the command's own usage
on a bad flag, srgan outputs recognised on a re-run, the output size guard, constant outputs refused, FIFOs and
devices named as such, `load_model(for_file=)`, the model named in reports, the summary line."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from srgan import fileio, images, runtime, weights
from srgan.api import Upscaler, load_model
from srgan.errors import SrganError

from .conftest import tiny_generator

RNG = np.random.default_rng(39)


def srgan(*args: str | Path, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srgan.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def photo(path: Path, h: int = 14, w: int = 18, **save: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(RNG.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path, **save)
    return path


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return weights.save(tiny_generator(scale=2, blocks=2), tmp_path / "tiny.safetensors")


def _namespaces_work() -> bool:
    try:
        return subprocess.run(["unshare", "-rm", "true"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


needs_mounts = pytest.mark.skipif(not _namespaces_work(), reason="needs `unshare -rm` (user and mount namespaces) to "
                                                                  "mount a read-only or full file system without root")


def srgan_on_mount(mount: Path, setup: str, *args: str | Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """srgan run where ``mount`` is a fresh 1 MiB tmpfs prepared by the shell lines ``setup`` (user namespace: no
    root needed, nothing outside the command sees it); the result and the seconds it took."""
    command = " ".join(f"'{a}'" for a in (sys.executable, "-m", "srgan.cli", *map(str, args)))
    script = f"mount -t tmpfs -o size=1m tmpfs '{mount}' && {setup} && exec {command}"
    start = time.monotonic()
    r = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, timeout=600)
    return r, time.monotonic() - start


@needs_mounts
def test_read_only_output_folder_fails_before_computing(tmp_path: Path) -> None:
    """A 1-megapixel input and the shipped model (tens of seconds of computing on a CPU): refused within 1.5 s of
    start-up (the same command failing on a missing input), in one line naming the folder."""
    src = photo(tmp_path / "big.png", 1000, 1000)
    mount = tmp_path / "ro"
    mount.mkdir()
    times = []
    for _ in range(2):  # the faster of two runs each: start-up time varies with the machine's load
        missing, t_missing = srgan_on_mount(mount, "true", "upscale", tmp_path / "nope.png", "-o", mount / "out")
        assert missing.returncode == 1 and "no such file" in missing.stderr
        r, t = srgan_on_mount(mount, f"mount -o remount,ro '{mount}'", "upscale", src, "-o", mount / "out")
        times.append((t, t_missing))
    t, t_missing = min(t for t, _ in times), min(m for _, m in times)
    assert r.returncode == 1, r.stderr
    assert f"{src}: not upscaled: {mount / 'out'}: cannot write output files here (Read-only file system)" in r.stderr
    assert "Traceback" not in r.stderr
    assert t < t_missing + 1.5, (t, t_missing)


@needs_mounts
def test_full_output_folder_fails_before_computing(tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "a.png")
    mount = tmp_path / "full"
    mount.mkdir()
    fill = f"(dd if=/dev/zero of='{mount}/filler' bs=64k 2>/dev/null; true)"
    r, _ = srgan_on_mount(mount, fill, "upscale", src, "-o", mount, "--model", model)
    assert r.returncode == 1
    assert f"{src}: not upscaled: {mount}: cannot write output files here (No space left on device)" in r.stderr


def test_an_output_folder_that_cannot_be_made_fails_alone_and_first(tmp_path: Path, model: Path) -> None:
    """Checked once per folder before computing: the inputs whose folder is fine are still done."""
    photo(tmp_path / "in" / "x.png")
    photo(tmp_path / "in" / "sub" / "y.png")
    photo(tmp_path / "in" / "sub" / "z.png")
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "sub").write_text("a file where a folder should go")
    r = srgan("upscale", tmp_path / "in", "-o", tmp_path / "out", "--model", model)
    assert r.returncode == 1
    lines = [line.strip() for line in r.stderr.splitlines() if line.startswith("  ")]
    assert lines == [f"{tmp_path / 'in' / 'sub' / n}.png: not upscaled: {tmp_path / 'out' / 'sub'}: cannot write "
                     "output files here (a file, not a folder)" for n in "yz"]
    assert (tmp_path / "out" / "x_x2.png").is_file()
    assert "srgan upscale: 1 done, 0 skipped, 2 failed in " in r.stdout


def test_stale_temporary_files_of_srgan_are_removed_by_the_next_run(tmp_path: Path, model: Path) -> None:
    """A kill -9 during a write leaves .name.srgan-<host>-<pid>-<hex>.ext; the next run into that folder removes
    those of processes that are gone, and nothing else."""
    src = photo(tmp_path / "a.png")
    out = tmp_path / "out"
    out.mkdir()
    code = ("import os, signal, sys\nfrom srgan import fileio\n"
            "def hang(tmp):\n    tmp.write_bytes(b'half of it')\n    print(tmp, flush=True)\n    signal.pause()\n"
            "fileio.write_output(sys.argv[1], hang, overwrite=False)\n")
    killed = subprocess.Popen([sys.executable, "-c", code, str(out / "old_x2.png")], stdout=subprocess.PIPE, text=True)
    stale = Path(killed.stdout.readline().strip())
    killed.kill()
    killed.wait()
    assert stale.is_file() and re.fullmatch(r"\.old_x2\.srgan-[0-9a-f]{4}-\d+-[0-9a-f]{8}\.png", stale.name)
    live = out / stale.name.replace(f"-{killed.pid}-", f"-{os.getpid()}-")  # a writer still running: kept
    live.write_bytes(b"being written")
    foreign = out / ".old_x2.12345678.png"  # not srgan's naming: kept
    foreign.write_bytes(b"someone else's")
    assert fileio.stale_temps(out) == [stale]
    r = srgan("upscale", src, "-o", out, "--model", model)
    assert r.returncode == 0, r.stderr
    assert not stale.exists() and live.exists() and foreign.exists()
    assert (out / "a_x2.png").is_file()


def test_quality_sets_jpeg_and_webp_quality(tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "a.png", 40, 50)
    sizes = {}
    for q in (30, 95):
        for fmt in ("jpg", "webp"):
            r = srgan("upscale", src, "-o", tmp_path / f"q{q}.{fmt}", "--model", model, "--quality", q)
            assert r.returncode == 0, r.stderr
            sizes[q, fmt] = (tmp_path / f"q{q}.{fmt}").stat().st_size
    assert sizes[30, "jpg"] < sizes[95, "jpg"] and sizes[30, "webp"] < sizes[95, "webp"]
    for q in (30, 95):  # the quantisation tables of Pillow's JPEG at that quality
        Image.new("RGB", (8, 8)).save(tmp_path / f"ref{q}.jpg", quality=q, subsampling=0)
        with Image.open(tmp_path / f"q{q}.jpg") as ours, Image.open(tmp_path / f"ref{q}.jpg") as ref:
            assert ours.quantization == ref.quantization
    r = srgan("upscale", src, "-o", tmp_path / "bad.jpg", "--quality", 0)
    assert r.returncode == 2 and r.stderr.strip() == "srgan upscale: error: --quality must be a whole number from 1 " \
                                                     "to 100, got 0"
    with pytest.raises(SrganError, match="quality must be"):
        images.save(images.Picture(np.zeros((2, 2, 3), np.uint8)), tmp_path / "x.jpg", quality=101)


def test_info_is_a_summary_with_json_for_everything_and_lists_the_shipped_models() -> None:
    r = srgan("info", "srresnet-x4")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert max(map(len, lines)) <= 200
    assert "parameters: 1,550,659" in lines
    meta = weights.read_metadata(weights.resolve("srresnet-x4"))
    set5 = meta["eval"]["Set5"]
    assert f"  Set5: psnr_y {set5['psnr_y']:.4g}, ssim_y {set5['ssim_y']:.4g}, bicubic_psnr_y " \
           f"{set5['bicubic_psnr_y']:.4g}, bicubic_ssim_y {set5['bicubic_ssim_y']:.4g}" in lines
    assert f"data: {len(meta['data'])} entries" in lines
    full = json.loads(srgan("info", "srresnet-x4", "--json").stdout)
    assert full["parameters"] == 1_550_659 and full["data"] == meta["data"] and full["eval"] == meta["eval"]
    listing = srgan("info")
    assert listing.returncode == 0
    names = [line.split()[0] for line in listing.stdout.splitlines()[:-1]]
    assert names == list(weights.SHIPPED)
    assert "default for JPEG inputs" in listing.stdout


def test_a_bad_flag_shows_the_commands_usage(tmp_path: Path) -> None:
    r = srgan("upscale", tmp_path / "a.png", "--bogus")
    assert r.returncode == 2
    assert r.stderr.startswith("usage: srgan upscale ")
    assert r.stderr.splitlines()[-1] == "srgan upscale: error: unrecognized arguments: --bogus"
    r = srgan("--bogus", "info")
    assert r.stderr.startswith("usage: srgan [-h]")


def test_a_rerun_leaves_outputs_of_any_earlier_run(tmp_path: Path, model: Path) -> None:
    """`srgan upscale FOLDER` after a run with --outscale 2 (outputs *_x2.*) upscales the photos again, not the
    outputs; a file named on the command line is upscaled whatever made it."""
    shots = tmp_path / "shots"
    photo(shots / "a.png")
    photo(shots / "b.jpg", quality=90)
    r = srgan("upscale", shots, "--model", model, "--outscale", "2")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in shots.iterdir()) == ["a.png", "a_x2.png", "b.jpg", "b_x2.jpg"]
    r = srgan("upscale", shots, "--model", model, "--outscale", "3")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in shots.iterdir()) == ["a.png", "a_x2.png", "a_x3.png", "b.jpg", "b_x2.jpg",
                                                       "b_x3.jpg"]
    for name in ("a_x2.png", "b_x2.jpg"):
        assert f"{shots / name}: skipped (written by srgan; name the file itself to upscale it again)" in r.stderr
    r = srgan("upscale", shots / "a_x2.png", "--model", model)
    assert r.returncode == 0 and (shots / "a_x2_x2.png").is_file()


@pytest.mark.parametrize("ext", [".png", ".jpg", ".webp", ".tif"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_every_output_names_srgan_and_the_model(tmp_path: Path, ext: str, dtype: type) -> None:
    src = tmp_path / f"in{'.png' if dtype == np.uint16 else ext}"
    images.save(images.Picture(RNG.integers(0, 200, (12, 10, 3)).astype(dtype)), src)
    assert images.software(src) == images.SOFTWARE  # images.save marks its files too, naming no model
    up = Upscaler(tiny_generator(scale=2, blocks=1), "cpu", "fp32", name="tiny")
    dst = up.upscale_file(src, tmp_path / f"out{ext}")
    assert images.made_by_srgan(dst)
    assert images.software(dst) == f"{images.SOFTWARE} (tiny)"
    photo_file = photo(tmp_path / f"camera{ext}")
    assert not images.made_by_srgan(photo_file)


def test_banded_outputs_are_marked_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "in.png"
    images.save(images.Picture(RNG.integers(0, 256, (20, 16, 3), dtype=np.uint8)), src)
    monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", 1)
    up = Upscaler(tiny_generator(scale=2, blocks=1), "cpu", "fp32", tile=8, name="tiny")
    for ext in (".png", ".tif"):
        assert up.writes_in_bands(images.load(src), f"x{ext}")
        assert images.software(up.upscale_file(src, tmp_path / f"out{ext}")) == f"{images.SOFTWARE} (tiny)"


def test_an_absurd_output_size_is_one_line(tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "one.png", 1, 1)
    r = srgan("upscale", src, "--width", 100000, "--model", model)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert f"{src}: the output would be 100000×100000 = 10,000,000,000 pixels, over the limit of 200,000,000 (the " \
           "input limit × 4; srgan upscale --max-pixels raises it)" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.png", "tiny.safetensors"]


def _black_model() -> torch.nn.Module:
    """Finite weights that give black everywhere: a zeroed output convolution with bias −5."""
    g = tiny_generator(scale=2, blocks=1)
    with torch.no_grad():
        g.tail.weight.zero_()
        g.tail.bias.fill_(-5.0)
    return g


@pytest.mark.parametrize("banded", [False, True])
def test_a_constant_result_of_a_varied_input_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         banded: bool) -> None:
    src = photo(tmp_path / "a.png", 20, 16)
    if banded:
        monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", 1)
    up = Upscaler(_black_model(), "cpu", "fp32", tile=8)
    assert up.writes_in_bands(images.load(src), "x.png") == banded
    with pytest.raises(SrganError, match=r"a\.png: the model's output is one value \(0\) everywhere for an input "
                                         r"that is not: a broken model"):
        up.upscale_file(src, tmp_path / "a_x2.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    flat = tmp_path / "flat.png"
    Image.new("RGB", (16, 20), (120, 120, 120)).save(flat)  # one value in: one value out is no sign of a fault
    assert up.upscale_file(flat, tmp_path / "flat_x2.png").is_file()


def test_a_constant_result_fails_the_cli_in_one_line(tmp_path: Path) -> None:
    src = photo(tmp_path / "a.png")
    broken = weights.save(_black_model(), tmp_path / "broken.safetensors")
    r = srgan("upscale", src, "--model", broken)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "a.png: the model's output is one value (0) everywhere" in r.stderr


def test_a_fifo_or_a_device_named_on_the_command_line_is_not_a_regular_file(tmp_path: Path, model: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    r = srgan("upscale", fifo, "/dev/zero", "-o", tmp_path / "out", "--model", model, timeout=120)  # never opened
    assert r.returncode == 1
    lines = [line.strip() for line in r.stderr.splitlines() if line.startswith("  ")]
    assert lines == sorted([f"{fifo}: not a regular file", "/dev/zero: not a regular file"])  # in input path order
    with pytest.raises(SrganError, match="not a regular file"):
        images.load("/dev/zero")


def test_load_model_takes_the_clis_choice_for_a_file(tmp_path: Path) -> None:
    jpeg, png = photo(tmp_path / "a.jpg"), photo(tmp_path / "b.png")
    assert load_model(for_file=jpeg).software.endswith(f"({weights.JPEG_MODEL})")
    assert load_model(for_file=png).software.endswith(f"({weights.DEFAULT_MODEL})")
    assert load_model(weights.DEFAULT_MODEL, for_file=jpeg).software.endswith(f"({weights.DEFAULT_MODEL})")
    for name in weights.SHIPPED:
        assert f"``{name}``" in (load_model.__doc__ or "")


def test_a_report_names_the_model_of_its_results(tmp_path: Path, model: Path) -> None:
    src = photo(tmp_path / "in" / "a.png", 24, 24)
    assert srgan("upscale", src, "-o", tmp_path / "sr", "--model", model).returncode == 0
    r = srgan("report", src, "--sr-dir", tmp_path / "sr", "-o", tmp_path / "r.html")
    assert r.returncode == 0, r.stderr
    page = (tmp_path / "r.html").read_text()
    assert f"SR: {tmp_path / 'sr' / 'a_x2.png'} (tiny)" in page
    assert "alt='tiny'" in page or 'alt="tiny"' in page


def test_a_single_process_run_ends_with_a_summary_line(tmp_path: Path, model: Path) -> None:
    photo(tmp_path / "in" / "a.png")
    photo(tmp_path / "in" / "b.png")
    (tmp_path / "in" / "c.png").write_bytes(b"not an image")
    r = srgan("upscale", tmp_path / "in", "--model", model)
    assert r.returncode == 1
    assert re.fullmatch(r"srgan upscale: 2 done, 0 skipped, 1 failed in \d+\.\d s", r.stdout.splitlines()[-1])
