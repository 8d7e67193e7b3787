"""Counter-based random numbers: every random number of the data pipeline is a hash of (seed, counter).

A patch, its degradation and an evaluation image's noise are then pure functions of their seed and index: any
subset can be drawn in any order or process, with no generator state to carry, and no library version can change
them (SplitMix64 is fixed arithmetic).
"""

from __future__ import annotations

import numpy as np

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function: a bijective 64-bit hash, good enough to serve as a counter-based RNG."""
    z = z + _GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def uniform_draws(seed: int, index: np.ndarray, count: int) -> np.ndarray:
    """(len(index), count) float64 uniforms in [0, 1) that depend only on (seed, index): item i's random numbers.

    Counter-based (hash of seed and counter), so any subset of items can be drawn in any order or process.
    """
    key = _mix64(np.array([seed], dtype=np.uint64))
    counter = index.astype(np.uint64)[:, None] * np.uint64(count) + np.arange(count, dtype=np.uint64)
    return (_mix64(key + counter) >> np.uint64(11)) * 2.0**-53


def normal_draws(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal float64 samples of ``shape``, a pure function of ``seed`` (Box–Muller on ``uniform_draws``)."""
    u = _field(seed, shape)
    return _box_muller(u[0], u[1])


def poisson_draws(lam: np.ndarray, seed: int) -> np.ndarray:
    """Poisson(``lam``) counts, float64 of lam's shape, a pure function of ``seed``.

    Exact (inverse CDF) where lam < 30; above, the normal N(lam, lam) rounded, which is then close (skewness
    1/√lam < 0.19) and needs no loop over counts in the hundreds. Each sample uses one branch, so both may share a
    sample's uniforms.
    """
    u = _field(seed, lam.shape)
    counts = np.maximum(np.round(lam + np.sqrt(lam) * _box_muller(u[0], u[1])), 0)
    small = lam < _EXACT_BELOW
    rate, target = lam[small], u[0][small]
    k = np.zeros_like(rate)
    term = np.exp(-rate)  # P(X = 0), then P(X = n) in turn
    cdf = term.copy()
    for n in range(1, _MAX_EXACT_COUNT):  # X = the number of n with cdf(n − 1) <= target
        beyond = target >= cdf
        if not beyond.any():
            break
        k += beyond
        term *= rate / n
        cdf += term
    counts[small] = k
    return counts


_EXACT_BELOW = 30.0
_MAX_EXACT_COUNT = 120  # P(X >= 120) < 1e-30 for lam < 30; also ends the loop where rounding keeps cdf below 1


def _field(seed: int, shape: tuple[int, ...]) -> np.ndarray:
    """(2, *shape) uniforms of ``seed``: two per sample."""
    n = int(np.prod(shape))
    return uniform_draws(seed, np.zeros(1, dtype=np.int64), 2 * n).reshape(2, *shape)


def _box_muller(u1: np.ndarray, u2: np.ndarray) -> np.ndarray:
    return np.sqrt(-2 * np.log1p(-u1)) * np.cos(2 * np.pi * u2)
