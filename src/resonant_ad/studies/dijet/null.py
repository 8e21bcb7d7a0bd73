"""Null test of the weakly supervised methods: their signal AUC with no signal, over datasets.

With no signal injected a weakly supervised classifier can only learn the statistical
fluctuations of its training data (and, for the flow-based methods, the flow's mismodelling),
so its AUC on the signal is a random variable of the dataset. The workflow's runs share one
dataset (they differ in network seeds, as in the paper) and so share its fluctuation: their
AUCs agree with each other, not with 0.5. Over independent datasets a classifier that learns
only noise scatters around 0.5; a systematic offset left over is the background model's.
The same holds for the bump hunt after the cut: with no signal its local significance Z
should scatter around 0 with a spread of about 1 over datasets; an offset is a cut that
passes more (or fewer) SR events than the SB fit predicts, i.e. a false excess (deficit).

Each dataset is a study section of its own (``<study>_null<seed>``, built by
:func:`resonant_ad.pipeline.config.null_datasets`), which the workflow's rules build like
any study; this module reads each method's scores and training summary, and joins,
summarizes and draws the datasets. Every row also gives the AUC between the two
true-background test samples (SR data test set vs the extra SR sample), which must be 0.5.
A dataset may hold several runs (``null_study.runs``: other flow and classifier seeds, as
the analysis's runs): they share the dataset's fluctuation, so the summary splits Z's spread
into datasets and runs, and reads the analysis against a new run on new data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv, read_json, read_parquet, write_csv
from resonant_ad.core.plotting import COLORS, new_figure, save_figure
from resonant_ad.core.seeding import rng
from resonant_ad.stages.methods import display_label
from resonant_ad.stats.bumphunt import run_bump_hunt
from resonant_ad.stats.metrics import roc_auc
from resonant_ad.stats.trials import (
    PREDICTION_KEYS,
    null_calibrated_z,
    null_prediction,
    null_rank_p,
)

log = logging.getLogger(__name__)


#: the controls of each dataset: its bump hunt without a cut, and with cuts at random
CONTROLS = ("no_cut", "random_cut")

#: the dataset's flow diagnostics in its rows (as ``flow_<key>``): how well a classifier
#: tells its latent SB and SR background from N(0, 1) (stages.checks.latent_vs_normal_auc),
#: and how many more SR than SB background events such a cut keeps (normal_cut_excess), on
#: all SB data, on the flow's own SB training part and on the SB parts it was not fitted to
FLOW_COLUMNS = (
    "sb_latent_vs_normal_auc",
    "sr_latent_vs_normal_auc",
    "normal_cut_sr_over_sb_sides",
    "normal_cut_sr_over_sb_sides_sb_train",
    "normal_cut_sr_over_sb_sides_sb_val_test",
)


#: a null-run input's key of run r (pipeline.files.null_run_inputs): ``run<r>_<kind>_<method>``
#: for a method's file, ``run<r>_flow_diagnostics`` for the run's flow
_RUN_FILE = re.compile(
    r"^run(?P<run>[0-9]+)_(?:(?P<kind>scores|summary|bumphunt)_(?P<method>.+)|flow_diagnostics)$"
)


@dataclass
class RunInputs:
    """One run's files of a null-study dataset: per method its SIC-test ``scores``, training
    ``summary`` and ``bumphunt`` results (none where the feature set is not searched), and
    the run's ``flow_diagnostics``."""

    scores: dict[str, str] = field(default_factory=dict)
    summary: dict[str, str] = field(default_factory=dict)
    bumphunt: dict[str, str] = field(default_factory=dict)
    flow_diagnostics: str = ""


def _eps(efficiency: float) -> str:
    """The column suffix of a bump-hunt efficiency: 0.1 → ``eps0.1``."""
    return f"eps{efficiency:g}"


