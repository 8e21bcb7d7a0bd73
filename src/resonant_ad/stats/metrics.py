"""Metrics of an anomaly score: the SIC, selections, and the background sculpting (Eq. 5)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _binary(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(is_signal, scores) as arrays; labels must be 0/1 (or bool) with both classes present,
    scores finite."""
    labels, scores = np.asarray(labels), np.asarray(scores, dtype=np.float64)
    if labels.shape != scores.shape or labels.ndim != 1:
        raise ValueError(
            f"labels {labels.shape} and scores {scores.shape}: need two equal 1-d arrays"
        )
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels must be 0 or 1, got {np.unique(labels)[:5]}")
    if not np.isfinite(scores).all():
        raise ValueError("scores contain NaN or inf")
    signal = labels == 1
    n_s = int(signal.sum())
    if n_s == 0 or n_s == signal.size:
        raise ValueError(f"ROC needs signal and background: got {n_s} signal of {signal.size}")
    return signal, scores


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """False and true positive rates of the cut ``score >= t`` at every distinct score, from
    (0, 0) to (1, 1): sklearn's ``roc_curve(drop_intermediate=False)``, the same arithmetic and
    numbers, without importing sklearn (~1.2 s of every classifier job's start)."""
    signal, scores = _binary(labels, scores)
    order = np.argsort(scores, kind="mergesort")[::-1]  # stable, highest first
    scores, signal = scores[order], signal[order]
    ends = np.r_[np.flatnonzero(np.diff(scores)), scores.size - 1]  # last event of each score
    tps = np.cumsum(signal, dtype=np.float64)[ends]
    fps = 1 + ends - tps
    tps, fps = np.r_[0.0, tps], np.r_[0.0, fps]
    return fps / fps[-1], tps / tps[-1]


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC: the chance that a signal event scores above a background one, ties
    counting half (Mann–Whitney U / (n_s n_b)). The rank sums are exact, so the area is one
    rounding from the true value (sklearn's trapezoids agree to ~1e-15)."""
    signal, scores = _binary(labels, scores)
    n_s, n_b = int(signal.sum()), int((~signal).sum())
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    mean_rank = np.cumsum(counts) - (counts - 1) / 2  # of each distinct score, from 1
    u = mean_rank[inverse][signal].sum() - n_s * (n_s + 1) / 2
    return float(u / (n_s * n_b))


def threshold_at_efficiency(reference_scores: np.ndarray, efficiency: float) -> float:
    """Score threshold that keeps the ``efficiency`` most anomalous reference events.

    With ``k = max(1, round(efficiency · n))``, the threshold is the k-th largest reference
    score, and an event is selected when ``score >= threshold``: exactly ``k`` reference
    events pass when the scores are distinct. The reference is the SR test set; the same
    threshold is then applied everywhere (SR and SB), as in the paper.
    """
    scores = np.asarray(reference_scores, dtype=float)
    if not 0.0 < efficiency <= 1.0:
        raise ValueError(f"efficiency must be in (0, 1], got {efficiency}")
    if scores.size == 0:
        raise ValueError("no reference scores: the signal region holds no test events")
    if not np.all(np.isfinite(scores)):
        raise ValueError("reference scores contain NaN or inf")
    k = max(1, round(efficiency * scores.size))
    return float(np.partition(scores, scores.size - k)[scores.size - k])


def select(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Boolean mask of the events passing ``score >= threshold``."""
    return np.asarray(scores) >= threshold


def equal_population_edges(values: np.ndarray, n_bins: int) -> np.ndarray:
    """Bin edges giving ``n_bins`` bins of (as nearly as possible) equal content.

    The outer edges are the minimum and maximum, so every value falls in a bin
    (``np.histogram`` closes the last bin on the right).
    """
    values = np.asarray(values, dtype=float)
    if n_bins < 2:
        raise ValueError(f"need at least 2 bins, got {n_bins}")
    if values.size < n_bins:
        raise ValueError(f"{values.size} values cannot fill {n_bins} bins")
    edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, n_bins + 1)))
    if edges.size - 1 < n_bins:
        warnings.warn(
            f"tied values: only {edges.size - 1} distinct equal-population bins of {n_bins}",
            stacklevel=2,
        )
    return edges


def sculpting_chi2(
    m_all: np.ndarray, selected: np.ndarray, edges: np.ndarray, efficiency: float
) -> tuple[float, int]:
    """χ² and n_dof of the selected m histogram against the shape before selection (Eq. 5).

    This is the LaCATHODE authors' implementation of Eq. 5 (``chi2`` in their
    ``bkg_sculpting_study.py``): both histograms are normalised to unit area and the variance
    is that of a random selection at the nominal efficiency ε (the cut's efficiency in the
    SR). In counts, with N_i the full and S_i the selected counts per bin, E = ε ΣN the
    selected total expected at ε and O = ΣS the one observed,

        χ² = Σ_i (ε N_i − (E/O) S_i)² / (ε N_i),        n_dof = (bins with N_i > 0) − 1,

    so the selected histogram is scaled to the expected total before the comparison, and a
    random subset gives χ²/n_dof ≈ 1 (1 − ε with binomial rather than Poisson fluctuations).
    Against Pearson's χ² with the observed overall fraction ε_o = O/ΣN as the expectation,
    Σ (S_i − ε_o N_i)² / (ε_o N_i), this is smaller by the factor ε/ε_o: the same for an
    unsculpted cut (ε_o = ε), but a cut that passes more SB than SR events (ε_o > ε, the
    sculpting case) is not inflated further. (The paper prints the variance as a_i² ε N_i,
    which differs from this by ε²; the authors' code, and the ≈ 1 the paper quotes for random
    subsets, use the form above.) Returns ``(nan, n_dof)`` when nothing is selected.
    """
    m_all = np.asarray(m_all, dtype=float)
    selected = np.asarray(selected, dtype=bool)
    if m_all.shape != selected.shape:
        raise ValueError(f"m and selection differ in shape: {m_all.shape} vs {selected.shape}")
    if not 0.0 < efficiency <= 1.0:
        raise ValueError(f"efficiency must be in (0, 1], got {efficiency}")
    full, _ = np.histogram(m_all, bins=edges)
    sel, _ = np.histogram(m_all[selected], bins=edges)
    used = full > 0
    ndof = int(used.sum()) - 1
    if sel.sum() == 0:
        return float("nan"), ndof
    expected = efficiency * full[used]
    observed = (efficiency * full.sum() / sel.sum()) * sel[used]
    chi2 = float(np.sum((expected - observed) ** 2 / expected))
    return chi2, ndof


def sculpting_chi2_ndof(
    m_all: np.ndarray, selected: np.ndarray, edges: np.ndarray, efficiency: float
) -> float:
    """χ²/n_dof of :func:`sculpting_chi2`."""
    chi2, ndof = sculpting_chi2(m_all, selected, edges, efficiency)
    return chi2 / ndof


def random_subset_chi2_ndof(
    m_all: np.ndarray,
    efficiency: float,
    edges: np.ndarray,
    n_subsets: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """χ²/n_dof of ``n_subsets`` random selections of ``efficiency``: the no-sculpting reference."""
    m_all = np.asarray(m_all, dtype=float)
    k = max(1, round(efficiency * m_all.size))
    out = np.empty(n_subsets)
    for i in range(n_subsets):
        mask = np.zeros(m_all.size, dtype=bool)
        mask[rng.choice(m_all.size, size=k, replace=False)] = True
        out[i] = sculpting_chi2_ndof(m_all, mask, edges, efficiency)
    return out


def sic_curve(labels: np.ndarray, scores: np.ndarray, min_background: int) -> pd.DataFrame:
    """ROC points ``eps_b, eps_s`` and ``sic`` where ≥ ``min_background`` background events pass."""
    labels = np.asarray(labels)
    n_b, n_s = int((labels == 0).sum()), int((labels == 1).sum())
    if n_b == 0 or n_s == 0:
        raise ValueError(f"SIC needs signal and background: got {n_s} signal, {n_b} background")
    fpr, tpr = roc_curve(labels, scores)
    keep = fpr * n_b >= min_background
    fpr, tpr = fpr[keep], tpr[keep]
    return pd.DataFrame({"eps_b": fpr, "eps_s": tpr, "sic": tpr / np.sqrt(fpr)})


def sic_on_grid(curve: pd.DataFrame, grid: np.ndarray) -> np.ndarray:
    """The curve's SIC at each εB of ``grid`` (linear in log εB); NaN outside its valid range."""
    eb, sic = curve["eps_b"].to_numpy(), curve["sic"].to_numpy()
    out = np.full(grid.shape, np.nan)
    if eb.size == 0:
        return out
    # the ROC is monotone in εB; at equal εB keep the best εS (the upper envelope)
    order = np.lexsort((-sic, eb))
    eb, sic = eb[order], sic[order]
    first = np.r_[True, np.diff(eb) > 0]
    eb, sic = eb[first], sic[first]
    inside = (grid >= eb[0]) & (grid <= eb[-1])
    out[inside] = np.interp(np.log(grid[inside]), np.log(eb), sic)
    return out


@dataclass(frozen=True)
class SICMetrics:
    """One run's AUC, maximal SIC and SIC at chosen background efficiencies (``sic_at[εB]``)."""

    auc: float
    max_sic: float
    sic_at: dict[float, float]


def sic_metrics(
    labels: np.ndarray, scores: np.ndarray, curve: pd.DataFrame, efficiencies: Sequence[float]
) -> SICMetrics:
    """One run's :class:`SICMetrics` at each εB of ``efficiencies``.

    ``curve`` is the run's :func:`sic_curve`; both studies report their SICs through here.
    """
    at = sic_on_grid(curve, np.asarray(efficiencies, dtype=float))
    return SICMetrics(
        auc=roc_auc(labels, scores),
        max_sic=float(curve["sic"].max()) if len(curve) else float("nan"),
        sic_at={float(eff): float(v) for eff, v in zip(efficiencies, at, strict=True)},
    )
