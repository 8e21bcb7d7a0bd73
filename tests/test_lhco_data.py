"""LHCO data chain: surrogate schema and physics, derived features, injection, split."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from resonant_ad.stages.parts import SPLIT_PARTS
from resonant_ad.studies.dijet.data import (
    PREPARED,
    build_features,
    derive_features,
    inject,
    read_raw,
    split_study,
)
from resonant_ad.studies.dijet.surrogate import COLUMNS, generate_surrogate, write_hdf

SR = (3.3, 3.7)
ORIGINAL = {"features": ["mj1", "delta_mj", "tau21_j1", "tau21_j2"]}
SHIFTED = {**ORIGINAL, "shift": {"c": 0.1, "columns": ["mj1", "delta_mj"]}}


@pytest.fixture(scope="module")
def surrogate():
    return generate_surrogate(60_000, 6_000, seed=3, n_extra_sr=5_000)


@pytest.fixture(scope="module")
def prepared(surrogate):
    return derive_features(surrogate[0]), derive_features(surrogate[1])


def test_surrogate_has_the_real_schema(surrogate, tmp_path):
    features, extra = surrogate
    assert list(features.columns) == COLUMNS
    assert list(extra.columns) == COLUMNS
    assert len(features) == 66_000 and len(extra) == 5_000
    assert set(features["label"]) == {0.0, 1.0} and int(features["label"].sum()) == 6_000
    path = tmp_path / "f.h5"
    write_hdf(features, path)
    assert read_raw(path).equals(features)


def test_surrogate_is_seeded():
    a, _ = generate_surrogate(2000, 200, seed=9)
    b, _ = generate_surrogate(2000, 200, seed=9)
    c, _ = generate_surrogate(2000, 200, seed=10)
    assert a.equals(b) and not a.equals(c)


def test_signal_peaks_where_it_should(prepared):
    events, _ = prepared
    sig = events[events["label"] == 1]
    assert np.median(sig["mjj"]) == pytest.approx(3.5, abs=0.05)
    # Y, the lighter jet: 100 GeV plus radiation (the real SR's median is 0.111 TeV)
    assert np.median(sig["mj1"]) == pytest.approx(0.11, abs=0.01)
    assert np.median(sig["mj1"] + sig["delta_mj"]) == pytest.approx(0.5, abs=0.03)  # X
    bkg = events[events["label"] == 0]
    # two-prong signal jets have lower τ21 than QCD jets, the heavier (X) one most
    assert np.median(sig["tau21_j1"]) < np.median(bkg["tau21_j1"]) - 0.15
    assert np.median(sig["tau21_j2"]) < np.median(bkg["tau21_j2"]) - 0.2


def test_background_falls_in_mjj_and_features_correlate_through_pt(prepared):
    events, _ = prepared
    bkg = events[events["label"] == 0]
    counts, _ = np.histogram(bkg["mjj"], bins=[3.0, 3.5, 4.0, 4.5, 5.0, 5.5])
    assert np.all(np.diff(counts) < 0)
    assert stats.pearsonr(bkg["mjj"], bkg["mj1"])[0] > 0.05  # heavier jets at higher pT
    assert stats.pearsonr(bkg["mjj"], bkg["delta_r"])[0] > 0.2  # wider angles at higher mass


def test_extra_sample_is_sr_background_like_the_main_one(prepared):
    events, extra = prepared
    assert np.all((extra["mjj"] > SR[0]) & (extra["mjj"] < SR[1]))
    assert (extra["label"] == 0).all()
    main_sr = events[(events["label"] == 0) & events["mjj"].between(*SR, inclusive="neither")]
    for col in ("mjj", "mj1", "tau21_j1"):
        assert stats.ks_2samp(main_sr[col], extra[col]).pvalue > 1e-3, col


def test_extra_sample_keeps_the_heavy_jet_tail_of_the_sr():
    """Heavy jets lift mJJ above the parton mass: the extra SR sample must keep those events.

    A generator cut on the parton mass near the window lost a quarter of the events with a
    very heavy jet, a tail the idealized AD then learned as "data-like" without any signal
    (here: a heavier jet above 0.6 TeV, the real SR's top ~1%).
    """
    features, extra = generate_surrogate(1_000_000, 0, seed=11, n_extra_sr=100_000)
    derived, extra = derive_features(features), derive_features(extra)
    main_sr = derived[(derived["mjj"] > SR[0]) & (derived["mjj"] < SR[1])]
    heavy = [(t["mj1"] + t["delta_mj"] > 0.6).to_numpy() for t in (main_sr, extra)]
    p_main, p_extra = (h.mean() for h in heavy)
    pairs = zip((p_main, p_extra), heavy, strict=True)
    sigma = np.sqrt(sum(p * (1 - p) / h.size for p, h in pairs))
    assert heavy[0].sum() > 200  # enough tail events for the comparison to mean something
    assert abs(p_extra - p_main) < 3 * sigma, (p_main, p_extra, sigma)


def test_derived_features_hand_computed():
    # jet 1: pT = 1500 along x, η = 0, m = 400; jet 2: pT = 1400 along −x, pz = 1400·sinh(1), m = 80
    raw = pd.DataFrame(
        {
            "pxj1": [1500.0],
            "pyj1": [0.0],
            "pzj1": [0.0],
            "mj1": [400.0],
            "tau1j1": [0.5],
            "tau2j1": [0.2],
            "tau3j1": [0.1],
            "pxj2": [-1400.0],
            "pyj2": [0.0],
            "pzj2": [1400.0 * np.sinh(1.0)],
            "mj2": [80.0],
            "tau1j2": [0.4],
            "tau2j2": [0.3],
            "tau3j2": [0.2],
            "label": [1.0],
        }
    )
    out = derive_features(raw).iloc[0]
    e1 = np.sqrt(1500.0**2 + 400.0**2)
    e2 = np.sqrt(1400.0**2 + (1400.0 * np.sinh(1.0)) ** 2 + 80.0**2)
    mjj = np.sqrt((e1 + e2) ** 2 - (100.0**2 + (1400.0 * np.sinh(1.0)) ** 2))
    assert out["mjj"] == pytest.approx(mjj / 1000)
    assert out["mj1"] == pytest.approx(0.080)  # the lighter jet is jet 2
    assert out["delta_mj"] == pytest.approx(0.320)
    assert out["tau21_j1"] == pytest.approx(0.3 / (0.4 + 1e-5))  # τ21 of the lighter jet
    assert out["tau21_j2"] == pytest.approx(0.2 / (0.5 + 1e-5))
    assert out["delta_r"] == pytest.approx(np.hypot(1.0, np.pi))
    assert list(derive_features(raw).columns) == PREPARED


def test_delta_phi_wraps_around():
    raw = pd.DataFrame({c: [1.0] for c in COLUMNS})
    phi1, phi2 = np.pi - 0.1, -np.pi + 0.1  # 0.2 apart across the ±π seam
    raw[["pxj1", "pyj1", "pzj1"]] = [[1500 * np.cos(phi1), 1500 * np.sin(phi1), 0.0]]
    raw[["pxj2", "pyj2", "pzj2"]] = [[1500 * np.cos(phi2), 1500 * np.sin(phi2), 0.0]]
    assert derive_features(raw)["delta_r"].iloc[0] == pytest.approx(0.2)


def test_missing_column_is_named(tmp_path):
    path = tmp_path / "bad.h5"
    write_hdf(pd.DataFrame({c: [1.0] for c in COLUMNS if c != "tau2j2"}), path)
    with pytest.raises(KeyError, match=r"bad\.h5.*tau2j2"):
        read_raw(path)
    path2 = tmp_path / "wrongkey.h5"
    pd.DataFrame({"a": [1.0]}).to_hdf(path2, key="events")
    with pytest.raises(KeyError, match="HDF5 key 'df'"):
        read_raw(path2)


def test_injection_keeps_exactly_n_signal(prepared):
    events, _ = prepared
    data, unused, summary = inject(events, 500, SR, seed=1)
    assert int(data["label"].sum()) == 500
    assert len(unused) == 6_000 - 500 and (unused["label"] == 1).all()
    assert (data["label"] == 0).sum() == 60_000
    assert summary["signal_in_sr"] + summary["background_in_sr"] == int(
        data["mjj"].between(*SR, inclusive="neither").sum()
    )
    assert summary["s_over_sqrt_b_sr"] == pytest.approx(
        summary["signal_in_sr"] / np.sqrt(summary["background_in_sr"])
    )
    # injected and unused signal are disjoint and together the whole signal sample
    sig_all = events[events["label"] == 1]["mjj"].sort_values().to_numpy()
    together = np.sort(np.r_[data[data["label"] == 1]["mjj"], unused["mjj"]])
    np.testing.assert_array_equal(together, sig_all)
    background_only, _, s0 = inject(events, 0, SR, seed=1)
    assert background_only["label"].sum() == 0 and s0["s_over_b_sr"] == 0
    with pytest.raises(ValueError, match="cannot inject 7000"):
        inject(events, 7000, SR, seed=1)


SPLIT_PARAMS = {
    "seed": 4,
    "signal_region": list(SR),
    "split": {"train": 0.5, "val": 1 / 6, "test": 1 / 3},
    "extra_split": {"train": 2000, "val": 1000},
}


def test_split_is_complete_disjoint_and_in_fractions(prepared):
    events, extra = prepared
    data, unused, _ = inject(events, 300, SR, seed=1)
    parts = split_study(data, unused, extra, ORIGINAL, SPLIT_PARAMS, 300)
    assert set(parts) == set(SPLIT_PARTS)
    data_parts = [parts[f"{r}_{s}"] for r in ("sr", "sb") for s in ("train", "val", "test")]
    assert sum(len(p) for p in data_parts) == len(data)
    for split, frac in SPLIT_PARAMS["split"].items():
        n = len(parts[f"sr_{split}"]) + len(parts[f"sb_{split}"])
        assert n == pytest.approx(frac * len(data), abs=1)
    for split in ("train", "val", "test"):
        assert parts[f"sr_{split}"]["mjj"].between(*SR, inclusive="neither").all()
        sb = parts[f"sb_{split}"]["mjj"]
        assert ((sb <= SR[0]) | (sb >= SR[1])).all()
    # every event exactly once: compare the multiset of (mjj, mj1)
    keys = pd.concat(data_parts)[["mjj", "mj1"]].sort_values(["mjj", "mj1"]).to_numpy()
    np.testing.assert_array_equal(keys, data[["mjj", "mj1"]].sort_values(["mjj", "mj1"]).to_numpy())
    assert len(parts["extra_train"]) == 2000 and len(parts["extra_val"]) == 1000
    assert len(parts["extra_test"]) == len(extra) - 3000
    signal = [parts[f"signal_{s}"] for s in ("train", "val", "test")]
    sr_unused = unused[unused["mjj"].between(*SR, inclusive="neither")]
    assert sum(len(p) for p in signal) == len(sr_unused)  # every unused SR signal event, once
    for split, part in zip(("train", "val", "test"), signal, strict=True):
        assert (part["label"] == 1).all()
        assert part["mjj"].between(*SR, inclusive="neither").all()
        assert len(part) == pytest.approx(SPLIT_PARAMS["split"][split] * len(sr_unused), abs=1)
    sig_keys = np.sort(pd.concat(signal)["mjj"].to_numpy())
    np.testing.assert_array_equal(sig_keys, np.sort(sr_unused["mjj"].to_numpy()))


def test_split_same_for_every_feature_set_and_shift_applied(prepared):
    events, extra = prepared
    data, unused, _ = inject(events, 300, SR, seed=1)
    plain = split_study(data, unused, extra, ORIGINAL, SPLIT_PARAMS, 300)
    shifted = split_study(data, unused, extra, SHIFTED, SPLIT_PARAMS, 300)
    for part in SPLIT_PARTS:
        np.testing.assert_array_equal(plain[part]["mjj"], shifted[part]["mjj"])
        np.testing.assert_allclose(
            shifted[part]["mj1"], plain[part]["mj1"] + 0.1 * plain[part]["mjj"]
        )
        np.testing.assert_array_equal(shifted[part]["tau21_j1"], plain[part]["tau21_j1"])
    assert list(plain["sr_train"].columns) == [*ORIGINAL["features"], "mjj", "label"]


def test_split_rejects_empty_sr_and_short_extra(prepared):
    events, extra = prepared
    data, unused, _ = inject(events, 0, SR, seed=1)
    with pytest.raises(ValueError, match="holds no events"):
        split_study(data, unused, extra, ORIGINAL, {**SPLIT_PARAMS, "signal_region": [20, 21]}, 0)
    with pytest.raises(ValueError, match="extra_split"):
        split_study(
            data,
            unused,
            extra,
            ORIGINAL,
            {**SPLIT_PARAMS, "extra_split": {"train": 9000, "val": 10}},
            0,
        )


def test_unknown_feature_named(prepared):
    with pytest.raises(KeyError, match="mj3"):
        build_features(prepared[0], {"features": ["mj3"]})


def test_prepare_cuts_the_extra_background_to_the_sr(tmp_path, caplog):
    """The extra QCD sample is the idealized AD's SR reference: events outside it are cut."""
    from resonant_ad.studies.dijet.data import prepare

    features, extra = generate_surrogate(4000, 400, seed=4, n_extra_sr=600)
    wide = pd.concat([extra, features[features["label"] == 0].iloc[:900]], ignore_index=True)
    raw_f, raw_x = tmp_path / "f.h5", tmp_path / "x.h5"
    write_hdf(features, raw_f)
    write_hdf(wide, raw_x)
    out_e, out_x = tmp_path / "events.parquet", tmp_path / "extra.parquet"
    with caplog.at_level("WARNING", logger="resonant_ad.studies.dijet.data"):
        prepare(raw_f, raw_x, out_e, out_x, extra_region=SR)
    kept = pd.read_parquet(out_x)
    assert ((kept["mjj"] > SR[0]) & (kept["mjj"] < SR[1])).all()
    inside = derive_features(wide)["mjj"].between(*SR, inclusive="neither")
    assert len(kept) == int(inside.sum()) and len(kept) > 600  # the SR events of the 900 stay
    assert any("outside the SR" in r.getMessage() for r in caplog.records)
    assert len(pd.read_parquet(out_e)) == len(features)  # the main sample is not cut
