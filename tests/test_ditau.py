"""The di-τ study: simplex coordinates, selection, features, Delphes files, split, injection."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
import yaml
from conftest import copy_workflow, dry_run_jobs

from resonant_ad.core.flow import ConditionalFlow
from resonant_ad.pipeline.config import ditau_flow_seeds
from resonant_ad.pipeline.ditau_files import ditau_group_outputs
from resonant_ad.stages.checks import real_vs_synthetic_auc
from resonant_ad.stages.flows import feature_columns, train_flows, write_density_ratio
from resonant_ad.stages.parts import DITAU_BACKGROUND_PARTS
from resonant_ad.studies.ditau import data as ditau
from resonant_ad.studies.ditau import study as ds
from resonant_ad.studies.ditau.data import OBJECT_TYPES, PADDING
from resonant_ad.studies.ditau.evaluation import run_metrics
from resonant_ad.studies.ditau.generate import generate_objects

SELECTION = {"tau_eta_max": 2.4, "leading_tau_pt_min": 40.0, "mvis_min": 100.0}
FEATURES = {"n_rho": 10, "padding_noise": 0.01, "ht_floor": 1.0}


def random_event(g: np.random.Generator, n_real: int) -> np.ndarray:
    """One event of ``n_real`` massless objects padded to 15 with the paper's padding."""
    pt = g.uniform(20, 300, n_real)
    p4 = ditau.massless_p4(pt, g.normal(0, 1.5, n_real), g.uniform(-np.pi, np.pi, n_real))
    pad = np.tile(PADDING, (15 - n_real, 1))
    return np.vstack([p4, pad])


def boost_z(p4: np.ndarray, rapidity: float) -> np.ndarray:
    """A boost of every object along the beam axis."""
    out = p4.copy()
    ch, sh = np.cosh(rapidity), np.sinh(rapidity)
    out[..., 0] = ch * p4[..., 0] + sh * p4[..., 3]
    out[..., 3] = sh * p4[..., 0] + ch * p4[..., 3]
    return out


def rotate_z(p4: np.ndarray, angle: float) -> np.ndarray:
    """A rotation of every object about the beam axis."""
    out = p4.copy()
    c, s = np.cos(angle), np.sin(angle)
    out[..., 1] = c * p4[..., 1] - s * p4[..., 2]
    out[..., 2] = s * p4[..., 1] + c * p4[..., 2]
    return out


@pytest.fixture
def events() -> np.ndarray:
    g = np.random.default_rng(0)
    return np.stack([random_event(g, n) for n in (2, 4, 9, 15)])


def test_simplex_coordinates_lie_on_the_simplex(events):
    rho = ditau.simplex_coordinates(events)
    assert rho.shape == (4, 15)
    assert np.all(rho >= 0)
    np.testing.assert_allclose(rho.sum(axis=1), 1.0, rtol=1e-12)


@pytest.mark.parametrize("rapidity", [-1.3, 0.4, 2.0])
def test_simplex_coordinates_are_invariant_under_longitudinal_boosts(events, rapidity):
    np.testing.assert_allclose(
        ditau.simplex_coordinates(boost_z(events, rapidity)),
        ditau.simplex_coordinates(events),
        rtol=1e-9,
    )


@pytest.mark.parametrize("angle", [0.3, 2.0, -2.9])
def test_simplex_coordinates_are_invariant_under_rotations_about_the_beam(events, angle):
    np.testing.assert_allclose(
        ditau.simplex_coordinates(rotate_z(events, angle)),
        ditau.simplex_coordinates(events),
        rtol=1e-9,
    )


def boost_x(p4: np.ndarray, rapidity: float) -> np.ndarray:
    """A boost of every object along the x axis (a transverse recoil)."""
    out = p4.copy()
    ch, sh = np.cosh(rapidity), np.sinh(rapidity)
    out[..., 0] = ch * p4[..., 0] + sh * p4[..., 1]
    out[..., 1] = sh * p4[..., 0] + ch * p4[..., 1]
    return out


def _at_rest(p4: np.ndarray) -> np.ndarray:
    """The objects of each event (massless) boosted to their rest frame P⃗ = 0."""
    p4 = p4.copy()
    p4[..., 0] = np.linalg.norm(p4[..., 1:], axis=-1)
    total = p4.sum(axis=-2, keepdims=True)
    return ditau.boost(p4, -total[..., 1:] / total[..., :1])


@pytest.mark.parametrize("rapidity", [0.2, 0.8])
def test_simplex_coordinates_are_those_of_the_rest_frame_after_a_transverse_boost(events, rapidity):
    """MET recoil boosts the visible system transversely: ρ must be that of its rest frame."""
    rest = _at_rest(events)
    e, pz = rest[..., 0], rest[..., 3]
    expected = (e + pz) / e.sum(axis=-1, keepdims=True)  # (E + p_z)/M at rest
    np.testing.assert_allclose(ditau.simplex_coordinates(rest), expected, rtol=1e-9)
    moved = boost_x(rest, rapidity)
    np.testing.assert_allclose(ditau.simplex_coordinates(moved), expected, rtol=1e-9, atol=1e-15)
    # and after a further boost along the beam (the partonic centre of mass)
    moved = boost_z(moved, 1.1)
    np.testing.assert_allclose(ditau.simplex_coordinates(moved), expected, rtol=1e-9, atol=1e-15)
    # the lab-frame light-cone fraction is not: it changes under the transverse boost
    lab = boost_x(rest, rapidity)
    lab_rho = (np.linalg.norm(lab[..., 1:], axis=-1) + lab[..., 3]) / (
        np.linalg.norm(lab[..., 1:], axis=-1) + lab[..., 3]
    ).sum(axis=-1, keepdims=True)
    assert np.max(np.abs(lab_rho - expected)) > 1e-3