def null_rows(
    data_seed: int,
    feature_set: str,
    scores: Mapping[str, str],
    summaries: Mapping[str, str],
    bumphunts: Mapping[str, str],
    run: int = 0,
) -> pd.DataFrame:
    """One dataset's (and run's) row per method: signal AUC, the AUC of the two background
    samples, and the bump hunt's local significance and SB fit quality at each efficiency.

    ``scores``, ``summaries`` and ``bumphunts`` map each method to its SIC-test score table,
    its ``training.json`` (whose ``auc_sic_test`` is the signal AUC) and its bump-hunt
    results table (``z_local_eps<ε>``, ``sb_chi2_ndof_eps<ε>``; NaN where the cut left too
    few SB bins to fit; no such columns for a method without one: a feature set that
    ``bumphunt.feature_sets`` does not search).
    """
    rows = []
    for name, path in scores.items():
        table = read_parquet(path)
        background = table[table["label"] == 0]
        row = {
            "data_seed": int(data_seed),
            "run": int(run),
            "feature_set": feature_set,
            "method": name,
            "auc_signal": read_json(summaries[name])["auc_sic_test"],
            # two samples of the same true background: 0.5 unless they differ
            "auc_sr_vs_extra_background": roc_auc(
                background["part"] == "sr_test", background["score"]
            ),
        }
        if name in bumphunts:
            row.update(_fit_columns(read_csv(bumphunts[name])))
        rows.append(row)
    return pd.DataFrame(rows)


def _fit_columns(fits: pd.DataFrame) -> dict[str, float]:
    """A bump-hunt table as null-table columns per efficiency: Z and the SB fit quality of
    the fits that converged (NaN otherwise), and ``z_failed_eps<ε>`` (1 where no converged
    fit: too few SB bins, or MINUIT did not converge), so that failures are counted, not
    averaged; and the cut's ``sr_over_sb_sides_eps<ε>`` (the SR's efficiency over its side
    bands', :func:`~resonant_ad.stats.bands.sides_ratio`; no fit needed)."""
    out: dict[str, float] = {}
    for _, fit in fits.iterrows():
        eps = _eps(fit["efficiency"])
        ok = bool(fit.get("fit_converged", True)) and np.isfinite(fit["z_local"])
        out[f"z_local_{eps}"] = fit["z_local"] if ok else np.nan
        out[f"sb_chi2_ndof_{eps}"] = fit["sb_chi2_ndof"] if ok else np.nan
        out[f"z_failed_{eps}"] = float(not ok)
        out[f"sr_over_sb_sides_{eps}"] = fit.get("sr_over_sb_sides", np.nan)
    return out


def control_rows(
    data_seed: int,
    feature_set: str,
    data_scores: str,
    window: Sequence[float],
    bumphunt: Mapping[str, object],
    seed: int,
) -> pd.DataFrame:
    """The dataset's controls, as rows of the null table: the bump hunt with no cut (ε = 1:
    the SB fit and the SR prediction on all test events) and with a random cut at each
    efficiency (every event's score drawn uniformly, seeded by ``seed``). Neither knows the
    classifier, so a calibrated fit gives Z ~ N(0, 1) for both; a method is judged against
    them. ``data_scores``: any method's test-data score table (``mjj``, ``sr``, ``label``).
    They use no network, so they are computed once per dataset (``run`` 0).
    """
    events = read_parquet(data_scores, ["mjj", "sr", "label"])
    cuts = {
        "no_cut": (np.zeros(len(events)), [1.0]),
        "random_cut": (rng(seed, "null-random-cut").random(len(events)), bumphunt["efficiencies"]),
    }
    rows = []
    for name, (score, efficiencies) in cuts.items():
        fits, _ = run_bump_hunt(
            events.assign(score=score), window, {**bumphunt, "efficiencies": efficiencies}
        )
        rows.append(
            {"data_seed": int(data_seed), "run": 0, "feature_set": feature_set, "method": name}
            | _fit_columns(fits)
        )
    return pd.DataFrame(rows)


