"""Outputs larger than memory: written a row of tiles (a band) at a time as the tiles finish, with the pixels and
metadata of the in-memory path (a PNG differs only in its deflate stream); a failure half-way leaves no file."""

from __future__ import annotations

import struct
import weakref
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tifffile
import torch
from PIL import Image, ImageCms

from srgan import images, pipeline, runtime, tiling
from srgan.api import BAND_FRACTION, Upscaler
from srgan.batch import Job
from srgan.errors import SrganError
from srgan.images import Metadata, Picture

from .conftest import tiny_generator

RNG = np.random.default_rng(0)


def smooth(h: int, w: int, c: int, dtype: type = np.uint8) -> np.ndarray:
    """A photo-like image: smooth noise (random pixels would not compress, testing little)."""
    top = np.iinfo(dtype).max
    small = RNG.random((h // 4 + 2, w // 4 + 2, c))
    big = np.kron(small, np.ones((4, 4, 1)))[:h, :w] + RNG.random((h, w, c)) * 0.05
    return np.round(big / big.max() * top).astype(dtype)


def png_chunks(path: Path, but: bytes) -> list[tuple[bytes, bytes]]:
    """The (type, data) chunks of a PNG file in order, except those of type ``but``."""
    data, chunks, i = path.read_bytes(), [], 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        kind = data[i + 4 : i + 8]
        if kind != but:
            chunks.append((kind, data[i + 8 : i + 8 + n]))
        i += 12 + n
    return chunks


@pytest.fixture
def up() -> Upscaler:
    return Upscaler(tiny_generator(scale=2, blocks=1), "cpu", "fp32", tile=8)  # 8 LR rows a band


@pytest.fixture
def no_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A host memory budget of one byte: every output that can be written in bands is."""
    monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", 1)


def in_memory_and_banded(up: Upscaler, src: Path, ext: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """The output of ``src`` through the in-memory path, then through the band writer (which must not touch
    ``upscale_picture``)."""
    picture = images.load(src)
    assert not up.writes_in_bands(picture, f"x{ext}")
    whole = up.upscale_file(src, src.with_name(f"whole{ext}"))
    monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", 1)
    assert up.writes_in_bands(picture, f"x{ext}")
    monkeypatch.setattr(Upscaler, "upscale_picture", None)  # calling it would fail: the band path does not
    banded = up.upscale_file(src, src.with_name(f"banded{ext}"))
    return whole, banded


def test_bands_laid_together_are_the_whole_result() -> None:
    """Bit for bit, also where the last row and column of cores are moved back over their neighbours: with no
    overlap the tiles disagree there, so this also checks which tile's pixels each path keeps."""
    net = tiny_generator(scale=2, blocks=1)
    x = torch.rand(1, 3, 29, 23, generator=torch.Generator().manual_seed(3))
    for overlap in (0, 9):
        whole = tiling.upscale_tensor(net, x, 2, (8, 10), overlap)
        bands = list(tiling.upscale_bands(net, x, 2, (8, 10), overlap))
        assert [b.shape[2] for b in bands] == [16, 16, 10, 16]  # cores start at rows 0, 8, 16, 21
        assert torch.equal(torch.cat(bands, dim=2), whole)
        finished = tiling.upscale_bands(net, x, 2, (8, 10), overlap, finish=lambda sr: sr.mul(255).round().byte())
        assert torch.equal(torch.cat(list(finished), dim=2), whole.mul(255).round().byte())


@pytest.mark.parametrize(("channels", "dtype"), [(3, np.uint8), (3, np.uint16), (1, np.uint8), (1, np.uint16)])
def test_banded_png_has_the_in_memory_pixels_and_metadata(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, up: Upscaler, channels: int, dtype: type) -> None:
    src = tmp_path / "in.png"
    exif = Image.Exif()
    exif[271] = "Cam"
    meta = Metadata(icc_profile=ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes(),
                    exif=exif.tobytes(), dpi=(150.0, 150.0), text=(("k", "välue"),))
    images.save(Picture(smooth(37, 30, channels, dtype), None, meta), src)
    whole, banded = in_memory_and_banded(up, src, ".png", monkeypatch)
    a, b = images.load(whole), images.load(banded)
    assert a.color.shape == (74, 60, channels) and a.color.dtype == dtype
    assert np.array_equal(a.color, b.color)
    assert a.meta == b.meta and b.meta.dpi == pytest.approx((300, 300), abs=0.05)  # pHYs: dots per metre
    assert b.meta.text == (("k", "välue"), ("Software", images.SOFTWARE))  # the mark of an srgan output
    with Image.open(banded) as im:
        im.load()  # Pillow reads every chunk, CRCs included
        assert im.info["icc_profile"] == meta.icc_profile and im.getexif()[271] == "Cam"
    assert png_chunks(whole, but=b"IDAT") == png_chunks(banded, but=b"IDAT")  # only the deflate streams differ


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_banded_tiff_has_the_in_memory_pixels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, up: Upscaler,
                                              dtype: type) -> None:
    src = tmp_path / "in.tif"
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    images.save(Picture(smooth(21, 26, 3, dtype), None, Metadata(icc_profile=icc, dpi=(72.0, 72.0))), src)
    whole, banded = in_memory_and_banded(up, src, ".tif", monkeypatch)
    assert np.array_equal(tifffile.imread(banded), tifffile.imread(whole))
    assert tifffile.imread(banded).shape == (42, 52, 3)
    meta = images.load(banded).meta
    assert meta.icc_profile == icc and meta.dpi == (144.0, 144.0)


def test_the_pipeline_writes_large_outputs_in_bands_too(tmp_path: Path, no_memory: None, up: Upscaler) -> None:
    src = tmp_path / "in.png"
    images.save(Picture(smooth(19, 17, 3)), src)
    up.upscale_file(src, tmp_path / "ref.png")
    done = list(pipeline.upscale_files([Job(src, tmp_path / "out.png")], up, threads=1))
    assert done[0].error is None
    assert (tmp_path / "out.png").read_bytes() == (tmp_path / "ref.png").read_bytes()


class FailsAtTile:
    """The network, failing on its ``n``-th call; records the temporary files in ``folder`` by then."""

    def __init__(self, net: torch.nn.Module, n: int, failure: BaseException | None, folder: Path) -> None:
        self.net, self.n, self.failure, self.folder = net, n, failure, folder
        self.calls = 0
        self.writing: list[str] = []

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls < self.n:
            return self.net(x)
        self.writing = [p.name for p in self.folder.iterdir() if p.name.startswith(".")]
        if self.failure is not None:
            raise self.failure
        return torch.full_like(self.net(x), float("nan"))


@pytest.mark.parametrize("failure", [None, KeyboardInterrupt()], ids=["NaN", "Ctrl-C"])
def test_a_failure_half_way_leaves_no_file(tmp_path: Path, no_memory: None, up: Upscaler,
                                           failure: BaseException | None) -> None:
    src = tmp_path / "in.png"
    images.save(Picture(smooth(40, 16, 3)), src)  # 5 bands of 2 tiles
    failing = FailsAtTile(up._net, 7, failure, tmp_path)
    up._net = failing
    if failure is None:
        with pytest.raises(SrganError) as e:
            up.upscale_file(src, tmp_path / "out.png")
        assert str(e.value) == f"{src}: the model's output holds NaN values (an overflow? try --precision fp32)"
    else:
        with pytest.raises(KeyboardInterrupt):
            up.upscale_file(src, tmp_path / "out.png")
    assert failing.calls == 7
    [name] = failing.writing  # the output was being written while band 4 was computed ...
    assert name.startswith(".out.") and name.endswith(".png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]  # ... and is gone, temporary file and all


def test_an_existing_output_is_refused_and_kept(tmp_path: Path, no_memory: None, up: Upscaler) -> None:
    src = tmp_path / "in.png"
    images.save(Picture(smooth(12, 12, 3)), src)
    (tmp_path / "out.png").write_bytes(b"mine")
    with pytest.raises(SrganError, match="already exists"):
        up.upscale_file(src, tmp_path / "out.png")
    picture = images.load(src)
    with pytest.raises(SrganError, match="already exists"):  # also when the file appears after decoding
        up.compute_output(picture, src, tmp_path / "out.png")
    assert (tmp_path / "out.png").read_bytes() == b"mine"
    up.upscale_file(src, tmp_path / "out.png", overwrite=True)
    assert images.load(tmp_path / "out.png").color.shape == (24, 24, 3)


def test_what_is_written_in_bands(up: Upscaler) -> None:
    """Normal sizes stay in memory; a 16384² output (12 bytes a pixel as floats) is written in bands where it can."""
    def picture(side: int, channels: int = 3, alpha: bool = False) -> Picture:
        color = np.broadcast_to(np.zeros((1, 1, channels), np.uint8), (side, side, channels))
        return Picture(color, np.broadcast_to(np.zeros((1, 1), np.uint8), (side, side)) if alpha else None)

    assert not up.writes_in_bands(picture(2048), "x.png")  # 4096² at ×2: 0.19 GiB of floats
    assert runtime.memory_budget(torch.device("cpu")) < 12 * 4 * 8192**2  # what 8192² inputs need at ×2
    for fmt in ("png", "PNG", "tif", "tiff"):
        assert up.writes_in_bands(picture(8192), f"x.{fmt}")
    assert up.writes_in_bands(picture(8192, 1), "x.png")
    for name in ("x.jpg", "x.webp", "x.bmp"):  # Pillow writes these from a whole image only
        assert not up.writes_in_bands(picture(8192), name)
    assert not up.writes_in_bands(picture(8192, alpha=True), "x.png")  # alpha is upscaled whole


def test_band_tiles_share_the_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Written in bands, tiles get what a band of integers leaves of the memory budget, and a band at most
    BAND_FRACTION of it: the rows of a core are capped, never the columns."""
    up = Upscaler(tiny_generator(scale=4, blocks=1), "cpu", "fp32")
    monkeypatch.setattr(runtime, "CPU_TILE_BUDGET", 64 << 20)
    row_bytes = 16 * 20000 * 3  # the ×4 integer result of a 20000-wide RGB input, per LR row
    rows, cols = up.tile_size((3000, 20000), band_row_bytes=row_bytes)
    assert rows * row_bytes <= BAND_FRACTION * (64 << 20) and rows % 8 == 0 and cols > rows
    assert up.tile_size((3000, 20000))[0] > rows  # held whole, the tiles would be taller
    per_pixel = up._net.window_bytes_per_pixel()
    assert tiling.auto_tile(per_pixel, up.overlap, 1, (1 - BAND_FRACTION) * (64 << 20), (3000, 20000),
                            max_rows=rows) == (rows, cols)
    assert tiling.auto_tile(1.0, 0, 1, 1e9, (100, 50), max_rows=3) == (8, 50)  # never below one multiple


def test_save_bands_takes_bands_of_any_height_and_integer_type(tmp_path: Path) -> None:
    pixels = smooth(50, 33, 3, np.uint16)
    bands = [pixels[:1], pixels[1:30].astype(np.int32), np.asfortranarray(pixels[30:])]
    images.save_bands(iter(bands), pixels.shape, np.uint16, Metadata(), tmp_path / "o.png")
    assert np.array_equal(images.load(tmp_path / "o.png").color, pixels)
    with pytest.raises(ValueError, match="the bands hold 49 rows, the image 50"):
        images.save_bands(iter([pixels[:49]]), pixels.shape, np.uint16, Metadata(), tmp_path / "short.png")
    with pytest.raises(ValueError, match="save_bands writes 1 or 3 channels"):
        images.save_bands(iter([]), (2, 2, 3), np.uint8, Metadata(), tmp_path / "o.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["o.png"]


@pytest.mark.parametrize("ext", [".png", ".tif"])
def test_save_bands_lets_go_of_a_band_before_asking_for_the_next(tmp_path: Path, ext: str) -> None:
    """One band in memory at a time: when the next band is computed, nothing refers to the last one, not even the
    rows waiting to fill the writer's next group (here the whole image is one group)."""
    pixels = smooth(30, 20, 3)
    held: list[weakref.ref] = []

    def bands() -> Iterator[np.ndarray]:
        for y in range(0, 30, 7):
            assert [r() for r in held] == [None] * len(held)
            band = pixels[y : y + 7].copy()
            held.append(weakref.ref(band))
            yield band
            del band

    images.save_bands(bands(), pixels.shape, np.uint8, Metadata(), tmp_path / f"o{ext}")
    assert len(held) == 5 and np.array_equal(images.load(tmp_path / f"o{ext}").color, pixels)
