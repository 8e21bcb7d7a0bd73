"""The last step of the enhanced bump hunt: fit the selected SB spectrum, predict the SR, test it.

After the cut on the anomaly score, the mJJ histogram of the selected events is fitted in the
sidebands with the standard dijet function (binned Poisson likelihood)

    dN/dm = p0 · (1 − x)^p1 / x^(p2 + p3 ln x),     x = m / √s,

(``dijet3`` fixes p3 = 0, ``dijet5`` adds p4 ln² x; ``auto`` takes the fewest parameters
that Fisher's F-test on the SB fits finds enough, per histogram). Interpolated into the signal
region, the fit predicts the SR yield; the fit covariance (MINUIT's HESSE, via iminuit) gives
its uncertainty by linear propagation, and MINOS its 68% interval by profiling the likelihood
(the fit's parameters are the SR yield and the shape, so that the interval is MINOS's of a
parameter). The local significance of the SR excess comes from a profile likelihood ratio
with the SR as one counting bin on top of the SB bins:

    L(μ, θ) = Π_SB Pois(n_i | b_i(θ)) · Pois(N_SR | B_SR(θ) + μ),

q0 = −2 ln [L(0, θ̂̂) / L(μ̂, θ̂)] and Z = sign(μ̂) √q0, so the shape parameters θ are
profiled (the fit uncertainty enters through them) and no signal shape is assumed.
Deficits give negative Z, so that background-only pseudo-experiments scatter around 0
with unit width. Fit quality is the Poisson deviance of the SB fit (a likelihood χ²)
with n_dof = SB bins − parameters, and its p-value.

The inputs are anomaly scores of the data (SR and SB): every event scored out of fold
(``bumphunt.folds`` = k ≥ 2, :mod:`resonant_ad.stages.folds`), or the test part only
(``folds: 0``); the cut keeping a fraction ε of the SR events (per fold) is applied to SR and
SB alike, as in the sculpting study. ``n_sr_data`` counts the SR events searched.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from resonant_ad.core.io import read_csv, read_parquet, write_csv
from resonant_ad.stats.bands import band_efficiencies, sides_ratio
from resonant_ad.stats.dijet_fit import (
    AUTO,
    FUNCTIONS,
    DijetModel,
    FitResult,
    _poisson_nll,
    bin_edges,
    choose_function,
    fit_counts,
    fittable,
    poisson_deviance,
    sr_bins,
    sr_prediction,
)
from resonant_ad.stats.metrics import select, threshold_at_efficiency

log = logging.getLogger(__name__)

#: columns of a bump-hunt table (one row per selection efficiency)
RESULT_COLUMNS = (
    "efficiency",
    "threshold",
    "n_sr_data",
    "folds",
    "n_selected",
    "n_sb",
    "n_sr",
    "n_sr_signal",
    "sr_predicted",
    "sr_predicted_err",
    "sr_predicted_lo",
    "sr_predicted_hi",
    "excess",
    "z_local",
    "q0",
    "sb_chi2",
    "sb_ndof",
    "sb_chi2_ndof",
    "sb_p_value",
    "fit_converged",
    "n_params",
    "f_test_p",
    "sb_below_efficiency",
    "sb_above_efficiency",
    "sr_over_sb_sides",
)


def bump_hunt(
    counts: np.ndarray,
    edges: np.ndarray,
    window: Sequence[float],
    sqrt_s: float,
    n_params: int,
    interval: bool = True,
    sb_fit: FitResult | None = None,
) -> dict[str, Any]:
    """SB fit, SR prediction, local significance and SB fit quality of one mJJ histogram;
    ``interval``: also the SR prediction's MINOS interval (a pseudo-scan needs Z only).
    ``sb_fit``: this histogram's SB fit of this function, where the F-test made it
    (:func:`fit_function`); it is used only without ``interval`` (MINOS refits)."""
    counts = np.asarray(counts, dtype=float)
    model = DijetModel(np.asarray(edges, dtype=float), float(sqrt_s), int(n_params))
    in_sr = sr_bins(model.edges, window)
    sb = ~in_sr
    n_sr = float(counts[in_sr].sum())
    ndof = int(sb.sum()) - model.n_params
    if not fittable(counts, sb, model.n_params):
        # fewer filled SB bins than parameters + 1: the shape is not determined (a very
        # tight cut); report the counts and no fit rather than an arbitrary extrapolation
        log.warning("only %d filled SB bins: no fit", int(np.count_nonzero(counts[sb])))
        nan = float("nan")
        return {
            "n_sb": float(counts[sb].sum()),
            "n_sr": n_sr,
            **dict.fromkeys(("sr_predicted", "sr_predicted_err", "excess", "q0"), nan),
            **dict.fromkeys(("sr_predicted_lo", "sr_predicted_hi"), nan),
            **dict.fromkeys(("z_local", "sb_chi2", "sb_chi2_ndof", "sb_p_value"), nan),
            "sb_ndof": ndof,
            "fit_converged": False,
            "params": np.full(model.n_params, nan),
            "expected": np.full(counts.size, nan),
            "in_sr": in_sr,
        }
    if sb_fit is None or interval:
        sb_fit = fit_counts(model, counts, sb, anchor=in_sr, minos=interval)
    predicted, predicted_err = sr_prediction(model, sb_fit, in_sr)
    # the unconditional fit: θ from the SB alone, μ̂ = N_SR − B_SR(θ̂) fits the SR bin exactly
    nll_free = sb_fit.nll + _poisson_nll(np.array([max(n_sr, 1e-300)]), np.array([n_sr]))
    null_fit = fit_counts(model, counts, sb, sr_total=n_sr, sr_mask=in_sr, anchor=in_sr)
    q0 = max(0.0, 2.0 * (null_fit.nll - nll_free))
    excess = n_sr - predicted
    mu_sb = model.expected(sb_fit.params)
    chi2 = poisson_deviance(mu_sb[sb], counts[sb])
    return {
        "n_sb": float(counts[sb].sum()),
        "n_sr": n_sr,
        "sr_predicted": predicted,
        "sr_predicted_err": predicted_err,
        "sr_predicted_lo": sb_fit.yield_interval[0],
        "sr_predicted_hi": sb_fit.yield_interval[1],
        "excess": excess,
        "q0": q0,
        "z_local": float(np.sign(excess) * np.sqrt(q0)),
        "sb_chi2": chi2,
        "sb_ndof": ndof,
        "sb_chi2_ndof": chi2 / ndof if ndof > 0 else float("nan"),
        "sb_p_value": float(special.chdtrc(ndof, chi2)) if ndof > 0 else float("nan"),
        "fit_converged": bool(sb_fit.converged and null_fit.converged),
        "params": sb_fit.params,
        "expected": mu_sb,
        "in_sr": in_sr,
    }


def fit_function(
    counts: np.ndarray, edges: np.ndarray, window: Sequence[float], params: Mapping[str, Any]
) -> tuple[int, float, FitResult | None]:
    """The number of dijet parameters to fit ``counts`` with, the F-test's p-value, and the
    F-test's SB fit of that function (for :func:`bump_hunt`, which need not fit it again).

    ``params['function']`` names one of :data:`FUNCTIONS` (p-value NaN: no test, no fit), or
    is ``auto``: :func:`~resonant_ad.stats.dijet_fit.choose_function` at
    ``params['f_test_alpha']`` picks it for this histogram.
    """
    name = function_name(params)
    if name == AUTO:
        return choose_function(
            counts, edges, window, float(params["sqrt_s"]), float(params["f_test_alpha"])
        )
    return FUNCTIONS[name], float("nan"), None


def function_name(params: Mapping[str, Any]) -> str:
    """``params['function']``, checked: one of :data:`FUNCTIONS` or ``auto``."""
    name = params["function"]
    if name != AUTO and name not in FUNCTIONS:
        raise ValueError(
            f"bumphunt.function must be one of {[*sorted(FUNCTIONS), AUTO]}, not {name!r}"
        )
    return name


def expected_significance(s: float, b: float, sigma_b: float) -> float:
    """Median discovery significance of ``s`` events over ``b ± sigma_b`` (Cowan et al.).

    The asymptotic formula for a counting experiment whose background is constrained by an
    auxiliary measurement; reduces to √(2((s+b) ln(1+s/b) − s)) when ``sigma_b`` = 0.
    """
    if sigma_b <= 0:
        return float(np.sqrt(2 * ((s + b) * np.log1p(s / b) - s)))
    v = sigma_b**2
    term1 = (s + b) * np.log((s + b) * (b + v) / (b**2 + (s + b) * v))
    term2 = b**2 / v * np.log1p(v * s / (b * (b + v)))
    return float(np.sqrt(2 * (term1 - term2)))


def selected(scores: pd.DataFrame, efficiency: float) -> tuple[np.ndarray, float]:
    """The events a cut keeps, and its threshold.

    The threshold keeps ``efficiency`` of the SR events (data: signal included, as in a
    search, where labels are unknown) and is applied to SR and SB alike. Out-of-fold scores
    (a ``fold`` column: each fold scored by its own classifier, on its own scale) are cut
    per fold, each at the ``efficiency`` of its SR events; the threshold returned is then
    the folds' mean.
    """
    sr = scores["sr"].to_numpy(dtype=bool)
    s = scores["score"].to_numpy()
    folds = scores["fold"].to_numpy() if "fold" in scores.columns else np.zeros(len(s), int)
    chosen = np.zeros(len(s), dtype=bool)
    thresholds = []
    for f in np.unique(folds):
        here = folds == f
        thresholds.append(threshold_at_efficiency(s[here & sr], float(efficiency)))
        chosen |= here & select(s, thresholds[-1])
    return chosen, float(np.mean(thresholds))


def side_efficiencies(
    scores: pd.DataFrame, chosen: np.ndarray, window: Sequence[float]
) -> dict[str, float]:
    """The cut ``chosen``'s efficiency in the SB bands one SR width below and above
    ``window`` (:func:`band_efficiencies`) and :func:`sides_ratio`: ``sb_below_efficiency``,
    ``sb_above_efficiency``, ``sr_over_sb_sides``."""
    sr = scores["sr"].to_numpy(dtype=bool)
    below, above = band_efficiencies(chosen[~sr], scores["mjj"].to_numpy()[~sr], window)
    in_sr = float(chosen[sr].mean()) if sr.any() else float("nan")
    return {
        "sb_below_efficiency": below,
        "sb_above_efficiency": above,
        "sr_over_sb_sides": sides_ratio(in_sr, below, above),
    }


def selection_histograms(
    scores: pd.DataFrame, efficiency: float, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float, int]:
    """mJJ counts of all and of truth-signal selected events, the threshold, and n selected
    (the cut of :func:`selected`)."""
    chosen, threshold = selected(scores, efficiency)
    return *_histograms(scores, chosen, edges), threshold, int(chosen.sum())


def _histograms(
    scores: pd.DataFrame, chosen: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """mJJ counts of the ``chosen`` events, all and truth signal."""
    mjj = scores["mjj"].to_numpy()
    counts, _ = np.histogram(mjj[chosen], bins=edges)
    signal, _ = np.histogram(mjj[chosen & (scores["label"].to_numpy() == 1)], bins=edges)
    return counts, signal


def run_bump_hunt(
    scores: pd.DataFrame, window: Sequence[float], params: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Bump hunts at every ``params['efficiencies']``: ``(results, bins)`` tables.

    ``params``: efficiencies, bin_width, fit_range, sqrt_s, function, f_test_alpha (see
    the schema). ``results`` has :data:`RESULT_COLUMNS` and the fitted parameters; ``bins``
    the histogram and the SB fit of every selection (for the figure).
    """
    function_name(params)
    missing = [c for c in ("score", "mjj", "sr", "label") if c not in scores.columns]
    if missing:
        raise KeyError(f"bump-hunt scores lack column(s) {missing}")
    edges = bin_edges(window, params["fit_range"], params["bin_width"])
    n_sr_data = int(scores["sr"].sum())
    n_folds = int(scores["fold"].nunique()) if "fold" in scores.columns else 0
    rows, bin_rows = [], []
    for eff in sorted((float(e) for e in params["efficiencies"]), reverse=True):
        chosen, threshold = selected(scores, eff)
        counts, signal = _histograms(scores, chosen, edges)
        n_sel = int(chosen.sum())
        n_params, f_test_p, _ = fit_function(counts, edges, window, params)
        res = bump_hunt(counts, edges, window, params["sqrt_s"], n_params)
        res |= side_efficiencies(scores, chosen, window) | {
            "n_params": n_params,
            "f_test_p": f_test_p,
        }
        row = {
            "efficiency": eff,
            "threshold": threshold,
            "n_sr_data": n_sr_data,
            "folds": n_folds,
            "n_selected": n_sel,
            "n_sr_signal": int(signal[res["in_sr"]].sum()),
        }
        row.update({k: res[k] for k in RESULT_COLUMNS if k in res})
        row.update({f"p{i}": float(v) for i, v in enumerate(res["params"])})
        rows.append(row)
        bin_rows.append(
            pd.DataFrame(
                {
                    "efficiency": eff,
                    "low": edges[:-1],
                    "high": edges[1:],
                    "count": counts,
                    "signal": signal,
                    "fit": res["expected"],
                    "sr": res["in_sr"],
                }
            )
        )
        log.info(
            "ε=%g: N_SR=%d, predicted %.1f ± %.1f, Z=%.2f, SB χ²/ndof=%.2f (p=%.3g), %d parameters",
            eff,
            row["n_sr"],
            row["sr_predicted"],
            row["sr_predicted_err"],
            row["z_local"],
            row["sb_chi2_ndof"],
            row["sb_p_value"],
            n_params,
        )
    results = pd.DataFrame(rows)
    ordered = [c for c in RESULT_COLUMNS if c in results.columns]
    results = results[ordered + [c for c in results.columns if c not in ordered]]
    return results, pd.concat(bin_rows, ignore_index=True)


