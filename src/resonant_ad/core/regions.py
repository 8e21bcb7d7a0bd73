"""Signal-region / sideband masks and the seeded train/val/test split."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

SPLITS = ("train", "val", "test")


def in_window(m: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """True where ``low < m < high`` (strict, as the reference SR definition)."""
    low, high = (float(v) for v in window)
    if not low < high:
        raise ValueError(f"window must satisfy low < high, got {list(window)}")
    m = np.asarray(m)
    return (m > low) & (m < high)


def sideband_mask(m: np.ndarray, window: Sequence[float]) -> np.ndarray:
    """True outside the SR window (the complement of :func:`in_window`)."""
    return ~in_window(m, window)


def split_labels(n: int, fractions: Mapping[str, float], rng: np.random.Generator) -> np.ndarray:
    """Assign each of ``n`` events to train/val/test with the given fractions (seeded).

    The counts are exact (``round`` of the cumulative fractions), and the assignment is a
    random permutation, so every event lands in exactly one split.
    """
    fracs = np.array([float(fractions[s]) for s in SPLITS])
    if np.any(fracs < 0) or not np.isclose(fracs.sum(), 1.0, atol=1e-6):
        raise ValueError(f"split fractions must be >= 0 and sum to 1, got {dict(fractions)}")
    bounds = np.round(np.cumsum(fracs) * n).astype(int)
    bounds[-1] = n
    labels = np.empty(n, dtype=object)
    order = rng.permutation(n)
    start = 0
    for name, stop in zip(SPLITS, bounds, strict=True):
        labels[order[start:stop]] = name
        start = stop
    return labels.astype(str)
