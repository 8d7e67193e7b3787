"""Content losses, adversarial terms and the collapse watch of the GAN phase."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from srgan import weights
from srgan.cli import main
from srgan.train.losses import (
    CollapseWatch,
    ContentLoss,
    discriminator_loss,
    generator_adversarial_loss,
)

from .conftest import tiny_generator
from .test_train import TINY, records


def test_mse_content_is_pixel_mse() -> None:
    sr, hr = torch.rand(2, 3, 8, 8) * 2 - 1, torch.rand(2, 3, 8, 8) * 2 - 1
    assert ContentLoss("mse")(sr, hr).item() == pytest.approx(F.mse_loss(sr, hr).item(), rel=1e-6)


def test_random_vgg_is_fixed_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(123)
    before = torch.random.get_rng_state()
    a = ContentLoss("vgg54-random")
    assert torch.equal(torch.random.get_rng_state(), before)
    torch.manual_seed(7)  # another process state: the network must not change with it
    b = ContentLoss("vgg54-random")
    for (ka, va), (kb, vb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert ka == kb and torch.equal(va, vb)


def test_random_vgg_content_loss_has_gradient_and_scale() -> None:
    loss = ContentLoss("vgg54-random")
    hr = torch.rand(1, 3, 32, 32) * 2 - 1
    sr = (hr + 0.1 * torch.randn_like(hr)).requires_grad_(True)
    assert loss(hr, hr).item() == 0.0
    value = loss(sr, hr)
    value.backward()
    assert value.item() > 0 and sr.grad is not None and sr.grad.abs().sum() > 0
    assert not any(p.requires_grad for p in loss.parameters())
    # He init keeps deep activations alive: φ5,4 of a random VGG19 is not all zeros.
    assert loss.features(hr).abs().mean() > 1e-3


def test_adversarial_terms_are_the_papers() -> None:
    real, fake = torch.tensor([[2.0], [0.5]]), torch.tensor([[-1.0], [0.3]])
    expected_d = -(torch.log(torch.sigmoid(real)).mean() + torch.log(1 - torch.sigmoid(fake)).mean())
    assert discriminator_loss(real, fake).item() == pytest.approx(expected_d.item(), rel=1e-5)
    assert generator_adversarial_loss(fake).item() == pytest.approx(-torch.log(torch.sigmoid(fake)).mean().item(),
                                                                    rel=1e-5)


def test_collapse_watch_needs_a_run_of_perfect_steps() -> None:
    watch = CollapseWatch(limit=3)
    perfect = (torch.tensor([1.0, 2.0]), torch.tensor([-1.0, -3.0]))
    assert watch.update(*perfect) == (1.0, 1.0)
    watch.update(*perfect)
    assert not watch.collapsed
    assert watch.update(torch.tensor([1.0, -2.0]), torch.tensor([-1.0, 3.0])) == (0.5, 0.5)  # resets the run
    for _ in range(3):
        watch.update(*perfect)
    assert watch.collapsed
    assert not CollapseWatch(limit=0).collapsed


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    rng = np.random.default_rng(0)
    for i in range(3):
        Image.fromarray(rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)).save(d / f"img{i}.png")
    return d


def test_gan_run_logs_discriminator_accuracy(tmp_path: Path, data_dir: Path) -> None:
    init = weights.save(tiny_generator(scale=2, blocks=1, channels=8), tmp_path / "init.safetensors")
    run = tmp_path / "gan"
    assert main(["train", "--phase", "srgan", "--init", str(init), "--content", "vgg54-random", "--out", str(run),
                 "--data", str(data_dir), *TINY, "--steps", "4", "--save-every", "4"]) == 0
    recs = records(run)
    assert len(recs) == 4
    for r in recs:
        assert 0.0 <= r["d_acc_real"] <= 1.0 and 0.0 <= r["d_acc_fake"] <= 1.0
        assert r["g"] == pytest.approx(r["content"] + 1e-3 * r["adv"], rel=1e-5)
    assert weights.read_metadata(run / "generator.safetensors")["training"]["content"] == "vgg54-random"


def test_collapsed_gan_run_stops_with_one_line(tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A discriminator that is always right (forced here) stops the run with a clear message and a checkpoint."""
    from srgan.train import losses

    monkeypatch.setattr(losses.CollapseWatch, "update", lambda self, real, fake: (
        setattr(self, "run", self.run + 1), (1.0, 1.0))[1])
    init = weights.save(tiny_generator(scale=2, blocks=1, channels=8), tmp_path / "init.safetensors")
    run = tmp_path / "gan"
    code = main(["train", "--phase", "srgan", "--init", str(init), "--content", "mse", "--out", str(run),
                 "--data", str(data_dir), *TINY, "--steps", "50", "--collapse-steps", "3", "--save-every", "100"])
    err = capsys.readouterr().err
    assert code == 2
    assert "GAN collapsed" in err and "3 steps in a row (up to step 3)" in err and len(err.strip().splitlines()) == 1
    assert "stopped: GAN collapsed" in (run / "train.log").read_text()
    assert (run / "checkpoints").is_dir() and any((run / "checkpoints").iterdir())


def test_gan_validation_scores_niqe_and_keeps_the_most_natural(tmp_path: Path, data_dir: Path) -> None:
    rng = np.random.default_rng(1)
    val = tmp_path / "val"
    val.mkdir()
    yy, xx = np.mgrid[0:208, 0:208]
    smooth = np.stack([np.sin(xx / 9), np.cos(yy / 7), np.sin((xx + yy) / 11)], -1) * 90 + 128
    Image.fromarray(np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)).save(val / "v.png")
    init = weights.save(tiny_generator(scale=2, blocks=1, channels=8), tmp_path / "init.safetensors")
    run = tmp_path / "gan"
    assert main(["train", "--phase", "srgan", "--init", str(init), "--content", "mse", "--out", str(run),
                 "--data", str(data_dir), "--val", str(val), *TINY, "--steps", "4", "--val-every", "2",
                 "--save-every", "4"]) == 0
    vals = records(run, "val")
    assert [v["step"] for v in vals] == [2, 4]
    assert all(np.isfinite(v["val/niqe"]) and v["val/psnr_y"] > 10 for v in vals)
    best = min(vals, key=lambda v: v["val/niqe"])
    training = weights.read_metadata(run / "generator_best.safetensors")["training"]
    assert training["best_step"] == best["step"]
    assert training["best_val_niqe"] == pytest.approx(best["val/niqe"])
    assert "NIQE" in (run / "train.log").read_text()
