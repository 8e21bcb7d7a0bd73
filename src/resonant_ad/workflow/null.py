"""Null test of the weakly supervised methods: their signal AUC with no signal, over datasets.

With no signal injected a weakly supervised classifier can only learn the statistical
fluctuations of its training data (and, for the flow-based methods, the flow's mismodelling),
so its AUC on the signal is a random variable of the dataset. The workflow's runs share one
dataset (they differ in network seeds, as in the paper) and so share its fluctuation: their
AUCs agree with each other, not with 0.5. Over independent datasets a classifier that learns
only noise scatters around 0.5; a systematic offset left over is the background model's.

This module draws surrogate datasets with different seeds and runs, for each, the workflow's
own steps and path layout (generate → prepare → inject 0 → split → flow → samples / latent /
decorrelated → classifiers) in a scratch directory. Every row also gives the AUC between the
two true-background test samples (SR data test set vs the extra SR sample), which must be 0.5.

    python -m resonant_ad.workflow.null --seeds 1 2 3 4 5 --methods idealized cathode --out null.csv
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from resonant_ad.core.seeding import run_seed
from resonant_ad.stages import parts
from resonant_ad.stages.methods import method
from resonant_ad.workflow import files, patterns

log = logging.getLogger(__name__)

WEAKLY_SUPERVISED = ("cathode", "lacathode", "decorrelated", "idealized")


def null_run(
    study: Mapping[str, Any],
    feature_set: str,
    data_seed: int,
    methods: Sequence[str],
    work: str | Path,
) -> pd.DataFrame:
    """One surrogate dataset (seed ``data_seed``), no signal: a row per method.

    ``study`` is a validated ``lhco_surrogate`` config section (sizes, split, flow,
    classifier); only the surrogate's seed is replaced, so real data (``data.source``
    ``download``) is refused. Files go under ``work`` in the workflow's layout; the data
    seed stands in for the run number in every derived seed.
    """
    from resonant_ad.stages.classify import train_and_score
    from resonant_ad.stages.flows import decorrelate, sample_sr, to_latent, train_flow
    from resonant_ad.studies.dijet.data import prepare, write_injection, write_split
    from resonant_ad.studies.dijet.surrogate import write_surrogate

    source = study["data"]["source"]
    if source != "surrogate":
        raise ValueError(f"the null study redraws the surrogate; data.source is {source!r}")
    for name in methods:
        if not method(name).weakly_supervised:
            raise ValueError(f"{name!r} is not a weakly supervised method")
    root = Path(work) / f"data{data_seed}"
    raw, prepared = root / "raw", root / "prepared"
    raw.mkdir(parents=True, exist_ok=True)
    prepared.mkdir(parents=True, exist_ok=True)
    window = [float(v) for v in study["signal_region"]]
    ids = {
        "study": "null",
        "feature_set": feature_set,
        "window": parts.format_window(window),
        "nsig": 0,
        "run": data_seed,
    }

    def at(files: Mapping[str, str]) -> dict[str, str]:
        return {k: str(root / v) for k, v in files.items()}

    def seed(stage: str) -> int:
        return run_seed(int(study["seed"]), stage, feature_set, 0, data_seed)

    sur = {**study["data"]["surrogate"], "seed": data_seed}
    write_surrogate(raw / "features.h5", raw / "extra.h5", sur, tuple(window))
    events, extra = prepared / "events.parquet", prepared / "x.parquet"
    prepare(raw / "features.h5", raw / "extra.h5", events, extra, extra_region=window)
    params = {
        "seed": study["seed"],
        "split": study["split"],
        "extra_split": study["extra_split"],
        "signal_region": window,
    }
    write_injection(
        events,
        prepared / "data.parquet",
        prepared / "unused.parquet",
        prepared / "injection.json",
        0,
        params,
    )
    split = at(files.split_outputs(*(ids[k] for k in ("study", "feature_set", "window", "nsig"))))
    spec = study["feature_sets"][feature_set]
    write_split(
        prepared / "data.parquet",
        prepared / "unused.parquet",
        extra,
        split,
        spec,
        params,
        0,
    )
    flow = study["flow"]
    spaces = {method(m).space for m in methods}
    needs_flow = spaces & {"z", "xp"} or "cathode" in methods
    model = str(root / patterns.FLOW_MODEL.format(**ids))
    if needs_flow:
        history = str(root / patterns.FLOW_HISTORY.format(**ids))
        loss = str(root / patterns.FLOW_LOSS.format(**ids, ext="png"))
        train_flow(split["sb_train"], split["sb_val"], model, history, [loss], flow, seed("flow"))
    if "cathode" in methods:
        summary = str(root / patterns.SAMPLING_SUMMARY.format(**ids))
        samples = str(root / patterns.SAMPLES.format(**ids))
        sample_sr(model, split["sr_train"], samples, summary, flow, window, seed("sample"))
    if "z" in spaces:
        latent = at(files.latent_outputs(**ids))
        to_latent(model, {p: split[p] for p in latent}, latent)
    if "xp" in spaces:
        moved = at(files.decorrelated_outputs(**ids))
        samples_m0 = moved.pop("samples_m0")
        mapped = {p: split[p] for p in moved}
        decorrelate(model, mapped, moved, samples_m0, flow, window, seed("decorrelate"))

    rows = []
    for name in methods:
        outputs = at(files.classifier_outputs(**ids, method=name))
        inputs = at(files.classifier_inputs(**ids, method=name))
        classifier_seed = seed(f"classifier-{name}")
        train_and_score(name, inputs, outputs, study["classifier"], flow, classifier_seed, window)
        scores = pd.read_parquet(outputs["sic"])
        background = scores[scores["label"] == 0]
        rows.append(
            {
                "data_seed": data_seed,
                "feature_set": feature_set,
                "method": name,
                "auc_signal": json.loads(Path(outputs["summary"]).read_text())["auc_sic_test"],
                # two samples of the same true background: 0.5 unless they differ
                "auc_sr_vs_extra_background": float(
                    roc_auc_score(background["part"] == "sr_test", background["score"])
                ),
            }
        )
    return pd.DataFrame(rows)


def null_study(
    study: Mapping[str, Any],
    feature_set: str,
    data_seeds: Sequence[int],
    methods: Sequence[str],
    work: str | Path | None = None,
) -> pd.DataFrame:
    """:func:`null_run` for every dataset seed (in a temporary directory unless ``work``)."""
    with tempfile.TemporaryDirectory(prefix="null-study-") as tmp:
        tables = []
        for s in data_seeds:
            tables.append(null_run(study, feature_set, int(s), methods, work or tmp))
            log.info("dataset %d:\n%s", s, tables[-1].to_string(index=False))
    return pd.concat(tables, ignore_index=True)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: datasets, median, mean and its standard error of the signal AUC."""
    auc = table.groupby("method", sort=False)["auc_signal"]
    return pd.DataFrame(
        {"datasets": auc.size(), "median": auc.median(), "mean": auc.mean(), "sem": auc.sem()}
    )