def write_bump_hunt(
    scores_path: str,
    outputs: Mapping[str, str],
    window: Sequence[float],
    params: Mapping[str, Any],
    labels: Mapping[str, Any],
) -> None:
    """Bump hunts of one classifier run: the ``results`` and ``bins`` tables.

    ``labels`` (method, injection, run, …) are added as leading columns of both tables.
    """
    scores = read_parquet(scores_path)
    if not scores["sr"].any():
        raise ValueError(f"{scores_path}: no SR events to set the selection threshold on")
    results, bins = run_bump_hunt(scores, window, params)
    for key, value in reversed(list(labels.items())):
        results.insert(0, key, value)
        bins.insert(0, key, value)
    write_csv(results, outputs["results"])
    write_csv(bins, outputs["bins"])


def global_significance(z_local: Sequence[float]) -> tuple[float, int, float]:
    """(largest local Z, trials, global Z) of a scan's local significances (NaN = no fit).

    The trials factor is Šidák's, p_global = 1 − (1 − p_local)^N for the smallest local
    p-value of N tests: exact for independent tests, an upper bound on p_global (a lower
    bound on the global Z) when, as in a scan of overlapping windows and nested cuts, the
    tests are positively correlated. A calibrated null study gives the exact distribution
    of the largest Z instead; this is what a scan can say on its own.
    """
    z = np.asarray(z_local, dtype=float)
    z = z[np.isfinite(z)]
    if not z.size:
        return float("nan"), 0, float("nan")
    z_max = float(z.max())
    p_local = float(special.ndtr(-z_max))  # one-sided, as Z = sign(μ̂)√q0
    p_global = -np.expm1(z.size * np.log1p(-p_local)) if p_local < 1 else 1.0
    return z_max, int(z.size), float(-special.ndtri(p_global))


def collect(records: Sequence[Mapping[str, Any]], key: str = "results") -> pd.DataFrame:
    """One table from the per-run tables ``record[key]`` (labels are already columns)."""
    if not records:
        raise ValueError("no bump-hunt tables to collect")
    return pd.concat([read_csv(r[key]) for r in records], ignore_index=True)
