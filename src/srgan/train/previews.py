"""Preview grids written headlessly with Pillow: one row per fixed validation crop,
columns LR (nearest) | bicubic | SR | HR, PSNR-Y under bicubic and SR."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from srgan.fileio import atomic_write

_LABEL_H = 14
_PAD = 4


def preview_grid(rows: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]],
                 psnrs: list[tuple[float, float]]) -> Image.Image:
    """rows: (lr, bicubic, sr, hr) uint8 RGB HWC, HR-sized except lr; psnrs: (bicubic, sr) dB per row."""
    h, w = rows[0][3].shape[:2]
    cols = 4
    grid = Image.new("RGB", (cols * (w + _PAD) + _PAD, len(rows) * (h + _LABEL_H + _PAD) + _PAD), (24, 24, 24))
    draw = ImageDraw.Draw(grid)
    for r, ((lr, bic, sr, hr), (p_bic, p_sr)) in enumerate(zip(rows, psnrs, strict=True)):
        y = _PAD + r * (h + _LABEL_H + _PAD)
        lr_big = Image.fromarray(lr).resize((w, h), Image.Resampling.NEAREST)
        tiles = [(lr_big, "LR (nearest)"), (Image.fromarray(bic), f"bicubic {p_bic:.2f} dB"),
                 (Image.fromarray(sr), f"SR {p_sr:.2f} dB"), (Image.fromarray(hr), "HR")]
        for c, (img, label) in enumerate(tiles):
            x = _PAD + c * (w + _PAD)
            grid.paste(img, (x, y))
            draw.text((x + 2, y + h + 1), label, fill=(230, 230, 230))
    return grid


def save_preview(grid: Image.Image, path: Path) -> None:
    atomic_write(path, lambda tmp: grid.save(tmp, format="PNG"))
