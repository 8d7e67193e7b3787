"""Data for training and evaluation: MATLAB-bicubic degradation, patch datasets, benchmark pairs."""

from srgan.data.datasets import EvalPairs, PatchDataset, mod_crop
from srgan.data.degrade import imresize

__all__ = ["EvalPairs", "PatchDataset", "imresize", "mod_crop"]