def write_null_run(
    study: Mapping[str, Any],
    feature_set: str,
    data_seed: int,
    methods: Sequence[str],
    out: str,
) -> None:
    """One dataset of the null study (the ``null_run`` rule): its rows to ``out`` (CSV)."""
    from resonant_ad.core.io import write_csv

    with tempfile.TemporaryDirectory(prefix="null-run-") as tmp:
        write_csv(null_run(study, feature_set, data_seed, methods, tmp), out)


def null_figure(table: pd.DataFrame, title: str, outputs: Sequence[str]) -> None:
    """Signal AUC per dataset and method without signal, with each method's mean ± s.e.m."""
    from resonant_ad.core.plotting import COLORS, new_figure, save_figure

    summary = summarize(table)
    fig, ax = new_figure(figsize=(5.5, 3.6))
    for i, (name, row) in enumerate(summary.iterrows()):
        auc = table.loc[table["method"] == name, "auc_signal"].to_numpy()
        jitter = np.linspace(-0.15, 0.15, auc.size) if auc.size > 1 else np.zeros(1)
        color = COLORS.get(str(name), "k")
        ax.plot(i + jitter, auc, "o", color=color, alpha=0.5, ms=4)
        ax.errorbar(i + 0.3, row["mean"], yerr=row["sem"], fmt="s", color=color, capsize=3)
    ax.axhline(0.5, color="k", ls=":", lw=1, label="AUC 0.5 (no information)")
    ax.set_xticks(range(len(summary)), [method(m).label for m in summary.index])
    ax.set_ylim(0, 1)
    ax.set_ylabel("signal vs background AUC, no signal injected")
    ax.set_title(title, fontsize=9)
    ax.legend(loc="lower right", fontsize=8)
    save_figure(fig, *outputs)


def write_null_summary(tables: Sequence[str], outputs: Mapping[str, str], title: str) -> None:
    """Join the per-dataset tables; write the table, the per-method summary and the figure."""
    from resonant_ad.core.io import read_csv, write_csv

    table = pd.concat([read_csv(t) for t in tables], ignore_index=True)
    write_csv(table, outputs["table"])
    summary = summarize(table)
    write_csv(summary.reset_index(), outputs["summary"])
    null_figure(table, title, [outputs["png"], outputs["pdf"]])
    log.info("null study, signal AUC without signal:\n%s", summary.to_string())


def main(argv: list[str] | None = None) -> int:
    """Command line: run the null test, print its table and summary, optionally write it."""
    from resonant_ad.core.io import write_csv
    from resonant_ad.workflow.config import load_study

    parser = argparse.ArgumentParser(
        prog="python -m resonant_ad.workflow.null", description=__doc__
    )
    parser.add_argument("--config", default="config/config.yaml", help="config file (YAML)")
    parser.add_argument("--feature-set", default="original")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--methods", nargs="+", default=["idealized"], choices=WEAKLY_SUPERVISED)
    parser.add_argument("--out", help="CSV file for the table")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in (
        "resonant_ad.core.classifier",
        "resonant_ad.core.flow",
        "resonant_ad.stages.flows",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)  # no per-epoch lines
    study = load_study(args.config, "lhco_surrogate")
    if args.feature_set not in study["feature_sets"]:
        known = sorted(study["feature_sets"])
        parser.error(f"--feature-set {args.feature_set!r} is not one of {known}")
    table = null_study(study, args.feature_set, args.seeds, args.methods)
    print(table.to_string(index=False))
    print(summarize(table).to_string(float_format=lambda v: f"{v:.3f}"))
    if args.out:
        write_csv(table, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
