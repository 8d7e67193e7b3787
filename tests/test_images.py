import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from srgan import images
from srgan.errors import SrganError
from srgan.images import Metadata, Picture

RNG = np.random.default_rng(0)


def rand8(*shape: int) -> np.ndarray:
    return RNG.integers(0, 256, shape, dtype=np.uint8)


def rand16(*shape: int) -> np.ndarray:
    return RNG.integers(0, 65536, shape, dtype=np.uint16)


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def png_with_size(path: Path, width: int, height: int) -> Path:
    """A PNG whose IHDR claims ``width`` × ``height`` (valid CRC) over a tiny 1×1 image body."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = b"IHDR" + struct.pack(">II", width, height) + bytes(data[24:29])
    data[12:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(ihdr))
    path.write_bytes(bytes(data))
    return path


# ------------------------------------------------------------------ modes and bit depths


@pytest.mark.parametrize(("mode", "channels", "has_alpha"), [("RGB", 3, False), ("L", 1, False), ("LA", 1, True),
                                                              ("RGBA", 3, True)])
def test_8bit_png_round_trip(tmp_path: Path, mode: str, channels: int, has_alpha: bool) -> None:
    n = len(mode)
    pixels = rand8(7, 9, n) if n > 1 else rand8(7, 9)
    Image.fromarray(pixels, mode).save(tmp_path / "in.png")
    pic = images.load(tmp_path / "in.png")
    assert pic.color.shape == (7, 9, channels) and pic.color.dtype == np.uint8
    assert (pic.alpha is not None) == has_alpha
    images.save(pic, tmp_path / "out.png")
    with Image.open(tmp_path / "out.png") as out:
        assert out.mode == mode
        assert np.array_equal(np.asarray(out), pixels)


def test_palette_becomes_rgb_and_transparent_palette_rgba(tmp_path: Path) -> None:
    rgb = Image.fromarray(rand8(6, 5, 3)).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    rgb.save(tmp_path / "p.png")
    pic = images.load(tmp_path / "p.png")
    assert pic.color.shape == (6, 5, 3) and pic.alpha is None
    assert np.array_equal(pic.color, np.asarray(rgb.convert("RGB")))
    rgb.save(tmp_path / "pt.png", transparency=0)
    pic = images.load(tmp_path / "pt.png")
    index = np.asarray(rgb)
    assert pic.alpha is not None and np.array_equal(pic.alpha == 0, index == 0)


def test_16bit_gray_png_keeps_all_bits(tmp_path: Path) -> None:
    pixels = rand16(5, 8)
    Image.fromarray(pixels).save(tmp_path / "g16.png")  # Pillow writes I;16 as a 16-bit grayscale PNG
    pic = images.load(tmp_path / "g16.png")
    assert pic.color.dtype == np.uint16 and np.array_equal(pic.color[:, :, 0], pixels)
    images.save(pic, tmp_path / "o16.png")
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "o16.png").read_bytes()), pixels)


@pytest.mark.parametrize("channels", [2, 3, 4])
def test_16bit_color_png_round_trip(tmp_path: Path, channels: int) -> None:
    pixels = rand16(6, 7, channels)
    (tmp_path / "c16.png").write_bytes(imagecodecs.png_encode(pixels))
    pic = images.load(tmp_path / "c16.png")
    c = 1 if channels == 2 else 3
    assert pic.color.dtype == np.uint16 and np.array_equal(pic.color, pixels[:, :, :c])
    assert (pic.alpha is not None) == (channels in (2, 4))
    images.save(pic, tmp_path / "out.png")
    assert np.array_equal(imagecodecs.png_decode((tmp_path / "out.png").read_bytes()), pixels)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize(("h", "w", "channels"),
                         [(1, 1, 3), (1, 9, 1), (11, 1, 4), (5, 6, 2), (300, 1500, 3), (2, 350_000, 3)])
def test_every_png_reads_back_in_libpng_and_pillow(tmp_path: Path, h: int, w: int, channels: int,
                                                   dtype: type) -> None:
    """srgan writes every PNG itself (Paeth-filtered rows, libdeflate): the pixels come back through libpng (and
    Pillow for 8 bits) at every level, for one row, one column, more rows than the writer filters at a time and
    rows longer than that (one at a time)."""
    top = np.iinfo(dtype).max
    pixels = RNG.integers(0, top + 1, (h, w, channels), dtype=dtype)
    ramp = np.arange(h)[:, None, None] * 3 + np.arange(w)[None, :, None] * 5 + np.arange(channels)
    pixels[: h // 2] = (ramp[: h // 2] % (top + 1)).astype(dtype)  # smooth rows beside noisy ones
    c = 1 if channels <= 2 else 3
    picture = Picture(pixels[:, :, :c], pixels[:, :, c] if channels in (2, 4) else None)
    for level in (0, 1, 9):
        data = images.save(picture, tmp_path / f"{level}.png", png_compression=level).read_bytes()
        assert np.array_equal(imagecodecs.png_decode(data).reshape(h, w, channels), pixels)
        if dtype == np.uint8:
            with Image.open(io.BytesIO(data)) as im:
                assert np.array_equal(np.asarray(im).reshape(h, w, channels), pixels)


def test_a_png_compression_failure_is_the_files_error_and_leaves_nothing(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    def fails(*args: object, **kwargs: object) -> None:
        raise imagecodecs.DeflateError("libdeflate_zlib_compress", 0)

    monkeypatch.setattr(imagecodecs, "deflate_encode", fails)
    with pytest.raises(SrganError) as e:
        images.save(Picture(rand8(4, 5, 3)), tmp_path / "out.png")
    assert str(e.value).startswith(f"{tmp_path / 'out.png'}: cannot write output (PNG compression failed")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("planar", [False, True])
def test_16bit_tiff_round_trip_with_icc_and_dpi(tmp_path: Path, planar: bool) -> None:
    pixels = rand16(5, 6, 4)
    data = np.moveaxis(pixels, -1, 0) if planar else pixels
    icc = srgb_icc()
    tifffile.imwrite(tmp_path / "in.tif", data, photometric="rgb", planarconfig="separate" if planar else "contig",
                     extrasamples=("unassalpha",), iccprofile=icc, resolution=(300, 300), resolutionunit="INCH")
    pic = images.load(tmp_path / "in.tif")
    assert np.array_equal(pic.color, pixels[:, :, :3]) and np.array_equal(pic.alpha, pixels[:, :, 3])
    assert pic.meta.icc_profile == icc and pic.meta.dpi == (300.0, 300.0)
    images.save(Picture(pic.color, pic.alpha, pic.meta.scaled(4)), tmp_path / "out.tif")
    assert np.array_equal(tifffile.imread(tmp_path / "out.tif"), pixels)
    with Image.open(tmp_path / "out.tif") as out:
        assert out.info["icc_profile"] == icc and out.info["dpi"] == (1200.0, 1200.0)


def test_16bit_gray_tiff(tmp_path: Path) -> None:
    pixels = rand16(4, 9)
    tifffile.imwrite(tmp_path / "g.tif", pixels, photometric="minisblack")
    pic = images.load(tmp_path / "g.tif")
    assert pic.color.shape == (4, 9, 1) and np.array_equal(pic.color[:, :, 0], pixels)


def test_cmyk_jpeg_becomes_rgb(tmp_path: Path) -> None:
    rgb = np.repeat(np.repeat(rand8(4, 4, 3), 8, axis=0), 8, axis=1)  # flat 8×8 blocks: JPEG keeps them
    Image.fromarray(rgb).convert("CMYK").save(tmp_path / "cmyk.jpg", quality=100)
    with Image.open(tmp_path / "cmyk.jpg") as im:
        assert im.mode == "CMYK"
    pic = images.load(tmp_path / "cmyk.jpg")
    assert pic.color.shape == (32, 32, 3) and pic.alpha is None
    assert np.abs(pic.color.astype(int) - rgb).mean() < 3


def test_animated_gif_first_frame_with_warning(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (6, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:], duration=100)
    with pytest.warns(UserWarning, match="2 frames"):
        pic = images.load(tmp_path / "a.gif")
    assert tuple(pic.color[0, 0]) == (255, 0, 0)


# ------------------------------------------------------------------ read_rgb8: what training, eval and report see


def test_read_rgb8_modes(tmp_path: Path) -> None:
    img = rand8(9, 7, 3)
    Image.fromarray(img).save(tmp_path / "rgb.png")
    assert np.array_equal(images.read_rgb8(tmp_path / "rgb.png"), img)
    grey = img[..., 0]
    Image.fromarray(grey).save(tmp_path / "grey.png")
    assert np.array_equal(images.read_rgb8(tmp_path / "grey.png"), np.repeat(grey[..., None], 3, axis=2))
    rgba = np.dstack([img, np.full(img.shape[:2], 10, np.uint8)])  # nearly transparent: colour kept as stored
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "rgba.png")
    assert np.array_equal(images.read_rgb8(tmp_path / "rgba.png"), img)
    Image.fromarray(np.dstack([grey, grey]), mode="LA").save(tmp_path / "la.png")
    assert np.array_equal(images.read_rgb8(tmp_path / "la.png"), np.repeat(grey[..., None], 3, axis=2))
    pal = Image.fromarray(img).quantize(16)
    pal.save(tmp_path / "pal.png", transparency=0)
    assert np.array_equal(images.read_rgb8(tmp_path / "pal.png"), np.asarray(pal.convert("RGB")))
    Image.new("1", (5, 4), 1).save(tmp_path / "bw.bmp")
    assert (images.read_rgb8(tmp_path / "bw.bmp") == 255).all()


def test_read_rgb8_cmyk_without_profile_by_formula(tmp_path: Path) -> None:
    cmyk = np.zeros((4, 6, 4), dtype=np.uint8)
    cmyk[:, 3:, 1:3] = 255  # right half: full magenta + yellow = red
    Image.fromarray(cmyk, mode="CMYK").save(tmp_path / "c.tif")
    out = images.read_rgb8(tmp_path / "c.tif")
    assert out.shape == (4, 6, 3)
    assert (out[:, :3] == 255).all()  # no ink = white
    assert (out[:, 3:] == [255, 0, 0]).all()


def test_read_rgb8_rounds_16_bits(tmp_path: Path) -> None:
    grey = np.array([[0, 255, 257, 32896, 65535, 1000]], dtype=np.uint16)
    Image.fromarray(grey).save(tmp_path / "g16.png")
    out = images.read_rgb8(tmp_path / "g16.png")
    assert out.tolist() == [[[v] * 3 for v in (0, 1, 1, 128, 255, 4)]]  # v · 255/65535, rounded
    # All 16 bits count: 448 = 0x01C0 is 1.74 levels (2), though its high byte is 1; 383 is 1.49 (1).
    colour = np.array([[[0, 65535, 448], [65279, 383, 32767]]], dtype=np.uint16)
    (tmp_path / "c16.png").write_bytes(imagecodecs.png_encode(colour))
    assert images.read_rgb8(tmp_path / "c16.png").tolist() == [[[0, 255, 2], [254, 1, 127]]]


def cmyk_icc() -> bytes:
    """A minimal ICC v2 input profile for CMYK (PCS Lab, one 2-point lut8 AToB0 table). Its colours are not those
    of Pillow's formula, so a conversion through it is told apart from one without."""
    grid = []
    for c, m, y, k in np.ndindex(2, 2, 2, 2):
        lightness = 95 * (1 - 0.5 * c) * (1 - 0.4 * m) * (1 - 0.2 * y) * (1 - 0.8 * k)
        grid += [round(lightness * 2.55), 128 + 60 * m - 40 * c, 128 + 70 * y - 30 * c - 20 * m]
    ramp = bytes(range(256))
    identity = struct.pack(">9i", 65536, 0, 0, 0, 65536, 0, 0, 0, 65536)
    white = struct.pack(">3i", round(0.9642 * 65536), 65536, round(0.8249 * 65536))  # D50
    name = b"test CMYK\0"
    tags = {b"desc": b"desc" + bytes(4) + struct.pack(">I", len(name)) + name + bytes(8 + 3 + 67),
            b"wtpt": b"XYZ " + bytes(4) + white,
            b"A2B0": b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity + ramp * 4 + bytes(grid) + ramp * 3}
    offset = 128 + 4 + 12 * len(tags)
    table, body = struct.pack(">I", len(tags)), b""
    for sig, data in tags.items():
        table += sig + struct.pack(">II", offset + len(body), len(data))
        body += data + bytes(-len(data) % 4)
    header = (struct.pack(">I", offset + len(body)) + bytes(4) + struct.pack(">I", 0x02100000) + b"scnrCMYKLab "
              + bytes(12) + b"acsp" + bytes(28) + white + bytes(48))
    return header + table + body