def test_padded_objects_of_an_event_share_one_value(events):
    rho = ditau.simplex_coordinates(events)
    for row, n_real in zip(rho, (2, 4, 9, 15), strict=True):
        pads = row[n_real:]
        if pads.size:
            assert np.ptp(pads) == 0.0
            assert pads[0] > 0


def test_simplex_coordinates_match_the_spinor_construction_in_the_rest_frame():
    """Σ λ λ† = E_cm·1 in the centre-of-mass frame, and ρ_i = |λ_i¹|²/E_cm."""
    g = np.random.default_rng(3)
    p4 = random_event(g, 6)[:6]
    p4[:, 0] = np.linalg.norm(p4[:, 1:], axis=1)
    total = p4.sum(axis=0)
    rest = ditau.boost(p4, -total[1:] / total[0])  # to P⃗ = 0
    e, px, py, pz = rest.T
    lam = np.stack([np.sqrt(e + pz), (px + 1j * py) / np.sqrt(e + pz)], axis=1)
    e_cm = e.sum()
    outer = np.einsum("ia,ib->ab", lam, lam.conj())
    np.testing.assert_allclose(outer, e_cm * np.eye(2), atol=1e-8 * e_cm)
    np.testing.assert_allclose(
        ditau.simplex_coordinates(rest[None])[0], np.abs(lam[:, 0]) ** 2 / e_cm, rtol=1e-10
    )


def _table(types: np.ndarray, p4: np.ndarray, met: float = 30.0) -> pd.DataFrame:
    n = len(types)
    return ditau.objects_frame("test", 0, types, p4, np.full(n, met), np.zeros(n))


def _event(objects: list[tuple[str, float, float, float]]) -> tuple[np.ndarray, np.ndarray]:
    types = np.zeros(15, dtype=np.int8)
    p4 = np.zeros((15, 4))
    for i, (kind, pt, eta, phi) in enumerate(objects):
        types[i] = OBJECT_TYPES[kind]
        p4[i] = ditau.massless_p4(np.array(pt), np.array(eta), np.array(phi))
    return types, p4


def test_selection_takes_the_two_leading_central_tau_jets():
    cases = [
        # two central τ back to back: m_vis = 2·pT = 160 GeV, passes
        ([("tau", 80, 0.0, 0.0), ("tau", 80, 0.0, np.pi)], True, (0, 1)),
        # the leading τ is forward (|η| > 2.4): the next two central ones are used
        ([("tau", 200, 2.6, 0.0), ("tau", 90, 0.1, 0.0), ("tau", 70, 0.2, np.pi)], True, (1, 2)),
        # leading τ below 40 GeV
        ([("tau", 39, 0.0, 0.0), ("tau", 39, 1.9, np.pi)], False, None),
        # m_vis below 100 GeV (collinear τs)
        ([("tau", 80, 0.0, 0.0), ("tau", 60, 0.1, 0.2)], False, None),
        # a single τ, whatever else
        ([("tau", 80, 0.0, 0.0), ("jet", 200, 0.0, np.pi)], False, None),
    ]
    types, p4 = zip(*(_event(objs) for objs, _, _ in cases), strict=True)
    passed, i1, i2 = ditau.select_events(np.stack(types), np.stack(p4), SELECTION)
    for k, (_, ok, idx) in enumerate(cases):
        assert passed[k] == ok, k
        if idx is not None:
            assert (i1[k], i2[k]) == idx


def test_features_of_hand_built_events():
    t1, p1 = _event([("tau", 80, 0.0, 0.0), ("tau", 80, 0.0, np.pi), ("jet", 50, 1.0, 1.0)])
    t2, p2 = _event([("tau", 80, 0.5, 0.0), ("tau", 80, -0.5, np.pi)])
    table = _table(np.stack([t1, t2]), np.stack([p1, p2]))
    events, cutflow = ditau.prepare_events(table, SELECTION, {**FEATURES, "padding_noise": 0.0}, 1)
    assert list(events.columns) == [
        "mvis",
        *[f"rho{k}" for k in range(10)],
        "met",
        "ht",
        "delta_r_tautau",
        "label",
        "process",
    ]
    np.testing.assert_allclose(events["mvis"], [160.0, 2 * 80 * np.cosh(0.5)], rtol=1e-6)
    assert events["ht"][0] == pytest.approx(50.0, rel=1e-5)
    assert 0.0 <= events["ht"][1] < FEATURES["ht_floor"]  # no non-τ jets: HT from the floor
    np.testing.assert_allclose(events["delta_r_tautau"], [np.pi, np.hypot(1.0, np.pi)], rtol=1e-6)
    # without noise the padded ρ (objects 3…) of the first event are exactly equal
    rho = events[[f"rho{k}" for k in range(10)]].to_numpy()
    assert np.ptp(rho[0, 3:]) == 0.0 and np.ptp(rho[1, 2:]) == 0.0
    assert int(cutflow["selected"].sum()) == 2


