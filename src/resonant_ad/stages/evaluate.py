"""Evaluation of a dijet study's classifiers: SIC curves, sculpting curves and the metric tables.

SIC (significance improvement) = εS / √εB after a cut on the anomaly score, on the SIC test
set (SR background and SR signal that was not injected). A point of the curve is kept only
where at least ``min_background`` test background events pass the cut: below that the
εB estimate (and the SIC, ∝ 1/√εB) is dominated by the Poisson noise of a handful of events.

Sculpting follows LaCATHODE Sec. IV A: equal-population bins of the test mJJ (background in
SR and SB) before selection; the cut keeping a fraction ε of the SR test background is applied
to SR and SB alike; χ²/ndof of Eq. 5 (see :func:`resonant_ad.stats.metrics.sculpting_chi2`) compares
the selected and the full shapes; random subsets of the same ε give the reference band.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_parquet, write_csv
from resonant_ad.core.seeding import rng
from resonant_ad.stats.metrics import (
    equal_population_edges,
    random_subset_chi2_ndof,
    sculpting_chi2_ndof,
    select,
    sic_curve,
    sic_metrics,
    sic_on_grid,
    threshold_at_efficiency,
)

log = logging.getLogger(__name__)

#: the common εB grid of the SIC bands (log-spaced)
SIC_GRID = np.logspace(-5, 0, 201)
#: quantiles of the bands over runs (the paper's central 68%)
BAND = (0.16, 0.84)
#: the columns of metrics.csv, in order (an interface: see docs/outputs.md)
METRIC_COLUMNS = (
    "method",
    "injection",
    "run",
    "auc",
    "max_sic",
    "sic_at_1e-2",
    "sic_at_1e-3",
    "chi2_ndof_at_1pct",
)


def band(values: np.ndarray, min_fraction: float = 0.5) -> dict[str, np.ndarray]:
    """Median and 16/84% quantiles over runs (axis 0), where ≥ ``min_fraction`` of runs exist."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    ok = np.isfinite(values).sum(axis=0) >= max(1, np.ceil(min_fraction * values.shape[0]))
    out = {k: np.full(values.shape[1], np.nan) for k in ("median", "q16", "q84")}
    if ok.any():
        sub = values[:, ok]
        out["median"][ok] = np.nanmedian(sub, axis=0)
        out["q16"][ok] = np.nanquantile(sub, BAND[0], axis=0)
        out["q84"][ok] = np.nanquantile(sub, BAND[1], axis=0)
    return out


def sculpting_curve(
    scores: np.ndarray,
    mjj: np.ndarray,
    sr: np.ndarray,
    efficiencies: Sequence[float],
    edges: np.ndarray,
) -> np.ndarray:
    """χ²/ndof after the cut that keeps each ε of the SR events, applied to SR and SB."""
    scores, sr = np.asarray(scores), np.asarray(sr, dtype=bool)
    out = np.empty(len(efficiencies))
    for i, eff in enumerate(efficiencies):
        selected = select(scores, threshold_at_efficiency(scores[sr], float(eff)))
        out[i] = sculpting_chi2_ndof(mjj, selected, edges, float(eff))
    return out


def value_at(grid: np.ndarray, values: np.ndarray, x: float) -> float:
    """``values`` at the grid point equal to ``x`` (the grids are built to contain it)."""
    idx = np.flatnonzero(np.isclose(grid, x, rtol=1e-9, atol=0))
    return float(values[idx[0]]) if idx.size else float("nan")