def test_eval_train_and_upscale_see_the_same_pixels(tmp_path: Path) -> None:
    """One decoder: a 16-bit RGB PNG, CMYK JPEGs with and without an ICC profile and EXIF-rotated JPEGs give
    ``srgan eval`` (EvalPairs), ``srgan train`` (the decode cache) and ``srgan upscale`` (``images.load``, reduced
    to 8 bits) the same pixels, and those are what the file means."""
    from srgan.data import EvalPairs
    from srgan.data.cache import decode_cached, open_entry

    folder = tmp_path / "set"
    folder.mkdir()
    c16 = rand16(8, 12, 3)
    (folder / "sixteen.png").write_bytes(imagecodecs.png_encode(c16))
    expected = {"sixteen.png": np.round(c16 / 257).astype(np.uint8)}
    cmyk = Image.fromarray(rand8(8, 12, 4), "CMYK")
    cmyk.save(folder / "cmyk.jpg", quality=95)
    cmyk.save(folder / "cmyk_icc.jpg", quality=95, icc_profile=cmyk_icc())
    with Image.open(folder / "cmyk.jpg") as im:
        expected["cmyk.jpg"] = np.asarray(im.convert("RGB"))
    with Image.open(folder / "cmyk_icc.jpg") as im:
        formula = np.asarray(im.convert("RGB"))
        expected["cmyk_icc.jpg"] = np.asarray(ImageCms.profileToProfile(
            im, io.BytesIO(cmyk_icc()), ImageCms.createProfile("sRGB"), outputMode="RGB"))
    assert np.abs(expected["cmyk_icc.jpg"].astype(int) - formula).mean() > 10  # the profile matters
    for orientation in (6, 7):  # rotated; transposed the other way
        exif = Image.Exif()
        exif[274] = orientation
        Image.fromarray(rand8(8, 12, 3)).save(folder / f"turned{orientation}.jpg", exif=exif.tobytes())
        with Image.open(folder / f"turned{orientation}.jpg") as im:
            expected[f"turned{orientation}.jpg"] = np.asarray(ImageOps.exif_transpose(im))
        assert expected[f"turned{orientation}.jpg"].shape == (12, 8, 3)

    seen_by_eval = {name: hr for name, hr, _ in EvalPairs(folder, 4)}  # sides are multiples of 4: no mod-crop
    assert sorted(seen_by_eval) == sorted(expected)
    for name, want in expected.items():
        entry, _ = decode_cached(folder / name, tmp_path / "cache")
        picture = images.load(folder / name)
        seen_by_upscale = np.round(picture.color / (picture.max_value / 255)).astype(np.uint8)
        assert np.array_equal(seen_by_eval[name], want), name
        assert np.array_equal(open_entry(entry), want), name
        assert np.array_equal(seen_by_upscale, want), name


