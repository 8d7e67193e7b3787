"""Make the small trained ×4 model and the two test photos under tests/data/ (used by tests/test_fast.py).

The precision test needs a network trained on real photos (random weights give flat, meaningless output), small
enough to run in bf16 on any CPU in a second. This trains one with ``srgan train`` (MSE, 4 blocks, 32 channels, 600
steps: it reconstructs the image, though not yet better than bicubic) on the project's training folder and crops
two held-out CC0 photos (scikit-image's chelsea and coffee, see data/SOURCES.tsv) from the validation folder.

Usage: python scripts/make_tiny_model.py [DATA_DIR]   (DATA_DIR from scripts/prepare_data.py; default: data)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from PIL import Image

from srgan import weights
from srgan.train.runfolder import RunFolder

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "tests" / "data"
PHOTOS = ("chelsea.png", "coffee.png")  # CC0, held out from training
CROP = 192
TRAIN = ["--phase", "srresnet", "--scale", "4", "--blocks", "4", "--channels", "32", "--batch", "16", "--patch", "64",
         "--lr", "1e-3", "--steps", "600", "--milestones", "450", "--gamma", "0.25", "--seed", "0",
         "--precision", "fp32", "--workers", "1", "--save-every", "100000", "--log-every", "100",
         "--preview-every", "100000", "--val-every", "100000"]


def main() -> None:
    data = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "data")
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as run:
        srgan = Path(sys.executable).parent / "srgan"
        subprocess.run([str(srgan), "train", "--data", str(data / "train"), "--out", run, *TRAIN], check=True)
        model = weights.load(RunFolder(Path(run)).generator)
    weights.save(model, OUT / "tiny_x4.safetensors", dtype=torch.float16, source="scripts/make_tiny_model.py")
    for name in PHOTOS:
        img = Image.open(data / "val" / name).convert("RGB")
        left, top = (img.width - CROP) // 2, (img.height - CROP) // 2
        img.crop((left, top, left + CROP, top + CROP)).save(OUT / name)


if __name__ == "__main__":
    main()
