"""The surrogate against the real LHCO R&D signal region, and the realism check itself."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resonant_ad.studies.dijet.data import derive_features
from resonant_ad.studies.dijet.realism import (
    QUANTILES,
    REFERENCE_DIR,
    TARGETS,
    compare,
    ks_at_quantiles,
    load_reference,
    sr_classes,
    write_realism_check,
)
from resonant_ad.studies.dijet.surrogate import generate_surrogate

SR = (3.3, 3.7)


@pytest.fixture(scope="module")
def reference() -> dict[str, pd.DataFrame]:
    return load_reference()


@pytest.fixture(scope="module")
def surrogate_sr() -> dict[str, pd.DataFrame]:
    """≥ 100k SR events per class: the extra SR sample for QCD, 130k generated signal."""
    features, extra = generate_surrogate(20_000, 130_000, seed=21, n_extra_sr=110_000)
    events = sr_classes(derive_features(features), derive_features(extra), SR)
    assert min(len(v) for v in events.values()) >= 100_000
    return events


def test_reference_is_the_projects_copy(reference):
    assert REFERENCE_DIR.parts[-4:] == ("resonant_ad", "studies", "dijet", "reference")
    marg = reference["marginals"]
    assert set(marg["class"]) == {"background", "signal"}
    assert marg.loc[marg["class"] == "background", "n"].iloc[0] == 159_236


@pytest.mark.parametrize("cls", ["background", "signal"])
def test_surrogate_marginals_match_the_real_sr(surrogate_sr, reference, cls):
    table = compare(surrogate_sr, reference)
    rows = table[(table["check"] == "marginal") & (table["class"] == cls)]
    assert len(rows) == 5
    bad = rows[rows["value"] > TARGETS["ks"]]
    assert bad.empty, bad[["feature", "value"]].to_string()


@pytest.mark.parametrize("cls", ["background", "signal"])
def test_surrogate_correlations_match_the_real_sr(surrogate_sr, reference, cls):
    table = compare(surrogate_sr, reference)
    rows = table[(table["check"] == "correlation") & (table["class"] == cls)]
    assert len(rows) == 10
    bad = rows[rows["value"].abs() > TARGETS["correlation"]]
    assert bad.empty, bad[["feature", "own", "reference"]].to_string()


def test_surrogate_qcd_follows_the_real_mjj_dependence_inside_the_sr(surrogate_sr, reference):
    table = compare(surrogate_sr, reference)
    rows = table[table["check"] == "slice_mean"]
    assert len(rows) == 16
    bad = rows[rows["value"].abs() > TARGETS["slice_pull"]]
    assert bad.empty, bad[["feature", "own", "reference", "value"]].to_string()
    # the jet masses rise with mJJ as in the real data (+1.8% for mJ1 over the SR)
    mj1 = rows[rows["feature"].str.startswith("mj1@")]["own"].to_numpy()
    assert mj1[-1] > mj1[0]


def test_a_wrong_sample_is_flagged(surrogate_sr, reference):
    """The check has teeth: QCD with jets 15% too light fails it, the signal as QCD fails it."""
    light = {k: v.copy() for k, v in surrogate_sr.items()}
    light["background"][["mj1", "delta_mj"]] *= 0.85
    table = compare(light, reference)
    flagged = table[~table["within_target"] & (table["class"] == "background")]
    assert {"mj1", "delta_mj"} <= set(flagged["feature"])
    assert flagged["check"].eq("slice_mean").sum() >= 8
    swapped = {"background": surrogate_sr["signal"], "signal": surrogate_sr["background"]}
    assert (~compare(swapped, reference)["within_target"]).sum() > 20


def test_ks_at_quantiles_hand_computed():
    values = np.arange(1, 101, dtype=float)  # F(q) = q / 100
    assert ks_at_quantiles(values, [50.0], [0.5]) == pytest.approx(0.0)
    assert ks_at_quantiles(values, [50.0, 80.0], [0.5, 0.7]) == pytest.approx(0.1)
    assert list(QUANTILES.values()) == [0.01, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99]


def test_write_realism_check_flags_and_warns(tmp_path, caplog):
    """The rule's function: table, figure, and a warning per check out of its target."""
    features, extra = generate_surrogate(60_000, 8_000, seed=5, n_extra_sr=8_000)
    events, extra_path = tmp_path / "events.parquet", tmp_path / "extra.parquet"
    derive_features(features).to_parquet(events)
    shifted = derive_features(extra)
    shifted["mj1"] *= 1.3  # a broken extra sample
    shifted.to_parquet(extra_path)
    outputs = {k: str(tmp_path / f"realism.{k}") for k in ("table", "png", "pdf")}
    with caplog.at_level("WARNING", logger="resonant_ad.studies.dijet.realism"):
        table = write_realism_check(str(events), str(extra_path), outputs, SR, "test")
    assert (tmp_path / "realism.png").stat().st_size > 0
    saved = pd.read_csv(outputs["table"])
    assert list(saved["within_target"]) == list(table["within_target"])
    assert not saved.loc[(saved["check"] == "marginal") & (saved["feature"] == "mj1")][
        "within_target"
    ].iloc[0]
    assert any("mj1" in r.getMessage() for r in caplog.records)


def test_paper_scale_signal_strength():
    """1000 signal events in 1M QCD (config/lhco_surrogate_full.yaml) give the paper's
    S/B ≈ 0.6 % and S/√B ≈ 2.2 in the SR (estimated from the SR fractions of a sample)."""
    from resonant_ad.pipeline.config import load_study  # the config as the workflow reads it

    full = load_study("config/lhco_surrogate_full.yaml", "lhco_surrogate")
    n_bkg = full["data"]["surrogate"]["n_background"]
    n_sig = max(full["injections"])
    assert (n_bkg, n_sig) == (1_000_000, 1000)
    features, _ = generate_surrogate(150_000, 30_000, seed=8)
    events = derive_features(features)
    sr = events["mjj"].between(*SR, inclusive="neither")
    bkg = events["label"] == 0
    b = n_bkg * (sr & bkg).sum() / bkg.sum()
    s = n_sig * (sr & ~bkg).sum() / (~bkg).sum()
    assert 0.005 < s / b < 0.007, (s, b)
    assert 2.0 < s / np.sqrt(b) < 2.4, (s, b)


def test_calibration_objective_is_lower_at_the_shipped_constants():
    """`surrogate_calibration`: the shipped constants sit at a lower loss than moved ones."""
    import dataclasses

    from resonant_ad.studies.dijet import calibration as cal
    from resonant_ad.studies.dijet.jets import QCD
    from resonant_ad.studies.dijet.signal import SIGNAL

    names = ["radiation_scale", "merge_radius"]
    f = cal.objective("signal", names, 30_000)
    here = np.array([cal._to_free(getattr(SIGNAL, k), k) for k in names])
    assert f(here) < f(here + np.array([1.0, 0.0])) and f(here) < f(here - np.array([0.0, 1.0]))
    qcd = dataclasses.replace(QCD, radiation_pt_power=0.0)  # no mJJ dependence of masses
    events = cal.sample("qcd", qcd, SIGNAL, 30_000)
    table = compare(sr_classes(events, None, SR), load_reference())
    assert cal.loss("qcd", table) > cal.loss(
        "qcd",
        compare(sr_classes(cal.sample("qcd", QCD, SIGNAL, 30_000), None, SR), load_reference()),
    )
