"""The classifier stage of a dijet study: one method, one run — train, then score the test sets.

Files in, files out (one function per workflow rule). The method table in
:mod:`resonant_ad.methods` says which sources form the two classes; this module reads
them, builds the training arrays (features only: the truth ``label`` never enters a weakly
supervised training), trains the configured classifier and scores two test sets:

- SIC test: background in the SR (the data's SR test part without its injected signal, plus
  the extra SR background's test part) and the SR signal events that were not injected;
- sculpting test: the background of the data's SR and SB test parts, with its region;
- data test: every event of the data's SR and SB test parts (injected signal included), the
  sample the bump hunt (resonant_ad.bumphunt) cuts on and fits.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from .classifier import HGBEnsemble, NeuralClassifierEnsemble
from .flow_study import feature_columns
from .io import read_parquet, write_csv, write_json, write_parquet
from .methods import Method, method
from .seeding import derive_seed, rng

log = logging.getLogger(__name__)


def input_columns(df: pd.DataFrame) -> list[str]:
    """The classifier inputs of a table: its feature columns (flow_study.feature_columns)."""
    return feature_columns(df)


def make_classifier(cfg: Mapping[str, Any], seed: int) -> NeuralClassifierEnsemble | HGBEnsemble:
    """The classifier named by ``cfg['type']`` (``nn`` or ``hgb``) with its hyperparameters."""
    kind = cfg["type"]
    if kind == "nn":
        return NeuralClassifierEnsemble(**cfg["nn"], seed=seed)
    if kind == "hgb":
        return HGBEnsemble(**cfg["hgb"], seed=seed)
    raise ValueError(f"classifier.type must be 'nn' or 'hgb', got {kind!r}")


def _source_rows(
    frames: Mapping[str, pd.DataFrame],
    name: str,
    split: str,
    cols: list[str],
    n_normal: int,
    seed: int,
) -> np.ndarray:
    """Feature rows of one source for the ``train`` or ``val`` role."""
    if name == "samples":
        df = frames["samples"]
        return df.loc[df["split"] == split, cols].to_numpy(np.float64)
    if name == "normal":
        return rng(seed, "normal", split).standard_normal((n_normal, len(cols)))
    return frames[name][cols].to_numpy(np.float64)


def training_sets(
    m: Method,
    frames: Mapping[str, pd.DataFrame],
    n_synthetic: int,
    val_fraction: float,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """``(X_train, y_train, X_val, y_val, columns)`` of method ``m``; y = 1 for its class 1.

    ``n_synthetic`` and ``val_fraction`` size the ``normal`` source (LaCATHODE's N(0, 1)
    draws, as many as CATHODE's flow samples). Labels come from the sources, never from
    the events' truth labels.
    """
    cols = input_columns(frames[m.positive[0]])
    n_val = round(val_fraction * n_synthetic)
    sizes = {"train": n_synthetic - n_val, "val": n_val}
    arrays = []
    for role, split in ((0, "train"), (1, "val")):
        pos = _source_rows(frames, m.positive[role], split, cols, sizes[split], seed)
        neg = _source_rows(frames, m.negative[role], split, cols, sizes[split], seed)
        if len(pos) == 0 or len(neg) == 0:
            raise ValueError(
                f"{split} classes are empty: {m.positive[role]} has {len(pos)} events, "
                f"{m.negative[role]} has {len(neg)}"
            )
        arrays += [np.vstack([pos, neg]), np.r_[np.ones(len(pos)), np.zeros(len(neg))]]
    return arrays[0], arrays[1], arrays[2], arrays[3], cols


def scoring_sets(
    frames: Mapping[str, pd.DataFrame],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The SIC, sculpting and data test tables (features, mJJ, label, origin) of one space."""
    sr, sb = frames["sr_test"], frames["sb_test"]
    sic = pd.concat(
        [
            sr[sr["label"] == 0].assign(part="sr_test"),
            frames["extra_test"].assign(part="extra_test"),
            frames["signal_test"].assign(part="signal_test"),
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
) -> None:
    """Train ``method_name``'s classifier on ``inputs`` (source name → parquet) and score.

    ``outputs``: ``sic`` and ``sculpting`` score tables, ``history`` (epochs or members) and
    ``summary`` (JSON: training sizes, inputs, the SIC-test AUC).
    """
    m = method(method_name)
    needed = list(m.split_parts()) + [s for s in m.sources() if s == "samples"]
    missing = [s for s in needed if s not in inputs]
    if missing:
        raise KeyError(f"{method_name}: inputs lack {missing}")
    frames = {name: read_parquet(inputs[name]) for name in needed}
    X, y, X_val, y_val, cols = training_sets(
        m,
        frames,
        int(flow_params["n_samples"]),
        float(flow_params["sample_val_fraction"]),
        derive_seed(seed, "synthetic"),
    )
    log.info(
        "%s: %d train (%d class 1) / %d val events, inputs %s",
        method_name,
        len(y),
        int(y.sum()),
        len(y_val),
        cols,
    )
    clf = make_classifier(classifier_cfg, seed).fit(X, y, X_val, y_val)

    sic, _, data = scoring_sets(frames)
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
            "score": clf.predict_proba(data[cols].to_numpy(np.float64))[:, 1],
            "mjj": data["mjj"].to_numpy(),
            "sr": data["sr"].to_numpy(),
            "label": data["label"].to_numpy().astype(np.int8),
        }
    )
    sculpt_out = background_rows(data_out)[["score", "mjj", "sr"]]  # scored once
    tables = {"sic": sic_out, "sculpting": sculpt_out, "data": data_out}
    for name, df in tables.items():
        if not np.all(np.isfinite(df["score"])):
            raise FloatingPointError(f"{method_name}: non-finite scores on the {name} test set")
    for name, df in tables.items():
        write_parquet(df, outputs[name])

    if isinstance(clf, NeuralClassifierEnsemble):
        history = clf.history_
    else:
        history = pd.DataFrame(
            {"member": range(len(clf.members_)), "n_iter": [mm.n_iter_ for mm in clf.members_]}
        )
    write_csv(history, outputs["history"])
    # one class only (an SR window the signal does not reach): no AUC
    has_both = sic_out["label"].nunique() == 2
    auc = float(roc_auc_score(sic_out["label"], sic_out["score"])) if has_both else float("nan")
    summary = {
        "method": method_name,
        "space": m.space,
        "inputs": cols,
        "classifier": classifier_cfg["type"],
        "n_train": [int((y == 0).sum()), int((y == 1).sum())],
        "n_val": [int((y_val == 0).sum()), int((y_val == 1).sum())],
        "n_sic_test": [int((sic_out["label"] == 0).sum()), int((sic_out["label"] == 1).sum())],
        "n_sculpting_test": [int((~sculpt_out["sr"]).sum()), int(sculpt_out["sr"].sum())],
        "auc_sic_test": auc,
        "seed": seed,
    }
    write_json(summary, outputs["summary"])
    log.info("%s: AUC on the SIC test set %.4f", method_name, auc)
