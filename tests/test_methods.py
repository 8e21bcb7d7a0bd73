"""The method table and the classifier stage: what each method trains on and is scored on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from resonant_ad import paths
from resonant_ad.classifier_study import input_columns, scoring_sets, train_and_score, training_sets
from resonant_ad.methods import METHODS, TEST_PARTS, method

FEATURES = ["a", "b"]


def _part(n: int, label: int | np.ndarray, seed: int, shift: float = 0.0) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    df = pd.DataFrame(g.normal(shift, 1.0, (n, 2)), columns=FEATURES)
    df["mjj"] = g.uniform(3.3, 3.7, n)
    df["label"] = np.broadcast_to(label, n).astype(np.int64)
    return df


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """Every source with distinct sizes, so that a wrong source shows up in the counts."""
    sr_label = np.r_[np.zeros(290, int), np.ones(10, int)]  # SR data with injected signal
    out = {
        "sr_train": _part(300, sr_label, 1),
        "sr_val": _part(100, sr_label[:100], 2),
        "sr_test": _part(150, np.r_[np.zeros(140, int), np.ones(10, int)], 3),
        "sb_train": _part(700, 0, 4),
        "sb_val": _part(230, 0, 5),
        "sb_test": _part(350, np.r_[np.zeros(345, int), np.ones(5, int)], 6),
        "extra_train": _part(400, 0, 7),
        "extra_val": _part(130, 0, 8),
        "extra_test": _part(500, 0, 9),
        "signal_train": _part(60, 1, 10, 2.0),
        "signal_val": _part(20, 1, 11, 2.0),
        "signal_test": _part(40, 1, 12, 2.0),
    }
    samples = _part(800, 0, 13).drop(columns="label")
    samples["split"] = np.where(np.arange(800) < 600, "train", "val")
    out["samples"] = samples
    return out


@pytest.fixture
def stage_files(tmp_path, frames) -> tuple[dict[str, str], dict[str, str]]:
    """Every source written to parquet, and the four output paths of the classifier stage."""
    inputs = {}
    for name, df in frames.items():
        inputs[name] = str(tmp_path / f"{name}.parquet")
        df.to_parquet(inputs[name])
    names = ("sic", "sculpting", "data", "history", "summary")
    outputs = {k: str(tmp_path / f"out_{k}") for k in names}
    return inputs, outputs


EXPECTED_SIZES = {  # (train class 1, train class 0, val class 1, val class 0)
    "cathode": (300, 600, 100, 200),
    "lacathode": (300, 750, 100, 250),
    "idealized": (300, 400, 100, 130),
    "supervised": (60, 400, 20, 130),
    "cwola": (300, 700, 100, 230),
    "decorrelated": (300, 600, 100, 200),  # its samples are the flow's draws at m0
}


@pytest.mark.parametrize("name", sorted(METHODS))
def test_training_sets_hold_exactly_their_sources(frames, name):
    X, y, Xv, yv, cols = training_sets(method(name), frames, 1000, 0.25, seed=3)
    assert cols == FEATURES  # never mjj, the truth label or the sample split
    n1, n0, v1, v0 = EXPECTED_SIZES[name]
    assert (int(y.sum()), int((y == 0).sum()), int(yv.sum()), int((yv == 0).sum())) == (
        n1,
        n0,
        v1,
        v0,
    )
    assert X.shape == (n1 + n0, 2) and Xv.shape == (v1 + v0, 2)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_no_test_events_in_training_and_no_truth_labels_in_weak_supervision(frames, name):
    m = method(name)
    assert not set(m.sources()) & set(TEST_PARTS)
    if m.weakly_supervised:
        assert not any(s.startswith("signal_") for s in m.sources())
        # the classes come from the sources: scrambling the truth labels changes nothing
        scrambled = {k: v.copy() for k, v in frames.items()}
        for df in scrambled.values():
            if "label" in df:
                df["label"] = np.random.default_rng(0).permutation(df["label"].to_numpy())
        a = training_sets(m, frames, 1000, 0.25, seed=3)
        b = training_sets(m, scrambled, 1000, 0.25, seed=3)
        for x, z in zip(a[:4], b[:4], strict=True):
            np.testing.assert_array_equal(x, z)


def test_lacathode_reference_is_seeded_standard_normal(frames):
    m = method("lacathode")
    a = training_sets(m, frames, 20000, 0.25, seed=3)
    b = training_sets(m, frames, 20000, 0.25, seed=3)
    c = training_sets(m, frames, 20000, 0.25, seed=4)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    normal = a[0][a[1] == 0]
    assert len(normal) == 15000
    np.testing.assert_allclose(normal.mean(axis=0), 0, atol=0.03)
    np.testing.assert_allclose(normal.std(axis=0), 1, atol=0.03)


def test_scoring_sets_drop_injected_signal_and_keep_regions(frames):
    sic, sculpt, data = scoring_sets(frames)
    assert (sic["part"] == "sr_test").sum() == 140  # the injected test signal is not used
    assert (sic["label"] == 1).sum() == 40 and set(sic[sic["label"] == 1]["part"]) == {
        "signal_test"
    }
    assert (sic["label"] == 0).sum() == 140 + 500
    assert sculpt["sr"].sum() == 140 and (~sculpt["sr"]).sum() == 345
    assert (sculpt["label"] == 0).all()
    # the bump hunt's data: every SR and SB test event, injected signal included
    assert data["sr"].sum() == 150 and (~data["sr"]).sum() == 350
    assert (data["label"] == 1).sum() == 15


def test_inputs_are_in_the_method_space():
    ids = ("lhco_surrogate", "shifted", "3.3-3.7", 1000, 2)
    lac = paths.classifier_inputs(*ids, "lacathode")
    assert all("/run2/latent/" in p for p in lac.values())
    assert set(lac) == {"sr_train", "sr_val", *TEST_PARTS}
    cat = paths.classifier_inputs(*ids, "cathode")
    assert cat["samples"].endswith("run2/flow/samples.parquet")
    assert all("/split/" in p for k, p in cat.items() if k != "samples")
    dec = paths.classifier_inputs(*ids, "decorrelated")
    assert dec["samples"].endswith("run2/decorrelated/samples_m0.parquet")
    assert all("/run2/decorrelated/" in p for p in dec.values())
    for name in METHODS:  # every mapped-space method finds its parts mapped
        if METHODS[name].space in ("z", "xp"):
            assert set(METHODS[name].split_parts()) <= set(paths.LATENT_PARTS)
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        paths.classifier_inputs(*ids, "nope")


def test_train_and_score_writes_scores_and_separates_a_clear_signal(stage_files, frames):
    inputs, outputs = stage_files
    cfg = {
        "type": "nn",
        "nn": {"hidden_layers": [16], "epochs": 5, "n_best_epochs": 2, "batch_size": 64},
    }
    train_and_score(
        "supervised", inputs, outputs, cfg, {"n_samples": 100, "sample_val_fraction": 0.25}, 7
    )
    sic = pd.read_parquet(outputs["sic"])
    assert list(sic.columns) == ["score", "mjj", "label", "part"] and len(sic) == 680
    sculpt = pd.read_parquet(outputs["sculpting"])
    assert list(sculpt.columns) == ["score", "mjj", "sr"] and len(sculpt) == 485
    summary = json.loads(open(outputs["summary"]).read())
    assert summary["n_train"] == [400, 60] and summary["auc_sic_test"] > 0.8
    assert input_columns(frames["samples"]) == FEATURES


def test_hgb_classifier_is_a_config_choice(stage_files):
    inputs, outputs = stage_files
    cfg = {"type": "hgb", "hgb": {"n_members": 3, "max_iter": 30}}
    sampling = {"n_samples": 100, "sample_val_fraction": 0.25}
    train_and_score("supervised", inputs, outputs, cfg, sampling, 7)
    history = pd.read_csv(outputs["history"])
    assert list(history.columns) == ["member", "n_iter"] and len(history) == 3
    summary = json.loads(open(outputs["summary"]).read())
    assert summary["classifier"] == "hgb" and summary["auc_sic_test"] > 0.8
