"""The di-τ scan's evaluation: SIC and the significance after the cut, per training and
summed over repeats (the paper's Fig. 5), from the score files of
:func:`~resonant_ad.studies.ditau.study.train_and_score`."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from resonant_ad.core.io import read_json, read_parquet, write_csv
from resonant_ad.stages.evaluate import SIC_GRID
from resonant_ad.stats.metrics import sic_curve, sic_metrics, sic_on_grid

log = logging.getLogger(__name__)

#: metrics.csv columns (an interface, see docs/outputs.md)
METRIC_COLUMNS = (
    "signal",
    "injection",
    "repeat",
    "n_injected",
    "auc",
    "max_sic",
    "sic_at_eff",
    "significance_after_cut",
)


def run_metrics(
    scores: pd.DataFrame, sigma: float, efficiency: float, min_background: int
) -> tuple[dict[str, float], pd.DataFrame]:
    """(AUC, max SIC, SIC at εB = ``efficiency``, σ × that SIC; the SIC curve) of one run."""
    labels, s = scores["label"].to_numpy(), scores["score"].to_numpy()
    curve = sic_curve(labels, s, min_background)
    metrics = sic_metrics(labels, s, curve, (float(efficiency),))
    at = metrics.sic_at[float(efficiency)]
    return (
        {
            "auc": metrics.auc,
            "max_sic": metrics.max_sic,
            "sic_at_eff": at,
            "significance_after_cut": float(sigma) * at,
        },
        curve,
    )


def evaluate(
    records: Sequence[Mapping[str, Any]],
    checks: Sequence[str],
    params: Mapping[str, Any],
) -> dict[str, pd.DataFrame]:
    """Metric tables of the scan from its score files.

    ``records``: ``{signal, injection, repeat, scores, summary}`` per training; ``checks``:
    the background-check JSONs of the repeats; ``params``: selection_efficiency,
    sic_min_background. Returns ``metrics`` (one row per training), ``summary`` (mean and
    standard deviation over repeats, as the paper's bands), ``sic`` (curves on
    :data:`SIC_GRID`, one column per training) and ``checks`` (real vs synthetic AUC).
    """
    eff = float(params["selection_efficiency"])
    rows, curves = [], []
    for rec in records:
        info = read_json(rec["summary"])
        metrics, curve = run_metrics(
            read_parquet(rec["scores"]), rec["injection"], eff, int(params["sic_min_background"])
        )
        ids = {k: rec[k] for k in ("signal", "injection", "repeat")}
        rows.append({**ids, "n_injected": info["n_injected"], **metrics})
        curves.append(pd.DataFrame({**ids, "eps_b": SIC_GRID, "sic": sic_on_grid(curve, SIC_GRID)}))
    metrics = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    summary = (
        metrics.groupby(["signal", "injection"], sort=True)
        .agg(
            n_injected=("n_injected", "median"),
            repeats=("repeat", "size"),
            auc_mean=("auc", "mean"),
            auc_std=("auc", "std"),
            sic_at_eff_mean=("sic_at_eff", "mean"),
            sic_at_eff_std=("sic_at_eff", "std"),
            significance_mean=("significance_after_cut", "mean"),
            significance_std=("significance_after_cut", "std"),
            max_sic_mean=("max_sic", "mean"),
        )
        .reset_index()
    )
    check = pd.DataFrame([{"repeat": i, **read_json(path)} for i, path in enumerate(checks)])
    return {
        "metrics": metrics,
        "summary": summary,
        "sic": pd.concat(curves, ignore_index=True),
        "checks": check,
    }


def write_evaluation(
    records: Sequence[Mapping[str, Any]],
    checks: Sequence[str],
    outputs: Mapping[str, str],
    params: Mapping[str, Any],
) -> None:
    """Write the tables of :func:`evaluate` to ``outputs`` (metrics, summary, sic, checks)."""
    tables = evaluate(records, checks, params)
    for name, table in tables.items():
        write_csv(table, outputs[name])
    log.info("summary:\n%s", tables["summary"].to_string(index=False))
    log.info("real vs synthetic AUC:\n%s", tables["checks"].to_string(index=False))
