"""The realistic degradation chain: its stages, their switches, JPEG's block grid, the draws, and its settings."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from srgan.data.draws import normal_draws, poisson_draws, uniform_draws
from srgan.data.realistic import N_DRAWS, blur_kernel, degrade_crop, jpeg, realistic_lr
from srgan.errors import SrganError
from srgan.metrics import rgb_to_y
from srgan.train.config import build_config, load_toml
from srgan.train.degradation import DegradationPass, RealisticDegradation

OFF = DegradationPass(blur_prob=0, resize=(1.0, 1.0), noise_prob=0, jpeg_prob=0)
# Every stage off, and every resize an exact ×1/scale box average: the chain is then a plain area downscale.
NOTHING = RealisticDegradation(first=OFF, second=OFF, second_prob=0, final_jpeg_prob=0, resize_methods=("area",))


def detailed(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A smooth pattern plus noise: detail for JPEG to quantise, uint8 (h, w, 3)."""
    yy, xx = np.mgrid[0:h, 0:w]
    base = 128 + 70 * np.sin(xx / 3.1) * np.cos(yy / 4.3)
    noise = np.random.default_rng(seed).normal(0, 12, (h, w, 3))
    return np.clip(base[..., None] + noise, 0, 255).astype(np.uint8)


def crops(n: int = 2, size: int = 32) -> torch.Tensor:
    """(n, 3, size, size) float32 holding uint8 values, as PatchDataset hands them to the chain."""
    return torch.stack([torch.from_numpy(detailed(size, size, k)).permute(2, 0, 1).float() for k in range(n)])


