"""The classifier stage of a dijet study: one method, one run — train, then score the test sets.

Files in, files out (one function per workflow rule). The method table in
:mod:`resonant_ad.stages.methods` says which sources form the two classes; this module reads
them, builds the training arrays (features only: the truth ``label`` never enters a weakly
supervised training), trains the configured classifier and scores two test sets:

- SIC test: background in the SR (the data's SR test part without its injected signal, plus
  the extra SR background's test part) and the SR signal events that were not injected;
- sculpting test: the background of the data's SR and SB test parts, with its region;
- data test: every event of the data's SR and SB test parts (injected signal included), the
  sample the bump hunt (resonant_ad.stats.bumphunt) cuts on and fits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.classifier import NeuralClassifierEnsemble, TrainingData, fit_members
from resonant_ad.core.hgb import HGBEnsemble
from resonant_ad.core.io import read_parquet, write_csv, write_json, write_parquet
from resonant_ad.core.seeding import derive_seed, rng
from resonant_ad.core.training import checkpoint_part, checkpoint_path, remove_checkpoint
from resonant_ad.stages.flows import feature_columns
from resonant_ad.stages.folds import fold_frames, out_of_fold_scores
from resonant_ad.stages.mapping import fold_spaces
from resonant_ad.stages.methods import TEST_PARTS, Method, method
from resonant_ad.stats.metrics import roc_auc

log = logging.getLogger(__name__)


def input_columns(df: pd.DataFrame) -> list[str]:
    """The classifier inputs of a table: its feature columns (:func:`~.flows.feature_columns`)."""
    return feature_columns(df)


def make_classifier(cfg: Mapping[str, Any], seed: int) -> NeuralClassifierEnsemble | HGBEnsemble:
    """The classifier named by ``cfg['type']`` (``nn`` or ``hgb``) with its hyperparameters."""
    kind = cfg["type"]
    if kind == "nn":
        return NeuralClassifierEnsemble(**cfg["nn"], seed=seed)
    if kind == "hgb":
        return HGBEnsemble(**cfg["hgb"], seed=seed)
    raise ValueError(f"classifier.type must be 'nn' or 'hgb', got {kind!r}")


@dataclass
class MethodData(TrainingData):
    """The two classes of one method's training and validation, with per-event weights.

    ``w`` / ``w_val`` weight events within their class (ones except for CWoLa's sidebands);
    ``columns`` are the classifier's inputs; ``dropped`` counts, per source, the events left
    out because they lie beyond the flow's fitted range (mapped spaces only).
    """

    columns: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)


def _source_rows(
    frames: Mapping[str, pd.DataFrame],
    name: str,
    split: str,
    cols: list[str],
    n_normal: int,
    seed: int,
    dropped: dict[str, int],
) -> pd.DataFrame:
    """Rows of one source for the ``train`` or ``val`` role (features and ``mjj`` if known).

    Events of a mapped part (z or x′) whose features lie beyond the flow's fitted range
    (``in_range`` false) are left out, as the reference code drops them from the flow's
    inputs: their latent coordinates are extrapolations. They are counted in ``dropped``.
    """
    if name == "samples":
        df = frames["samples"]
        return df.loc[df["split"] == split].reset_index(drop=True)
    if name == "normal":
        draws = rng(seed, "normal", split).standard_normal((n_normal, len(cols)))
        return pd.DataFrame(draws, columns=cols)
    df = frames[name]
    if "in_range" in df.columns:
        inside = df["in_range"].to_numpy(dtype=bool)
        dropped[name] = int((~inside).sum())
        df = df[inside].reset_index(drop=True)
    return df


def narrow_sidebands(
    sb: pd.DataFrame, signal_region: Sequence[float], width: float
) -> tuple[pd.DataFrame, np.ndarray]:
    """CWoLa hunting's reference class: SB events within ``width`` (TeV) below and above the SR.

    Returns the events and their weights: each side carries half the total (its events
    weighted n / (2 n_side)), so the lower and the upper sideband count equally, and an mJJ
    slope across the SR cannot tilt the reference (the CWoLa hunting reference code uses two
    200 GeV sidebands).
    """
    lo, hi = (float(v) for v in signal_region)
    m = sb["mjj"].to_numpy()
    lower, upper = (m > lo - width) & (m <= lo), (m >= hi) & (m < hi + width)
    n_lo, n_hi = int(lower.sum()), int(upper.sum())
    if n_lo == 0 or n_hi == 0:
        raise ValueError(
            f"CWoLa sidebands of {width} TeV around {[lo, hi]}: {n_lo} events below, "
            f"{n_hi} above; both must hold events"
        )
    keep = lower | upper
    n = n_lo + n_hi
    weights = np.where(lower, n / (2 * n_lo), n / (2 * n_hi))[keep]
    return sb[keep].reset_index(drop=True), weights


def training_sets(
    m: Method,
    frames: Mapping[str, pd.DataFrame],
    n_synthetic: int,
    val_fraction: float,
    seed: int,
    signal_region: Sequence[float] | None = None,
    sideband_width: float | None = None,
) -> MethodData:
    """Both classes of method ``m`` for training and validation; y = 1 for its class 1.

    ``n_synthetic`` and ``val_fraction`` size the ``normal`` source (LaCATHODE's N(0, 1)
    draws, as many as CATHODE's flow samples). Labels come from the sources, never from
    the events' truth labels. A method with ``narrow_sidebands`` (CWoLa) takes its class 0
    from :func:`narrow_sidebands` of ``signal_region`` and ``sideband_width``.
    """
    cols = input_columns(frames[m.positive[0]])
    n_val = round(val_fraction * n_synthetic)
    sizes = {"train": n_synthetic - n_val, "val": n_val}
    dropped: dict[str, int] = {}
    arrays = []
    for role, split in ((0, "train"), (1, "val")):
        pos = _source_rows(frames, m.positive[role], split, cols, sizes[split], seed, dropped)
        neg = _source_rows(frames, m.negative[role], split, cols, sizes[split], seed, dropped)
        w_neg = np.ones(len(neg))
        if m.narrow_sidebands:
            if signal_region is None or sideband_width is None:
                raise ValueError(f"{m.label} needs the signal region and cwola.sideband_width")
            neg, w_neg = narrow_sidebands(neg, signal_region, float(sideband_width))
        if len(pos) == 0 or len(neg) == 0:
            raise ValueError(
                f"{split} classes are empty: {m.positive[role]} has {len(pos)} events, "
                f"{m.negative[role]} has {len(neg)}"
            )
        X = np.vstack([pos[cols].to_numpy(np.float64), neg[cols].to_numpy(np.float64)])
        arrays.append(
            (X, np.r_[np.ones(len(pos)), np.zeros(len(neg))], np.r_[np.ones(len(pos)), w_neg])
        )
    (X, y, w), (X_val, y_val, w_val) = arrays
    return MethodData(X, y, X_val, y_val, w, w_val, cols, dropped)


def scoring_sets(
    frames: Mapping[str, pd.DataFrame], signal_parts: Sequence[str] = ("signal_test",)
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The SIC, sculpting and data test tables (features, mJJ, label, origin) of one space.

    The SIC test set is the SR test background (the data's SR test part without its injected
    signal, and the extra SR background's test part) and the SR signal of ``signal_parts``.
    """
    sr, sb = frames["sr_test"], frames["sb_test"]
    sic = pd.concat(
        [
            sr[sr["label"] == 0].assign(part="sr_test"),
            frames["extra_test"].assign(part="extra_test"),
            *(frames[p].assign(part=p) for p in signal_parts),
        ],
        ignore_index=True,
    )
    data = pd.concat([sr.assign(sr=True), sb.assign(sr=False)], ignore_index=True)
    return sic, background_rows(data), data


def background_rows(data: pd.DataFrame) -> pd.DataFrame:
    """The sculpting set: the background events of a data table, in its order."""
    return data[data["label"] == 0].reset_index(drop=True)


def train_and_score(
    method_name: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    classifier_cfg: Mapping[str, Any],
    flow_params: Mapping[str, Any],
    seed: int,
    signal_region: Sequence[float] | None = None,
    cwola: Mapping[str, Any] | None = None,
    folds: int = 0,
    fold_seed: int | None = None,
) -> None:
    """One run of :func:`train_and_score_runs`."""
    train_and_score_runs(
        method_name,
        [inputs],
        [outputs],
        classifier_cfg,
        flow_params,
        [seed],
        signal_region,
        cwola,
        folds,
        fold_seed,
    )


def train_and_score_runs(
    method_name: str,
    inputs: Sequence[Mapping[str, str]],
    outputs: Sequence[Mapping[str, str]],
    classifier_cfg: Mapping[str, Any],
    flow_params: Mapping[str, Any] | None,
    seeds: Sequence[int],
    signal_region: Sequence[float] | None = None,
    cwola: Mapping[str, Any] | None = None,
    folds: int = 0,
    fold_seed: int | None = None,
) -> None:
    """Train ``method_name``'s classifier of every run (its ``inputs``, source name → parquet)
    and score its test sets into its ``outputs``.

    ``outputs`` of a run: ``sic``, ``sculpting`` and ``data`` score tables, ``history``
    (epochs or members) and ``summary`` (JSON: training sizes, inputs, the SIC-test AUC, and
    the events beyond the flow's fitted range: left out of training, kept and counted in the
    tests). NN classifiers of the runs train together as the members of one model
    (:func:`resonant_ad.core.classifier.fit_members`: the same result as one by one); HGB
    ensembles one after the other. ``signal_region`` and ``cwola`` (its
    ``sideband_width``) are needed by CWoLa only, ``flow_params`` (``n_samples``,
    ``sample_val_fraction``: the size of the N(0, 1) class) by LaCATHODE only.

    ``folds`` = k ≥ 2: the ``data`` table holds every data event (SR and SB), each scored by
    one of k more classifiers per run that did not see it (:mod:`resonant_ad.stages.folds`;
    folds drawn with ``fold_seed``, else each run's seed); 0: the data's test parts, scored
    by the usual classifier. A method in a flow's space (z, x′) whose run inputs hold
    ``cross_flow0`` and ``cross_flow1`` (the cross-fitted flows,
    :func:`~resonant_ad.stages.mapping.train_cross_flows`) and the data parts in feature space
    (``x_sr_train`` …) maps the events of fold f with flow f % 2, fitted without them, for
    fold f's classifier's training and scores: no event is mapped by a flow fitted to it.
    """
    m = method(method_name)
    if folds == 1 or folds < 0:
        raise ValueError(f"bumphunt.folds must be 0 (the test parts only) or >= 2, got {folds}")
    k = folds if m.trains_on_data() else 0  # fold classifiers only where data is trained on
    runs = []
    for run_inputs, seed in zip(inputs, seeds, strict=True):
        needed = list(m.split_parts()) + [s for s in m.sources() if s == "samples"]
        missing = [s for s in needed if s not in run_inputs]
        if missing:
            raise KeyError(f"{method_name}: inputs lack {missing}")
        frames = {name: read_parquet(run_inputs[name]) for name in needed}
        if "normal" in m.sources() and not flow_params:
            raise ValueError(f"{method_name}: its N(0, 1) class needs n_samples and a val share")
        sampling = flow_params or {"n_samples": 0, "sample_val_fraction": 0.0}
        width = None if cwola is None else cwola["sideband_width"]
        n_synthetic = int(sampling["n_samples"])
        val_share = float(sampling["sample_val_fraction"])
        data = training_sets(
            m, frames, n_synthetic, val_share, derive_seed(seed, "synthetic"), signal_region, width
        )
        fseed = seed if fold_seed is None else fold_seed
        fold_sources = fold_spaces(m.space, frames, run_inputs, k, signal_region, flow_params, seed)
        fold_data = [
            training_sets(
                m,
                fold_frames(fold_sources[f], k, f, fseed),
                n_synthetic,
                val_share,
                derive_seed(seed, "synthetic", "fold", f),
                signal_region,
                width,
            )
            for f in range(k)
        ]
        log.info(
            "%s (seed %d): %d train (%d class 1) / %d val events, inputs %s",
            method_name,
            seed,
            len(data.y),
            int(data.y.sum()),
            len(data.y_val),
            data.columns,
        )
        if any(data.dropped.values()):
            log.info("events beyond the flow's range left out of training: %s", data.dropped)
        runs.append((frames, (fold_sources, fseed), data, fold_data))
    # per run: the usual classifier, then its fold classifiers (own seeds), all fitted together
    trainings = [
        (make_classifier(classifier_cfg, derive_seed(seed, "fold", f) if f >= 0 else seed), d)
        for (_, _, data, fold_data), seed in zip(runs, seeds, strict=True)
        for f, d in [(-1, data), *enumerate(fold_data)]
    ]
    resume = checkpoint_path(outputs[0]["history"])  # beside the first run's history
    kept: list[str | None] = []  # HGB ensembles keep their members until every run is scored
    if classifier_cfg["type"] == "nn":
        fit_members([c for c, _ in trainings], [d for _, d in trainings], resume)
    else:
        for k, (clf, d) in enumerate(trainings):
            kept.append(checkpoint_part(resume, k))
            clf.fit(d.X, d.y, d.X_val, d.y_val, d.w, d.w_val, checkpoint=kept[-1])
    fitted = iter(c for c, _ in trainings)
    for (frames, (fold_sources, fseed), data, fold_data), out, seed in zip(
        runs, outputs, seeds, strict=True
    ):
        clf = next(fitted)
        fold_clfs = [next(fitted) for _ in fold_data]
        if folds and not fold_clfs:  # never trained on the data: scores all of it
            fold_clfs, fold_sources = [clf], [frames]
        scoring = (fold_sources, fseed, any(src is not frames for src in fold_sources))
        _score_run(
            method_name, clf, fold_clfs, frames, data, out, classifier_cfg, seed, cwola, scoring
        )
    for path in kept:
        remove_checkpoint(path)


def _score_run(
    name: str,
    clf: NeuralClassifierEnsemble | HGBEnsemble,
    fold_clfs: Sequence[NeuralClassifierEnsemble | HGBEnsemble],
    frames: Mapping[str, pd.DataFrame],
    data: MethodData,
    outputs: Mapping[str, str],
    classifier_cfg: Mapping[str, Any],
    seed: int,
    cwola: Mapping[str, Any] | None,
    folds: tuple[Sequence[Mapping[str, pd.DataFrame]], int, bool],
) -> None:
    """Score one run's test sets and write its tables, history and summary; with
    ``fold_clfs``, the ``data`` table is every data event scored out of fold (``folds``:
    each fold's sources, the folds' seed, whether each fold had a flow of its own)."""
    fold_sources, fold_seed, cross_flows = folds
    m = method(name)
    cols = data.columns
    sic, _, test_data = scoring_sets(frames, m.sic_signal_parts())
    sic_out = pd.DataFrame(
        {
            "score": clf.predict_proba(sic[cols].to_numpy(np.float64))[:, 1],
            "mjj": sic["mjj"].to_numpy(),
            "label": sic["label"].to_numpy().astype(np.int8),
            "part": sic["part"].to_numpy(),
        }
    )
    data_out = pd.DataFrame(
        {
            "score": clf.predict_proba(test_data[cols].to_numpy(np.float64))[:, 1],
            "mjj": test_data["mjj"].to_numpy(),
            "sr": test_data["sr"].to_numpy(),
            "label": test_data["label"].to_numpy().astype(np.int8),
        }
    )
    sculpt_out = background_rows(data_out)[["score", "mjj", "sr"]]  # scored once
    if fold_clfs:
        predictors = [lambda X, c=c: c.predict_proba(X)[:, 1] for c in fold_clfs]
        data_out = out_of_fold_scores(fold_sources, predictors, cols, fold_seed)
    tables = {"sic": sic_out, "sculpting": sculpt_out, "data": data_out}
    for name, df in tables.items():
        if not np.all(np.isfinite(df["score"])):
            raise FloatingPointError(f"{m.label}: non-finite scores on the {name} test set")
    for name, df in tables.items():
        write_parquet(df, outputs[name])

    if isinstance(clf, NeuralClassifierEnsemble):
        history = clf.history_
    else:
        history = pd.DataFrame(
            {
                "member": range(len(clf.members_)),
                "n_iter": [mm.n_iter_ for mm in clf.members_],
                "best_iteration": clf.best_iterations_,
            }
        )
    write_csv(history, outputs["history"])
    # one class only (an SR window the signal does not reach): no AUC
    has_both = sic_out["label"].nunique() == 2
    auc = roc_auc(sic_out["label"], sic_out["score"]) if has_both else float("nan")
    y, y_val = data.y, data.y_val
    out_of_range_test = {
        p: int((~frames[p]["in_range"].to_numpy(dtype=bool)).sum())
        for p in (*TEST_PARTS, *m.sic_signal_parts())
        if p in frames and "in_range" in frames[p].columns
    }
    summary = {
        "method": name,
        "space": m.space,
        "inputs": cols,
        "classifier": classifier_cfg["type"],
        "n_train": [int((y == 0).sum()), int((y == 1).sum())],
        "n_val": [int((y_val == 0).sum()), int((y_val == 1).sum())],
        "n_sic_test": [int((sic_out["label"] == 0).sum()), int((sic_out["label"] == 1).sum())],
        "sic_signal_parts": list(m.sic_signal_parts()),
        "n_sculpting_test": [int((~sculpt_out["sr"]).sum()), int(sculpt_out["sr"].sum())],
        "out_of_range_left_out_of_training": data.dropped,
        "out_of_range_in_test_sets": out_of_range_test,
        "auc_sic_test": auc,
        "seed": seed,
        "data_scored": {
            "folds": len(fold_clfs),
            "cross_flows": cross_flows,
            "n_sr": int(data_out["sr"].sum()),
            "n_sb": int((~data_out["sr"]).sum()),
        },
    }
    if m.narrow_sidebands:
        summary["sideband_width"] = float(cwola["sideband_width"])
    write_json(summary, outputs["summary"])
    log.info("%s (seed %d): AUC on the SIC test set %.4f", name, seed, auc)
