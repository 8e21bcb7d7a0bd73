"""The look-elsewhere effect of an SR window scan: how large a local Z the scan finds by chance.

A scan tests every window × efficiency, and the largest local Z among those tests has a null
distribution that their correlations shape: the nested cuts of one window share their events
(strongly correlated tests), while the windows use other classifiers and other SR bins
(weakly correlated). :func:`pseudo_scan_max_z` draws pseudo-scans from the background-only
SB fits of the scan itself:

- in each window the loosest cut's mJJ histogram is Poisson(fit); each tighter cut's is drawn
  from the looser one by binomial thinning, p = fit_tight / fit_loose per bin: nested as the
  cuts are, with the classifier keeping events independently of mJJ under the null (no
  sculpting, what the χ²/ndof metric checks);
- the windows are drawn independently, which over-counts the trials where windows overlap,
  so the global Z is conservative (too low) there;
- the toys are drawn from the fitted function, so they carry no fit-function bias: the null
  study's no-cut control measures that separately.

:func:`global_from_toys` turns the pseudo-scans' largest Z into a global p-value: the fraction
of pseudo-scans that reach the observed Z while enough do, beyond that an extrapolation with
the effective number of independent tests fitted to the toys, P(max Z ≥ u) = 1 − Φ(u)^N_eff
(its maximum-likelihood N_eff is closed-form).

A null study (background-only datasets, each with one or several runs) calibrates a local Z
the other way: :func:`null_prediction` says what it predicts for one new draw, and
:func:`null_calibrated_z` reads a Z against that prediction.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
from scipy import special
from threadpoolctl import threadpool_limits

from resonant_ad.core.seeding import rng
from resonant_ad.stats.bumphunt import bump_hunt, fit_function, function_name

log = logging.getLogger(__name__)

#: fewer pseudo-scans than this beyond the observed Z: the N_eff extrapolation is used
MIN_TOYS_BEYOND = 10


def pseudo_scan_max_z(
    windows: Sequence[tuple[Sequence[float], pd.DataFrame]],
    params: Mapping[str, Any],
    n_toys: int,
    seed: int,
) -> np.ndarray:
    """The largest local Z of each of ``n_toys`` background-only pseudo-scans.

    ``windows``: per SR window of the scan, the window and its bump hunt's ``bins`` table
    (``efficiency``, ``low``, ``high``, ``fit``: the SB fit's expectation in every bin);
    cuts whose fit failed are left out, as in the observed scan. ``params``: the study's
    ``bumphunt`` settings (``sqrt_s``, ``function``, ``f_test_alpha``): each pseudo-cut is
    fitted as the observed ones are, its number of parameters chosen again with ``auto``.
    """
    g = rng(seed, "pseudo-scans")
    function_name(params)
    best = np.full(n_toys, -np.inf)
    fits = failed = 0
    fit_log = logging.getLogger(bump_hunt.__module__)  # one line at the end, not one per fit
    level = fit_log.level
    fit_log.setLevel(logging.ERROR)
    try:
        for window, bins in windows:
            tried, lost = _pseudo_window(g, window, bins, params, best)
            fits, failed = fits + tried, failed + lost
    finally:
        fit_log.setLevel(level)
    log.info(
        "%d pseudo-scans: %d fits, %d without a fit (too few filled SB bins)", n_toys, fits, failed
    )
    best[~np.isfinite(best)] = np.nan
    return best


#: one scan of :func:`pseudo_scans_max_z`: its windows (as :func:`pseudo_scan_max_z` takes
#: them) and its pseudo-scans' seed
Scan = tuple[Sequence[tuple[Sequence[float], pd.DataFrame]], int]


def pseudo_scans_max_z(
    scans: Sequence[Scan], params: Mapping[str, Any], n_toys: int, workers: int = 1
) -> list[np.ndarray]:
    """:func:`pseudo_scan_max_z` of each (windows, seed) of ``scans`` (a method's run each),
    in up to ``workers`` processes. Each scan is drawn and fitted whole in one process, BLAS
    on one thread, so the numbers do not depend on ``workers``: a job's threads only make
    it faster (a scan's fits are Python-bound, one core each)."""
    if workers <= 1 or len(scans) <= 1:
        return [_one_scan(scan, params, n_toys) for scan in scans]
    fork = multiprocessing.get_context("fork")  # the job's logging carries over
    with ProcessPoolExecutor(min(workers, len(scans)), mp_context=fork) as pool:
        rest = itertools.repeat(params), itertools.repeat(n_toys)
        return list(pool.map(_one_scan, scans, *rest))


def _one_scan(scan: Scan, params: Mapping[str, Any], n_toys: int) -> np.ndarray:
    """One scan's pseudo-scans (:func:`pseudo_scans_max_z`), BLAS on one thread."""
    windows, seed = scan
    with threadpool_limits(1):
        return pseudo_scan_max_z(windows, params, n_toys, seed)


def _pseudo_window(
    g: np.random.Generator,
    window: Sequence[float],
    bins: pd.DataFrame,
    params: Mapping[str, Any],
    best: np.ndarray,
) -> tuple[int, int]:
    """One window's cuts in every pseudo-scan: ``best`` (per pseudo-scan) is raised to the
    largest Z found; returns the fits tried and those that failed."""
    tried = lost = 0
    effs = sorted(bins["efficiency"].unique(), reverse=True)
    fits = [bins[bins["efficiency"] == e] for e in effs]
    fits = [f for f in fits if np.isfinite(f["fit"]).all()]
    if not fits:
        return tried, lost
    edges = np.r_[fits[0]["low"].to_numpy(), fits[0]["high"].to_numpy()[-1]]
    expected = [f["fit"].to_numpy(dtype=float) for f in fits]
    keep = [np.ones_like(expected[0])] + [  # the share of the looser cut each bin keeps
        np.clip(tight / np.maximum(loose, 1e-300), 0.0, 1.0)
        for loose, tight in itertools.pairwise(expected)
    ]
    for t in range(best.size):
        counts = g.poisson(expected[0])
        for j, p in enumerate(keep):
            if j:
                counts = g.binomial(counts, p)
            with np.errstate(over="ignore", invalid="ignore"):
                n_params, _, fit = fit_function(counts, edges, window, params)
                sqrt_s = float(params["sqrt_s"])
                res = bump_hunt(counts, edges, window, sqrt_s, n_params, False, sb_fit=fit)
                z = res["z_local"]
            tried += 1
            if np.isfinite(z):
                best[t] = max(best[t], z)
            else:
                lost += 1
    return tried, lost


def effective_trials(toy_max_z: np.ndarray) -> float:
    """N_eff of P(max Z ≤ u) = Φ(u)^N_eff fitted to pseudo-scans (maximum likelihood:
    N_eff = −n / Σ ln Φ(u_i))."""
    z = np.asarray(toy_max_z, dtype=float)
    z = z[np.isfinite(z)]
    if not z.size:
        return float("nan")
    return float(-z.size / special.log_ndtr(z).sum())


def global_from_toys(z_obs: float, toy_max_z: np.ndarray) -> dict[str, float]:
    """Global p-value and Z of the observed largest local Z ``z_obs`` against the
    pseudo-scans: ``p_global`` (the toys' fraction at or beyond ``z_obs`` when at least
    :data:`MIN_TOYS_BEYOND` reach it, else 1 − Φ(z_obs)^N_eff), ``z_global``, ``n_eff``,
    ``toys`` and ``toys_beyond``."""
    z = np.asarray(toy_max_z, dtype=float)
    z = z[np.isfinite(z)]
    n_eff = effective_trials(z)
    out = {"toys": int(z.size), "n_eff": n_eff, "toys_beyond": float("nan")}
    if not z.size or not np.isfinite(z_obs):
        return out | {"p_global": float("nan"), "z_global": float("nan")}
    beyond = int((z >= z_obs).sum())
    if beyond >= MIN_TOYS_BEYOND:
        p = beyond / z.size
    else:  # 1 − Φ^N, computed without cancellation for small tail probabilities
        p = float(-np.expm1(n_eff * special.log_ndtr(z_obs)))
    return out | {"toys_beyond": beyond, "p_global": p, "z_global": float(-special.ndtri(p))}


#: what :func:`null_prediction` estimates besides its counts (``fits``, ``n_datasets``)
PREDICTION_KEYS = ("mean", "sem", "std", "std_datasets", "std_runs", "scale", "dof")


def null_prediction(
    values: Sequence[float] | np.ndarray, datasets: Sequence[Any] | np.ndarray
) -> dict[str, float]:
    """What a null study predicts for one new background-only Z (new data, new seeds), from
    its Z ``values`` with the ``datasets`` they came from (one or several runs each).

    Runs of one dataset share its fluctuation, so they are not independent draws: a one-way
    random-effects model (Z = μ + dataset + run) splits the spread into ``std_datasets`` and
    ``std_runs`` (mean squares between and within datasets, MSB and MSW). A new draw has the
    variance of both plus that of the estimated mean; ``scale`` is its square root and
    ``dof`` its Satterthwaite degrees of freedom, for a Student's t (the moments are exact
    for balanced runs; a negative dataset variance is taken as 0; with one run per dataset,
    scale = s·√(1 + 1/n) and dof = n − 1).
    Also ``mean``, ``sem`` (of the mean), ``std`` (one run's spread), ``fits`` (finite
    values) and ``n_datasets``; with fewer than 2 datasets of finite values the mean alone.
    """
    y = np.asarray(values, dtype=float)
    ok = np.isfinite(y)
    y, groups = y[ok], np.asarray(datasets)[ok]
    _, index, counts = np.unique(groups, return_inverse=True, return_counts=True)
    n, total = counts.size, y.size
    out = {"fits": float(total), "n_datasets": float(n)}
    if n < 2:  # one dataset gives a mean, no spread
        mean = float(y.mean()) if total else float("nan")
        return out | dict.fromkeys(PREDICTION_KEYS, float("nan")) | {"mean": mean}
    means = np.bincount(index, y) / counts
    grand = float(y.mean())
    msb = float(np.sum(counts * (means - grand) ** 2) / (n - 1))
    dof_within = total - n
    msw = float(np.sum((y - means[index]) ** 2) / dof_within) if dof_within else 0.0
    n0 = (total - np.sum(counts**2) / total) / (n - 1)  # runs per dataset (balanced: r)
    between = (msb - msw) / n0  # σ²(datasets); below 0 by chance it is taken as 0
    # Var(new − mean) = σ²_d + σ²_r + Var(mean) = a·MSB + b·MSW, with Var(mean) = MSB/N
    if between > 0 or not dof_within:
        a, b = 1.0 / n0 + 1.0 / total, max(0.0, 1.0 - 1.0 / n0)
    else:
        a, b = 1.0 / total, 1.0
    var = a * msb + b * msw
    spread = (a * msb) ** 2 / (n - 1) + ((b * msw) ** 2 / dof_within if dof_within else 0.0)
    return out | {
        "mean": grand,
        "sem": float(np.sqrt(msb / total)),
        "std": float(np.sqrt(max(between, 0.0) + msw)),  # one run's
        "std_datasets": float(np.sqrt(max(between, 0.0))),
        "std_runs": float(np.sqrt(msw)) if dof_within else float("nan"),
        "scale": float(np.sqrt(var)),
        "dof": float(var**2 / spread) if spread > 0 else float("nan"),
    }


def null_calibrated_z(
    z: np.ndarray, null_mean: np.ndarray, null_scale: np.ndarray, null_dof: np.ndarray
) -> np.ndarray:
    """Local Z read against a null study: the Z of the one-sided p-value of ``z`` as a new
    draw from the null, a Student's t of ``null_dof`` degrees of freedom around
    ``null_mean`` with scale ``null_scale`` (:func:`null_prediction`: its spread and its
    estimation error together).

    A method whose Z is biased (a flow's mismodelling, a fit function's bias) reads 0 at its
    null mean, and ±1 at a predictive spread from it; NaN where the null has no finite
    scale or dof (fewer than 2 datasets). Arguments broadcast against each other.
    """
    z, mean, scale, dof = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (z, null_mean, null_scale, null_dof))
    )
    ok = np.isfinite(mean) & (scale > 0) & (dof > 0)
    t = (z - mean) / np.where(ok, scale, 1.0)
    return np.where(ok, -special.ndtri(special.stdtr(np.where(ok, dof, 1.0), -t)), np.nan)


def null_rank_p(
    z: np.ndarray, null_values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(one-sided p-value, its Z, count beyond) of each ``z`` by its rank among a null's
    finite values: p = (1 + #{null ≥ z}) / (1 + n), the fraction of the null at or above it
    with the new value counted among them, and Z = Φ⁻¹(1 − p). No shape is assumed, so a
    null with long tails is read as it is; the price is resolution: p ≥ 1/(1 + n), a Z of at
    most Φ⁻¹(1 − 1/(1 + n)) (1.67 for 20 values); below every null value (p = 1) Z is that
    bound's mirror, not −∞. Runs of one dataset are not independent, so p is unbiased but
    scatters more than with independent values. NaN where ``z`` is not finite or the null
    is empty (count −1)."""
    null = np.asarray(null_values, dtype=float)
    null = np.sort(null[np.isfinite(null)])
    z = np.asarray(z, dtype=float)
    beyond = null.size - np.searchsorted(null, z, side="left")  # null values ≥ z
    ok = np.isfinite(z) & (null.size > 0)
    p = np.where(ok, (1.0 + beyond) / (1.0 + null.size), np.nan)
    bound = -special.ndtri(1.0 / (1.0 + max(null.size, 1)))
    z_rank = np.where(p < 1.0, -special.ndtri(np.where(ok, p, 0.5)), -bound)
    return p, np.where(ok, z_rank, np.nan), np.where(ok, beyond, -1)
