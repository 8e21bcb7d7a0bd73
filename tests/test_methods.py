"""The method table and the classifier stage: what each method trains on and is scored on."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import count_member_fits

from resonant_ad.pipeline import files
from resonant_ad.stages import parts
from resonant_ad.stages.classify import (
    input_columns,
    narrow_sidebands,
    scoring_sets,
    train_and_score,
    training_sets,
)
from resonant_ad.stages.folds import DATA_REGIONS, fold_frames, fold_ids, out_of_fold_scores
from resonant_ad.stages.methods import METHODS, SIC_SIGNAL_PARTS, TEST_PARTS, method

FEATURES = ["a", "b"]


def _part(
    n: int, label: int | np.ndarray, seed: int, shift: float = 0.0, mjj=(3.3, 3.7)
) -> pd.DataFrame:
    g = np.random.default_rng(seed)
    df = pd.DataFrame(g.normal(shift, 1.0, (n, 2)), columns=FEATURES)
    df["mjj"] = g.uniform(*mjj, n)
    df["label"] = np.broadcast_to(label, n).astype(np.int64)
    return df


def _sideband(n: int, seed: int) -> pd.DataFrame:
    """SB events evenly spaced in mJJ: 3/8 in 3.0-3.3 TeV (2/3 of them within 0.2 TeV of the
    SR), 5/8 in 3.7-4.5 TeV (1/4 within 0.2 TeV)."""
    lo, hi = _part(3 * n // 8, 0, seed), _part(5 * n // 8, 0, seed + 50)
    lo["mjj"] = np.linspace(3.0, 3.3, len(lo) + 2)[1:-1]
    hi["mjj"] = np.linspace(3.7, 4.5, len(hi) + 2)[1:-1]
    return pd.concat([lo, hi], ignore_index=True)


@pytest.fixture
def frames() -> dict[str, pd.DataFrame]:
    """Every source with distinct sizes, so that a wrong source shows up in the counts."""
    sr_label = np.r_[np.zeros(290, int), np.ones(10, int)]  # SR data with injected signal
    out = {
        "sr_train": _part(300, sr_label, 1),
        "sr_val": _part(100, sr_label[:100], 2),
        "sr_test": _part(150, np.r_[np.zeros(140, int), np.ones(10, int)], 3),
        # SB: 3.0-3.3 and 3.7-4.2 TeV; within 0.2 TeV of the SR: 2/8 of the events each side
        "sb_train": _sideband(800, 4),
        "sb_val": _sideband(240, 5),
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
    "cwola": (300, 325, 100, 97),  # the SB within 0.2 TeV of the SR only
    "decorrelated": (300, 600, 100, 200),  # its samples are the flow's draws at m0
    "latent_cwola": (300, 325, 100, 97),  # CWoLa's sidebands, read in the latent space
}


def _sets(m, frames, n=1000, seed=3):
    return training_sets(m, frames, n, 0.25, seed=seed, signal_region=SR, sideband_width=0.2)


SR = (3.3, 3.7)


@pytest.mark.parametrize("name", sorted(METHODS))
def test_training_sets_hold_exactly_their_sources(frames, name):
    d = _sets(method(name), frames)
    assert d.columns == FEATURES  # never mjj, the truth label or the sample split
    n1, n0, v1, v0 = EXPECTED_SIZES[name]
    y, yv = d.y, d.y_val
    assert (int(y.sum()), int((y == 0).sum()), int(yv.sum()), int((yv == 0).sum())) == (
        n1,
        n0,
        v1,
        v0,
    )
    assert d.X.shape == (n1 + n0, 2) and d.X_val.shape == (v1 + v0, 2)
    if not method(name).narrow_sidebands:
        assert (d.w == 1).all() and (d.w_val == 1).all()


def test_cwola_trains_against_two_narrow_sidebands_of_equal_weight(frames):
    d = _sets(method("cwola"), frames)
    sb = frames["sb_train"]
    near = sb[((sb["mjj"] > 3.1) & (sb["mjj"] <= 3.3)) | ((sb["mjj"] >= 3.7) & (sb["mjj"] < 3.9))]
    np.testing.assert_array_equal(np.sort(d.X[d.y == 0], axis=0), np.sort(near[FEATURES], axis=0))
    events, w = narrow_sidebands(sb, SR, 0.2)
    lower = events["mjj"].to_numpy() <= 3.3
    assert 0 < lower.sum() != (~lower).sum()  # unequal counts, equal weights
    assert w[lower].sum() == pytest.approx(w[~lower].sum())
    assert w.sum() == pytest.approx(len(events))
    np.testing.assert_allclose(np.sort(d.w[d.y == 0]), np.sort(w))
    with pytest.raises(ValueError, match=r"cwola\.sideband_width"):
        training_sets(method("cwola"), frames, 1000, 0.25, seed=3)
    with pytest.raises(ValueError, match="0 events below"):
        narrow_sidebands(sb[sb["mjj"] > 3.5], SR, 0.2)


def test_mapped_events_beyond_the_flow_range_are_left_out_of_training_only(frames):
    mapped = {k: v.assign(in_range=True) for k, v in frames.items() if k != "samples"}
    mapped["sr_train"].loc[:4, "in_range"] = False
    mapped["sr_test"].loc[:2, "in_range"] = False
    d = _sets(method("lacathode"), mapped)
    assert int(d.y.sum()) == 300 - 5 and d.dropped["sr_train"] == 5
    _, _, data = scoring_sets(mapped)
    assert len(data) == len(mapped["sr_test"]) + len(mapped["sb_test"])  # all test events kept


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
        a, b = _sets(m, frames), _sets(m, scrambled)
        for key in ("X", "y", "X_val", "y_val", "w", "w_val"):
            np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


def test_lacathode_reference_is_seeded_standard_normal(frames):
    m = method("lacathode")
    a, b, c = _sets(m, frames, 20000), _sets(m, frames, 20000), _sets(m, frames, 20000, seed=4)
    np.testing.assert_array_equal(a.X, b.X)
    assert not np.array_equal(a.X, c.X)
    normal = a.X[a.y == 0]
    assert len(normal) == 15000
    np.testing.assert_allclose(normal.mean(axis=0), 0, atol=0.03)
    np.testing.assert_allclose(normal.std(axis=0), 1, atol=0.03)


def test_scoring_sets_drop_injected_signal_and_keep_regions(frames):
    sic, sculpt, data = scoring_sets(frames, SIC_SIGNAL_PARTS)
    assert (sic["part"] == "sr_test").sum() == 140  # the injected test signal is not used
    # all the SR signal that was not injected (the paper's Table I)
    assert (sic["label"] == 1).sum() == 60 + 20 + 40
    assert set(sic[sic["label"] == 1]["part"]) == set(SIC_SIGNAL_PARTS)
    assert method("cathode").sic_signal_parts() == SIC_SIGNAL_PARTS
    assert method("supervised").sic_signal_parts() == ("signal_test",)  # it trains on the rest
    assert (sic["label"] == 0).sum() == 140 + 500
    assert sculpt["sr"].sum() == 140 and (~sculpt["sr"]).sum() == 345
    assert (sculpt["label"] == 0).all()
    # the bump hunt's data: every SR and SB test event, injected signal included
    assert data["sr"].sum() == 150 and (~data["sr"]).sum() == 350
    assert (data["label"] == 1).sum() == 15


def test_inputs_are_in_the_method_space():
    ids = ("lhco_surrogate", "shifted", "3.3-3.7", 1000, 2)
    lac = files.classifier_inputs(*ids, "lacathode")
    assert all("/run2/latent/" in p for p in lac.values())
    assert set(lac) == {*parts.DATA_PARTS, *TEST_PARTS, *SIC_SIGNAL_PARTS}
    cat = files.classifier_inputs(*ids, "cathode")
    assert cat["samples"].endswith("run2/flow/samples.parquet")
    assert all("/split/" in p for k, p in cat.items() if k != "samples")
    dec = files.classifier_inputs(*ids, "decorrelated")
    assert dec["samples"].endswith("run2/decorrelated/samples_m0.parquet")
    assert all("/run2/decorrelated/" in p for p in dec.values())
    for name in METHODS:  # every mapped-space method finds its parts mapped
        if METHODS[name].mapped_by_flow():
            assert set(METHODS[name].split_parts()) <= set(parts.LATENT_PARTS)
    with pytest.raises(KeyError, match="unknown method 'nope'"):
        files.classifier_inputs(*ids, "nope")


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
    assert list(history.columns) == ["member", "n_iter", "best_iteration"] and len(history) == 3
    assert (history["best_iteration"] <= history["n_iter"]).all()
    summary = json.loads(open(outputs["summary"]).read())
    assert summary["classifier"] == "hgb" and summary["auc_sic_test"] > 0.8


def test_method_labels_render_in_the_figure_font(tmp_path):
    """A character the figure font lacks draws as an empty box (matplotlib only warns)."""
    import warnings

    from resonant_ad.core.plotting import new_figure, save_figure

    fig, ax = new_figure()
    for spec in METHODS.values():
        ax.plot([0, 1], [0, 1], label=spec.label)
    ax.legend()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "Glyph ... missing from font(s)" fails the test
        save_figure(fig, tmp_path / "labels.png")


def test_folds_are_balanced_seeded_and_the_same_size_in_every_run():
    a, b = fold_ids(1001, 3, 5, "sr_test"), fold_ids(1001, 3, 6, "sr_test")
    assert sorted(np.bincount(a)) == sorted(np.bincount(b)) == [333, 334, 334]
    assert (a == fold_ids(1001, 3, 5, "sr_test")).all() and (a != b).any()


def test_each_fold_is_scored_by_the_classifier_that_never_saw_it(frames):
    """Every data event is scored once, by the predictor of the one fold whose training sets
    (train and val, SR and SB) do not hold it; the other sources are left as they are."""
    k, seed = 3, 11
    trained_on = []
    for f in range(k):
        sources = fold_frames(frames, k, f, seed)
        assert sources["samples"] is frames["samples"]
        seen = pd.concat([sources[p] for r in DATA_REGIONS.values() for p in r[:2]])
        trained_on.append(set(seen["a"]))
        n_data = sum(len(frames[p]) for r in DATA_REGIONS.values() for p in r)
        assert len(seen) == n_data - sum(
            int((fold_ids(len(frames[p]), k, seed, p) == f).sum())
            for r in DATA_REGIONS.values()
            for p in r
        )
        val_share = len(sources["sr_val"]) / (len(sources["sr_train"]) + len(sources["sr_val"]))
        assert val_share == pytest.approx(100 / 400, abs=0.01)  # the split's own train:val
    scored = [[] for _ in range(k)]

    def predictor(f):
        def predict(X):
            scored[f].extend(X[:, 0])
            return np.full(len(X), float(f))

        return predict

    table = out_of_fold_scores(frames, [predictor(f) for f in range(k)], FEATURES, seed)
    assert len(table) == n_data and int(table["sr"].sum()) == 550
    assert (table["score"] == table["fold"]).all()  # each row carries its fold's score
    for f in range(k):
        assert scored[f] and not set(scored[f]) & trained_on[f]
    assert sum(len(s) for s in scored) == n_data


@pytest.mark.parametrize(("name", "n_folds"), [("cathode", 2), ("cwola", 2), ("supervised", 1)])
def test_folds_give_the_bump_hunt_every_data_event(stage_files, name, n_folds):
    """With ``folds: 2`` the data table holds all SR and SB data, out of fold; a method that
    never trains on data (supervised) scores it with its one classifier. The SIC and sculpting
    sets stay those of the usual training."""
    inputs, outputs = stage_files
    cfg = {"type": "hgb", "hgb": {"n_members": 2, "max_iter": 20}}
    sampling = {"n_samples": 800, "sample_val_fraction": 0.25}
    train_and_score(name, inputs, outputs, cfg, sampling, 7, SR, {"sideband_width": 0.2}, 2)
    data = pd.read_parquet(outputs["data"])
    assert len(data) == 550 + 1390 and int(data["sr"].sum()) == 550
    assert data["fold"].nunique() == n_folds and np.isfinite(data["score"]).all()
    summary = json.loads(open(outputs["summary"]).read())
    assert summary["data_scored"] == {
        "folds": n_folds,
        "cross_flows": False,
        "n_sr": 550,
        "n_sb": 1390,
    }
    assert len(pd.read_parquet(outputs["sculpting"])) == 485  # the test parts' background
    with pytest.raises(ValueError, match=r"bumphunt\.folds"):
        train_and_score(name, inputs, outputs, cfg, sampling, 7, SR, {"sideband_width": 0.2}, 1)


def test_killed_hgb_job_resumes_its_finished_ensembles(stage_files, monkeypatch, tmp_path):
    """A job of 3 HGB ensembles (the usual one and 2 folds') killed in the third resumes:
    the first two fit nothing again, the outputs are the uninterrupted job's, and no
    checkpoint is left once every run is scored."""
    inputs, outputs = stage_files
    cfg = {"type": "hgb", "hgb": {"n_members": 2, "max_iter": 20}}
    args = ({"n_samples": 800, "sample_val_fraction": 0.25}, 7, SR, None, 2)
    train_and_score("cathode", inputs, outputs, cfg, *args)
    whole = {k: open(outputs[k], "rb").read() for k in ("sic", "data", "history")}
    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "0")
    with monkeypatch.context() as m:
        count_member_fits(m, kill_at=6)  # the last member of the third ensemble
        with pytest.raises(KeyboardInterrupt):
            train_and_score("cathode", inputs, outputs, cfg, *args)
    assert len(list(tmp_path.glob("*.resume.pt*"))) == 3
    with monkeypatch.context() as m:
        calls = count_member_fits(m)
        train_and_score("cathode", inputs, outputs, cfg, *args)
    assert len(calls) == 1
    assert {k: open(outputs[k], "rb").read() for k in whole} == whole
    assert not list(tmp_path.glob("*resume*"))


def test_out_of_fold_scores_read_each_fold_from_its_own_frames(frames):
    """With one set of sources per fold (each fold's flow space), fold f's events are read
    from the f-th set: the same events in the same order, their features from that set."""
    k, seed = 2, 4
    per_fold = [
        {p: df.assign(a=float(f)) if p in parts.DATA_PARTS else df for p, df in frames.items()}
        for f in range(k)
    ]
    table = out_of_fold_scores(per_fold, [lambda X: X[:, 0]] * k, FEATURES, seed)
    assert (table["score"] == table["fold"]).all() and set(table["fold"]) == {0, 1}
    with pytest.raises(ValueError, match="3 sets of frames for 2"):
        out_of_fold_scores(per_fold + per_fold[:1], [lambda X: X[:, 0]] * k, FEATURES, seed)


def test_out_of_fold_scores_read_each_distinct_set_of_sources_once(frames, monkeypatch):
    """The folds of one cross-fitted flow share their sources: 4 folds over 2 sets read each
    region of each set once, not once per fold."""
    from resonant_ad.stages import folds as folds_module

    reads: list[int] = []
    region_data = folds_module.region_data

    def counted(sources, *args):
        reads.append(id(sources))
        return region_data(sources, *args)

    monkeypatch.setattr(folds_module, "region_data", counted)
    k, seed = 4, 4
    sets = [{p: df.assign(a=float(g)) for p, df in frames.items()} for g in range(2)]
    per_fold = [sets[f % 2] for f in range(k)]
    table = out_of_fold_scores(per_fold, [lambda X: X[:, 0]] * k, FEATURES, seed)
    assert (table["score"] == table["fold"] % 2).all()
    assert sorted(reads) == sorted([id(s) for s in sets] * len(DATA_REGIONS))


def test_cross_flows_are_fitted_to_the_sb_data_outside_the_folds_they_map(
    frames, tmp_path, monkeypatch
):
    """Two flows per run whatever k: flow g maps folds g, g + 2, … and sees none of their SB
    events, and all the others (in train or val); its runs are seeded from the run's seed
    and g, and each run gets its two models."""
    from resonant_ad.core.seeding import derive_seed
    from resonant_ad.stages import mapping
    from resonant_ad.stages.folds import flow_folds

    k, fold_seed, seeds = 5, 9, [5, 6]
    assert (flow_folds(k, 0), flow_folds(k, 1)) == ([0, 2, 4], [1, 3])
    sb = {p: str(tmp_path / f"{p}.parquet") for p in ("sb_train", "sb_val", "sb_test")}
    for p, path in sb.items():
        frames[p].to_parquet(path)
    calls = []

    class Saved:
        history_ = pd.DataFrame({"epoch": [0]})

        def save(self, path: str) -> None:
            open(path, "w").write("flow")

    def fit(train, val, params, run_seeds, checkpoint, mass):
        calls.append((set(train["a"]) | set(val["a"]), list(run_seeds)))
        return [Saved() for _ in run_seeds]

    monkeypatch.setattr(mapping, "fit_flows", fit)
    outputs = [
        [
            {"model": str(tmp_path / f"m{r}{g}"), "history": str(tmp_path / f"h{r}{g}")}
            for g in (0, 1)
        ]
        for r in range(2)
    ]
    mapping.train_cross_flows(sb, outputs, {}, seeds, k, fold_seed)
    everything = set(pd.concat([frames[p] for p in sb])["a"])
    assert len(calls) == 2
    for g, (seen, run_seeds) in enumerate(calls):
        mapped = set()
        for p in sb:
            in_flow = np.isin(fold_ids(len(frames[p]), k, fold_seed, p), flow_folds(k, g))
            mapped |= set(frames[p]["a"][in_flow])
        assert seen == everything - mapped and mapped
        assert run_seeds == [derive_seed(s, "fold", g) for s in seeds]
    assert all((tmp_path / f"m{r}{g}").exists() for r in range(2) for g in range(2))
    with pytest.raises(ValueError, match="k >= 2"):
        mapping.train_cross_flows(sb, [outputs[0][:1]], {}, seeds[:1], k, fold_seed)


@pytest.mark.parametrize("name", ["lacathode", "decorrelated"])
def test_flow_space_methods_score_each_fold_through_a_cross_fitted_flow(frames, tmp_path, name):
    """LaCATHODE and x′ with cross-fitted flows (k = 3 folds, two flows): the bump hunt's
    data table comes from the folds' flows (other scores than through the run's flow),
    while the SIC and sculpting tables (the usual classifier on the run's flow) stay exactly
    the same."""
    from resonant_ad.stages import mapping
    from resonant_ad.stages.flows import train_flow

    x = {}
    for p, df in frames.items():
        x[p] = str(tmp_path / f"x_{p}.parquet")
        df.to_parquet(x[p])
    params = {"blocks": 2, "hidden": 8, "epochs": 1, "batch_size": 128, "learning_rate": 1e-3}
    sampling = {"n_samples": 800, "sample_val_fraction": 0.25}
    model = str(tmp_path / "flow.pt")
    train_flow(x["sb_train"], x["sb_val"], model, str(tmp_path / "h.csv"), [], params, seed=1)
    mapped = {p: str(tmp_path / f"{name}_{p}.parquet") for p in parts.LATENT_PARTS}
    split = {p: x[p] for p in parts.LATENT_PARTS}
    if name == "lacathode":
        mapping.to_latent(model, split, mapped)
    else:
        mapped["samples"] = str(tmp_path / "m0.parquet")
        mapping.decorrelate(model, split, mapped, mapped["samples"], sampling, SR, seed=2)
    flows = [
        [
            {"model": str(tmp_path / f"f{g}.pt"), "history": str(tmp_path / f"f{g}.csv")}
            for g in range(2)
        ]
    ]
    sb = {p: x[p] for p in ("sb_train", "sb_val", "sb_test")}
    mapping.train_cross_flows(sb, flows, params, [3], k=3, fold_seed=8)
    cfg = {"type": "hgb", "hgb": {"n_members": 2, "max_iter": 20}}
    tables = {}
    for label, extra in (
        ("run flow", {}),
        (
            "cross flows",
            {f"cross_flow{g}": flows[0][g]["model"] for g in range(2)}
            | {f"x_{p}": x[p] for p in parts.DATA_PARTS},
        ),
    ):
        outputs = {
            k: str(tmp_path / f"{label}_{k}")
            for k in ("sic", "sculpting", "data", "history", "summary")
        }
        train_and_score(name, mapped | extra, outputs, cfg, sampling, 7, SR, None, 3, fold_seed=8)
        tables[label] = {k: pd.read_parquet(outputs[k]) for k in ("sic", "sculpting", "data")}
        summary = json.loads(open(outputs["summary"]).read())
        assert summary["data_scored"]["cross_flows"] == (label == "cross flows")
    for k in ("sic", "sculpting"):
        pd.testing.assert_frame_equal(tables["run flow"][k], tables["cross flows"][k])
    run_flow, cross_flows = tables["run flow"]["data"], tables["cross flows"]["data"]
    assert set(cross_flows["fold"]) == {0, 1, 2}
    pd.testing.assert_frame_equal(run_flow.drop(columns="score"), cross_flows.drop(columns="score"))
    assert np.isfinite(cross_flows["score"]).all()
    assert not np.allclose(run_flow["score"], cross_flows["score"])


def test_only_the_flow_methods_read_the_flow():
    """The run figure draws the methods that read no flow as controls: those whose training
    sees neither flow samples, N(0, 1) draws nor the flow's mapping."""
    reading = {name for name, m in METHODS.items() if m.reads_flow()}
    assert reading == {"cathode", "lacathode", "decorrelated", "latent_cwola"}


def test_only_the_methods_that_draw_from_a_flow_read_its_sampling_settings():
    """LaCATHODE draws its N(0, 1) reference; the decorrelated method draws at m0 only where
    cross-fitted flows map its folds (else it reads the run's decorrelate outputs); CATHODE
    reads the sampling job's samples, and the latent CWoLa maps events, drawing none."""
    drawing = {c: {n for n, m in METHODS.items() if m.draws_from_flow(c)} for c in (False, True)}
    assert drawing == {False: {"lacathode"}, True: {"lacathode", "decorrelated"}}
    mapped = {name for name, m in METHODS.items() if m.mapped_by_flow()}
    assert mapped == {"lacathode", "decorrelated", "latent_cwola"}
