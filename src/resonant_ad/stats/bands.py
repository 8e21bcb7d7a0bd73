"""A cut's efficiency in the SB bands beside the SR: does the SR stand out from its sides?

Shared by the bump hunt (:mod:`~resonant_ad.stats.bumphunt`), the flow diagnostics and the
null study; kept apart from the fit so that a change to the fit reruns only the fits.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def side_bands(mjj: np.ndarray, window: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """The SB events one SR width below and above ``window``: the masks of the two bands."""
    low, high = (float(v) for v in window)
    width = high - low
    return (mjj >= low - width) & (mjj < low), (mjj >= high) & (mjj < high + width)


def sides_ratio(sr: float, below: float, above: float) -> float:
    """A cut's SR efficiency over the larger of its two side bands' (one missing: the other).

    Above 1 only where the SR is a local maximum of the efficiency in mJJ, which no
    efficiency monotonic in mJJ gives and a smooth SB fit cannot follow: a false bump
    (LaCATHODE's on background alone, docs/null-study.md), or signal.
    """
    sides = [e for e in (below, above) if np.isfinite(e)]
    if not sides or not np.isfinite(sr):
        return float("nan")
    return sr / max(sides) if max(sides) > 0 else float("inf")


def band_efficiencies(
    passed: np.ndarray, mjj: np.ndarray, window: Sequence[float]
) -> tuple[float, float]:
    """The fraction of SB events (``passed`` by a cut, at masses ``mjj``) that pass in the
    bands below and above ``window`` (:func:`side_bands`); NaN where a band is empty."""
    below, above = (
        float(passed[band].mean()) if band.any() else float("nan")
        for band in side_bands(mjj, window)
    )
    return below, above