def run_files(files: Mapping[str, str]) -> dict[int, RunInputs]:
    """A null run's inputs (``run<r>_scores_<method>``, ``run<r>_summary_<method>``,
    ``run<r>_bumphunt_<method>``, ``run<r>_flow_diagnostics``; ``data_scores`` aside) per
    run, in run order; a KeyError names any other run input."""
    runs: dict[int, RunInputs] = {}
    for key, path in files.items():
        if key == "data_scores":
            continue
        if not (match := _RUN_FILE.match(key)):
            raise KeyError(f"null run: unknown input {key!r}")
        run = runs.setdefault(int(match["run"]), RunInputs())
        if match["kind"]:
            getattr(run, match["kind"])[match["method"]] = path
        else:
            run.flow_diagnostics = path
    return dict(sorted(runs.items()))


def write_null_run(
    data_seed: int,
    feature_set: str,
    files: Mapping[str, str],
    out: str,
    window: Sequence[float],
    bumphunt: Mapping[str, object] | None,
    seed: int,
) -> None:
    """One dataset of the null study (the ``null_run`` rule), to ``out`` (CSV): its rows per
    run and method (``files``: :func:`run_files`, and ``data_scores``) and, where the feature
    set is searched (``bumphunt`` given), its control rows (:func:`control_rows`). Every row
    also carries the :data:`FLOW_COLUMNS` of its run's flow (``diagnostics.json``; the
    controls: run 0's)."""
    parts = []
    for run, inputs in run_files(files).items():
        rows = null_rows(
            data_seed, feature_set, inputs.scores, inputs.summary, inputs.bumphunt, run
        )
        if bumphunt is not None and run == 0:
            controls = control_rows(
                data_seed, feature_set, files["data_scores"], window, bumphunt, seed
            )
            rows = pd.concat([rows, controls], ignore_index=True)
        diag = read_json(inputs.flow_diagnostics)
        parts.append(rows.assign(**{f"flow_{key}": diag[key] for key in FLOW_COLUMNS}))
    table = pd.concat(parts, ignore_index=True)
    write_csv(table, out)
    log.info("dataset %d:\n%s", data_seed, table.to_string(index=False))


def z_columns(table: pd.DataFrame) -> list[str]:
    """The bump-hunt Z columns of a null table, tightest cut last (``z_local_eps0.1``, …)."""
    cols = [c for c in table.columns if c.startswith("z_local_eps")]
    return sorted(cols, key=lambda c: -float(c.removeprefix("z_local_eps")))