def test_padding_noise_blurs_only_the_padded_coordinates():
    t, p = _event([("tau", 80, 0.0, 0.0), ("tau", 80, 0.0, np.pi), ("jet", 50, 1.0, 1.0)])
    table = _table(np.stack([t] * 200), np.stack([p] * 200))
    quiet, _ = ditau.prepare_events(table, SELECTION, {**FEATURES, "padding_noise": 0.0}, 1)
    noisy, _ = ditau.prepare_events(table, SELECTION, FEATURES, 1)
    real = [f"rho{k}" for k in range(3)]
    pads = [f"rho{k}" for k in range(3, 10)]
    np.testing.assert_array_equal(noisy[real].to_numpy(), quiet[real].to_numpy())
    rel = noisy[pads].to_numpy() / quiet[pads].to_numpy() - 1.0
    assert 0.008 < rel.std() < 0.012  # ~1 % Gaussian noise


def test_generator_is_seeded_and_its_signals_peak_in_the_signal_region():
    counts = {"drell_yan": 3000, "ttbar": 2000, "ttphi": 1000, "tprime": 1000, "xyh": 1000}
    a = generate_objects(counts, seed=5)
    pd.testing.assert_frame_equal(a, generate_objects(counts, seed=5))
    assert not a.equals(generate_objects(counts, seed=6))
    events, _ = ditau.prepare_events(a, SELECTION, FEATURES, 1)
    sr = events["mvis"].between(175, 300)
    assert set(events.loc[events["label"] == 1, "process"]) == {"ttphi", "tprime", "xyh"}
    for proc in ditau.SIGNALS:
        assert sr[events["process"] == proc].mean() > 0.8
    for proc in ditau.BACKGROUNDS:
        m = events.loc[events["process"] == proc, "mvis"]
        assert (m > 100).all() and (m < 175).mean() > 0.5  # falling above the cut
    by = events.groupby("process")[["met", "ht"]].median()
    assert by.loc["xyh", "met"] > 2 * by.loc["drell_yan", "met"]  # invisible H
    assert by.loc["tprime", "ht"] > 2 * by.loc["ttbar", "ht"]  # heavy extra jets


def write_delphes(path, drop: str | None = None) -> None:
    """A two-event ROOT file in Delphes' branch layout (Jet.PT, …, MissingET.MET)."""
    ak = pytest.importorskip("awkward")
    uproot = pytest.importorskip("uproot")
    collections = {
        "Jet": {
            "PT": [[90.0, 70.0, 40.0], [60.0]],
            "Eta": [[0.1, -0.4, 1.5], [0.3]],
            "Phi": [[0.0, 3.0, 1.0], [2.0]],
            "Mass": [[1.5, 1.2, 8.0], [5.0]],
            "TauTag": [[0, 1, 0], [1]],
            "BTag": [[0, 0, 1], [0]],
        },
        "Electron": {"PT": [[30.0], []], "Eta": [[0.2], []], "Phi": [[1.0], []]},
        "Muon": {"PT": [[], [25.0]], "Eta": [[], [-1.0]], "Phi": [[], [0.5]]},
        "Photon": {"PT": [[], []], "Eta": [[], []], "Phi": [[], []]},
        "MissingET": {"MET": [[55.0], [12.0]], "Phi": [[0.3], [-1.0]]},
    }
    data = {
        name: ak.zip(
            {k: ak.Array(v) for k, v in fields.items() if f"{name}.{k}" != drop}, depth_limit=2
        )
        for name, fields in collections.items()
    }
    with uproot.recreate(path) as fh:
        fh.mktree(
            "Delphes",
            {k: v.type.content for k, v in data.items()},
            field_name=lambda outer, inner: f"{outer}.{inner}",
            counter_name=lambda counted: f"{counted}_size",
        )
        fh["Delphes"].extend(data)


def test_read_delphes_orders_taus_jets_leptons_photons(tmp_path):
    path = tmp_path / "sample.root"
    write_delphes(path)
    table = ditau.read_delphes(path, "ttphi", 1)
    types, p4 = ditau.object_arrays(table)
    np.testing.assert_array_equal(types[0, :4], [1, 2, 3, 4])  # τ, jet, b-jet, electron
    np.testing.assert_array_equal(types[1, :2], [1, 5])  # τ, muon
    assert (types[:, 4:] == 0).all()
    np.testing.assert_allclose(np.hypot(p4[0, 0, 1], p4[0, 0, 2]), 70.0, rtol=1e-6)
    np.testing.assert_allclose(table["met"], [55.0, 12.0])
    assert set(table["process"]) == {"ttphi"} and (table["label"] == 1).all()


def test_read_delphes_names_a_missing_branch(tmp_path):
    path = tmp_path / "broken.root"
    write_delphes(path, drop="Jet.TauTag")
    with pytest.raises(KeyError, match=r"Jet\.TauTag"):
        ditau.read_delphes(path, "ttbar", 0)


