import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from srgan.models import Generator
from srgan.tiling import (
    EDGE_MARGIN,
    auto_tile,
    core_size,
    reflect_index,
    tile_starts,
    tiles,
    upscale_tensor,
)

from .conftest import tiny_generator


@given(st.integers(1, 500), st.integers(-3, 600))
def test_tile_starts_cover_the_axis_with_equal_cores(length: int, tile: int) -> None:
    starts = tile_starts(length, tile)
    size = core_size(length, tile)
    covered = np.zeros(length, dtype=int)
    for s in starts:
        assert s >= 0 and s + size <= length
        covered[s : s + size] += 1
    assert covered.min() == 1  # every pixel is some core's
    assert starts == sorted(set(starts)) and starts[0] == 0 and starts[-1] + size == length
    if 0 < tile < length:
        assert size == tile and len(starts) == -(-length // tile)  # ceil: the fewest cores that cover
    else:
        assert starts == [0] and size == length


@given(st.integers(2, 40), st.integers(0, 130))
def test_reflect_index_is_numpy_reflect_padding(length: int, pad: int) -> None:
    expected = np.pad(np.arange(length), pad, mode="reflect")
    assert np.array_equal(reflect_index(np.arange(-pad, length + pad), length), expected)


def test_reflect_index_replicates_a_single_pixel() -> None:
    assert np.array_equal(reflect_index(np.arange(-5, 6), 1), np.zeros(11, dtype=int))


def test_tiles_enumerate_images_rows_columns() -> None:
    got = [(t.index, t.y, t.x) for t in tiles(2, 10, 7, (4, 3))]
    assert got == [(i, y, x) for i in range(2) for y in (0, 4, 6) for x in (0, 3, 4)]


def _window_pixels(h: int, w: int, tile: tuple[int, int], overlap: int) -> tuple[int, int]:
    """(total, largest) window pixels of a tiling, counted independently of ``auto_tile``'s helpers."""
    m = min(overlap, EDGE_MARGIN)
    spans = [[(max(a - overlap, -m), min(a + core_size(n, t) + overlap, n + m)) for a in tile_starts(n, t)]
             for n, t in ((h, tile[0]), (w, tile[1]))]
    areas = [(y1 - y0) * (x1 - x0) for y0, y1 in spans[0] for x0, x1 in spans[1]]
    return sum(areas), max(areas)


@pytest.mark.parametrize(("image", "overlap", "max_pixels"),
                         [((97, 131), 12, 40_000), ((97, 131), 12, 6_000), ((300, 50), 20, 9_000),
                          ((768, 1024), 41, 700_000), ((64, 64), 41, 1e9)])
def test_auto_tile_computes_the_fewest_pixels_that_fit(image: tuple[int, int], overlap: int,
                                                       max_pixels: float) -> None:
    """Against brute force over every core shape (multiples of 8 and the whole axis)."""
    per_px, batch = 1000.0, 2
    budget = max_pixels * per_px * batch
    got = auto_tile(per_px, overlap, batch, budget, image)
    total, largest = _window_pixels(*image, got, overlap)
    assert largest <= max_pixels
    shapes = [(th, tw) for th in [*range(8, image[0], 8), image[0]] for tw in [*range(8, image[1], 8), image[1]]]
    best = min(t for t, big in (_window_pixels(*image, s, overlap) for s in shapes) if big <= max_pixels)
    assert total == best
    if _window_pixels(*image, image, overlap)[1] <= max_pixels:
        assert got == image  # the whole image when it fits


def test_auto_tile_never_below_one_multiple() -> None:
    assert auto_tile(1000.0, 40, 1, 1000.0, (100, 100)) == (8, 8)


def _run(net: torch.nn.Module, x: torch.Tensor, tile: int, overlap: int, batch: int = 1) -> torch.Tensor:
    return upscale_tensor(net, x, net.scale, tile, overlap, batch)


@pytest.mark.parametrize("scale", [2, 4])
def test_receptive_radius_bounds_the_influence_of_a_pixel(scale: int) -> None:
    """The premise of exact tiling: changing one LR pixel changes no output farther than the radius."""
    net = tiny_generator(scale=scale, blocks=2)
    x = torch.rand(1, 3, 41, 41)
    y = x.clone()
    y[0, :, 20, 20] += 0.5
    with torch.no_grad():
        diff = (net(y) - net(x)).abs().amax(dim=(0, 1))
    hit = torch.nonzero(diff > 0)
    lr_extent = (hit // scale - 20).abs().max().item()
    assert 0 < lr_extent <= Generator.receptive_radius(net.config)


@pytest.mark.parametrize("scale", [2, 4])
@pytest.mark.parametrize(("tile", "extra_overlap", "batch"),
                         [(16, 0, 1), (23, 3, 3), (50, 0, 2), (130, 1, 1), (20, 9, 2)])
def test_tiled_equals_whole_image(scale: int, tile: int, extra_overlap: int, batch: int) -> None:
    net = tiny_generator(scale=scale, blocks=2)
    overlap = Generator.receptive_radius(net.config) + extra_overlap
    x = torch.rand(2, 3, 97, 131, generator=torch.Generator().manual_seed(1))
    whole = _run(net, x, 0, overlap)
    tiled = _run(net, x, tile, overlap, batch)
    assert tiled.shape == (2, 3, 97 * scale, 131 * scale)
    assert (tiled - whole).abs().max().item() <= 1 / 255


@pytest.mark.parametrize("extra_overlap", [0, 10])
def test_whole_image_is_the_network_on_the_reflect_extended_image(extra_overlap: int) -> None:
    """Independent reference for the border policy: torch's reflect padding, the network, a crop."""
    net = tiny_generator(scale=2, blocks=2)
    overlap = Generator.receptive_radius(net.config) + extra_overlap
    m = min(overlap, EDGE_MARGIN)
    x = torch.rand(1, 3, 37, 29)
    with torch.no_grad():
        ref = net(F.pad(x, (m, m, m, m), mode="reflect"))[:, :, 2 * m : -2 * m, 2 * m : -2 * m]
    ref = ((ref + 1) / 2).clamp(0, 1)
    assert torch.allclose(_run(net, x, 0, overlap), ref, atol=1e-5)


def test_too_little_overlap_shows_seams() -> None:
    """The equality test above can fail: without enough context the tiles disagree at their edges."""
    net = tiny_generator(scale=2, blocks=2)
    x = torch.rand(1, 3, 64, 64)
    assert (_run(net, x, 16, 0) - _run(net, x, 0, 0)).abs().max().item() > 1 / 255


def _period_error(y: torch.Tensor, s: int) -> float:
    """How far ``y`` is from repeating every ``s`` pixels (what SR of a flat image gives: one value per phase)."""
    return max((y[..., s:, :] - y[..., :-s, :]).abs().max().item(), (y[..., s:] - y[..., :-s]).abs().max().item())


def test_constant_image_has_no_border() -> None:
    """Reflected context keeps a flat image flat up to its edges; the network's zero padding would not."""
    net = tiny_generator(scale=2, blocks=2)
    m = Generator.receptive_radius(net.config)
    x = torch.full((1, 3, 30, 45), 0.6)
    for tile in (0, 16):
        assert _period_error(_run(net, x, tile, m), 2) < 1e-5
    with torch.no_grad():
        assert _period_error(net(x), 2) > 1e-2  # what the margin protects against


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (5, 2)])
def test_tiny_images(shape: tuple[int, int]) -> None:
    net = tiny_generator(scale=2, blocks=2)
    m = Generator.receptive_radius(net.config)
    x = torch.rand(1, 3, *shape)
    y = _run(net, x, 0, m)
    assert y.shape == (1, 3, 2 * shape[0], 2 * shape[1])
    assert (_run(net, x, 1, m) - y).abs().max().item() <= 1 / 255


def test_progress_reports_every_batch() -> None:
    """From the start (0 done, so a bar shows the tiles before the first one finishes), then after each batch."""
    net = tiny_generator(scale=2, blocks=1)
    calls: list[tuple[int, int]] = []
    upscale_tensor(net, torch.rand(1, 3, 20, 30), 2, 10, 4, batch=4, progress=lambda d, t: calls.append((d, t)))
    assert calls == [(0, 6), (4, 6), (6, 6)]


def test_rejects_bad_shapes() -> None:
    net = tiny_generator(scale=2, blocks=1)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        upscale_tensor(net, torch.rand(3, 8, 8), 2, 0, 4)
