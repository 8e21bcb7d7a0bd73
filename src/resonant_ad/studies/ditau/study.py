"""The di-τ + X CATHODE study (the event-level paper, Secs. IV-V): files in, files out.

One function per workflow rule:

- :func:`write_split` — background-only SB (flow train/val) and SR background split
  42.5/42.5/15 % (train/val/test); per signal, an SR test set as large as the background
  test set and a pool for injection;
- :func:`write_samples` — per repeat, synthetic SR background from the SB flow and the mass
  KDE of the SR data, ``oversampling`` kernel draws per SR data event (one per test event);
- :func:`write_background_check` — real vs synthetic SR background AUC (paper: 0.55);
- :func:`train_and_score` — per (signal, injection σ, repeat): inject σ·√B signal events
  into the SR train/val data, train the classifier (SR data vs synthetic background,
  balanced class weights), score the test set;
- the evaluation (SIC, σ_after = σ × SIC(εB = 1 %), as the paper's Fig. 5) is
  :mod:`resonant_ad.studies.ditau.evaluation`.

With a density ratio (``ratio``: :func:`~resonant_ad.stages.flows.write_density_ratio`, the
flow's mismodelling learnt in the SB; not in the paper), every kernel's draws are importance
resampled from ``proposals`` × as many (:func:`~resonant_ad.stages.flows.resampled_kernel_samples`).

The injection strength σ = S/√B counts S injected SR signal events against B, all SR
background events of the sample (train, val and test), before any selection.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.classifier import NeuralClassifierEnsemble
from resonant_ad.core.flow import ConditionalFlow
from resonant_ad.core.hgb import HGBEnsemble
from resonant_ad.core.io import read_json, read_parquet, write_json, write_parquet
from resonant_ad.core.regions import in_window
from resonant_ad.core.seeding import rng
from resonant_ad.stages.checks import real_vs_synthetic
from resonant_ad.stages.classify import make_classifier
from resonant_ad.stages.flows import feature_columns, kernel_samples, resampled_kernel_samples
from resonant_ad.stages.parts import DITAU_BACKGROUND_PARTS, DITAU_SR_PARTS
from resonant_ad.stats.density_ratio import DensityRatio
from resonant_ad.stats.metrics import roc_auc

log = logging.getLogger(__name__)

MASS = "mvis"


def split_events(
    events: pd.DataFrame, params: Mapping[str, Any]
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], dict[str, Any]]:
    """(background parts, signal tables with a ``role`` test/pool, summary) of the sample.

    ``params``: seed, signal_region, signals (processes), split: {sb_val, sr_test}.
    """
    window = params["signal_region"]
    sr = in_window(events[MASS].to_numpy(), window)
    bkg = events["label"].to_numpy() == 0
    cols = [MASS, *feature_columns(events), "label"]
    sb_bkg = events.loc[bkg & ~sr, cols].reset_index(drop=True)
    sr_bkg = events.loc[bkg & sr, cols].reset_index(drop=True)
    if len(sr_bkg) == 0:
        raise ValueError(f"signal_region {list(window)} holds no background events")
    g = rng(params["seed"], "ditau-split")
    order = g.permutation(len(sb_bkg))
    n_sb_val = round(float(params["split"]["sb_val"]) * len(sb_bkg))
    parts = {
        "sb_train": sb_bkg.iloc[order[n_sb_val:]],
        "sb_val": sb_bkg.iloc[order[:n_sb_val]],
    }
    order = g.permutation(len(sr_bkg))
    n_test = round(float(params["split"]["sr_test"]) * len(sr_bkg))
    n_train = (len(sr_bkg) - n_test + 1) // 2
    parts["sr_test"] = sr_bkg.iloc[order[:n_test]]
    parts["sr_train"] = sr_bkg.iloc[order[n_test : n_test + n_train]]
    parts["sr_val"] = sr_bkg.iloc[order[n_test + n_train :]]
    parts = {k: v.reset_index(drop=True) for k, v in parts.items()}
    signals = {}
    for name in params["signals"]:
        sig = events.loc[(events["process"] == name).to_numpy() & sr, cols].reset_index(drop=True)
        if len(sig) < n_test:
            raise ValueError(
                f"signal {name!r}: {len(sig)} selected SR events, fewer than the "
                f"{n_test} the test set needs (as many as its background)"
            )
        role = np.full(len(sig), "pool", dtype=object)
        order = rng(params["seed"], "ditau-split-signal", name).permutation(len(sig))
        role[order[:n_test]] = "test"
        signals[name] = sig.assign(role=pd.array(role, dtype="string"))
    summary = {
        "n_sr_background": len(sr_bkg),
        "n_sb_background": len(sb_bkg),
        "parts": {k: len(v) for k, v in parts.items()},
        "signal_pool": {k: int((v["role"] == "pool").sum()) for k, v in signals.items()},
        "signal_test": {k: int((v["role"] == "test").sum()) for k, v in signals.items()},
        "signal_region": list(window),
    }
    return parts, signals, summary


def write_split(
    events_path: str,
    outputs: Mapping[str, str],
    signal_outputs: Mapping[str, str],
    summary_out: str,
    params: Mapping[str, Any],
) -> None:
    """Split the selected events (see :func:`split_events`) and write every part."""
    parts, signals, summary = split_events(read_parquet(events_path), params)
    for name in DITAU_BACKGROUND_PARTS:
        write_parquet(parts[name], outputs[name])
    for name, table in signals.items():
        write_parquet(table, signal_outputs[name])
    write_json(summary, summary_out)
    log.info("split: %s", summary)


def write_samples(
    model: str,
    parts: Mapping[str, str],
    samples_out: str,
    summary_out: str,
    params: Mapping[str, Any],
    seed: int,
    ratio: str | None = None,
) -> None:
    """The repeat's synthetic SR background for the SR data known before any injection.

    ``params``: signal_region, kde_bandwidth, oversampling. Each SR train (val) event gets
    ``oversampling`` kernel draws of the mass KDE of the data, with the flow's features
    (:func:`~resonant_ad.stages.flows.kernel_samples`, seeded by ``seed`` and the event's
    mass): the draws every dataset of this repeat shares, computed once; a training adds those
    of its injected events (:func:`data_synthetic`). Each SR test event gets one draw, for the
    real-vs-synthetic check and Fig. 3. A ``split`` column says train/val/test. ``ratio``:
    a saved density ratio to resample with (``params["proposals"]``), or None.
    """
    flow = ConditionalFlow.load(model)
    frames = {k: read_parquet(parts[k]) for k in DITAU_SR_PARTS}
    cols = feature_columns(frames["sr_train"])
    out = repeat_samples(flow, frames, cols, params, seed, load_ratio(ratio))
    n_out = int(flow.scaler_.out_of_range(out[cols].to_numpy()).sum())
    sizes = {s: int((out["split"] == s).sum()) for s in ("train", "val", "test")}
    write_parquet(out, samples_out)
    write_json({"sizes": sizes, "n_outside_training_range": n_out}, summary_out)
    log.info("samples %s, %d outside the flow's training range", sizes, n_out)


def kernel_draws(
    flow: ConditionalFlow,
    masses: np.ndarray,
    cols: Sequence[str],
    per_event: float,
    params: Mapping[str, Any],
    seed: int,
    ratio: DensityRatio | None = None,
) -> pd.DataFrame:
    """:func:`~resonant_ad.stages.flows.kernel_samples` with the study's ``params``
    (signal_region, kde_bandwidth; proposals) and mass column, resampled by ``ratio`` if any."""
    region, bandwidth = params["signal_region"], params["kde_bandwidth"]
    if ratio is None:
        return kernel_samples(flow, masses, cols, per_event, region, bandwidth, seed, MASS)
    return resampled_kernel_samples(
        flow, ratio, params["proposals"], masses, cols, per_event, region, bandwidth, seed, MASS
    )


def load_ratio(path: str | None) -> DensityRatio | None:
    """The saved density ratio at ``path``, or None (the flow alone)."""
    return DensityRatio.load(path) if path else None


def repeat_samples(
    flow: ConditionalFlow,
    frames: Mapping[str, pd.DataFrame],
    cols: Sequence[str],
    params: Mapping[str, Any],
    seed: int,
    ratio: DensityRatio | None = None,
) -> pd.DataFrame:
    """``oversampling`` kernel draws per SR train and val event, one per SR test event
    (``frames``: the SR parts), with a ``split`` column (see :func:`write_samples`)."""
    k = float(params["oversampling"])
    pieces = []
    for split, per_event in (("train", k), ("val", k), ("test", 1.0)):
        masses = frames[f"sr_{split}"][MASS].to_numpy()
        draws = kernel_draws(flow, masses, cols, per_event, params, seed, ratio)
        pieces.append(draws.assign(split=pd.array([split] * len(draws), dtype="string")))
    return pd.concat(pieces, ignore_index=True)


def weak_classes(
    data: pd.DataFrame, synthetic: pd.DataFrame, split: str, cols: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    """(X, y) of a weakly supervised training set: SR ``data`` (class 1) and the synthetic
    events of ``split`` (class 0); the class is the source, never the truth label."""
    real = data[list(cols)].to_numpy(np.float64)
    fake = synthetic.loc[synthetic["split"] == split, list(cols)].to_numpy(np.float64)
    return np.vstack([real, fake]), np.r_[np.ones(len(real)), np.zeros(len(fake))]


def data_synthetic(
    model: str,
    cache: pd.DataFrame,
    data: Mapping[str, pd.DataFrame],
    cols: Sequence[str],
    params: Mapping[str, Any],
    seed: int,
    ratio: str | None = None,
) -> tuple[pd.DataFrame, int]:
    """The synthetic class of one training: the mass KDE of its SR data, event by event.

    ``data`` maps train/val to the SR data of that split (whatever it holds: background and
    injected signal alike, labels unread). Every data event contributes ``oversampling``
    kernel draws (:func:`~resonant_ad.stages.flows.kernel_samples`, seeded by the repeat's
    ``seed`` and the event's mass), so that the synthetic masses follow the KDE of the data
    as in a search. The draws of events that the repeat's ``cache`` (:func:`write_samples`)
    already holds are taken from it, the others drawn here with the flow ``model``; both give
    the same numbers (with the density ratio at ``ratio``, if any). Rows are ordered by kernel
    centre. Returns (table with a ``split``
    column, number of events drawn here).
    """
    k = float(params["oversampling"])
    pieces, n_fresh, loaded = [], 0, None
    for split, df in data.items():
        masses = df[MASS].to_numpy(np.float64)
        cached = cache[cache["split"] == split]
        known = cached[cached["kde_center"].isin(masses)]
        fresh = masses[~np.isin(masses, cached["kde_center"].to_numpy())]
        new = []
        if len(fresh):
            loaded = loaded or (ConditionalFlow.load(model), load_ratio(ratio))
            new = [kernel_draws(loaded[0], fresh, cols, k, params, seed, loaded[1])]
        n_fresh += len(fresh)
        keep = [known[[*cols, MASS, "kde_center"]]] if len(known) else []
        table = pd.concat([*keep, *new], ignore_index=True)
        table = table.sort_values("kde_center", kind="stable", ignore_index=True)
        pieces.append(table.assign(split=pd.array([split] * len(table), dtype="string")))
    return pd.concat(pieces, ignore_index=True), n_fresh


def write_background_check(sr_parts: Sequence[str], samples: str, out: str, seed: int) -> None:
    """Real vs synthetic SR background of one repeat, by the dijet flow diagnostics' protocol
    (:func:`resonant_ad.stages.checks.real_vs_synthetic`).

    The real events are all SR background parts (``sr_parts``: train, val and test; the flow
    saw none of them, it is trained on the SB), the synthetic ones the repeat's samples of
    every split; both are cut to the same size.
    """
    real = pd.concat([read_parquet(p) for p in sr_parts], ignore_index=True)
    result = real_vs_synthetic(real, read_parquet(samples), MASS, seed)
    write_json(result, out)
    log.info("real vs synthetic SR background: %s", result)


def n_injected(sigma: float, n_sr_background: int) -> int:
    """Signal events for an injection of ``sigma`` = S/√B with B SR background events."""
    return round(float(sigma) * np.sqrt(n_sr_background))


def inject_signal(
    signal: pd.DataFrame, n: int, seed: int, name: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, val) halves of ``n`` signal events drawn from the pool, without replacement."""
    pool = signal[signal["role"] == "pool"].drop(columns="role")
    if n > len(pool):
        raise ValueError(
            f"config: ditau.injections asks for {n} {name} events (σ·√B), but its SR signal "
            f"pool holds {len(pool)}: lower the injection or raise "
            f"ditau.data.surrogate.counts.{name}"
        )
    chosen = pool.iloc[rng(seed, "ditau-inject").choice(len(pool), size=n, replace=False)]
    n_train = (n + 1) // 2
    train, val = chosen.iloc[:n_train], chosen.iloc[n_train:]
    return train.reset_index(drop=True), val.reset_index(drop=True)


def train_and_score(
    parts: Mapping[str, str],
    signal_path: str,
    samples_path: str,
    split_summary: str,
    model: str,
    scores_out: str,
    summary_out: str,
    signal: str,
    sigma: float,
    classifier_cfg: Mapping[str, Any],
    sampling: Mapping[str, Any],
    seed: int,
    sampling_seed: int,
    ratio: str | None = None,
    checkpoint: str | None = None,
) -> None:
    """One (signal, σ, repeat): inject, train SR data vs synthetic background, score the test.

    The SR data of training (validation) is the SR background train (val) part plus half the
    injected signal; the synthetic class is drawn from the mass KDE of that data with the flow
    ``model`` and the density ``ratio``, if any (:func:`data_synthetic`; ``sampling``:
    signal_region, kde_bandwidth, oversampling, proposals; ``sampling_seed``: the repeat's,
    whose samples ``samples_path`` hold the draws of the background part), so that the
    synthetic masses follow the SR data as in a search; the test set is the SR background
    test part and the signal's test events. Labels of the training come from the source
    (data = 1, synthetic = 0), never from the truth. ``checkpoint``: where the classifier's
    training keeps its state (the group job deletes it once every training is done).
    """
    frames = {k: read_parquet(parts[k]) for k in DITAU_SR_PARTS}
    samples = read_parquet(samples_path)
    sig = read_parquet(signal_path)
    n_sr = int(read_json(split_summary)["n_sr_background"])
    n = n_injected(sigma, n_sr)
    inj_train, inj_val = inject_signal(sig, n, seed, signal)
    cols = feature_columns(frames["sr_train"])
    data = {
        "train": pd.concat([frames["sr_train"], inj_train], ignore_index=True),
        "val": pd.concat([frames["sr_val"], inj_val], ignore_index=True),
    }
    synthetic, n_fresh = data_synthetic(model, samples, data, cols, sampling, sampling_seed, ratio)

    X, y = weak_classes(data["train"], synthetic, "train", cols)
    X_val, y_val = weak_classes(data["val"], synthetic, "val", cols)
    clf = make_classifier(classifier_cfg, seed).fit(X, y, X_val, y_val, checkpoint=checkpoint)
    test = pd.concat(
        [frames["sr_test"], sig[sig["role"] == "test"].drop(columns="role")], ignore_index=True
    )
    scores = clf.predict_proba(test[cols].to_numpy(np.float64))[:, 1]
    if not np.isfinite(scores).all():
        raise FloatingPointError(f"{signal} σ={sigma}: non-finite scores")
    out = pd.DataFrame(
        {"score": scores, MASS: test[MASS].to_numpy(), "label": test["label"].to_numpy()}
    )
    write_parquet(out, scores_out)
    summary = {
        "signal": signal,
        "injection": float(sigma),
        "n_injected": n,
        "n_sr_background": n_sr,
        "n_train": [int((y == 0).sum()), int((y == 1).sum())],
        "n_val": [int((y_val == 0).sum()), int((y_val == 1).sum())],
        "n_data_events_drawn_in_job": n_fresh,
        "n_test": [int((out["label"] == 0).sum()), int((out["label"] == 1).sum())],
        "classifier": classifier_cfg["type"],
        "auc": roc_auc(out["label"], out["score"]),
        "seed": seed,
    }
    if isinstance(clf, HGBEnsemble):
        summary["member_iterations"] = [int(mm.n_iter_) for mm in clf.members_]
        summary["member_best_iterations"] = list(clf.best_iterations_)
    elif isinstance(clf, NeuralClassifierEnsemble):
        summary["best_epochs"] = [int(e) + 1 for e in clf.best_epochs_]
    write_json(summary, summary_out)
    log.info("%s σ=%s: %d injected, test AUC %.4f", signal, sigma, n, summary["auc"])
