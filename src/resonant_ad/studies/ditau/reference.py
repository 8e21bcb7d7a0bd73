"""The no-signal reference: the scan's no-signal classifier with a perfect background model.

At injection 0 the scan trains SR data (background only) against the flow's synthetic
background; what it then selects of a signal is read as the flow's mismodelling. But a
classifier trained on two samples of one distribution is not a random selection either: it
fits the data's fluctuations, and a signal that sits in the background's tails lands in a
few of its leaves, so its no-signal AUC and SIC scatter widely around 0.5 and √εB (the SIC of
a random cut). The reference measures that scatter on the run's own data: the same
classifier, the same SR data, against *true* SR background (extra surrogate background that
nothing else sees) as large per split as the flow's samples. The background model is
calibrated when its no-signal numbers match the reference's, which
:func:`calibration` tabulates (``results/ditau/calibration.csv``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import (
    read_csv,
    read_json,
    read_parquet,
    write_csv,
    write_json,
    write_parquet,
)
from resonant_ad.core.seeding import rng
from resonant_ad.core.training import checkpoint_path, remove_checkpoint
from resonant_ad.stages.classify import make_classifier
from resonant_ad.stages.flows import feature_columns
from resonant_ad.stages.parts import DITAU_SR_PARTS
from resonant_ad.studies.ditau.data import SIGNALS, prepare_events, selected_in_sr
from resonant_ad.studies.ditau.evaluation import run_metrics
from resonant_ad.studies.ditau.generate import generate_objects
from resonant_ad.studies.ditau.study import MASS, weak_classes

log = logging.getLogger(__name__)


def sr_background(ditau: Mapping[str, Any], seed: int, scale: float) -> pd.DataFrame:
    """Fresh surrogate background in the SR, shuffled: the config's background counts ×
    ``scale``, generated with ``seed`` and selected as the run's events (``ditau``: the
    config's di-τ section). Independent of every event the scan sees."""
    if ditau["data"]["source"] != "surrogate":
        raise ValueError(
            "ditau.reference: true background comes from the package's generator, but "
            f"ditau.data.source = {ditau['data']['source']!r}; set ditau.reference.scale: 0"
        )
    counts = ditau["data"]["surrogate"]["counts"]
    background = {k: round(v * scale) for k, v in counts.items() if k not in SIGNALS}
    events, _ = prepare_events(
        generate_objects(background, seed), ditau["selection"], ditau["features"], seed + 1
    )
    sr = events[selected_in_sr(events, ditau["signal_region"])].drop(columns=["process"])
    return sr.sample(frac=1.0, random_state=seed % 2**32).reset_index(drop=True)


def write_sr_background(ditau: Mapping[str, Any], seed: int, out: str) -> None:
    """:func:`sr_background` at ``ditau.reference.scale``, to ``out``."""
    table = sr_background(ditau, seed, float(ditau["reference"]["scale"]))
    write_parquet(table, out)
    log.info("reference: %d true SR background events", len(table))


def reference_samples(
    background: pd.DataFrame,
    sizes: Mapping[str, int],
    oversampling: float,
    g: np.random.Generator | None = None,
) -> pd.DataFrame:
    """The synthetic class of a perfect background model: true SR background events, as many
    per split as the flow would draw (``oversampling`` per SR train and val event, one per
    test event; ``sizes``: the SR parts' sizes), each used once; ``g`` picks them (else the
    first ones)."""
    want = {
        "train": round(oversampling * sizes["train"]),
        "val": round(oversampling * sizes["val"]),
        "test": int(sizes["test"]),
    }
    if sum(want.values()) > len(background):
        raise ValueError(
            f"ditau.reference: {len(background)} true SR background events, "
            f"{sum(want.values())} needed; raise ditau.reference.scale"
        )
    rows = np.arange(len(background)) if g is None else g.permutation(len(background))
    bounds = np.cumsum([0, *want.values()])
    pieces = [
        background.iloc[rows[lo:hi]].assign(split=pd.array([split] * (hi - lo), dtype="string"))
        for split, lo, hi in zip(want, bounds[:-1], bounds[1:], strict=True)
    ]
    return pd.concat(pieces, ignore_index=True)


