import pytest
import torch

from srgan.models import Discriminator, Generator


def n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_paper_generator_parameter_count() -> None:
    assert n_params(Generator()) == 1_550_659


@pytest.mark.parametrize(("scale", "expected"), [(2, 1_550_659 - 147_776), (4, 1_550_659), (8, 1_550_659 + 147_776)])
def test_generator_scales(scale: int, expected: int) -> None:
    g = Generator(scale=scale).eval()
    assert n_params(g) == expected  # one upsampling block (conv 64→256 + PReLU) per factor of two
    with torch.no_grad():
        y = g(torch.rand(2, 3, 11, 7))
    assert y.shape == (2, 3, 11 * scale, 7 * scale)


def test_generator_rejects_bad_scale() -> None:
    with pytest.raises(ValueError, match="scale must be 2, 4 or 8"):
        Generator(scale=3)


def test_receptive_radius_bounds_influence() -> None:
    """A pixel change at LR (x) must not affect output pixels farther than the radius from s·x."""
    g = Generator(scale=2, blocks=2, channels=8).eval()
    r = Generator.receptive_radius(g.config)
    assert r == 4 + 4 + 1 + 1 + 2  # head, 2 blocks, body tail, one upsampling conv, 9×9 tail at ×2
    x = torch.rand(1, 3, 64, 64)
    x2 = x.clone()
    x2[..., 32, 32] += 1
    with torch.no_grad():
        diff = (g(x) - g(x2)).abs().sum(dim=(0, 1))
    rows, cols = torch.nonzero(diff > 0, as_tuple=True)
    reach = max((rows - 64).abs().max().item(), (cols - 64).abs().max().item())
    assert 0 < reach <= 2 * r + 1


@pytest.mark.parametrize("patch", [96, 128])
def test_discriminator_logits(patch: int) -> None:
    d = Discriminator(patch)
    convs = [m for m in d.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 8
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]
    assert [c.out_channels for c in convs] == [64, 64, 128, 128, 256, 256, 512, 512]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in d.modules()) == 7
    y = d(torch.rand(3, 3, patch, patch) * 2 - 1)
    assert y.shape == (3, 1)


def test_discriminator_patch_checks() -> None:
    with pytest.raises(ValueError, match="multiple of 16"):
        Discriminator(100)
    with pytest.raises(ValueError, match="expected 96"):
        Discriminator(96)(torch.rand(1, 3, 64, 64))
