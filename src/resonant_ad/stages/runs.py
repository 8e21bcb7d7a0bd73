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
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv, read_json, write_csv
from resonant_ad.stats.correlation import (
    SPEARMAN_Z_VARIANCE,
    benjamini_hochberg,
    fisher_interval,
    null_orders,
    pearson,
    permutation_pvalue,
    ranks,
)

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


def run_correlations(metrics: pd.DataFrame, flows: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Per injection, each flow diagnostic of :func:`flow_table` against each method's
    :data:`METHOD_METRICS` over the runs where both are finite: ``runs``, Pearson's r and
    Spearman's ρ (the r of the ranks: one wild run does not make it), each with its
    95% interval (:func:`~resonant_ad.stats.correlation.fisher_interval`, ``_lo`` and
    ``_hi``), its permutation p-value (``_p``, two-sided: exact over every order of up to 8
    runs, else over orders drawn from ``seed``) and its Benjamini–Hochberg q-value among the
    injection's correlations of that kind (``_q``: a table of dozens finds a few ρ with p <
    0.05 by chance), and Benjamini–Yekutieli's (``_q_by``: valid however the correlations of
    one table depend on each other, as they share their runs); NaN under :data:`MIN_RUNS`
    runs."""
    diagnostics = ["flow_epoch_kept", *FLOW_COLUMNS]
    long = metrics.melt(
        id_vars=["method", "injection", "run"], value_vars=list(METHOD_METRICS), var_name="metric"
    ).merge(flows, on=["injection", "run"])
    rows = []
    orders_of: dict[int, np.ndarray] = {}  # the same orders for every pair of n runs
    keys = ["injection", "method", "metric"]
    for (injection, method, metric), group in long.groupby(keys, sort=True):
        for diagnostic in diagnostics:
            pair = group[[diagnostic, "value"]].astype(float).dropna()
            values = pair.to_numpy()
            row = {
                "injection": int(injection),
                "method": method,
                "metric": metric,
                "diagnostic": diagnostic,
                "runs": len(pair),
            }
            orders = None
            if len(pair) >= MIN_RUNS:
                if len(pair) not in orders_of:
                    orders_of[len(pair)] = null_orders(len(pair), seed)
                orders = orders_of[len(pair)]
            for name, (a, b), z_variance in (
                ("pearson", values.T, 1.0),
                ("spearman", (ranks(values[:, 0]), ranks(values[:, 1])), SPEARMAN_Z_VARIANCE),
            ):
                corr = pearson(a, b) if orders is not None else np.nan
                lo, hi = fisher_interval(corr, len(pair), z_variance)
                p = permutation_pvalue(a, b, orders) if np.isfinite(corr) else np.nan
                row |= {name: corr, f"{name}_lo": lo, f"{name}_hi": hi, f"{name}_p": p}
            rows.append(row)
    table = pd.DataFrame(rows)
    for name in ("pearson", "spearman"):
        by_injection = table.groupby("injection")[f"{name}_p"]
        for k, (suffix, any_dependence) in enumerate((("q", False), ("q_by", True)), 1):
            q = by_injection.transform(benjamini_hochberg, any_dependence=any_dependence)
            table.insert(table.columns.get_loc(f"{name}_p") + k, f"{name}_{suffix}", q)
    return table


def write_run_table(
    metrics_path: str,
    flows: Sequence[Mapping[str, Any]],
    outputs: Mapping[str, str],
    seed: int,
) -> None:
    """Read the metric table and each run's ``diagnostics`` and ``history`` files (paths in
    ``flows``), and write :func:`run_table` and :func:`run_correlations` (its permutations
    drawn from ``seed``) to ``outputs`` (``table``, ``correlations``)."""
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
    write_csv(run_correlations(metrics, by_run, seed), outputs["correlations"])
    with pd.option_context("display.width", 200, "display.max_columns", 40):
        log.info("runs:\n%s", table.to_string(index=False))