def box_means(pixels: torch.Tensor, scale: int) -> torch.Tensor:
    """The mean of each scale×scale block, in 8-bit units (float64, unrounded)."""
    n, c, h, w = pixels.shape
    return pixels.double().reshape(n, c, h // scale, scale, w // scale, scale).mean(dim=(3, 5))


def test_every_stage_off_is_a_box_downscale() -> None:
    pixels = crops()
    lr = realistic_lr(pixels, 4, NOTHING, seed=0, index=np.arange(2))
    assert lr.shape == (2, 3, 8, 8) and lr.dtype == torch.float32
    levels = lr.double() * 255
    assert (levels - levels.round()).abs().max() < 1e-4  # on 8-bit levels
    assert (levels - box_means(pixels, 4)).abs().max() <= 0.5 + 1e-4  # the nearest one to the block's mean


@pytest.mark.parametrize("stage", [
    {"first": DegradationPass(blur_prob=1, sigma=(1.0, 2.0), resize=(1.0, 1.0), noise_prob=0, jpeg_prob=0)},
    {"first": DegradationPass(blur_prob=0, resize=(1.0, 1.0), noise_prob=1, jpeg_prob=0)},
    {"first": DegradationPass(blur_prob=0, resize=(1.0, 1.0), noise_prob=0, jpeg_prob=1)},
    {"first": DegradationPass(blur_prob=0, resize=(0.6, 0.6), noise_prob=0, jpeg_prob=0)},
    {"second_prob": 1, "second": DegradationPass(blur_prob=1, sigma=(1.0, 2.0), resize=(1.0, 1.0), noise_prob=0,
                                                 jpeg_prob=0)},
    {"final_jpeg_prob": 1},
])
def test_probability_one_switches_a_stage_on_for_every_patch(stage: dict) -> None:
    chain = RealisticDegradation(**{**{"first": OFF, "second": OFF, "second_prob": 0, "final_jpeg_prob": 0,
                                       "resize_methods": ("area",)}, **stage})
    pixels = crops(4)
    plain = realistic_lr(pixels, 4, NOTHING, seed=3, index=np.arange(4))
    lr = realistic_lr(pixels, 4, chain, seed=3, index=np.arange(4))
    for k in range(4):
        assert not torch.equal(lr[k], plain[k])


def test_switching_one_stage_off_keeps_the_others_draws() -> None:
    # Only the final JPEG differs between the two chains: the JPEG of the chain without it is exactly the other LR.
    on = RealisticDegradation(final_jpeg_prob=1)
    off = RealisticDegradation(final_jpeg_prob=0)
    u = uniform_draws(0, np.array([5]), N_DRAWS)[0]
    hr = crops(1)[0] / 255
    without = (degrade_crop(hr, 4, off, u) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    quality = 30 + int(u[-2] * 66)  # the final quality draw; the last one decides a clean LR
    expected = torch.from_numpy(jpeg(without, quality)).permute(2, 0, 1).float() / 255
    assert torch.equal(degrade_crop(hr, 4, on, u), expected)


def test_chain_is_a_pure_function_of_seed_and_index() -> None:
    chain = RealisticDegradation()
    pixels = crops(1).expand(6, -1, -1, -1)  # one crop, six indices
    lr = realistic_lr(pixels, 4, chain, seed=1, index=np.arange(6))
    again = realistic_lr(pixels[[0, 0]], 4, chain, seed=1, index=np.array([4, 2]))
    assert torch.equal(again[0], lr[4]) and torch.equal(again[1], lr[2])
    assert len({lr[k].numpy().tobytes() for k in range(6)}) == 6  # a different chain for each index
    other = realistic_lr(pixels[:1], 4, chain, seed=2, index=np.array([4]))
    assert not torch.equal(other[0], lr[4])
    levels = lr * 255
    assert lr.min() >= 0 and lr.max() <= 1 and torch.equal(levels, levels.round())  # 8-bit levels, as decoded


def test_final_jpeg_blocks_lie_on_the_lr_grid() -> None:
    chain = RealisticDegradation(first=OFF, second=OFF, second_prob=0, final_jpeg_prob=1, final_quality=(10, 10),
                                 resize_methods=("area",))
    pixels = torch.from_numpy(detailed(96, 96, 4)).permute(2, 0, 1).float()[None]
    lr = realistic_lr(pixels, 2, chain, seed=0, index=np.arange(1))[0]
    y = rgb_to_y((lr * 255).round().to(torch.uint8).permute(1, 2, 0).numpy())
    steps = np.abs(np.diff(y, axis=1)).mean(axis=0) + np.abs(np.diff(y, axis=0)).mean(axis=1)
    by_phase = [steps[p::8].mean() for p in range(8)]  # phase p: the step from pixel 8k + p to the next
    assert np.argmax(by_phase) == 7  # from the last pixel of a block to the first of the next
    assert by_phase[7] > 1.3 * max(by_phase[:7])


def test_blur_kernels() -> None:
    iso = blur_kernel(9, 1.5, 1.5, 0.3)
    t = np.arange(9) - 4
    g = np.exp(-(t**2) / (2 * 1.5**2))
    np.testing.assert_allclose(iso, np.outer(g, g) / np.outer(g, g).sum(), rtol=0, atol=1e-15)
    wide = blur_kernel(11, 3.0, 0.5, 0.0)  # σ 3 along x (columns), 0.5 along y (rows)
    assert wide.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(blur_kernel(11, 3.0, 0.5, math.pi / 2), wide.T, atol=1e-15)  # turned a quarter
    assert wide[5, 0] > wide[0, 5]
    gauss, flat, heavy = (blur_kernel(15, 3.0, 3.0, 0.0, beta=b) for b in (1.0, 4.0, 0.5))
    assert flat[7, 8] / flat[7, 7] > 0.999 > gauss[7, 8] / gauss[7, 7]  # β > 1: a flat top
    assert heavy[7, 14] / heavy[7, 7] > 0.3 > 0.1 > gauss[7, 14] / gauss[7, 7]  # β < 1: heavy tails


def test_draws() -> None:
    z = normal_draws(7, (200, 200))
    assert z.shape == (200, 200) and abs(z.mean()) < 0.02 and abs(z.std() - 1) < 0.02
    np.testing.assert_array_equal(z, normal_draws(7, (200, 200)))
    for lam in (0.5, 4.0, 25.0, 200.0):  # exact below 30, the rounded normal above
        counts = poisson_draws(np.full((150, 150), lam), seed=3)
        assert (counts == counts.round()).all() and counts.min() >= 0
        assert counts.mean() == pytest.approx(lam, rel=0.03) and counts.var() == pytest.approx(lam, rel=0.06)
    small = poisson_draws(np.full(20000, 2.0), seed=1)
    frequencies = np.bincount(small.astype(int), minlength=5)[:5] / small.size
    expected = [math.exp(-2) * 2**k / math.factorial(k) for k in range(5)]
    np.testing.assert_allclose(frequencies, expected, atol=0.01)


def test_settings_round_trip_through_config_json(tmp_path) -> None:
    (tmp_path / "run.toml").write_text("degradation = 'realistic'\n[realistic]\nsecond_prob = 0.25\n"
                                       "[realistic.second]\njpeg_prob = 0.0\nquality = [40, 60]\n")
    config = build_config({"data": ["photos"]}, load_toml(tmp_path / "run.toml"))
    chain = config.realistic
    assert config.degradation == "realistic" and chain.second_prob == 0.25
    assert chain.second.quality == (40, 60) and chain.second.jpeg_prob == 0
    assert chain.second.sigma == RealisticDegradation().second.sigma  # other keys keep the second pass's defaults
    assert chain.first == DegradationPass()
    saved = json.loads(json.dumps(config.to_dict()))  # what RUN/config.json holds
    assert saved["realistic"]["second"]["quality"] == [40, 60]
    assert build_config({}, None, saved) == config
    with pytest.raises(SrganError, match="cannot change degradation"):
        build_config({"degradation": "bicubic"}, None, saved)
    assert build_config({"data": ["photos"]}).degradation == "bicubic"  # the paper's


@pytest.mark.parametrize(("table", "message"), [
    ({"second_prob": 1.5}, "realistic.second_prob must be a number from 0 to 1, got 1.5"),
    ({"first": {"blur_prob": -0.1}}, r"realistic.first.blur_prob must be a number >= 0, got -0.1"),
    ({"first": {"kernel_size": [6, 21]}}, "realistic.first.kernel_size must hold odd numbers"),
    ({"first": {"sigma": [3.0, 1.0]}}, r"realistic.first.sigma must be \[low, high\] with low <= high"),
    ({"first": {"sigma": [0, 1.0]}}, r"realistic.first.sigma must be a number > 0, got 0"),
    ({"second": {"quality": [30, 101]}}, "realistic.second.quality must hold numbers up to 100"),
    ({"final_quality": 50}, r"realistic.final_quality must be a pair \[low, high\], got 50"),
    ({"resize_methods": ["lanczos"]}, "realistic.resize_methods must be some of area, bilinear, bicubic"),
    ({"first": {"blur": 1}}, r"unknown realistic.first settings \['blur'\]"),
    ({"jpeg": 1}, "unknown realistic degradation setting 'jpeg'"),
])
def test_bad_settings_are_refused_naming_the_key(table: dict, message: str) -> None:
    with pytest.raises(SrganError, match=message):
        build_config({"data": ["photos"], "realistic": table})


def test_clean_patches_get_the_papers_bicubic_lr() -> None:
    """clean_prob = 1: every LR is the one --degradation bicubic makes (MATLAB imresize, uint8 rounding)."""
    from srgan.data.degrade import imresize

    pixels = crops(3)
    lr = realistic_lr(pixels, 4, RealisticDegradation(clean_prob=1), seed=0, index=np.arange(3))
    for k in range(3):
        expected = imresize(pixels[k].permute(1, 2, 0).numpy().astype(np.uint8), 1 / 4)
        np.testing.assert_array_equal((lr[k] * 255).round().byte().permute(1, 2, 0).numpy(), expected)
    some = realistic_lr(crops(40), 4, RealisticDegradation(clean_prob=0.5), seed=0, index=np.arange(40))
    clean = realistic_lr(crops(40), 4, RealisticDegradation(clean_prob=1), seed=0, index=np.arange(40))
    same = sum(torch.equal(a, b) for a, b in zip(some, clean, strict=True))
    assert 10 <= same <= 30


def test_matlab_resize_is_antialiased_bicubic() -> None:
    """The "matlab" method shrinks as MATLAB's imresize does: with every other stage off and a ×1/4 resize, the
    chain gives the paper's LR."""
    chain = RealisticDegradation(first=OFF, second=OFF, second_prob=0, final_jpeg_prob=0, resize_methods=("matlab",))
    pixels = crops(2)
    lr = realistic_lr(pixels, 4, chain, seed=0, index=np.arange(2))
    clean = realistic_lr(pixels, 4, RealisticDegradation(clean_prob=1), seed=0, index=np.arange(2))
    assert (lr - clean).abs().max() <= 1 / 255 + 1e-6  # one level: float32 vs the exact path's rounding
    assert (lr - clean).abs().mean() < 0.1 / 255


# At ×1/4 each naive method weighs the 4 pixels of its block only (the source position is 4j + 1.5): per axis,
# bicubic (a = −0.75) by (W(1.5), W(0.5), W(0.5), W(1.5)), bilinear the middle two, nearest the first (floor(4j)),
# area all four alike.
QUARTER = {"bicubic": [-0.09375, 0.59375, 0.59375, -0.09375], "bilinear": [0, 0.5, 0.5, 0], "nearest": [1, 0, 0, 0],
           "area": [0.25] * 4}


@pytest.mark.parametrize("method", sorted(QUARTER))
def test_naive_resize_methods_shrink_each_block_by_their_taps(method: str) -> None:
    chain = RealisticDegradation(first=OFF, second=OFF, second_prob=0, final_jpeg_prob=0, resize_methods=(method,))
    pixels = crops(2)
    lr = realistic_lr(pixels, 4, chain, seed=0, index=np.arange(2)).double() * 255
    w = torch.tensor(QUARTER[method], dtype=torch.float64)
    blocks = pixels.double().reshape(2, 3, 8, 4, 8, 4)
    expected = torch.einsum("ncaibj,i,j->ncab", blocks, w, w).clamp(0, 255)
    assert (lr - expected).abs().max() <= 0.5 + 1e-3  # rounded to the nearest level (float32 arithmetic)
    assert (lr - lr.round()).abs().max() < 1e-4


def test_each_patch_resizes_by_the_method_its_draw_names() -> None:
    methods = ("area", "bilinear", "bicubic", "nearest", "matlab")
    chain = RealisticDegradation(first=OFF, second=OFF, second_prob=0, final_jpeg_prob=0, resize_methods=methods)
    pixels, index = crops(1).expand(40, -1, -1, -1), np.arange(40)
    lr = realistic_lr(pixels, 4, chain, seed=9, index=index)
    u = uniform_draws(9 ^ (1 << 63), index, N_DRAWS)
    drawn = [methods[int(row[9] * len(methods))] for row in u]  # the first pass's method draw (the only resize)
    assert set(drawn) == set(methods)
    for k, method in enumerate(drawn):
        alone = RealisticDegradation(first=OFF, second=OFF, second_prob=0, final_jpeg_prob=0,
                                     resize_methods=(method,))
        assert torch.equal(lr[k], realistic_lr(pixels[:1], 4, alone, seed=9, index=index[k:k + 1])[0])
    assert len({lr[k].numpy().tobytes() for k in range(40)}) == len(methods)  # one crop: one LR per method
