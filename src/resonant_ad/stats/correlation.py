"""Correlations over a handful of runs, read with the caution ten runs call for.

An analysis has ten runs at the paper's scale, so a correlation of a run's metric with its
flow's diagnostic is loose (:func:`fisher_interval`), its metrics are skewed (χ²/ndof spans
1 to 100), and the run table computes dozens of them at once. Each correlation therefore
gets a permutation p-value, which assumes no distribution (:func:`permutation_pvalue`: the
pairs' order shuffled, exact by enumeration for a few runs), and a family of them gets
Benjamini–Hochberg q-values (:func:`benjamini_hochberg`): the smallest expected share of
false findings at which a correlation counts as found, among all the family's (and
Benjamini–Yekutieli's, which hold under any dependence between the family's tests).
"""

from __future__ import annotations

import itertools
import math
from statistics import NormalDist

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import rankdata

#: the coverage of each correlation's interval
CONFIDENCE = 0.95
#: the variance of Fisher's z of Spearman's ρ, times (runs − 3): 1.06 (Fieller, Hartley and
#: Pearson 1957), where Pearson's r of normal pairs has 1
SPEARMAN_Z_VARIANCE = 1.06
#: orders of the pairs behind a permutation p-value: all n! of them where that is at most
#: this many (n ≤ 8), else this many seeded draws (p resolved to ~1/this)
PERMUTATIONS = 50_000
#: |r| of a permuted order that equals the observed one up to this counts as reaching it
#: (ties of a rank correlation are exact in value, not in float arithmetic)
_TIE = 1e-10


def pearson(a: ArrayLike, b: ArrayLike) -> float:
    """Pearson's r, NaN where either side does not vary."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def ranks(a: ArrayLike) -> np.ndarray:
    """Ranks from 1, ties given their mean rank (Spearman's ρ is Pearson's r of these)."""
    return rankdata(np.asarray(a, dtype=np.float64), method="average")


def fisher_interval(
    corr: float, runs: int, z_variance: float = 1.0, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The ``confidence`` interval of a correlation ``corr`` over ``runs`` pairs from Fisher's
    z = atanh(corr), about normal with variance ``z_variance``/(runs − 3): ten runs pin a
    correlation down only loosely (ρ = 0.64 spans about 0 to 0.9 at 95%). NaN where ``corr``
    is NaN or runs ≤ 3; (±1, ±1) where ``corr`` is ±1."""
    if not np.isfinite(corr) or runs <= 3:
        return float("nan"), float("nan")
    half = NormalDist().inv_cdf(0.5 + confidence / 2) * np.sqrt(z_variance / (runs - 3))
    with np.errstate(divide="ignore"):
        z = np.arctanh(np.clip(corr, -1.0, 1.0))
    return float(np.tanh(z - half)), float(np.tanh(z + half))


def null_orders(n: int, seed: int, count: int = PERMUTATIONS) -> np.ndarray:
    """Orders of n pairs, (orders, n) indices: every permutation where n! ≤ ``count`` (the
    first is the identity), else ``count`` permutations drawn by a generator seeded from
    ``seed`` and n, so that a p-value depends on its own runs only."""
    if math.factorial(n) <= count:
        return np.array(list(itertools.permutations(range(n))), dtype=np.intp).reshape(-1, n)
    rng = np.random.default_rng([int(seed), int(n)])
    return rng.permuted(np.tile(np.arange(n, dtype=np.intp), (count, 1)), axis=1)


def permutation_pvalue(x: ArrayLike, y: ArrayLike, orders: np.ndarray) -> float:
    """Two-sided p-value of Pearson's r of (x, y) (of ranks: Spearman's ρ) against y's
    values in every other order: the share of ``orders`` (:func:`null_orders`) whose |r|
    reaches the observed one. Exact over all n! orders; over drawn ones (1 + k)/(1 + N), which
    never reads 0. It assumes no distribution, only that without a relation every order of
    the pairs is as likely. NaN where either side does not vary."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    xc, yc = x - x.mean(), y - y.mean()
    norm = float(np.sqrt((xc @ xc) * (yc @ yc)))
    if norm == 0.0 or not np.isfinite(norm):
        return float("nan")
    observed = abs(float(xc @ yc)) / norm
    reached = np.count_nonzero(np.abs(yc[orders] @ xc) / norm >= observed - _TIE)
    if len(orders) == math.factorial(len(x)):
        return reached / len(orders)
    return (1 + reached) / (1 + len(orders))


def benjamini_hochberg(p: ArrayLike, any_dependence: bool = False) -> np.ndarray:
    """Benjamini–Hochberg q-values of a family of p-values (NaN ones are not in the family
    and stay NaN): calling every test with q ≤ α real keeps the expected share of false ones
    among them at α or below, for independent or positively dependent tests. With
    ``any_dependence``, Benjamini–Yekutieli's: times Σ 1/i over the family's m tests (4.6 for
    54), which holds whatever the dependence (a run table's tests share their runs)."""
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    finite = np.isfinite(p)
    m = int(finite.sum())
    if m == 0:
        return q
    order = np.argsort(p[finite], kind="stable")
    scaled = p[finite][order] * m / np.arange(1, m + 1)
    smallest_after = np.minimum.accumulate(scaled[::-1])[::-1]
    if any_dependence:
        smallest_after = smallest_after * np.sum(1.0 / np.arange(1, m + 1))
    values = np.empty(m)
    values[order] = np.minimum(smallest_after, 1.0)
    q[finite] = values
    return q