@pytest.fixture(scope="module")
def split():
    counts = {"drell_yan": 20000, "ttbar": 12000, "ttphi": 4000, "tprime": 4000, "xyh": 4000}
    events, _ = ditau.prepare_events(generate_objects(counts, 2), SELECTION, FEATURES, 1)
    params = {
        "seed": 3,
        "signal_region": [175.0, 300.0],
        "signals": list(ditau.SIGNALS),
        "split": {"sb_val": 0.3, "sr_test": 0.15},
    }
    return events, *ds.split_events(events, params)


def test_split_fractions_and_background_only_sideband(split):
    events, parts, signals, summary = split
    n_sr = summary["n_sr_background"]
    assert len(parts["sr_test"]) == round(0.15 * n_sr)
    assert abs(len(parts["sr_train"]) - len(parts["sr_val"])) <= 1
    assert sum(len(parts[p]) for p in ("sr_train", "sr_val", "sr_test")) == n_sr
    for name in DITAU_BACKGROUND_PARTS:
        assert (parts[name]["label"] == 0).all()
    assert (parts["sb_train"]["mvis"].between(175, 300, inclusive="neither")).sum() == 0
    for table in signals.values():
        assert (table["role"] == "test").sum() == len(parts["sr_test"])
        assert (table["label"] == 1).all()
    assert feature_columns(parts["sr_train"]) == [
        c for c in events.columns if c not in ("mvis", "label", "process")
    ]


def test_injection_size_and_source(split):
    _, _, signals, summary = split
    n = ds.n_injected(2.0, summary["n_sr_background"])
    assert n == round(2.0 * np.sqrt(summary["n_sr_background"]))
    train, val = ds.inject_signal(signals["xyh"], n, seed=1, name="xyh")
    assert len(train) + len(val) == n
    pool = signals["xyh"][signals["xyh"]["role"] == "pool"].drop(columns="role")
    injected = pd.concat([train, val])
    assert injected.merge(pool, how="inner").shape[0] == n  # drawn from the pool only
    again, _ = ds.inject_signal(signals["xyh"], n, seed=1, name="xyh")
    pd.testing.assert_frame_equal(train, again)
    with pytest.raises(ValueError, match=r"xyh.*pool holds"):
        ds.inject_signal(signals["xyh"], len(pool) + 1, seed=1, name="xyh")


def test_significance_after_the_cut_is_injection_times_sic():
    g = np.random.default_rng(0)
    scores = pd.DataFrame(
        {
            "score": np.r_[g.normal(0, 1, 20000), g.normal(3, 1, 2000)],
            "label": np.r_[np.zeros(20000), np.ones(2000)].astype(int),
        }
    )
    metrics, _ = run_metrics(scores, 1.5, 0.01, 20)
    # threshold at the 99 % quantile of N(0, 1): εS = P(N(3, 1) > 2.326) ≈ 0.75
    assert metrics["sic_at_eff"] == pytest.approx(0.75 / 0.1, rel=0.05)
    assert metrics["significance_after_cut"] == pytest.approx(1.5 * metrics["sic_at_eff"])