def evaluate(
    sic_files: Sequence[Mapping[str, Any]],
    sculpting_files: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any],
    seed: int,
) -> dict[str, pd.DataFrame]:
    """Every metric table of one feature set from its score files.

    ``*_files`` are records ``{method, injection, run, path}``; ``params`` is the study's
    ``evaluation`` section. Returns ``metrics`` (one row per method, injection, run),
    ``summary`` (median and 16/84% over runs), ``sic`` (bands on :data:`SIC_GRID`),
    ``sculpting`` (the χ²/ndof band over runs per ε, with the random-subset reference as
    method ``random``), ``sculpting_runs`` (each run's χ²/ndof per ε, the band's values) and
    ``mjj`` (histograms before and after the cut, first run).
    """
    min_bkg = int(params["sic_min_background"])
    efficiencies = sorted(float(e) for e in params["efficiencies"])
    cut = float(params["selection_efficiency"])
    if cut not in efficiencies:
        efficiencies = sorted([*efficiencies, cut])
    rows: dict[tuple[str, int, int], dict[str, Any]] = {}
    sic_grid: dict[tuple[str, int], list[np.ndarray]] = {}
    for rec in sic_files:
        df = read_parquet(rec["path"], ["score", "label"])
        key = (rec["method"], int(rec["injection"]), int(rec["run"]))
        labels, scores = df["label"].to_numpy(), df["score"].to_numpy()
        rows[key] = {"method": key[0], "injection": key[1], "run": key[2]}
        curve = sic_curve(labels, scores, min_bkg)
        metrics = sic_metrics(labels, scores, curve, (1e-2, 1e-3))
        rows[key].update(auc=metrics.auc, max_sic=metrics.max_sic)
        rows[key].update({"sic_at_1e-2": metrics.sic_at[1e-2], "sic_at_1e-3": metrics.sic_at[1e-3]})
        sic_grid.setdefault(key[:2], []).append(sic_on_grid(curve, SIC_GRID))

    sculpt_rows, edges_by_inj, random_rows, hist_rows = [], {}, [], []
    n_bins = int(params["sculpting_bins"])
    for rec in sculpting_files:
        df = read_parquet(rec["path"], ["score", "mjj", "sr"])
        inj, run = int(rec["injection"]), int(rec["run"])
        mjj, sr, scores = df["mjj"].to_numpy(), df["sr"].to_numpy(), df["score"].to_numpy()
        if inj not in edges_by_inj:
            # the same test events for every method and run of one injection
            edges_by_inj[inj] = equal_population_edges(mjj, n_bins)
            g = rng(seed, "random-subsets", inj)
            for eff in efficiencies:
                ref = random_subset_chi2_ndof(
                    mjj, eff, edges_by_inj[inj], int(params["random_subsets"]), g
                )
                random_rows.append(
                    {
                        "method": "random",
                        "injection": inj,
                        "efficiency": eff,
                        "median": float(np.median(ref)),
                        "q16": float(np.quantile(ref, BAND[0])),
                        "q84": float(np.quantile(ref, BAND[1])),
                        "runs": len(ref),
                    }
                )
        curve = sculpting_curve(scores, mjj, sr, efficiencies, edges_by_inj[inj])
        for eff, value in zip(efficiencies, curve, strict=True):
            sculpt_rows.append(
                {
                    "method": rec["method"],
                    "injection": inj,
                    "run": run,
                    "efficiency": eff,
                    "chi2_ndof": value,
                }
            )
        key = (rec["method"], inj, run)
        rows.setdefault(key, {"method": key[0], "injection": inj, "run": run})
        rows[key]["chi2_ndof_at_1pct"] = value_at(np.array(efficiencies), curve, cut)
        if run == 0:
            hist_rows += _mjj_histograms(rec["method"], inj, mjj, sr, scores, cut)

    columns = list(METRIC_COLUMNS)
    metrics = pd.DataFrame(list(rows.values())).reindex(columns=columns)
    metrics = metrics.sort_values(["method", "injection", "run"], ignore_index=True)
    value_cols = columns[3:]
    g = metrics.groupby(["method", "injection"])[value_cols]
    summary = pd.concat(
        [
            g.size().rename("runs"),
            g.median().add_suffix("_median"),
            g.quantile(BAND[0]).add_suffix("_q16"),
            g.quantile(BAND[1]).add_suffix("_q84"),
        ],
        axis=1,
    ).reset_index()

    sic_rows = []
    for (meth, inj), curves in sorted(sic_grid.items()):
        b = band(np.vstack(curves))
        sic_rows.append(pd.DataFrame({"method": meth, "injection": inj, "eps_b": SIC_GRID, **b}))
    sculpting = pd.DataFrame(sculpt_rows)
    sculpt_band = (
        sculpting.groupby(["method", "injection", "efficiency"])["chi2_ndof"]
        .agg(
            median="median",
            q16=lambda v: v.quantile(BAND[0]),
            q84=lambda v: v.quantile(BAND[1]),
            runs="size",
        )
        .reset_index()
    )
    return {
        "metrics": metrics,
        "summary": summary,
        "sic": pd.concat(sic_rows, ignore_index=True),
        "sculpting": pd.concat([sculpt_band, pd.DataFrame(random_rows)], ignore_index=True),
        "sculpting_runs": sculpting.sort_values(
            ["method", "injection", "run", "efficiency"], ignore_index=True
        ),
        "mjj": pd.DataFrame(hist_rows),
    }


def _mjj_histograms(
    method: str, injection: int, mjj: np.ndarray, sr: np.ndarray, scores: np.ndarray, cut: float
) -> list[dict[str, Any]]:
    """Unit-area mJJ histograms (SR + SB test background) before and after the cut."""
    edges = np.quantile(mjj, [0.0005, 0.9995])
    edges = np.linspace(edges[0], edges[1], 61)
    selected = select(scores, threshold_at_efficiency(scores[sr], cut))
    rows = []
    for stage, values in (("before", mjj), ("after", mjj[selected])):
        density, _ = np.histogram(values, bins=edges, density=True)
        counts, _ = np.histogram(values, bins=edges)
        rows += [
            {
                "method": method,
                "injection": injection,
                "stage": stage,
                "low": lo,
                "high": hi,
                "density": d,
                "count": int(n),
            }
            for lo, hi, d, n in zip(edges[:-1], edges[1:], density, counts, strict=True)
        ]
    return rows


def write_evaluation(
    sic_files: Sequence[Mapping[str, Any]],
    sculpting_files: Sequence[Mapping[str, Any]],
    outputs: Mapping[str, str],
    params: Mapping[str, Any],
    seed: int,
) -> None:
    """Compute :func:`evaluate` and write each table to ``outputs[name]``."""
    tables = evaluate(sic_files, sculpting_files, params, seed)
    for name, table in tables.items():
        write_csv(table, outputs[name])
    log.info("metrics:\n%s", tables["metrics"].to_string(index=False))
