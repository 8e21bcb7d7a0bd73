"""Exploration: does a latent cut keep fewer of the SB events the flow was fitted to?

Not part of the workflow. A flow maps the SB events it was trained on closer to N(0, 1)
than events it never saw, and every SR event is one it never saw. For each null-study
dataset this reads a method's bump-hunt scores (every data event, out of fold) and splits
the SB events by split part: the flow's training part (``sb_train``) against the parts it
was not fitted to (``sb_val``, used only to pick its epoch, and ``sb_test``). Each fold is cut
at its own threshold keeping ``--eps`` of its SR events, as the bump hunt does; printed per
dataset is the cut's SR efficiency over the larger of its efficiencies in the SB bands one
SR width below and above the SR (``sr_over_sb_sides``), for all SB events and per subset.
Run it on a null study made with ``bumphunt: {cross_flows: false}`` to see the effect, and
on one with the cross-fitted flows (the default) to see it gone: there no SB event is
mapped by a flow fitted to it, and the split by part means nothing any more.

    python notebooks/null_flow_training_events.py --datasets 1 2 3 4 5 6 7 8 --method lacathode

The datasets' lines, then the means and their standard errors.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_parquet
from resonant_ad.stages.folds import DATA_REGIONS
from resonant_ad.stats.bumphunt import band_efficiencies, sides_ratio
from resonant_ad.studies.dijet.null import report_datasets


def passed_per_fold(scores: pd.DataFrame, eps: float) -> np.ndarray:
    """Whether each event passes its fold's cut that keeps ``eps`` of the fold's SR events."""
    passed = np.zeros(len(scores), dtype=bool)
    sr, fold = scores["sr"].to_numpy(dtype=bool), scores["fold"].to_numpy()
    for f in np.unique(fold):
        chosen = fold == f
        threshold = np.quantile(scores["score"].to_numpy()[chosen & sr], 1 - eps)
        passed[chosen] = scores["score"].to_numpy()[chosen] > threshold
    return passed


def main() -> None:
    """Per dataset: the cut's SR over SB-sides ratio on all SB events and per SB part."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--method", default="lacathode")
    ap.add_argument("--eps", type=float, default=0.1)
    ap.add_argument("--results", default="results")
    ap.add_argument("--study", default="lhco_surrogate")
    ap.add_argument("--path", default="shifted/sr3.3-3.7/nsig0", help="feature set/window/nsig")
    ap.add_argument("--window", type=float, nargs=2, default=[3.3, 3.7])
    args = ap.parse_args()
    rows = []
    for k in args.datasets:
        root = f"{args.results}/{args.study}_null{k}/{args.path}"
        scores = read_parquet(f"{root}/run0/{args.method}/scores_data.parquet")
        # the bump hunt's table holds the SR parts, then the SB parts, each in split order
        order = [p for region in ("sr", "sb") for p in DATA_REGIONS[region]]
        sizes = [len(read_parquet(f"{root}/split/{p}.parquet", columns=["mjj"])) for p in order]
        part = np.repeat(order, sizes)
        if len(part) != len(scores):
            raise ValueError(f"dataset {k}: {len(scores)} scores for {len(part)} split events")
        passed = passed_per_fold(scores, args.eps)
        sr = scores["sr"].to_numpy(dtype=bool)
        eff_sr = float(passed[sr].mean())
        row = {"dataset": k}
        for name, parts in (
            ("all", ("sb_train", "sb_val", "sb_test")),
            ("sb_train", ("sb_train",)),
            ("sb_val_test", ("sb_val", "sb_test")),
        ):
            chosen = np.isin(part, parts)
            below, above = band_efficiencies(
                passed[chosen], scores["mjj"].to_numpy()[chosen], args.window
            )
            row[name] = sides_ratio(eff_sr, below, above)
        rows.append(row)
    report_datasets(rows)


if __name__ == "__main__":
    main()
