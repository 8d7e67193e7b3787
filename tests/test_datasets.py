"""The patch dataset (determinism, augmentation, bad files, the decode cache) and evaluation pairs."""

from __future__ import annotations

import io
import pickle
import warnings
from pathlib import Path

import imagecodecs
import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

from srgan.data import EvalPairs, PatchDataset, datasets, imresize
from srgan.data import cache as cache_module
from srgan.data.datasets import uniform_draws
from srgan.data.realistic import realistic_lr
from srgan.errors import SrganError
from srgan.train.degradation import RealisticDegradation

RNG = np.random.default_rng(0)


def rgb(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


def _png_bytes(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()


# ---- PatchDataset -------------------------------------------------------------------------------------------


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    d = tmp_path / "imgs"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(rgb(100, 130, 1)).save(d / "a.png")
    Image.fromarray(rgb(120, 101, 2)).save(d / "sub" / "b.JPG", quality=95)
    return d


def make(folder: Path, tmp_path: Path, **kw: object) -> PatchDataset:
    return PatchDataset([folder], cache_dir=tmp_path / "cache", **kw)  # type: ignore[arg-type]


def test_items_shapes_ranges_and_lr_protocol(folder: Path, tmp_path: Path) -> None:
    ds = make(folder, tmp_path, patch=48, scale=4)
    assert len(ds) == 2 * 1000 and [p.name for p in ds.sources] == ["a.png", "b.JPG"]
    for i in range(20):
        lr, hr = ds[i]
        assert lr.shape == (3, 12, 12) and hr.shape == (3, 48, 48)
        assert lr.dtype == hr.dtype == torch.float32
        assert lr.min() >= 0 and lr.max() <= 1 and hr.min() >= -1 and hr.max() <= 1
        hr8 = ((hr.double() + 1) * 127.5).round()
        assert torch.allclose(hr8, (hr.double() + 1) * 127.5, atol=1e-4)  # HR is exactly uint8 / 127.5 − 1
        hr8 = hr8.to(torch.uint8).permute(1, 2, 0).numpy()
        expected = imresize(hr8, 1 / 4).astype(np.float32) / 255
        np.testing.assert_array_equal(lr.permute(1, 2, 0).numpy(), expected)


def _locate(hr: torch.Tensor, images: list[np.ndarray]) -> tuple[int, int]:
    """(image index, symmetry 0–7) of the source patch that ``hr`` was cut from (raises if none)."""
    patch = ((hr.double() + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    p = patch.shape[0]
    for k, img in enumerate(images):
        for sym in range(8):
            # Undo the augmentation: the dataset mirrors (bit 2) and then turns by (sym & 3) quarter turns.
            t = np.rot90(patch, -(sym & 3))
            t = t[:, ::-1] if sym & 4 else t
            windows = np.lib.stride_tricks.sliding_window_view(img, (p, p, 3))[..., 0, :, :, :]
            if (windows == t).all(axis=(2, 3, 4)).any():
                return k, sym
    raise AssertionError("patch not found in any source image")


def test_crops_come_from_sources_with_all_8_symmetries(tmp_path: Path) -> None:
    d = tmp_path / "png"
    d.mkdir()
    sources = [rgb(40, 44, 3), rgb(41, 40, 4)]
    for i, img in enumerate(sources):
        Image.fromarray(img).save(d / f"{i}.png")
    ds = make(d, tmp_path, patch=32, scale=4)
    found = [_locate(ds[i][1], sources) for i in range(80)]
    assert {k for k, _ in found} == {0, 1}
    assert {s for _, s in found} == set(range(8))
    plain = make(d, tmp_path, patch=32, scale=4, augment=False)
    assert {_locate(plain[i][1], sources)[1] for i in range(20)} == {0}


def test_items_depend_only_on_seed_and_index(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ds = make(folder, tmp_path, patch=32, scale=2, seed=5)
    again = make(folder, tmp_path, patch=32, scale=2, seed=5)
    other = make(folder, tmp_path, patch=32, scale=2, seed=6)
    for i in (0, 7, 1999):
        a, b = ds[i], again[i]
        assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
        assert not torch.equal(a[1], other[i][1])
    batch = ds.__getitems__([1999, 7, 0, 7])
    assert torch.equal(batch[0][1], ds[1999][1]) and torch.equal(batch[3][0], ds[7][0])
    with pytest.raises(IndexError):
        ds[2000]
    with pytest.raises(IndexError):
        ds.__getitems__([0, -1])
    restored = pickle.loads(pickle.dumps(ds))
    assert torch.equal(restored[3][1], ds[3][1])
    assert len(pickle.dumps(ds)) < 10_000  # no pixels travel to workers
    monkeypatch.setattr(datasets, "_MAX_OPEN_MAPS", 1)  # memory maps closed and reopened all the time
    churn = make(folder, tmp_path, patch=32, scale=2, seed=5)
    for i in range(6):
        assert torch.equal(churn[i][1], ds[i][1])
        assert len(churn._maps) == 1


def test_realistic_lr_of_the_same_crops(folder: Path, tmp_path: Path) -> None:
    chain = RealisticDegradation()
    ds = make(folder, tmp_path, patch=32, scale=4, seed=5, degradation=chain)
    clean = make(folder, tmp_path, patch=32, scale=4, seed=5)
    items = ds.__getitems__([0, 1, 2, 1])
    for k, i in enumerate((0, 1, 2, 1)):
        lr, hr = items[k]
        assert lr.shape == (3, 8, 8) and lr.dtype == torch.float32
        assert torch.equal(hr, clean[i][1])  # the HR target stays the clean crop
        pixels = ((hr + 1) * 127.5).round()[None]
        assert torch.equal(lr, realistic_lr(pixels, 4, chain, 5, np.array([i]))[0])
    assert torch.equal(items[1][0], items[3][0]) and not torch.equal(items[0][0], clean[0][0])
    assert torch.equal(pickle.loads(pickle.dumps(ds))[2][0], items[2][0])


@pytest.mark.parametrize("degradation", [None, RealisticDegradation()])
def test_same_batches_with_any_number_of_workers(folder: Path, tmp_path: Path,
                                                 degradation: RealisticDegradation | None) -> None:
    ds = make(folder, tmp_path, patch=32, scale=4, length=24, degradation=degradation)
    batches = {}
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=4, shuffle=False, num_workers=workers)
        batches[workers] = list(loader)
    for (lr0, hr0), (lr2, hr2) in zip(batches[0], batches[2], strict=True):
        assert torch.equal(lr0, lr2) and torch.equal(hr0, hr2)


def test_uniform_draws_are_splitmix64() -> None:
    mask = (1 << 64) - 1

    def mix(z: int) -> int:  # SplitMix64's published output function, on Python integers
        z = (z + 0x9E3779B97F4A7C15) & mask
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        return z ^ (z >> 31)

    assert mix(0) == 0xE220A8397B1DCDAF  # the reference generator's first output from state 0
    seed, index = 12345, np.array([0, 3, 2**40])
    got = uniform_draws(seed, index, 4)
    for row, i in enumerate(index.tolist()):
        for c in range(4):
            assert got[row, c] == (mix((mix(seed) + 4 * i + c) & mask) >> 11) / 2**53
    u = uniform_draws(0, np.arange(20000), 1)
    assert u.min() >= 0 and u.max() < 1 and abs(u.mean() - 0.5) < 0.01


def test_bad_files_are_skipped_with_a_warning_naming_each(folder: Path, tmp_path: Path) -> None:
    (folder / "small.png").write_bytes(_png_bytes(rgb(20, 90)))
    (folder / "text.png").write_text("not an image")
    (folder / "random.jpg").write_bytes(RNG.integers(0, 256, 300, dtype=np.uint8).tobytes())
    data = _png_bytes(rgb(100, 100))
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "notes.txt").write_text("ignored: not an image suffix")
    usable = {
        "grey.png": Image.fromarray(rgb(64, 64)[..., 0]),
        "rgba.webp": Image.fromarray(np.dstack([rgb(64, 64), rgb(64, 64)[..., 0]]), mode="RGBA"),
        "palette.bmp": Image.fromarray(rgb(64, 64)).quantize(8),
        "cmyk.jpeg": Image.fromarray(rgb(64, 64, 5)).convert("CMYK"),
        "sixteen.TIFF": Image.fromarray(rgb(64, 64)[..., 0].astype(np.uint16) * 257),
        "still.gif": Image.fromarray(rgb(64, 64)).quantize(64),
    }
    for name, im in usable.items():
        im.save(folder / name)
    (folder / "rgb16.png").write_bytes(imagecodecs.png_encode(rgb(64, 64).astype(np.uint16) * 200))
    Image.fromarray(rgb(64, 64)).save(folder / ".hidden.png")  # left out like every command leaves it out
    (folder / "dangling.png").symlink_to(tmp_path / "gone.png")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = make(folder, tmp_path, patch=48, scale=4)
    bad = {"small.png", "text.png", "random.jpg", "truncated.png", "dangling.png"}
    assert {Path(f).name for f, _ in ds.skipped} == bad
    messages = [str(w.message) for w in caught]
    for name in bad:
        assert sum(str(folder / name) in m for m in messages) == 1
    reasons = dict((Path(f).name, r) for f, r in ds.skipped)
    assert "smaller than the 48×48 crop" in reasons["small.png"]
    assert reasons["dangling.png"] == f"broken symbolic link to {tmp_path / 'gone.png'}"
    assert {p.name for p in ds.sources} == {"a.png", "b.JPG", "rgb16.png", *usable}
    for i in range(len(ds.sources) * 4):
        lr, hr = ds[i]
        assert lr.shape == (3, 12, 12) and hr.shape == (3, 48, 48)


def test_no_usable_images_and_bad_settings(tmp_path: Path, folder: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "x.png").write_text("nope")
    with pytest.warns(UserWarning, match="x.png"), pytest.raises(SrganError, match="no usable training images"):
        make(empty, tmp_path)
    with pytest.raises(SrganError, match="not a folder"):
        make(tmp_path / "absent", tmp_path)
    with pytest.raises(SrganError, match="multiple of the scale"):
        make(folder, tmp_path, patch=30, scale=4)


def test_decode_cache_is_reused_and_invalidated(folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = make(folder, tmp_path, patch=32, scale=4)
    entries = sorted((tmp_path / "cache").glob("*.npy"))
    assert len(entries) == 2 and np.load(entries[0]).dtype == np.uint8

    def no_decoding(path: object) -> np.ndarray:
        raise AssertionError(f"decoded {path} again")

    monkeypatch.setattr(cache_module, "read_rgb8", no_decoding)
    again = make(folder, tmp_path, patch=32, scale=4)  # everything comes from the cache
    assert torch.equal(again[11][1], first[11][1])
    monkeypatch.undo()

    Image.fromarray(rgb(100, 130, 9)).save(folder / "a.png")  # changed file: new size/mtime key
    changed = make(folder, tmp_path, patch=32, scale=4)
    assert len(list((tmp_path / "cache").glob("*.npy"))) == 3
    assert any(not torch.equal(changed[i][1], first[i][1]) for i in range(10))


# ---- EvalPairs ----------------------------------------------------------------------------------------------


def test_eval_pairs_mod_crop_and_generated_lr(tmp_path: Path) -> None:
    hr_dir = tmp_path / "hr"
    hr_dir.mkdir()
    big = rgb(77, 103)
    Image.fromarray(big).save(hr_dir / "img.png")
    Image.fromarray(rgb(2, 9)).save(hr_dir / "tiny.png")  # smaller than the scale once mod-cropped
    (hr_dir / "broken.png").write_text("nope")
    pairs = EvalPairs(hr_dir, 4)
    assert len(pairs) == 3
    with pytest.warns(UserWarning) as caught:
        items = list(pairs)
    assert [n for n, _, _ in items] == ["img.png"]
    _, hr, lr = items[0]
    np.testing.assert_array_equal(hr, big[:76, :100])
    np.testing.assert_array_equal(lr, imresize(big[:76, :100], 1 / 4))
    assert lr.shape == (19, 25, 3)
    assert {Path(f).name for f, _ in pairs.skipped} == {"tiny.png", "broken.png"}
    assert {str(hr_dir / n) for n in ("tiny.png", "broken.png")} <= {str(w.message).split(":")[0] for w in caught}


def test_eval_pairs_with_lr_folder(tmp_path: Path) -> None:
    hr_dir, lr_dir = tmp_path / "hr", tmp_path / "lr"
    hr_dir.mkdir()
    lr_dir.mkdir()
    a, b = rgb(40, 36, 1), rgb(20, 24, 2)
    Image.fromarray(a).save(hr_dir / "a.png")
    Image.fromarray(b).save(hr_dir / "b.png")
    Image.fromarray(rgb(10, 9, 3)).save(lr_dir / "a.png")  # same name
    Image.fromarray(rgb(5, 6, 4)).save(lr_dir / "bx4.png")  # DIV2K-style name
    (name_a, hr_a, lr_a), (name_b, _, lr_b) = EvalPairs(hr_dir, 4, lr_dir)
    assert (name_a, name_b) == ("a.png", "b.png")
    np.testing.assert_array_equal(hr_a, a)
    np.testing.assert_array_equal(lr_a, rgb(10, 9, 3))
    np.testing.assert_array_equal(lr_b, rgb(5, 6, 4))
    Image.fromarray(rgb(6, 6, 4)).save(lr_dir / "bx4.png")
    with pytest.raises(SrganError, match=r"does not match HR b\.png"):
        list(EvalPairs(hr_dir, 4, lr_dir))
    (lr_dir / "bx4.png").unlink()
    with pytest.raises(SrganError, match=r"no LR image for b\.png"):
        list(EvalPairs(hr_dir, 4, lr_dir))
