"""Toy study analysis: one classifier per (c, space, run), the cut, and the sculpting table."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.classifier import NeuralClassifierEnsemble
from resonant_ad.core.io import read_parquet, write_csv, write_parquet
from resonant_ad.core.regions import in_window
from resonant_ad.core.seeding import derive_seed, rng
from resonant_ad.core.training import checkpoint_path
from resonant_ad.stages.parts import format_c
from resonant_ad.stats.metrics import (
    equal_population_edges,
    random_subset_chi2_ndof,
    sculpting_chi2,
    select,
    threshold_at_efficiency,
)
from resonant_ad.studies.toy.data import features

log = logging.getLogger(__name__)


def train_toy_run(
    data: str | os.PathLike[str],
    scores_out: str | os.PathLike[str],
    model_out: str | os.PathLike[str],
    history_out: str | os.PathLike[str],
    *,
    c: str,
    space: str,
    run: int,
    params: Mapping[str, Any],
) -> None:
    """Train one classifier ("data" = 1 vs "sample" = 0) in the SR and score all "data" test events.

    ``params`` holds ``seed``, ``signal_region`` and ``classifier`` (the hyperparameters of
    :class:`NeuralClassifierEnsemble`). The scores file has ``m, score, in_sr`` per test event.
    """
    df = read_parquet(data)
    sr = in_window(df["m"].to_numpy(), params["signal_region"])
    is_data = (df["set"] == "data").to_numpy()

    def subset(split: str) -> tuple[np.ndarray, np.ndarray]:
        part = df[sr & (df["split"] == split).to_numpy()]
        return features(part, space, float(c)), (part["set"] == "data").to_numpy(dtype=np.float64)

    X, y = subset("train")
    X_val, y_val = subset("val")
    if len(X) == 0 or len(X_val) == 0:
        raise ValueError(f"toy.signal_region {params['signal_region']} holds no training events")
    seed = derive_seed(params["seed"], "toy-classifier", c, space, run)
    log.info(
        "c=%s space=%s run=%s: %d train / %d val SR events, seed %d",
        c,
        space,
        run,
        len(X),
        len(X_val),
        seed,
    )
    clf = NeuralClassifierEnsemble(**params["classifier"], seed=seed)
    clf.fit(X, y, X_val, y_val, checkpoint=checkpoint_path(model_out))  # a killed job resumes

    test = df[is_data & (df["split"] == "test").to_numpy()]
    scores = clf.predict_proba(features(test, space, float(c)))[:, 1]
    out = pd.DataFrame(
        {
            "m": test["m"].to_numpy(),
            "score": scores.astype(np.float64),
            "in_sr": in_window(test["m"].to_numpy(), params["signal_region"]),
        }
    )
    write_parquet(out, scores_out)
    clf.save(model_out)
    write_csv(clf.history_, history_out)


def select_run(scores: pd.DataFrame, efficiency: float) -> np.ndarray:
    """Mask of test events passing the cut that keeps ``efficiency`` of the SR test events."""
    threshold = threshold_at_efficiency(
        scores["score"].to_numpy()[scores["in_sr"].to_numpy()], efficiency
    )
    return select(scores["score"].to_numpy(), threshold)


def sculpting_table(
    runs: Sequence[tuple[str, str, int, str | os.PathLike[str]]], params: Mapping[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """χ²/n_dof per (c, space, run), and its median/16%/84% per (c, space) with the random band.

    ``runs`` lists ``(c, space, run, scores_path)``. For each c the equal-population bins
    come from the test m before selection (the same events for every run and space).
    """
    eff = float(params["selection_efficiency"])
    rows, edges_by_c, reference = [], {}, {}
    for c, space, run, path in runs:
        scores = read_parquet(path, ["m", "score", "in_sr"])
        m = scores["m"].to_numpy(dtype=np.float64)
        if c not in edges_by_c:
            edges_by_c[c] = equal_population_edges(m, int(params["sculpting_bins"]))
            reference[c] = random_subset_chi2_ndof(
                m,
                eff,
                edges_by_c[c],
                int(params["random_subsets"]),
                rng(params["seed"], "toy-random-subsets", c),
            )
        selected = select_run(scores, eff)
        chi2, ndof = sculpting_chi2(m, selected, edges_by_c[c], eff)
        rows.append(
            {
                "c": float(c),
                "space": space,
                "run": int(run),
                "chi2_ndof": chi2 / ndof,
                "ndof": ndof,
                "efficiency": eff,
                "n_selected": int(selected.sum()),
                "selected_fraction": float(selected.mean()),
                "sr_efficiency": float(selected[scores["in_sr"].to_numpy()].mean()),
            }
        )
    table = pd.DataFrame(rows).sort_values(["c", "space", "run"], ignore_index=True)
    summary = (
        table.groupby(["c", "space"])["chi2_ndof"]
        .agg(
            median="median",
            q16=lambda v: np.quantile(v, 0.16),
            q84=lambda v: np.quantile(v, 0.84),
            runs="size",
        )
        .reset_index()
    )
    for stat, q in (("random_median", 0.5), ("random_q16", 0.16), ("random_q84", 0.84)):
        summary[stat] = [float(np.quantile(reference[format_c(c)], q)) for c in summary["c"]]
    return table, summary


def write_sculpting(
    runs: Sequence[tuple[str, str, int, str | os.PathLike[str]]],
    table_out: str | os.PathLike[str],
    summary_out: str | os.PathLike[str],
    params: Mapping[str, Any],
) -> None:
    """Compute and write ``sculpting.csv`` and its per-(c, space) summary."""
    table, summary = sculpting_table(runs, params)
    write_csv(table, table_out)
    write_csv(summary, summary_out)
    log.info("sculpting summary:\n%s", summary.to_string(index=False))
