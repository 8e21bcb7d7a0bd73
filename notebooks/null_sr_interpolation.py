"""Exploration: how much of the flow's SR latent departure is its interpolation across the SR?

Not part of the workflow. LaCATHODE's flow is fitted in the SB and interpolates in m across
the SR, and its latent SR background sits further from N(0, 1) than its SB background (the
flow diagnostics' ``sr_latent_vs_normal_auc`` against ``sb_latent_vs_normal_auc``;
docs/null-study.md). For each null-study dataset this retrains the workflow's flow (its
saved hyperparameters and seed) twice on the true background: on the SB training events as
the workflow does (a control: same recipe, this process's threads), and on the SB and SR
training events together (never possible on data). Both are scored as the diagnostics do
(:func:`~resonant_ad.stages.checks.latent_vs_normal_auc` of the in-range SB test background
and of the SR test and extra background). If the SR − SB gap closes with the SR in the
training, the departure is the interpolation's; what stays is not.

    python notebooks/null_sr_interpolation.py --datasets 1 2 3 4 5 6 7 8

after the null study (``results/lhco_surrogate_null<k>/``: run 0, the nominal window, no
injection). A line as each dataset is done, then their table and the means.
"""

from __future__ import annotations

import argparse

import pandas as pd

from resonant_ad.core.flow import ConditionalFlow
from resonant_ad.core.io import read_parquet
from resonant_ad.stages.checks import latent_vs_normal_auc
from resonant_ad.stages.flows import feature_columns
from resonant_ad.studies.dijet.null import report_datasets

PARTS = ("sb_train", "sb_val", "sb_test", "sr_train", "sr_val", "sr_test", "extra_test")


def background(parts: dict[str, pd.DataFrame], names: tuple[str, ...], cols: list[str]):
    """(x, m) of the true background of the named parts, concatenated."""
    d = pd.concat([parts[n][parts[n]["label"] == 0] for n in names])
    return d[cols].to_numpy(), d["mjj"].to_numpy()


def aucs(flow: ConditionalFlow, parts: dict[str, pd.DataFrame], cols: list[str], seed: int):
    """(SB, SR) latent-vs-N(0, 1) AUC of the in-range test background, as the diagnostics."""
    out = []
    for names in (("sb_test",), ("sr_test", "extra_test")):
        x, m = background(parts, names, cols)
        inside = ~flow.scaler_.out_of_range(x)
        out.append(latent_vs_normal_auc(flow.transform(x[inside], m[inside]), seed))
    return out


def main() -> None:
    """Retrain each dataset's flow on SB and on SB + SR background; print the AUC gaps."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--datasets", type=int, nargs="+", default=[1, 2, 3, 4])
    ap.add_argument("--results", default="results")
    ap.add_argument("--study", default="lhco_surrogate")
    ap.add_argument("--path", default="shifted/sr3.3-3.7/nsig0", help="feature set/window/nsig")
    args = ap.parse_args()
    rows = []
    for k in args.datasets:
        root = f"{args.results}/{args.study}_null{k}/{args.path}"
        parts = {p: read_parquet(f"{root}/split/{p}.parquet") for p in PARTS}
        cols = feature_columns(parts["sb_train"])
        params = ConditionalFlow.load(f"{root}/run0/flow/model.pt").get_params()
        params["progress"] = False
        row = {"dataset": k}
        for name, train, val in (
            ("sb", ("sb_train",), ("sb_val",)),
            ("sb_sr", ("sb_train", "sr_train"), ("sb_val", "sr_val")),
        ):
            flow = ConditionalFlow(**params).fit(
                *background(parts, train, cols), *background(parts, val, cols)
            )
            sb, sr = aucs(flow, parts, cols, k)
            row |= {f"{name}_auc_sb": sb, f"{name}_auc_sr": sr, f"{name}_gap": sr - sb}
        rows.append(row)
        print(f"dataset {k} done", flush=True)
    report_datasets(rows)


if __name__ == "__main__":
    main()
