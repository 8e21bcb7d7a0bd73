"""Null test of the weakly supervised methods: their signal AUC with no signal, over datasets.

With no signal injected a weakly supervised classifier can only learn the statistical
fluctuations of its training data (and, for the flow-based methods, the flow's mismodelling),
so its AUC on the signal is a random variable of the dataset. The workflow's runs share one
dataset (they differ in network seeds, as in the paper) and so share its fluctuation: their
AUCs agree with each other, not with 0.5. Over independent datasets a classifier that learns
only noise scatters around 0.5; a systematic offset left over is the background model's.

Each dataset is a study section of its own (``<study>_null<seed>``, built by
:func:`resonant_ad.workflow.config.null_datasets`), which the workflow's rules build like
any study; this module reads each method's scores and training summary, and joins,
summarizes and draws the datasets. Every row also gives the AUC between the two
true-background test samples (SR data test set vs the extra SR sample), which must be 0.5.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv, read_json, read_parquet, write_csv
from resonant_ad.core.plotting import COLORS, new_figure, save_figure
from resonant_ad.stages.methods import method
from resonant_ad.stats.metrics import roc_auc

log = logging.getLogger(__name__)


def null_rows(
    data_seed: int,
    feature_set: str,
    scores: Mapping[str, str],
    summaries: Mapping[str, str],
) -> pd.DataFrame:
    """One dataset's row per method: signal AUC, and the AUC of the two background samples.

    ``scores`` and ``summaries`` map each method to its SIC-test score table and its
    ``training.json`` (whose ``auc_sic_test`` is the signal AUC).
    """
    rows = []
    for name, path in scores.items():
        table = read_parquet(path)
        background = table[table["label"] == 0]
        rows.append(
            {
                "data_seed": int(data_seed),
                "feature_set": feature_set,
                "method": name,
                "auc_signal": read_json(summaries[name])["auc_sic_test"],
                # two samples of the same true background: 0.5 unless they differ
                "auc_sr_vs_extra_background": roc_auc(
                    background["part"] == "sr_test", background["score"]
                ),
            }
        )
    return pd.DataFrame(rows)


def write_null_run(
    data_seed: int,
    feature_set: str,
    scores: Mapping[str, str],
    summaries: Mapping[str, str],
    out: str,
) -> None:
    """One dataset of the null study (the ``null_run`` rule): its rows to ``out`` (CSV)."""
    table = null_rows(data_seed, feature_set, scores, summaries)
    write_csv(table, out)
    log.info("dataset %d:\n%s", data_seed, table.to_string(index=False))


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: datasets, median, mean and its standard error of the signal AUC."""
    auc = table.groupby("method", sort=False)["auc_signal"]
    return pd.DataFrame(
        {"datasets": auc.size(), "median": auc.median(), "mean": auc.mean(), "sem": auc.sem()}
    )


def null_figure(table: pd.DataFrame, title: str, outputs: Sequence[str]) -> None:
    """Signal AUC per dataset and method without signal, with each method's mean ± s.e.m."""
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
    table = pd.concat([read_csv(t) for t in tables], ignore_index=True)
    write_csv(table, outputs["table"])
    summary = summarize(table)
    write_csv(summary.reset_index(), outputs["summary"])
    null_figure(table, title, [outputs["png"], outputs["pdf"]])
    log.info("null study, signal AUC without signal:\n%s", summary.to_string())
