"""Training patches and evaluation pairs made from image folders.

``PatchDataset`` item ``i`` is a pure function of ``(seed, i)``: the image, crop position and augmentation come from
a hash of exactly that pair (``uniform_draws``, a counter-based generator) and nothing else — no epoch counter, no
worker id. Any sampler
(shuffling, DistributedSampler, a trainer's step-indexed sampler) therefore sees the same patch for the same index
in any process, with any number of workers, and a resumed run continues exactly.

Images are decoded once into the memory-mapped store of ``srgan.data.cache`` (see there for why); a dataset keeps
only entry paths and sizes, opening the maps lazily in whichever process reads them, so it pickles cheaply into
DataLoader workers. Folders are searched and files decoded as by every other command (``srgan.images``: one
extension list, hidden files left out, the same pixels ``srgan upscale`` sees). Files that cannot be used (broken
links, undecodable, or smaller than the crop) are skipped: each gets one ``warnings.warn`` naming the file, and
``skipped`` lists (file, reason) pairs.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from srgan.data.cache import decode_cached, default_cache_dir, open_entry
from srgan.data.degrade import imresize, imresize_uint8
from srgan.data.draws import uniform_draws
from srgan.data.realistic import RealisticDegradation, realistic_lr
from srgan.errors import SrganError
from srgan.images import read_rgb8, scan_folder

PATCHES_PER_IMAGE = 1000  # default virtual length per usable image
_MAX_OPEN_MAPS = 256  # each open memory map holds a file descriptor; stay well below the usual limit of 1024


def _skip(skipped: list[tuple[str, str]], path: Path, reason: str) -> None:
    skipped.append((str(path), reason))
    warnings.warn(f"{path}: skipped ({reason})", stacklevel=3)


class PatchDataset(Dataset):
    """Random HR crops and their LR versions, for training.

    Item ``i`` (0 ≤ i < len) is ``(lr, hr)``: ``lr`` float32 (3, patch/scale, patch/scale) in [0, 1], ``hr`` float32
    (3, patch, patch) in [−1, 1] (the generator's output range). The LR is ``imresize(hr_uint8, 1/scale)`` rounded
    to uint8, exactly as evaluation LR images are made (the paper's degradation), or, with ``degradation``, that
    random chain (``srgan.data.realistic``) applied to the same crop; the HR target is the clean crop either way.
    ``length`` is a virtual epoch length (default 1000 × number of usable images); images are chosen uniformly.
    """

    def __init__(self, folders: Sequence[str | Path], patch: int = 96, scale: int = 4, length: int | None = None,
                 seed: int = 0, augment: bool = True, cache_dir: Path | None = None,
                 degradation: RealisticDegradation | None = None) -> None:
        if patch <= 0 or scale <= 0 or patch % scale:
            raise SrganError(f"the patch size ({patch}) must be a positive multiple of the scale ({scale})")
        if seed < 0:
            raise SrganError(f"the seed must be non-negative, got {seed}")
        if length is not None and length <= 0:
            raise SrganError(f"the dataset length must be positive, got {length}")
        cache_dir = default_cache_dir() if cache_dir is None else Path(cache_dir)
        self.patch, self.scale, self.seed, self.augment = patch, scale, seed, augment
        self.degradation = degradation
        self.skipped: list[tuple[str, str]] = []
        self.sources: list[Path] = []
        self._entries: list[Path] = []
        sizes: list[tuple[int, int]] = []
        for folder in folders:
            files, unusable = scan_folder(folder)
            for path, reason in unusable:
                _skip(self.skipped, path, reason)
            for path in files:
                try:
                    entry, (h, w) = decode_cached(path, cache_dir)
                except SrganError as e:
                    _skip(self.skipped, path, e.problem)
                    continue
                if h < patch or w < patch:
                    _skip(self.skipped, path, f"{w}×{h} is smaller than the {patch}×{patch} crop")
                    continue
                self.sources.append(path)
                self._entries.append(entry)
                sizes.append((h, w))
        if not self._entries:
            raise SrganError(f"no usable training images in {', '.join(map(str, folders))} "
                             f"({len(self.skipped)} skipped)")
        self.length = PATCHES_PER_IMAGE * len(self._entries) if length is None else length
        self._sizes = np.array(sizes, dtype=np.int64)  # (n, 2): H, W
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()

    def __len__(self) -> int:
        return self.length

    def __getstate__(self) -> dict[str, Any]:
        # Memory maps would pickle as full copies; each worker reopens its own.
        return self.__dict__ | {"_maps": OrderedDict()}

    def image(self, k: int) -> np.ndarray:
        """Usable image ``k`` (H, W, 3) uint8, from its memory map (opened once per process, at most 256 open)."""
        img = self._maps.get(k)
        if img is None:
            img = self._maps[k] = open_entry(self._entries[k])
            if len(self._maps) > _MAX_OPEN_MAPS:
                self._maps.popitem(last=False)
        else:
            self._maps.move_to_end(k)
        return img

    def draw(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Items ``index``'s image numbers, crop corners (y, x) and symmetries (0–7, see ``apply_symmetry``): int64
        arrays of ``index``'s length, a pure function of (seed, index). Every loader of these items (this dataset,
        ``srgan.data.device``) crops by them, so all see the same patches."""
        p = self.patch
        u = uniform_draws(self.seed, index, 4)
        image = (u[:, 0] * len(self._entries)).astype(np.int64)
        size = self._sizes[image]
        y = (u[:, 1] * (size[:, 0] - p + 1)).astype(np.int64)
        x = (u[:, 2] * (size[:, 1] - p + 1)).astype(np.int64)
        sym = (u[:, 3] * 8).astype(np.int64) if self.augment else np.zeros(len(index), dtype=np.int64)
        return image, y, x, sym

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.__getitems__([i])[0]

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Items ``indices`` made together (DataLoader calls this per batch): one matrix product resizes them all."""
        index = np.asarray(indices, dtype=np.int64).reshape(-1)
        bad = index[(index < 0) | (index >= self.length)]
        if bad.size:
            raise IndexError(f"index {bad[0]} out of range for a dataset of length {self.length}")
        p, n = self.patch, len(index)
        image, y, x, sym = self.draw(index)
        crops = np.empty((n, 3, p, p), dtype=np.uint8)
        for b in range(n):
            crops[b] = apply_symmetry(self.image(image[b])[y[b]:y[b] + p, x[b]:x[b] + p].transpose(2, 0, 1), sym[b])
        # Torch rather than numpy for the arithmetic: DataLoader workers run torch single-threaded, whereas numpy's
        # BLAS would start its own threads in every worker.
        pixels = torch.from_numpy(crops).to(torch.float32)
        if self.degradation is None:
            lr = imresize_uint8(pixels, 1 / self.scale).div_(255)
        else:
            lr = realistic_lr(pixels, self.scale, self.degradation, self.seed, index)
        hr = pixels.div_(127.5).sub_(1)
        return list(zip(lr.unbind(), hr.unbind(), strict=True))


def apply_symmetry(crop: np.ndarray, sym: int) -> np.ndarray:
    """Symmetry ``sym`` (0–7) of the square applied to a (..., H, W) crop: bit 2 mirrors left-right, then bits 0–1
    count quarter turns (counter-clockwise, as ``np.rot90``). The augmentation of training patches."""
    return np.rot90(crop[..., ::-1] if sym & 4 else crop, sym & 3, axes=(-2, -1))


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """Crop the bottom/right edges so both sides are multiples of ``scale`` (the benchmark protocol)."""
    h, w = img.shape[:2]
    return img[:h - h % scale, :w - w % scale]


class EvalPairs(Sequence[tuple[str, np.ndarray, np.ndarray]]):
    """(name, hr, lr) per image of ``hr_dir``, in sorted order: the benchmark protocol's inputs.

    ``hr`` is the HR image mod-cropped to ``scale``, (H, W, 3) uint8; ``lr`` is (H/scale, W/scale, 3) uint8, made
    with ``imresize(hr, 1/scale)`` or read from ``lr_dir`` (matched by file stem, also ``<stem>x<scale>``, as in
    DIV2K). ``name`` is the path relative to ``hr_dir``. Undecodable or too-small HR files are skipped with a
    warning and listed in ``skipped``; a bad or mismatched LR file is an error, since the pair is then unusable.
    """

    def __init__(self, hr_dir: str | Path, scale: int, lr_dir: str | Path | None = None) -> None:
        if scale <= 0:
            raise SrganError(f"the scale must be positive, got {scale}")
        self.hr_dir, self.scale = Path(hr_dir), scale
        self.lr_dir = None if lr_dir is None else Path(lr_dir)
        self.skipped: list[tuple[str, str]] = []
        self.files, unusable = scan_folder(self.hr_dir)
        for path, reason in unusable:
            _skip(self.skipped, path, reason)
        self._lr_files = {} if self.lr_dir is None else {p.stem: p for p in scan_folder(self.lr_dir)[0]}
        if not self.files:
            raise SrganError("no images found", self.hr_dir)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> tuple[str, np.ndarray, np.ndarray]:  # type: ignore[override]
        """Raises SrganError for an unusable file (iteration skips such files instead)."""
        path = self.files[i]
        hr = mod_crop(read_rgb8(path), self.scale)
        if hr.shape[0] == 0 or hr.shape[1] == 0:
            raise SrganError(f"smaller than the scale ({self.scale})", path)
        name = path.relative_to(self.hr_dir).as_posix()
        if self.lr_dir is None:
            return name, hr, imresize(hr, 1 / self.scale)
        lr_path = self._lr_files.get(path.stem) or self._lr_files.get(f"{path.stem}x{self.scale}")
        if lr_path is None:
            raise SrganError(f"no LR image for {name} (looked for {path.stem}.* and {path.stem}x{self.scale}.*)",
                             self.lr_dir)
        lr = read_rgb8(lr_path)
        want = (hr.shape[0] // self.scale, hr.shape[1] // self.scale)
        if lr.shape[:2] != want:
            raise SrganError(f"LR size {lr.shape[1]}×{lr.shape[0]} does not match HR {name} "
                             f"({want[1]}×{want[0]} expected at ×{self.scale})", lr_path)
        return name, hr, lr

    def __iter__(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """Every usable pair; HR files that cannot be decoded are skipped with a warning naming the file."""
        for i, path in enumerate(self.files):
            try:
                yield self[i]
            except SrganError as e:
                if e.path != str(path):
                    raise
                _skip(self.skipped, path, e.problem)
