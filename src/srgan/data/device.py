"""Training patches made where the network runs: every image held in the device's memory as uint8.

Why: at batch 16 a lent H200 trained about 1,050 patches/s while it waited for DataLoader workers and kernel
launches; a large batch needs patches far faster than CPU workers cut, turn and shrink them. Here one gather kernel
cuts a whole batch (crop, mirror and quarter turns folded into the gather's index), and the MATLAB-bicubic shrink is
two matrix products on the device.

Item ``i`` is exactly ``PatchDataset``'s item ``i`` (same image, corner and symmetry from ``PatchDataset.draw``, the
same ``imresize_uint8``), so a run may switch between the two loaders, resume across them, and the tests hold them
equal. Only the paper's bicubic degradation is made here; the realistic chain (JPEG) stays on CPU workers.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from srgan.data.datasets import PatchDataset, apply_symmetry
from srgan.data.degrade import imresize_uint8


def symmetry_grids(patch: int) -> torch.Tensor:
    """(8, 2, patch, patch) int64: for symmetry s, the crop row and column that each output pixel comes from.

    Made by applying ``apply_symmetry`` itself to grids of row and column numbers, so the gather cannot disagree
    with the CPU path's mirror and turns."""
    rows, cols = np.mgrid[0:patch, 0:patch]
    grids = [np.stack([apply_symmetry(rows, s), apply_symmetry(cols, s)]) for s in range(8)]
    return torch.from_numpy(np.ascontiguousarray(np.stack(grids))).long()


class DevicePatches:
    """A ``PatchDataset``'s images packed into one flat uint8 tensor on ``device``; batches of its items made there.

    Memory: every usable image's H·W·3 bytes once (1,177 photos of about 0.2–2.5 MP: about 0.7 GB).
    """

    def __init__(self, dataset: PatchDataset, device: torch.device) -> None:
        if dataset.degradation is not None:
            raise ValueError("patches made on the device use the bicubic degradation only")
        self.dataset, self.device = dataset, device
        sizes = [dataset.image(k).shape[:2] for k in range(len(dataset.sources))]
        lengths = np.array([h * w * 3 for h, w in sizes], dtype=np.int64)
        self._offsets = torch.from_numpy(np.concatenate([[0], np.cumsum(lengths)[:-1]])).to(device)
        self._widths = torch.tensor([w for _, w in sizes], dtype=torch.int64, device=device)
        self.pixels = torch.empty(int(lengths.sum()), dtype=torch.uint8, device=device)
        for k, (start, n) in enumerate(zip(self._offsets.tolist(), lengths.tolist(), strict=True)):
            # a copy: the memory map is read-only
            self.pixels[start:start + n] = torch.from_numpy(np.array(dataset.image(k)).reshape(-1))
        self._grids = symmetry_grids(dataset.patch).to(device)
        self._channel = torch.arange(3, device=device).view(1, 3, 1, 1)

    def items(self, index: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Items ``index`` as a batch: ``lr`` float32 (N, 3, p/s, p/s) in [0, 1], ``hr`` float32 (N, 3, p, p) in
        [−1, 1], on the device; equal to stacking ``PatchDataset`` items ``index``."""
        image, y, x, sym = (torch.from_numpy(a).to(self.device, non_blocking=True)
                            for a in self.dataset.draw(np.asarray(index, dtype=np.int64).reshape(-1)))
        grid = self._grids[sym]  # (N, 2, p, p): crop row, crop column of each output pixel
        rows = (y.view(-1, 1, 1) + grid[:, 0]).unsqueeze(1)
        cols = (x.view(-1, 1, 1) + grid[:, 1]).unsqueeze(1)
        flat = (self._offsets[image].view(-1, 1, 1, 1) + (rows * self._widths[image].view(-1, 1, 1, 1) + cols) * 3
                + self._channel)
        pixels = self.pixels[flat].float()
        lr = imresize_uint8(pixels, 1 / self.dataset.scale).div_(255)
        return lr, pixels.div_(127.5).sub_(1)

    def batches(self, indices: Iterator[int], batch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        """Consecutive batches of ``batch`` items from an index stream (a ``StepSampler``), as a DataLoader would
        give them."""
        while True:
            index = np.fromiter(indices, dtype=np.int64, count=batch)
            yield self.items(index)