def report_datasets(rows: Sequence[Mapping[str, float]]) -> pd.DataFrame:
    """Per-dataset rows of an exploration (one ``dataset`` column and numbers) and, below
    them, each column's mean over the datasets and its standard error; returned as a table
    of ``mean`` and ``sem`` per column."""
    table = pd.DataFrame(list(rows))
    print(table.round(4).to_string(index=False))
    out = table.drop(columns="dataset").agg(["mean", "sem"]).T
    print(out.round(4).to_string(), flush=True)
    return out


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Per method: its datasets and rows (datasets × runs), the median, mean and standard
    error of the signal AUC; per bump-hunt efficiency the fits, failed fits, and Z's mean,
    standard error, one run's spread (``z_std``: ≈ 1 for a calibrated null) split into
    ``z_std_datasets`` and ``z_std_runs``, and ``z_scale`` and ``z_dof``, the Student's t
    that a new run on new data is read against (:func:`~resonant_ad.stats.trials.null_prediction`:
    runs of one dataset are not independent); and the mean and standard error of the cut's
    SR over side-band efficiency (``sides_ratio_mean``, ``sides_ratio_sem``: ≤ 1 unless the
    SR is a local maximum of the cut's efficiency)."""
    zcols = z_columns(table)
    out = {}
    for name, rows in table.groupby("method", sort=False):
        seeds = rows["data_seed"].to_numpy()
        auc = null_prediction(rows["auc_signal"], seeds)
        row = {
            "datasets": rows["data_seed"].nunique(),
            "rows": len(rows),
            "median": rows["auc_signal"].median(),
            "mean": auc["mean"],
            "sem": auc["sem"],
        }
        for col in zcols:
            eps = col.removeprefix("z_local_")
            z = null_prediction(rows[col], seeds)
            failed = f"z_failed_{eps}"
            row[f"z_fits_{eps}"] = int(z["fits"])
            row[f"z_failed_{eps}"] = rows[failed].sum() if failed in rows else 0
            row |= {f"z_{key}_{eps}": z[key] for key in PREDICTION_KEYS}
            ratio = f"sr_over_sb_sides_{eps}"
            sides = null_prediction(rows[ratio], seeds) if ratio in rows else {}
            row[f"sides_ratio_mean_{eps}"] = sides.get("mean", np.nan)
            row[f"sides_ratio_sem_{eps}"] = sides.get("sem", np.nan)
        out[name] = row
    return pd.DataFrame.from_dict(out, orient="index").rename_axis("method")


def null_figure(
    table: pd.DataFrame, summary: pd.DataFrame, title: str, outputs: Sequence[str]
) -> None:
    """Per dataset and method without signal: the signal AUC, the bump hunt's Z and the
    cut's SR over side-band efficiency (``sr_over_sb_sides``) at each efficiency; each method's
    mean ± s.e.m. (from ``summary``, :func:`summarize`) beside its points."""
    zcols = [c for c in z_columns(table) if table[c].notna().any()]
    eps_of = {col: col.removeprefix("z_local_") for col in zcols}
    rcols = [f"sr_over_sb_sides_{eps_of[c]}" for c in zcols]
    rcols = [c for c in rcols if c in table and table[c].notna().any()]
    # the summary's mean and s.e.m. columns of each plotted column
    stats = {"auc_signal": ("mean", "sem")}
    stats |= {c: (f"z_mean_{eps_of[c]}", f"z_sem_{eps_of[c]}") for c in zcols}
    for col in rcols:
        eps = col.removeprefix("sr_over_sb_sides_")
        stats[col] = (f"sides_ratio_mean_{eps}", f"sides_ratio_sem_{eps}")
    fig, axes = new_figure(1, 3, figsize=(16, 3.8))
    ax_auc, ax_z, ax_r = axes
    markers = ("s", "D", "^", "v", "o")
    for i, name in enumerate(summary.index):
        color = COLORS.get(str(name), "k")
        sel = table["method"] == name
        for ax, cols in ((ax_auc, ["auc_signal"]), (ax_z, zcols), (ax_r, rcols)):
            for k, col in enumerate(cols):
                values = table.loc[sel, col].dropna().to_numpy()
                if not values.size:
                    continue
                x = i + (k - (len(cols) - 1) / 2) * 0.25
                jitter = np.linspace(-0.06, 0.06, values.size) if values.size > 1 else 0.0
                ax.plot(x + jitter, values, markers[k % 5], color=color, alpha=0.35, ms=4)
                mean, sem = (summary.loc[name, key] for key in stats[col])
                if not np.isfinite(mean):
                    continue
                ax.errorbar(x + 0.1, mean, yerr=sem, fmt=markers[k % 5], color=color, capsize=3)
    ax_auc.axhline(0.5, color="k", ls=":", lw=1, label="AUC 0.5 (no information)")
    ax_auc.set_ylim(0, 1)
    ax_auc.set_ylabel("signal vs background AUC, no signal injected")
    ax_auc.legend(loc="lower right", fontsize=8)
    ax_z.axhspan(-1, 1, color="0.9", zorder=0, label="|Z| < 1")
    ax_z.axhline(0, color="k", ls=":", lw=1)
    for k, col in enumerate(zcols):
        eps = float(col.removeprefix("z_local_eps"))
        ax_z.plot([], [], markers[k % 5], color="0.3", label=f"ε = {eps:g}")
    ax_z.set_ylabel("bump-hunt local significance Z, no signal")
    ax_z.legend(loc="upper right", fontsize=8)
    ax_r.axhline(1, color="k", ls=":", lw=1, label="SR = larger side band")
    ax_r.set_ylabel("cut efficiency: SR / larger SB side band")
    ax_r.legend(loc="upper right", fontsize=8)
    if not zcols:  # a feature set the bump hunt does not search (bumphunt.feature_sets)
        for ax in (ax_z, ax_r):
            ax.text(0.5, 0.5, "not searched:\nno bump hunt", ha="center", transform=ax.transAxes)
    names = list(summary.index)
    with_auc = [n for n in names if np.isfinite(summary.loc[n, "mean"])]  # not the controls
    ax_auc.set_xlim(-0.5, len(with_auc) - 0.5)
    for ax, shown in ((ax_auc, with_auc), (ax_z, names), (ax_r, names)):
        ticks = [names.index(n) for n in shown]
        ax.set_xticks(ticks, [display_label(n) for n in shown], rotation=15, fontsize=8)
    fig.suptitle(title, fontsize=9)
    save_figure(fig, *outputs)


def write_null_summary(tables: Sequence[str], outputs: Mapping[str, str], title: str) -> None:
    """Join the per-dataset tables; write the table, the per-method summary and the figure."""
    table = pd.concat([read_csv(t) for t in tables], ignore_index=True)
    write_csv(table, outputs["table"])
    summary = summarize(table)
    write_csv(summary.reset_index(), outputs["summary"])
    null_figure(table, summary, title, [outputs["png"], outputs["pdf"]])
    log.info("null study, signal AUC and bump-hunt Z without signal:\n%s", summary.to_string())


def calibrate(
    bumphunts: pd.DataFrame, summary: pd.DataFrame, table: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Each bump hunt of the analysis (``bumphunts``: method, injection, run, efficiency,
    z_local) beside its method's null at that efficiency (``summary``, :func:`summarize`):
    ``null_fits``, ``null_z_mean``, ``null_z_std`` (one run's spread), the predictive
    ``null_z_scale`` and ``null_z_dof``, and ``z_calibrated``
    (:func:`~resonant_ad.stats.trials.null_calibrated_z`). With the null's rows (``table``,
    the null study's table) also the shape-free reading: ``null_runs_beyond`` (its runs at
    or above the Z), ``p_empirical`` and ``z_empirical``
    (:func:`~resonant_ad.stats.trials.null_rank_p`). Methods the null study did not run are
    left out: their Z has no null here."""
    summary = summary.set_index("method")
    rows = bumphunts[bumphunts["method"].isin(summary.index)]
    keep = ["method", "injection", "run", "efficiency", "z_local", "n_params"]
    out = rows[keep].reset_index(drop=True)  # every bump-hunt table has them
    eps = [_eps(float(e)) for e in out["efficiency"]]
    missing = sorted({e for e in eps if f"z_mean_{e}" not in summary.columns})
    if missing:
        raise KeyError(f"the null study has no bump hunt at efficiency {missing}")
    for name in ("z_fits", "z_mean", "z_std", "z_scale", "z_dof"):  # null_fits, null_z_mean, …
        key = "null_fits" if name == "z_fits" else f"null_{name}"
        out[key] = [summary.loc[m, f"{name}_{e}"] for m, e in zip(out["method"], eps, strict=True)]
    out["z_calibrated"] = null_calibrated_z(
        out["z_local"], out["null_z_mean"], out["null_z_scale"], out["null_z_dof"]
    )
    if table is not None:
        ranked = [
            null_rank_p(z, table.loc[table["method"] == m, f"z_local_{e}"].to_numpy(float))
            for z, m, e in zip(out["z_local"], out["method"], eps, strict=True)
        ]
        out["null_runs_beyond"] = [int(beyond) for *_, beyond in ranked]
        out["p_empirical"] = [float(p) for p, *_ in ranked]
        out["z_empirical"] = [float(z) for _, z, _ in ranked]
    return out


def write_calibrated(bumphunts: str, null_summary: str, output: str, null_table: str) -> None:
    """The analysis's bump-hunt table (:data:`~resonant_ad.pipeline.patterns.BUMPHUNT_SUMMARY`)
    read against its null study (summary and rows): :func:`calibrate`, written to ``output``."""
    table = calibrate(read_csv(bumphunts), read_csv(null_summary), read_csv(null_table))
    write_csv(table, output)
    log.info("bump hunts against the null study:\n%s", table.round(3).to_string(index=False))