def test_paper_config_lists_the_full_scan(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    counts = dry_run_jobs(workdir, "--configfile", "config/ditau.yaml")
    # a job per signal (runs_per_job: all), each its 7 injections (0 included) × 5 repeats
    assert counts["ditau_train_classifier_repeats0_4"] == 3
    paper = yaml.safe_load((workdir / "config/ditau.yaml").read_text())["ditau"]
    assert len(ditau_group_outputs(paper, range(5))) == 2 * 7 * 5  # scores and summary each
    assert counts["ditau_sample"] == 5 and counts["ditau_train_flow"] == 1
    assert "train_flow" not in counts  # only the di-τ study
    assert counts["ditau_density_ratio"] == 1
    # the paper's method, without the density ratio: no ratio job, nothing waits for one
    plain = dry_run_jobs(
        workdir,
        "--configfile",
        "config/ditau.yaml",
        "--config",
        "ditau={density_ratio: {proposals: 0}}",
    )
    assert "ditau_density_ratio" not in plain and plain["ditau_sample"] == 5


def _tiny_flow(parts: dict, tmp_path) -> str:
    """A one-epoch flow on the SB, saved: a stand-in for the study's flow."""
    path = tmp_path / "flow.pt"
    if not path.exists():
        cols, sb = feature_columns(parts["sb_train"]), parts["sb_train"]
        flow = ConditionalFlow(blocks=1, hidden=8, epochs=1, progress=False, seed=1)
        flow.fit(sb[cols].to_numpy(), sb["mvis"], sb[cols].to_numpy(), sb["mvis"])
        flow.save(path)
    return str(path)


def test_mass_kde_reads_the_data_masses_only(split, tmp_path):
    """The synthetic class is drawn from the KDE of the SR data, event by event: the same
    masses give the same synthetic events whatever the labels, the order, or which events
    the repeat's cache holds."""
    _, parts, signals, _ = split
    flow = _tiny_flow(parts, tmp_path)
    cols = feature_columns(parts["sr_train"])
    sampling = {"signal_region": [175.0, 300.0], "kde_bandwidth": 0.01, "oversampling": 3.0}
    injected = signals["ttphi"].iloc[:40].drop(columns="role")
    data = {
        "train": pd.concat([parts["sr_train"], injected.iloc[:20]], ignore_index=True),
        "val": pd.concat([parts["sr_val"], injected.iloc[20:]], ignore_index=True),
    }
    empty = pd.DataFrame({"split": pd.Series([], dtype="string"), "kde_center": []})
    fresh, n_fresh = ds.data_synthetic(flow, empty, data, cols, sampling, seed=5)
    assert n_fresh == len(data["train"]) + len(data["val"])
    for split_name, df in data.items():
        mine = fresh[fresh["split"] == split_name]
        counts = mine["kde_center"].value_counts()
        assert set(counts.index) == set(df["mvis"]) and (counts == 3).all()
        logit = np.log((mine["mvis"] - 175.0) / (300.0 - mine["mvis"]))
        centre = np.log((mine["kde_center"] - 175.0) / (300.0 - mine["kde_center"]))
        assert np.std(logit - centre) == pytest.approx(0.01, rel=0.1)  # the kernel width
    g = np.random.default_rng(0)
    shuffled = {
        k: df.iloc[g.permutation(len(df))].assign(label=g.permutation(df["label"].to_numpy()))
        for k, df in data.items()
    }
    again, _ = ds.data_synthetic(flow, empty, shuffled, cols, sampling, seed=5)
    pd.testing.assert_frame_equal(again, fresh)
    # the repeat's cache of the background part gives the same table, drawing only the rest
    background = {"train": parts["sr_train"], "val": parts["sr_val"]}
    cache, _ = ds.data_synthetic(flow, empty, background, cols, sampling, seed=5)
    cached, n_cached = ds.data_synthetic(flow, cache, data, cols, sampling, seed=5)
    assert n_cached == len(injected)
    pd.testing.assert_frame_equal(cached, fresh)
    # a fractional oversampling draws its integer part or one more per event, as often as due
    half = ds.data_synthetic(flow, empty, background, cols, {**sampling, "oversampling": 2.5}, 5)
    per_event = half[0]["kde_center"].value_counts()
    assert set(per_event.unique()) <= {2, 3} and per_event.mean() == pytest.approx(2.5, abs=0.05)


def test_density_ratio_refines_the_flow_event_by_event(split, tmp_path):
    """The SB density ratio of a poor (two-epoch) flow: each SR kernel keeps its 3 draws of
    15 proposals, the same wherever they are drawn, and the refined synthetic background is
    harder to tell from the real SR background than the flow's own."""
    _, parts, _, _ = split
    cols, train, val = feature_columns(parts["sb_train"]), parts["sb_train"], parts["sb_val"]
    flow = ConditionalFlow(  # the study's preprocessing, a small and short flow
        blocks=2,
        hidden=16,
        epochs=2,
        progress=False,
        seed=1,
        log_features=[cols.index("met"), cols.index("ht")],
        simplex_features=[cols.index(f"rho{i}") for i in range(10)],
        quantile_knots=101,
    )
    flow.fit(train[cols].to_numpy(), train["mvis"], val[cols].to_numpy(), val["mvis"])
    model = str(tmp_path / "flow.pt")
    flow.save(model)
    sb = []
    for name in ("sb_train", "sb_val"):
        sb.append(str(tmp_path / f"{name}.parquet"))
        parts[name].to_parquet(sb[-1])
    ratio, summary = str(tmp_path / "ratio.pt"), tmp_path / "ratio.json"
    params = {"model_per_real": 2, "clip": [0.02, 50.0]}
    write_density_ratio(model, sb, ratio, str(summary), params, 3, "mvis")
    info = json.loads(summary.read_text())
    assert info["sb_real_vs_flow_auc"] > 0.6 and info["trees"] >= 1
    sampling = {
        "signal_region": [175.0, 300.0],
        "kde_bandwidth": 0.01,
        "oversampling": 3.0,
        "proposals": 5,
    }
    empty = pd.DataFrame({"split": pd.Series([], dtype="string"), "kde_center": []})
    data = {"train": parts["sr_train"], "val": parts["sr_val"]}
    refined, _ = ds.data_synthetic(model, empty, data, cols, sampling, 5, ratio)
    assert (refined["kde_center"].value_counts() == 3).all()
    some = {"train": parts["sr_train"].iloc[:30], "val": parts["sr_val"].iloc[:10]}
    alone, _ = ds.data_synthetic(model, empty, some, cols, sampling, 5, ratio)
    same = refined[refined["kde_center"].isin(alone["kde_center"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, same[alone.columns])
    plain, _ = ds.data_synthetic(model, empty, data, cols, sampling, 5)
    real = pd.concat(data.values())[[*cols, "mvis"]].to_numpy()
    auc = {
        name: real_vs_synthetic_auc(real, table[[*cols, "mvis"]].to_numpy(), 1)
        for name, table in (("flow", plain), ("refined", refined))
    }
    assert auc["refined"] < auc["flow"] - 0.05, auc  # measured: 0.80 against 0.95


def test_flow_ensemble_is_one_model_holding_every_seeds_flow(split, tmp_path):
    """flow_ensemble 2: one saved model with both trainings' states, the first of them the
    single flow's (an ensemble of 1 is the flow of before), and a loss history per seed."""
    _, parts, _, _ = split
    sb = {}
    for name in ("sb_train", "sb_val"):
        sb[name] = str(tmp_path / f"{name}.parquet")
        parts[name].iloc[:3000].to_parquet(sb[name])
    seeds = ditau_flow_seeds({"seed": 5, "flow_ensemble": 2})
    assert seeds[0] == ditau_flow_seeds({"seed": 5, "flow_ensemble": 1})[0] != seeds[1]
    params = {"architecture": "rqs", "blocks": 1, "hidden": 8, "bins": 4, "epochs": 1}
    models = {}
    for k in (1, 2):
        out = {"model": str(tmp_path / f"model{k}.pt"), "history": str(tmp_path / f"h{k}.csv")}
        train_flows(
            sb["sb_train"],
            sb["sb_val"],
            [{**out, "figures": [str(tmp_path / f"loss{k}.png")]}],
            params,
            seeds[:k],
            "mvis",
            True,
        )
        models[k] = ConditionalFlow.load(out["model"])
        assert set(pd.read_csv(out["history"])["seed"]) == set(seeds[:k])
    assert len(models[1].states_) == 1 and len(models[2].states_) == 2
    first, second = models[2].states_
    for name, tensor in models[1].states_[0].items():
        assert torch.equal(tensor, first[name]), name
    assert any(not torch.equal(first[n], second[n]) for n in first)


@pytest.mark.parametrize("sigma", [0.0, 5.0])
def test_train_and_score_injects_sigma_root_b_into_train_and_val_only(
    split, tmp_path, sigma, monkeypatch
):
    """σ = 0 is the no-signal run: SR background alone against the synthetic background."""
    _, parts, signals, summary = split
    background = pd.concat([parts[f"sr_{s}"] for s in ("train", "val", "test")])

    def perfect_model(flow, masses, cols, per_event, window, bandwidth, seed, mass):
        """A perfect background model: SR background events, ``per_event`` per data mass."""
        g = np.random.default_rng(seed)
        rows = background.iloc[g.integers(0, len(background), round(per_event) * len(masses))]
        centre = np.repeat(masses, round(per_event))
        out = rows[list(cols)].reset_index(drop=True)
        return out.assign(**{mass: centre, "kde_center": centre})

    monkeypatch.setattr(ds, "kernel_samples", perfect_model)
    files = {}
    for name in ("sr_train", "sr_val", "sr_test"):
        files[name] = str(tmp_path / f"{name}.parquet")
        parts[name].to_parquet(files[name])
    signals["tprime"].to_parquet(tmp_path / "signal.parquet")
    (tmp_path / "split.json").write_text(json.dumps(summary))
    flow = _tiny_flow(parts, tmp_path)
    sampling = {"signal_region": [175.0, 300.0], "kde_bandwidth": 0.01, "oversampling": 3.0}
    ds.write_samples(
        flow, files, str(tmp_path / "samples.parquet"), str(tmp_path / "s.json"), sampling, 9
    )
    ds.train_and_score(
        files,
        str(tmp_path / "signal.parquet"),
        str(tmp_path / "samples.parquet"),
        str(tmp_path / "split.json"),
        flow,
        str(tmp_path / "scores.parquet"),
        str(tmp_path / "training.json"),
        "tprime",
        sigma,
        {"type": "hgb", "hgb": {"n_members": 2}},
        sampling,
        seed=4,
        sampling_seed=9,
        checkpoint=str(tmp_path / "training.resume.pt"),
    )
    # the members stay for a rerun of the group job, which deletes them at its end
    assert (tmp_path / "training.resume.pt").exists()
    info = json.loads((tmp_path / "training.json").read_text())
    n = ds.n_injected(sigma, summary["n_sr_background"])
    assert info["n_injected"] == n == round(sigma * np.sqrt(summary["n_sr_background"]))
    # [synthetic, data] per split: the data class is the SR background plus half the signal;
    # the synthetic class 3 kernel draws per data event, those of the injected events (not in
    # the repeat's samples) drawn in the job
    n_tr, n_va = (n + 1) // 2, n // 2
    assert info["n_data_events_drawn_in_job"] == n
    assert info["n_train"] == [3 * (len(parts["sr_train"]) + n_tr), len(parts["sr_train"]) + n_tr]
    assert info["n_val"] == [3 * (len(parts["sr_val"]) + n_va), len(parts["sr_val"]) + n_va]
    assert info["n_test"] == [len(parts["sr_test"])] * 2
    scores = pd.read_parquet(tmp_path / "scores.parquet")
    assert np.isfinite(scores["score"]).all() and len(scores) == 2 * len(parts["sr_test"])
    if sigma > 0:  # 339 T'T̄' events (hard extra jets) stand out of 4.6k SR background events
        assert info["auc"] > 0.8, info["auc"]


def test_background_check_compares_all_sr_background_with_as_many_samples(split, tmp_path):
    """The dijet protocol on the di-τ files: every SR background part against the samples."""
    _, parts, _, _ = split
    files = []
    for name in ("sr_train", "sr_val", "sr_test"):
        files.append(str(tmp_path / f"{name}.parquet"))
        parts[name].to_parquet(files[-1])
    n_real = sum(len(parts[k]) for k in ("sr_train", "sr_val", "sr_test"))
    # a perfect background model: the SR background of an independent sample, and a
    # mismodelled one: the same events with m_vis 10% high
    counts = {"drell_yan": 20000, "ttbar": 12000}
    other, _ = ditau.prepare_events(generate_objects(counts, 7), SELECTION, FEATURES, 1)
    sr = (other["label"] == 0) & other["mvis"].between(175.0, 300.0)
    perfect = other[sr].drop(columns=["label", "process"]).assign(split="train")
    aucs = {}
    for name, samples in (
        ("perfect", perfect),
        ("shifted", perfect.assign(mvis=perfect["mvis"] * 1.1)),
    ):
        samples.to_parquet(tmp_path / "samples.parquet")
        out = tmp_path / f"{name}.json"
        ds.write_background_check(files, str(tmp_path / "samples.parquet"), str(out), seed=4)
        check = json.loads(out.read_text())
        assert check["n_events"] == min(n_real, len(samples))
        aucs[name] = check["real_vs_synthetic_auc"]
    assert abs(aucs["perfect"] - 0.5) < 0.05 and aucs["shifted"] > 0.6, aucs


def write_split(split, folder) -> None:
    """The split fixture's tables as a run's ``split/`` folder under ``folder``."""
    _, parts, signals, _ = split
    (folder / "split").mkdir()
    for name, table in {**parts, **{f"signal_{k}": v for k, v in signals.items()}}.items():
        table.to_parquet(folder / "split" / f"{name}.parquet")


def test_probe_measures_a_flow_variant_on_a_runs_split(split, tmp_path, capsys):
    """The background-model probe: trains two flows with overrides, measures their
    mixture, prints one JSON line."""
    from resonant_ad.studies.ditau import probe

    write_split(split, tmp_path)
    config = {
        "ditau": {
            "signal_region": [175.0, 300.0],
            "signals": ["xyh"],
            "flow": {
                "architecture": "rqs",
                "blocks": 1,
                "hidden": 8,
                "bins": 4,
                "epochs": 2,
                "log_features": ["met", "ht"],
            },
        }
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    argv = [
        "--results",
        str(tmp_path),
        "--config",
        str(tmp_path / "config.yaml"),
        "--set",
        "tail_bound=9",
        "--members",
        "1",
        "--repeats",
        "1",
        "--flows",
        "2",
    ]
    assert probe.main(argv) == 0
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert out["flow"]["tail_bound"] == 9 and len(out["epochs"]) == 2  # the mixture of 2
    assert max(out["epochs"]) <= 2
    assert 0.4 < out["real_vs_synthetic_auc"] <= 1.0
    n_sr = sum(len(split[1][f"sr_{s}"]) for s in ("train", "val", "test"))
    assert sum(out["objects_real"]) == n_sr
    assert len(out["xyh"]) == 1 and 0 <= out["xyh"][0]["auc"] <= 1


def test_probe_idealized_measures_true_background_against_other_data(split, tmp_path, capsys):
    """--idealized-seed: no flow, true background as the synthetic class (real vs synthetic
    ≈ 0.5); --idealized-data-seed: the SR data replaced by another realization."""
    from resonant_ad.studies.ditau import probe

    write_split(split, tmp_path)
    config = {
        "ditau": {
            "data": {
                "source": "surrogate",
                "surrogate": {"counts": {"drell_yan": 20000, "ttbar": 12000, "xyh": 4000}},
            },
            "selection": SELECTION,
            "features": FEATURES,
            "signal_region": [175.0, 300.0],
            "signals": ["xyh"],
            "flow": {"architecture": "rqs"},
        }
    }
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    common = ["--results", str(tmp_path), "--config", str(tmp_path / "config.yaml")]
    common += ["--idealized-seed", "5", "--fit-sr-scale", "4", "--members", "1", "--repeats", "1"]
    outs = []
    for extra in ([], ["--idealized-data-seed", "6"]):
        assert probe.main(common + extra) == 0
        outs.append(json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    for out in outs:
        assert out["flow"].startswith("idealized") and "epochs" not in out
        assert abs(out["real_vs_synthetic_auc"] - 0.5) < 0.05
    assert outs[0]["objects_real"] != outs[1]["objects_real"]  # other data
    assert sum(outs[0]["objects_real"]) == sum(outs[1]["objects_real"])  # same sizes


def test_fresh_sr_background_is_new_background_inside_the_window_only():
    """--fit-sr-seed: fresh surrogate background in the SR, 70/30, signals never generated."""
    from resonant_ad.studies.ditau.probe import fresh_sr_background

    ditau = {
        "data": {
            "source": "surrogate",
            "surrogate": {"counts": {"drell_yan": 3000, "ttbar": 2000, "xyh": 1000}},
        },
        "selection": {"tau_eta_max": 2.4, "leading_tau_pt_min": 40.0, "mvis_min": 100.0},
        "features": {"n_rho": 10, "padding_noise": 0.01, "ht_floor": 1.0},
        "signal_region": [175.0, 300.0],
    }
    train, val = fresh_sr_background(ditau, seed=5, scale=2.0)
    both = pd.concat([train, val])
    assert len(train) == int(0.7 * len(both)) and len(both) > 500
    assert both["mvis"].between(175.0, 300.0, inclusive="neither").all()
    assert (both["label"] == 0).all() and "process" not in both
    again, _ = fresh_sr_background(ditau, seed=5, scale=2.0)
    other, _ = fresh_sr_background(ditau, seed=6, scale=2.0)
    pd.testing.assert_frame_equal(train, again)  # seeded
    assert not np.isin(train["mvis"].to_numpy(), other["mvis"].to_numpy()).any()


def test_diagnostics_find_where_a_selection_cuts_and_what_is_mismodelled():
    """The no-signal selection's percentiles point at the feature it cuts on; a feature the
    synthetic sample gets wrong stands out in the per-feature AUC and importance."""
    from resonant_ad.studies.ditau import diagnostics as dg

    g = np.random.default_rng(0)
    n = 6000

    def events(ht_scale: float) -> pd.DataFrame:
        objects = g.integers(2, 5, (n, 1))
        rho = np.where(np.arange(4) < objects, g.uniform(0.05, 0.3, (n, 4)), 2e-4)
        table = pd.DataFrame(rho, columns=[f"rho{i}" for i in range(4)])
        return table.assign(ht=g.exponential(ht_scale, n), mvis=g.uniform(176, 299, n))

    real = events(100.0)
    assert set(dg.multiplicity(real)) == {2, 3, 4}
    scores = pd.DataFrame(
        {"score": np.r_[real["ht"], g.exponential(300.0, 500)], "label": [0] * n + [1] * 500}
    )
    chosen, summary = dg.top_selection(real, scores, 0.01)
    assert len(chosen) == pytest.approx(0.01 * n, abs=2)
    assert summary["percentile_ht"] > 99 and 30 < summary["percentile_mvis"] < 70
    assert summary["efficiency_signal"] > 0.05  # the harder signal passes more often
    synthetic = events(150.0)  # a 50 % too hard HT spectrum
    table = dg.feature_table(real, synthetic, seed=1).set_index("feature")
    assert table.loc["ht", "auc_1d"] > 0.55 and abs(table.loc["rho0", "auc_1d"] - 0.5) < 0.03
    assert table.loc["ht", "importance"] == table["importance"].max()
    counts = dg.multiplicity_table(real, synthetic, {"selected": chosen})
    assert counts[["real", "synthetic", "selected"]].sum().round(6).tolist() == [1, 1, 1]


def test_mass_view_bins_the_sb_and_the_sr_apart_and_reads_a_falling_share():
    """The ``mass`` view's bins meet at the SR's edges, its shares add up to 1 per filled
    bin, and a multiplicity whose share falls with m_vis reads as falling."""
    from resonant_ad.studies.ditau import diagnostics as dg

    g = np.random.default_rng(1)

    def events(low: float, high: float, n: int) -> pd.DataFrame:
        m = g.uniform(low, high, n)
        many = g.random(n) < 0.05 * (400 - m) / 300  # 9 objects: 5 % at 100 GeV, 0 at 400
        objects = np.where(many, 9, 3)[:, None]
        rho = np.where(np.arange(10) < objects, 0.05, 2e-4)
        # boosted pairs (ΔR < 1.5) fall with the mass; no-jet events with 100 GeV MET rise
        dr = np.where(g.random(n) < 0.04 * (400 - m) / 300, 1.0, 3.0)
        no_jet = g.random(n) < 0.02 * (m - 100) / 300
        return pd.DataFrame(rho, columns=[f"rho{i}" for i in range(10)]).assign(
            mvis=m,
            delta_r_tautau=dr,
            ht=np.where(no_jet, 0.5, 80.0),
            met=np.where(no_jet, 100.0, 20.0),
        )

    sb = pd.concat([events(100, 175, 8000), events(300, 400, 4000)], ignore_index=True)
    sr = events(175, 300, 6000)
    edges = dg.mass_edges(sb, sr)
    assert len(edges) == 13 and sr["mvis"].min() in edges and sr["mvis"].max() in edges
    table = dg.mass_table(pd.concat([sb, sr]), sr.iloc[:100], edges, met_cut=50.0)
    real = table[table["sample"] == "real"]
    shares = real[list(dg.MASS_CLASSES)].sum(axis=1)
    np.testing.assert_allclose(shares, 1.0)
    assert real["n_ge9"].iloc[0] > 3 * real["n_ge9"].iloc[-1]
    assert real["dr_lt_1.5"].iloc[0] > 3 * real["dr_lt_1.5"].iloc[-1]
    assert real["no_jet_high_met"].iloc[-1] > 3 * real["no_jet_high_met"].iloc[0]
    assert (real["events"] > 0).all() and real["events"].sum() == 18000
    synthetic = table[table["sample"] == "synthetic"]
    assert synthetic["events"].sum() == 100 and synthetic["n_le6"].isna().any()
