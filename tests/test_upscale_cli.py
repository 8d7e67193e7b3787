import subprocess
import sys
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms

from srgan import images, weights
from srgan.api import Upscaler

from .conftest import tiny_generator

RNG = np.random.default_rng(0)
H, W = 14, 18  # input size; the tiny model is ×2


def srgan(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "srgan.cli", *map(str, args)], capture_output=True, text=True,
                          timeout=300)


def rand8(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


@pytest.fixture
def model(tmp_path: Path) -> Path:
    return weights.save(tiny_generator(scale=2, blocks=2), tmp_path / "tiny.safetensors")


def reference(picture: images.Picture) -> images.Picture:
    """The same computation through the Python API, in this process."""
    return Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32").upscale_picture(picture)


def failure_lines(stderr: str) -> list[str]:
    return [line.strip() for line in stderr.splitlines() if line.startswith("  ")]


def make_mixed_folder(root: Path) -> dict[str, Path]:
    """Every image kind srgan promises to handle, plus two corrupt files."""
    root.mkdir()
    (root / "nested").mkdir()
    files = {}

    def put(name: str) -> Path:
        files[name] = root / name
        return root / name

    Image.fromarray(rand8(H, W, 3)).save(put("rgb.png"))
    Image.fromarray(rand8(H, W)).save(put("gray.png"))
    Image.fromarray(rand8(H, W, 2), "LA").save(put("la.png"))
    rgba = rand8(H, W, 4)
    rgba[:, : W // 2, 3] = 0
    Image.fromarray(rgba).save(put("rgba.png"))
    Image.fromarray(rand8(H, W, 3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=16).save(put("palette.png"))
    Image.fromarray(rand8(H, W)).save(put("nested/deep.webp"), lossless=True)
    (root / "g16.png").write_bytes(imagecodecs.png_encode(RNG.integers(0, 65536, (H, W), dtype=np.uint16)))
    files["g16.png"] = root / "g16.png"
    (root / "c16.png").write_bytes(imagecodecs.png_encode(RNG.integers(0, 65536, (H, W, 3), dtype=np.uint16)))
    files["c16.png"] = root / "c16.png"
    tifffile.imwrite(put("rgba16.tif"), RNG.integers(0, 65536, (H, W, 4), dtype=np.uint16), photometric="rgb",
                     extrasamples=("unassalpha",))
    Image.fromarray(rand8(H, W, 3)).convert("CMYK").save(put("cmyk.jpg"), quality=95)
    exif = Image.Exif()
    exif[274] = 6  # stored sideways: displayed rotated 90° clockwise
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(rand8(H, W, 3)).save(put("rotated.jpg"), exif=exif.tobytes(), icc_profile=icc, dpi=(100, 100))
    frames = [Image.fromarray(rand8(H, W, 3)) for _ in range(2)]
    frames[0].save(put("anim.gif"), save_all=True, append_images=frames[1:])
    good = Image.fromarray(rand8(H, W, 3))
    good.save(root / "tmp_full.png")
    data = (root / "tmp_full.png").read_bytes()
    (root / "tmp_full.png").unlink()
    (root / "broken.png").write_bytes(data[: len(data) // 2])
    (root / "fake.jpg").write_text("this is not a JPEG\n")
    (root / "notes.txt").write_text("ignored: not an image extension")
    return files


def test_done_when_mixed_folder_with_two_corrupt_files(tmp_path: Path, model: Path) -> None:
    src = tmp_path / "in"
    files = make_mixed_folder(src)
    out = tmp_path / "out"
    r = srgan("upscale", src, "-o", out, "--model", model, "--device", "cpu", "--precision", "fp32")

    assert r.returncode == 1
    assert f"2 of {len(files) + 2} inputs failed:" in r.stderr
    lines = failure_lines(r.stderr)
    assert len(lines) == 2
    assert lines[0].startswith(str(src / "broken.png")) and "corrupt or truncated" in lines[0]
    assert lines[1].startswith(str(src / "fake.jpg")) and "not an image file" in lines[1]
    assert "Traceback" not in r.stderr
    assert "anim.gif: has 2 frames" in r.stderr  # the documented warning

    expected_names = {"anim.gif": "anim_x2.png", "nested/deep.webp": "nested/deep_x2.webp"}

    def out_of(name: str) -> Path:
        return out / expected_names.get(name, name.replace(".", "_x2.", 1))

    written = sorted(p for p in out.rglob("*") if p.is_file())
    assert written == sorted(out_of(n) for n in files)  # every good image, nothing else (no temp files)

    # Mode, size, bit depth and alpha of each kind; pixels equal the API's result for lossless formats.
    checks = {"rgb.png": ("RGB", 8), "gray.png": ("L", 8), "la.png": ("LA", 8), "rgba.png": ("RGBA", 8),
              "palette.png": ("RGB", 8), "anim.gif": ("RGB", 8), "cmyk.jpg": ("RGB", 8)}
    for name, (mode, _) in checks.items():
        with Image.open(out_of(name)) as im:
            assert im.mode == mode and im.size == (2 * W, 2 * H), name
            if name.endswith(".png"):
                ref = reference(images.load(files[name]))
                assert np.array_equal(images.load(out_of(name)).color, ref.color), name
    g16 = imagecodecs.png_decode(out_of("g16.png").read_bytes())
    c16 = imagecodecs.png_decode(out_of("c16.png").read_bytes())
    t16 = tifffile.imread(out_of("rgba16.tif"))
    assert g16.dtype == c16.dtype == t16.dtype == np.uint16
    assert g16.shape == (2 * H, 2 * W) and c16.shape == (2 * H, 2 * W, 3) and t16.shape == (2 * H, 2 * W, 4)
    assert np.array_equal(c16, reference(images.load(files["c16.png"])).color)
    with Image.open(out_of("nested/deep.webp")) as im:
        assert im.size == (2 * W, 2 * H)
    with Image.open(out_of("rotated.jpg")) as im:
        assert im.size == (2 * H, 2 * W)  # upright: the sideways original displayed rotated
        assert 274 not in im.getexif()
        assert im.info["icc_profile"] == Image.open(files["rotated.jpg"]).info["icc_profile"]
        assert im.info["dpi"] == (200, 200)
    transparent = np.asarray(Image.open(out_of("rgba.png")))[:, : W - 2, 3]
    assert transparent.max() == 0  # fully transparent input stays transparent (bicubic of zeros)


def test_each_bad_input_is_one_line_and_the_rest_succeeds(tmp_path: Path, model: Path) -> None:
    Image.fromarray(rand8(H, W, 3)).save(tmp_path / "good.png")
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "text.png").write_text("hello")
    jpeg = tmp_path / "full.jpg"
    Image.fromarray(rand8(64, 64, 3)).save(jpeg)
    (tmp_path / "cut.jpg").write_bytes(jpeg.read_bytes()[:400])
    jpeg.unlink()
    Image.fromarray(rand8(40, 40, 3)).save(tmp_path / "big.png")
    Image.new("RGB", (1, 1), (9, 99, 199)).save(tmp_path / "one.png")
    (tmp_path / "blocker").write_text("a file where the output folder's sub-folder should go")
    names = ["good.png", "empty.png", "text.png", "cut.jpg", "big.png", "one.png", "missing.png"]
    r = srgan("upscale", *(tmp_path / n for n in names), "-o", tmp_path / "out", "--model", model,
              "--device", "cpu", "--max-pixels", "1000")
    assert r.returncode == 1
    lines = failure_lines(r.stderr)
    expected = {"empty.png": "empty file", "text.png": "not an image file", "cut.jpg": "corrupt or truncated",
                "big.png": "1,600 pixels, over the limit of 1,000", "missing.png": "no such file or folder"}
    assert len(lines) == len(expected)
    for name, message in expected.items():
        assert any(line.startswith(str(tmp_path / name)) and message in line for line in lines), (name, lines)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["good_x2.png", "one_x2.png"]
    assert Image.open(tmp_path / "out" / "one_x2.png").size == (2, 2)

    r = srgan("upscale", tmp_path / "good.png", "-o", tmp_path / "blocker" / "sub", "--model", model)
    assert r.returncode == 1 and "cannot write output" in r.stderr and "blocker" in r.stderr


def test_output_file_format_suffix_glob_and_tiles(tmp_path: Path, model: Path, auto_precision: str) -> None:
    """Tiles equal the whole image within one level under either resolution of the default ``--precision auto``."""
    img = rand8(37, 29, 3)
    Image.fromarray(img).save(tmp_path / "p.png")
    r = srgan("upscale", tmp_path / "p.png", "-o", tmp_path / "single.tif", "--model", model, "--tile", "0")
    assert r.returncode == 0, r.stderr
    whole = np.asarray(Image.open(tmp_path / "single.tif"))
    r = srgan("upscale", str(tmp_path / "*.png"), "-o", tmp_path / "o", "--model", model, "--tile", "8",
              "--batch", "3", "--format", "png", "--suffix", "_big")
    assert r.returncode == 0, r.stderr
    tiled = np.asarray(Image.open(tmp_path / "o" / "p_big.png"))
    assert whole.shape == (74, 58, 3) and np.abs(whole.astype(int) - tiled).max() <= 1
    r = srgan("upscale", tmp_path / "p.png", "-o", tmp_path / "o", "--model", model, "--tile", "8",
              "--overlap", "0", "--suffix", "_seams")
    assert r.returncode == 0, r.stderr
    seams = np.asarray(Image.open(tmp_path / "o" / "p_seams.png"))
    assert np.abs(whole.astype(int) - seams).max() > 1  # --overlap reaches the tiler


def test_alpha_model_flag(tmp_path: Path, model: Path, auto_precision: str) -> None:
    """The CLI (``--precision auto``) gives the API's result at the precision auto resolves to."""
    la = rand8(H, W, 2)
    la[:, :, 1] = np.clip(la[:, :, 1], 1, 255)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    r = srgan("upscale", tmp_path / "la.png", "--model", model, "--alpha", "model", "--suffix", "")
    assert r.returncode == 1 and "already exists" in r.stderr  # same name as the input: refused
    r = srgan("upscale", tmp_path / "la.png", "--model", model, "--alpha", "model")
    assert r.returncode == 0, r.stderr
    got = np.asarray(Image.open(tmp_path / "la_x2.png"))
    expected = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", auto_precision, alpha="model").upscale(la)
    if auto_precision == "fp32":
        assert np.array_equal(got, expected)
    else:  # bf16: the same computation, but the two processes' thread counts may differ and move a rounding
        assert np.abs(got.astype(int) - expected).max() <= 1
        fp32 = Upscaler(tiny_generator(scale=2, blocks=2), "cpu", "fp32", alpha="model").upscale(la)
        assert not np.array_equal(got, fp32)  # the override reached the CLI: it computed in bf16


def test_usage_errors_are_one_line(tmp_path: Path, model: Path) -> None:
    Image.fromarray(rand8(H, W, 3)).save(tmp_path / "a.png")
    r = srgan("upscale", tmp_path / "a.png", "--model", tmp_path / "nope.safetensors")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "no such weights file" in r.stderr
    r = srgan("upscale", tmp_path / "a.png", "--model", model, "--tile", "big")
    assert r.returncode == 2 and "expected 'auto' or a number of pixels" in r.stderr
    r = srgan("upscale", tmp_path / "a.png", tmp_path / "a.png", "-o", tmp_path / "x.png", "--model", model)
    assert r.returncode == 2 and "needs exactly one input file" in r.stderr


def test_png_compression_changes_size_not_pixels(tmp_path: Path, model: Path) -> None:
    Image.fromarray(rand8(H, W, 3)).save(tmp_path / "rgb.png")
    (tmp_path / "c16.png").write_bytes(imagecodecs.png_encode(RNG.integers(0, 65536, (H, W, 3), dtype=np.uint16)))
    for level in (0, 9):
        r = srgan("upscale", tmp_path / "rgb.png", tmp_path / "c16.png", "-o", tmp_path / str(level),
                  "--model", model, "--png-compression", level)
        assert r.returncode == 0, r.stderr
    for name in ("rgb_x2.png", "c16_x2.png"):
        stored, packed = tmp_path / "0" / name, tmp_path / "9" / name
        assert np.array_equal(images.load(stored).color, images.load(packed).color), name
        assert images.load(packed).color.dtype == (np.uint16 if name.startswith("c16") else np.uint8)
        assert stored.stat().st_size > packed.stat().st_size, name
    r = srgan("upscale", tmp_path / "rgb.png", "-o", tmp_path / "bad", "--model", model, "--png-compression", "10")
    assert r.returncode == 2 and "--png-compression must be one of 0, 1, 2" in r.stderr
    assert not (tmp_path / "bad").exists()