def train_reference(
    parts: Mapping[str, str],
    background: str,
    signals: Mapping[str, str],
    scores_out: str,
    summary_out: str,
    classifier_cfg: Mapping[str, Any],
    oversampling: float,
    seed: int,
) -> None:
    """One repeat's reference: the no-signal training with true background as the synthetic
    class; scores the SR background test part and every signal's test events
    (``process``: ``background`` or the signal's name)."""
    frames = {k: read_parquet(parts[k]) for k in DITAU_SR_PARTS}
    cols = feature_columns(frames["sr_train"])
    sizes = {k.removeprefix("sr_"): len(v) for k, v in frames.items()}
    synthetic = reference_samples(
        read_parquet(background), sizes, oversampling, rng(seed, "ditau-reference-draw")
    )
    X, y = weak_classes(frames["sr_train"], synthetic, "train", cols)
    X_val, y_val = weak_classes(frames["sr_val"], synthetic, "val", cols)
    resume = checkpoint_path(summary_out)  # a killed job resumes its members from here
    clf = make_classifier(classifier_cfg, seed).fit(X, y, X_val, y_val, checkpoint=resume)
    tests = [frames["sr_test"].assign(process="background")]
    for name, path in signals.items():
        sig = read_parquet(path)
        tests.append(sig[sig["role"] == "test"].drop(columns="role").assign(process=name))
    test = pd.concat(tests, ignore_index=True)
    scores = clf.predict_proba(test[cols].to_numpy(np.float64))[:, 1]
    out = pd.DataFrame(
        {
            "score": scores,
            MASS: test[MASS].to_numpy(),
            "label": test["label"].to_numpy(),
            "process": test["process"].astype("string").to_numpy(),
        }
    )
    write_parquet(out, scores_out)
    summary: dict[str, Any] = {"n_train": [int((y == 0).sum()), int((y == 1).sum())], "seed": seed}
    if hasattr(clf, "best_iterations_"):
        summary["member_best_iterations"] = [int(b) for b in clf.best_iterations_]
    write_json(summary, summary_out)
    remove_checkpoint(resume)


def calibration(
    metrics: pd.DataFrame,
    reference_scores: Sequence[pd.DataFrame],
    efficiency: float,
    min_background: int,
    flow_trees: Mapping[str, Sequence[int]] | None = None,
    reference_trees: Sequence[int] = (),
) -> pd.DataFrame:
    """Per signal: the scan's no-signal AUC and SIC at εB = ``efficiency`` (``metrics`` rows of
    injection 0; mean, std over repeats) beside the reference's (one per repeat: mean, std,
    min, max) and the SIC of a random cut, √εB. With the trees each HGB member kept
    (``flow_trees`` per signal over its no-signal trainings, ``reference_trees``), also their
    medians: a signal-blind view, since members trained on indistinguishable classes keep 1-2
    trees, and more where the classifier finds a real-vs-synthetic difference."""
    flow_trees = flow_trees or {}
    rows = []
    none = metrics[metrics["injection"] == 0]
    for signal, flow in none.groupby("signal", sort=True):
        ref = []
        for table in reference_scores:
            test = table[table["process"].isin(["background", signal])]
            m, _ = run_metrics(test, 1.0, efficiency, min_background)
            ref.append((m["auc"], m["sic_at_eff"]))
        ref_auc, ref_sic = np.array(ref).T
        rows.append(
            {
                "signal": signal,
                "repeats": len(flow),
                "flow_auc_mean": flow["auc"].mean(),
                "flow_auc_std": flow["auc"].std(),
                "flow_sic_mean": flow["sic_at_eff"].mean(),
                "flow_sic_std": flow["sic_at_eff"].std(),
                "reference_auc_mean": ref_auc.mean(),
                "reference_auc_std": ref_auc.std(ddof=1) if len(ref) > 1 else np.nan,
                "reference_auc_min": ref_auc.min(),
                "reference_auc_max": ref_auc.max(),
                "reference_sic_mean": ref_sic.mean(),
                "reference_sic_std": ref_sic.std(ddof=1) if len(ref) > 1 else np.nan,
                "reference_sic_min": ref_sic.min(),
                "reference_sic_max": ref_sic.max(),
                "random_cut_sic": float(np.sqrt(efficiency)),
                "flow_trees_median": _median(flow_trees.get(signal, ())),
                "reference_trees_median": _median(reference_trees),
            }
        )
    return pd.DataFrame(rows)


def _median(values: Sequence[int]) -> float:
    return float(np.median(values)) if len(values) else np.nan


def member_trees(trainings: Sequence[str]) -> list[int]:
    """The trees every HGB member of these trainings kept (``training.json``; none for NNs)."""
    out: list[int] = []
    for path in trainings:
        out += [int(b) for b in read_json(path).get("member_best_iterations", [])]
    return out


def trees_per_signal(trainings: Sequence[str]) -> dict[str, list[int]]:
    """:func:`member_trees` of the scan's trainings, grouped by the signal each names."""
    out: dict[str, list[int]] = {}
    for path in trainings:
        out.setdefault(read_json(path)["signal"], []).extend(member_trees([path]))
    return out


def write_calibration(
    metrics: str,
    reference_scores: Sequence[str],
    out: str,
    efficiency: float,
    min_background: int,
    flow_trainings: Sequence[str] = (),
    reference_trainings: Sequence[str] = (),
) -> None:
    """:func:`calibration` from the scan's ``metrics.csv``, the reference score files and the
    ``training.json`` of the scan's no-signal trainings and of the reference."""
    table = calibration(
        read_csv(metrics),
        [read_parquet(p) for p in reference_scores],
        efficiency,
        min_background,
        trees_per_signal(flow_trainings),
        member_trees(reference_trainings),
    )
    write_csv(table, out)
    log.info("no-signal calibration:\n%s", table.to_string(index=False))