# ------------------------------------------------------------------ orientation and metadata


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pillow_and_is_removed(tmp_path: Path, orientation: int) -> None:
    pixels = rand8(3, 5, 3)
    exif = Image.Exif()
    exif[274] = orientation
    exif[271] = "TestCam"
    Image.fromarray(pixels).save(tmp_path / "o.png", exif=exif.tobytes())
    pic = images.load(tmp_path / "o.png")
    with Image.open(tmp_path / "o.png") as im:
        expected = np.asarray(ImageOps.exif_transpose(im))
    assert np.array_equal(pic.color, expected)
    images.save(pic, tmp_path / "out.jpg")
    with Image.open(tmp_path / "out.jpg") as out:
        assert 274 not in out.getexif() and out.getexif()[271] == "TestCam"
        assert out.size == (expected.shape[1], expected.shape[0])


def test_metadata_carried_and_exif_dimensions_updated(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[271] = "Cam"
    exif[0x0111] = 99  # StripOffsets: layout tag that must not travel
    exif[0x8769] = {0x9003: "2020:01:02 03:04:05", 0xA002: 9, 0xA003: 7}
    icc = srgb_icc()
    im = Image.fromarray(rand8(7, 9, 3))
    im.save(tmp_path / "m.jpg", exif=exif.tobytes(), icc_profile=icc, dpi=(72, 72))
    pic = images.load(tmp_path / "m.jpg")
    big = Picture(np.repeat(np.repeat(pic.color, 2, 0), 2, 1), None, pic.meta.scaled(2))
    for ext in (".png", ".jpg", ".webp", ".tif"):
        images.save(big, tmp_path / f"out{ext}")
        with Image.open(tmp_path / f"out{ext}") as out:
            e = out.getexif()
            assert out.info.get("icc_profile") == icc, ext
            assert e[271] == "Cam" and e.get(0x0111) != 99, ext
            if ext != ".tif":  # compressed TIFFs keep the top-level tags only
                sub = e.get_ifd(0x8769)
                assert sub[0x9003] == "2020:01:02 03:04:05" and (sub[0xA002], sub[0xA003]) == (18, 14), ext
            if ext != ".webp":
                assert tuple(round(d) for d in out.info["dpi"]) == (144, 144), ext


def test_png_text_and_16bit_png_metadata(tmp_path: Path) -> None:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("parameters", "a photo, 50mm")
    Image.fromarray(rand8(4, 4, 3)).save(tmp_path / "t.png", pnginfo=info)
    assert images.load(tmp_path / "t.png").meta.text == (("parameters", "a photo, 50mm"),)
    exif = Image.Exif()
    exif[271] = "Cam"
    meta = Metadata(icc_profile=srgb_icc(), exif=exif.tobytes(), dpi=(150.0, 150.0), text=(("k", "välue"),))
    images.save(Picture(rand16(3, 4, 3), None, meta), tmp_path / "m16.png")
    with Image.open(tmp_path / "m16.png") as out:
        assert out.info["icc_profile"] == meta.icc_profile
        assert out.getexif()[271] == "Cam" and out.text["k"] == "välue"
        assert tuple(round(d) for d in out.info["dpi"]) == (150, 150)
    assert images.load(tmp_path / "m16.png").color.dtype == np.uint16


# ------------------------------------------------------------------ saving


def test_save_refuses_to_overwrite_and_leaves_no_temp_files(tmp_path: Path) -> None:
    pic = Picture(rand8(3, 3, 3))
    target = tmp_path / "x.png"
    target.write_bytes(b"user data")
    with pytest.raises(SrganError, match="--overwrite"):
        images.save(pic, target)
    assert target.read_bytes() == b"user data"
    images.save(pic, target, overwrite=True)
    assert np.array_equal(np.asarray(Image.open(target)), pic.color)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.png"]


def test_save_into_unwritable_place_is_one_error(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("not a folder")
    with pytest.raises(SrganError, match="cannot write output") as e:
        images.save(Picture(rand8(2, 2, 3)), tmp_path / "afile" / "out.png")
    assert "afile" in str(e.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_save_into_read_only_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(SrganError, match="cannot write output"):
            images.save(Picture(rand8(2, 2, 3)), ro / "out.png")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o700)


def test_jpeg_output_of_transparent_image_is_composited_on_white(tmp_path: Path) -> None:
    color = np.full((8, 8, 3), 10, np.uint8)
    alpha = np.zeros((8, 8), np.uint8)
    alpha[:, 4:] = 255
    with pytest.warns(UserWarning, match="composited on white"):
        images.save(Picture(color, alpha), tmp_path / "o.jpg")
    out = np.asarray(Image.open(tmp_path / "o.jpg")).astype(int)
    assert out[:, :2].min() > 245 and out[:, 6:].max() < 20


def test_16bit_to_jpeg_warns_and_rounds(tmp_path: Path) -> None:
    color = np.full((8, 8, 1), 257 * 100 + 100, np.uint16)
    with pytest.warns(UserWarning, match="8 bits"):
        images.save(Picture(color), tmp_path / "o.jpg")
    assert abs(int(np.asarray(Image.open(tmp_path / "o.jpg")).mean()) - 100) <= 1


def test_unknown_output_extension(tmp_path: Path) -> None:
    with pytest.raises(SrganError, match=r"cannot write \.xyz"):
        images.save(Picture(rand8(2, 2, 3)), tmp_path / "o.xyz")


def test_pil_conversion_round_trip() -> None:
    for mode, shape in (("L", (5, 4)), ("LA", (5, 4, 2)), ("RGB", (5, 4, 3)), ("RGBA", (5, 4, 4))):
        im = Image.fromarray(rand8(*shape), mode)
        back = images.to_pil(images.from_pil(im))
        assert back.mode == mode and np.array_equal(np.asarray(back), np.asarray(im))
    im16 = Image.fromarray(rand16(5, 4))
    assert np.array_equal(np.asarray(images.to_pil(images.from_pil(im16))), np.asarray(im16))


# ------------------------------------------------------------------ bad input


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = io.BytesIO()
    Image.fromarray(rand8(64, 64, 3)).save(good, "PNG")
    jpeg = io.BytesIO()
    Image.fromarray(rand8(64, 64, 3)).save(jpeg, "JPEG")
    files = {
        "empty": (b"", "empty file"),
        "truncated.png": (good.getvalue()[: len(good.getvalue()) // 2], "corrupt or truncated"),
        "truncated.jpg": (jpeg.getvalue()[: len(jpeg.getvalue()) // 2], "corrupt or truncated"),
        "text.png": (b"hello, I am text\n" * 10, "not an image"),
    }
    out = {}
    for name, (data, message) in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, message)
    out["bomb.png"] = (png_with_size(tmp_path / "bomb.png", 100_000, 100_000), "over the limit of 50,000,000")
    out["zero.png"] = (png_with_size(tmp_path / "zero.png", 0, 5), "not an image file")  # Pillow refuses 0×N
    out["missing.png"] = (tmp_path / "missing.png", "no such file")
    Image.fromarray(np.ones((4, 4), np.float32), mode="F").save(tmp_path / "float.tif")
    out["float.tif"] = (tmp_path / "float.tif", "32-bit floating-point image (mode F)")
    return out


@pytest.mark.parametrize("read", [images.load, images.read_rgb8])
def test_bad_inputs_give_one_clear_error(tmp_path: Path, read: object) -> None:
    for name, (path, message) in _bad_files(tmp_path).items():
        with pytest.raises(SrganError) as e:
            read(path)  # type: ignore[operator]
        text = str(e.value)
        assert text.startswith(str(path)) and message in text and "\n" not in text, (name, text)


def test_max_pixels_is_configurable(tmp_path: Path) -> None:
    Image.fromarray(rand8(20, 30, 3)).save(tmp_path / "a.png")
    with pytest.raises(SrganError, match="600 pixels, over the limit of 599"):
        images.load(tmp_path / "a.png", max_pixels=599)
    assert images.load(tmp_path / "a.png", max_pixels=600).color.shape == (20, 30, 3)
    # Pillow's own guard (~179 M pixels) must not override a higher user limit: its error would come first.
    path = png_with_size(tmp_path / "huge.png", 20_000, 10_000)
    with pytest.raises(SrganError, match="corrupt or truncated"):
        images.load(path, max_pixels=None)


def test_one_pixel_image_loads(tmp_path: Path) -> None:
    Image.new("RGB", (1, 1), (1, 2, 3)).save(tmp_path / "one.png")
    assert images.load(tmp_path / "one.png").color.tolist() == [[[1, 2, 3]]]


def test_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(SrganError, match="is a folder"):
        images.load(tmp_path)


@pytest.mark.skipif(os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file(tmp_path: Path) -> None:
    path = tmp_path / "secret.png"
    Image.new("RGB", (2, 2)).save(path)
    path.chmod(0)
    with pytest.raises(SrganError, match="cannot read"):
        images.load(path)


def test_picture_validates_its_contract() -> None:
    with pytest.raises(ValueError, match="color must be"):
        Picture(np.zeros((2, 2, 2), np.uint8))
    with pytest.raises(ValueError, match="alpha must be"):
        Picture(np.zeros((2, 2, 3), np.uint8), np.zeros((2, 2), np.uint16))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Picture(np.zeros((2, 2, 3), np.uint16), np.zeros((2, 2), np.uint16))
