"""Each run's flow beside what its classifiers found, and how the two move together over runs.

The runs of an analysis differ only in their seeds, yet at the paper's scale their χ²/ndof
spreads over an order of magnitude for CATHODE and their SICs over a factor of ten for
LaCATHODE (docs/measurements.md). Both methods read their run's flow (CATHODE its samples,
LaCATHODE its latent space), so a run's row puts the flow's diagnostics
(:func:`resonant_ad.stages.checks.flow_diagnostics`) next to every method's metrics, and the
correlations over runs say which diagnostic, if any, tracks a method's sculpting or SIC.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv, read_json, write_csv

log = logging.getLogger(__name__)

#: the flow diagnostics a run's row carries (keys of ``diagnostics.json``, docs/outputs.md)
FLOW_COLUMNS = (
    "sb_latent_vs_normal_auc",
    "sr_latent_vs_normal_auc",
    "normal_cut_sr_over_sb_sides",
    "real_vs_synthetic_auc",
    "synthetic_over_real_at_signal",
)
#: each method's metrics in a run's row (columns of ``metrics.csv``), as ``{method}_{metric}``
METHOD_METRICS = ("auc", "sic_at_1e-3", "chi2_ndof_at_1pct")
#: fewer runs than this give no correlation (NaN)
MIN_RUNS = 4
#: the coverage of each correlation's interval
CONFIDENCE = 0.95
#: the variance of Fisher's z of Spearman's ρ, times (runs − 3): 1.06 (Fieller, Hartley and
#: Pearson 1957), where Pearson's r of normal pairs has 1
SPEARMAN_Z_VARIANCE = 1.06


def flow_table(flows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per injection and run: its flow's epochs (run and kept) and diagnostics.

    ``flows`` are records ``{injection, run, diagnostics, history}`` (the run's
    ``diagnostics.json`` as a mapping and its flow's ``history.csv`` as a frame). A
    diagnostics file without a key of :data:`FLOW_COLUMNS` (one written by older code) is an
    error, not a gap."""
    rows = []
    for rec in flows:
        history = rec["history"]
        kept = history.loc[history["selected"].astype(bool), "epoch"]
        if kept.empty:
            raise ValueError(f"run {rec['run']}: its flow history marks no selected epoch")
        lacking = [key for key in FLOW_COLUMNS if key not in rec["diagnostics"]]
        if lacking:
            raise KeyError(f"run {rec['run']}: its flow diagnostics lack {lacking}")
        row = {
            "injection": int(rec["injection"]),
            "run": int(rec["run"]),
            "flow_epochs": int(history["epoch"].max()),
            "flow_epoch_kept": int(kept.iloc[0]),
        }
        for key in FLOW_COLUMNS:
            value = rec["diagnostics"][key]  # null where it does not apply (no signal)
            row[key] = np.nan if value is None else float(value)
        rows.append(row)
    return pd.DataFrame(rows).sort_values(["injection", "run"], ignore_index=True)


def run_table(metrics: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """:func:`flow_table`'s rows with each method's :data:`METHOD_METRICS` from the
    evaluation's metric table beside them (``{method}_{metric}``); a run without a metric
    row is an error: the table would silently drop it."""
    wide = metrics.pivot_table(
        index=["injection", "run"], columns="method", values=list(METHOD_METRICS), dropna=False
    )
    wide.columns = [f"{method}_{metric}" for metric, method in wide.columns]
    methods = list(dict.fromkeys(metrics["method"]))
    order = [f"{m}_{k}" for m in methods for k in METHOD_METRICS]
    wide = wide.reindex(columns=order).reset_index()
    merged = flows.merge(wide, on=["injection", "run"], how="left", indicator=True)
    lost = merged.loc[merged["_merge"] != "both", ["injection", "run"]]
    if not lost.empty:
        raise ValueError(f"no metrics for the flows of (injection, run) {lost.values.tolist()}")
    return merged.drop(columns="_merge")


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r, NaN where either side does not vary."""
    if np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


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


def run_correlations(metrics: pd.DataFrame, flows: pd.DataFrame) -> pd.DataFrame:
    """Per injection, each flow diagnostic of :func:`flow_table` against each method's
    :data:`METHOD_METRICS` over the runs where both are finite: ``runs``, Pearson's r and
    Spearman's ρ (the r of the ranks: one wild run does not make it), each with its
    :data:`CONFIDENCE` interval (:func:`fisher_interval`, ``_lo`` and ``_hi``); NaN under
    :data:`MIN_RUNS` runs."""
    diagnostics = ["flow_epoch_kept", *FLOW_COLUMNS]
    long = metrics.melt(
        id_vars=["method", "injection", "run"], value_vars=list(METHOD_METRICS), var_name="metric"
    ).merge(flows, on=["injection", "run"])
    rows = []
    keys = ["injection", "method", "metric"]
    for (injection, method, metric), group in long.groupby(keys, sort=True):
        for diagnostic in diagnostics:
            pair = group[[diagnostic, "value"]].astype(float).dropna()
            enough = len(pair) >= MIN_RUNS
            ranks = pair.rank().to_numpy()
            values = pair.to_numpy()
            r = _pearson(values[:, 0], values[:, 1]) if enough else np.nan
            rho = _pearson(ranks[:, 0], ranks[:, 1]) if enough else np.nan
            r_lo, r_hi = fisher_interval(r, len(pair))
            rho_lo, rho_hi = fisher_interval(rho, len(pair), SPEARMAN_Z_VARIANCE)
            rows.append(
                {
                    "injection": int(injection),
                    "method": method,
                    "metric": metric,
                    "diagnostic": diagnostic,
                    "runs": len(pair),
                    "pearson": r,
                    "pearson_lo": r_lo,
                    "pearson_hi": r_hi,
                    "spearman": rho,
                    "spearman_lo": rho_lo,
                    "spearman_hi": rho_hi,
                }
            )
    return pd.DataFrame(rows)


def write_run_table(
    metrics_path: str, flows: Sequence[Mapping[str, Any]], outputs: Mapping[str, str]
) -> None:
    """Read the metric table and each run's ``diagnostics`` and ``history`` files (paths in
    ``flows``), and write :func:`run_table` and :func:`run_correlations` to ``outputs``
    (``table``, ``correlations``)."""
    records = [
        {
            "injection": rec["injection"],
            "run": rec["run"],
            "diagnostics": read_json(rec["diagnostics"]),
            "history": read_csv(rec["history"]),
        }
        for rec in flows
    ]
    metrics, by_run = read_csv(metrics_path), flow_table(records)
    table = run_table(metrics, by_run)
    write_csv(table, outputs["table"])
    write_csv(run_correlations(metrics, by_run), outputs["correlations"])
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        log.info("runs:\n%s", table.to_string(index=False))
