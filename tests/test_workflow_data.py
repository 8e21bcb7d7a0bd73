"""The dijet data chain through Snakemake: surrogate offline, and download from 127.0.0.1."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
from functools import partial

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import copy_workflow, planned_jobs, run_snakemake

from resonant_ad.pipeline.patterns import FEATURE_SET_FIGURES
from resonant_ad.stages.evaluate import METRIC_COLUMNS
from resonant_ad.stages.methods import METHODS
from resonant_ad.stages.parts import LATENT_PARTS, SPLIT_PARTS
from resonant_ad.studies.dijet.surrogate import generate_surrogate, write_hdf

pytestmark = pytest.mark.workflow
SR = "sr3.3-3.7"  # the nominal window's folder


def test_surrogate_chain_builds_every_split(dijet_run):
    base = dijet_run / "results/lhco_surrogate"
    summary = json.loads((base / "inject/nsig200/injection.json").read_text())
    assert summary["n_signal_injected"] == 200 and summary["signal_in_sr"] > 100
    for feature_set in ("original", "shifted"):
        for nsig in (200, 0):
            split = base / feature_set / SR / f"nsig{nsig}" / "split"
            assert sorted(p.stem for p in split.glob("*.parquet")) == sorted(SPLIT_PARTS)
            sr_train = pd.read_parquet(split / "sr_train.parquet")
            assert sr_train["mjj"].between(3.3, 3.7, inclusive="neither").all()
            assert sr_train["label"].sum() == (0 if nsig == 0 else sr_train["label"].sum())
    assert not (base / "deltaR").exists()  # only the configured feature sets run
    corr = pd.read_csv(base / "feature_correlations.csv")
    assert set(corr["feature_set"]) == {"original", "shifted"}
    shifted = corr.set_index(["feature_set", "feature"])["corr_with_mjj"]
    assert shifted[("shifted", "mj1")] > shifted[("original", "mj1")] + 0.3
    assert (base / "figures/data_overview.png").stat().st_size > 20_000

    # the flow stage: model, latents of the parts LaCATHODE uses, CATHODE samples, diagnostics
    run = base / f"shifted/{SR}/nsig200/run0"
    sampling = json.loads((run / "flow/sampling.json").read_text())
    assert sampling["n_samples"] == 2000 and sampling["n_val"] == 500
    assert sampling["masses_beyond_training"] == 0  # the SR lies between its SBs
    samples = pd.read_parquet(run / "flow/samples.parquet")
    assert samples["mjj"].between(3.3, 3.7, inclusive="neither").all()
    assert list(samples.columns) == ["mj1", "delta_mj", "tau21_j1", "tau21_j2", "mjj", "split"]
    assert sorted(p.stem for p in (run / "latent").glob("*.parquet")) == sorted(LATENT_PARTS)
    for part in LATENT_PARTS:
        latent = pd.read_parquet(run / f"latent/{part}.parquet")
        data = pd.read_parquet(base / f"shifted/{SR}/nsig200/split/{part}.parquet")
        assert list(latent.columns) == ["z0", "z1", "z2", "z3", "mjj", "label", "in_range"]
        assert len(latent) == len(data) and latent["label"].equals(data["label"])
    diag = json.loads((run / "flow/diagnostics.json").read_text())
    assert 0.4 < diag["real_vs_synthetic_auc"] <= 1.0
    # the flow's background density over the true one where the injected signal sits
    assert diag["sr_signal_events"] > 0 and 0.3 < diag["synthetic_over_real_at_signal"] < 3
    no_signal = json.loads((base / f"shifted/{SR}/nsig0/run0/flow/diagnostics.json").read_text())
    assert no_signal["sr_signal_events"] == 0 and no_signal["synthetic_over_real_at_signal"] is None
    checks = pd.read_csv(run / "flow/latent_checks.csv")
    assert set(checks["region"]) == {"SB", "SR"} and len(checks) == 8
    # LaCATHODE's task on the true background: SB, and SR (its test and extra parts)
    assert 0.4 < diag["sb_latent_vs_normal_auc"] < 0.8
    assert 0.4 < diag["sr_latent_vs_normal_auc"] < 0.8
    sr_n = checks.loc[checks["region"] == "SR", "n"].iloc[0]
    assert diag["sr_latent_events"] > sr_n  # the extra SR background is in it
    sides = [diag[f"normal_cut_sb_{k}_efficiency"] for k in ("below", "above")]
    assert diag["normal_cut_efficiency"] == 0.1 and 0 < max(sides) < 1
    assert diag["normal_cut_sr_over_sb_sides"] == pytest.approx(0.1 / max(sides))


def test_every_method_is_trained_scored_and_evaluated(dijet_run):
    base = dijet_run / "results/lhco_surrogate"
    for feature_set in ("original", "shifted"):
        metrics = pd.read_csv(base / feature_set / SR / "metrics.csv")
        assert list(metrics.columns) == list(METRIC_COLUMNS)
        assert sorted(set(metrics["method"])) == sorted(METHODS)
        assert len(metrics) == len(METHODS) * 2  # x 2 injections x 1 run
        assert metrics["auc"].between(0, 1).all() and metrics["chi2_ndof_at_1pct"].gt(0).all()
        summary = pd.read_csv(base / feature_set / SR / "metrics_summary.csv")
        assert len(summary) == len(METHODS) * 2 and (summary["runs"] == 1).all()
        # each run's flow beside its methods' metrics; one run gives no correlation
        runs = pd.read_csv(base / feature_set / SR / "runs.csv")
        assert sorted(runs["injection"]) == sorted(set(metrics["injection"]))
        lac = metrics[metrics["method"] == "lacathode"].sort_values("injection")
        np.testing.assert_allclose(runs["lacathode_chi2_ndof_at_1pct"], lac["chi2_ndof_at_1pct"])
        assert runs["sr_latent_vs_normal_auc"].between(0.4, 0.8).all()
        corr = pd.read_csv(base / feature_set / SR / "run_correlations.csv")
        assert (corr["runs"] <= 1).all() and corr["pearson"].isna().all()
        for name in FEATURE_SET_FIGURES:  # the run figure too, without a correlation
            for ext in ("png", "pdf"):
                assert (base / feature_set / SR / f"figures/{name}.{ext}").stat().st_size > 10_000
    # every score table holds the right test events: LaCATHODE scores the same events as CATHODE
    run = base / f"shifted/{SR}/nsig200/run0"
    cat = pd.read_parquet(run / "cathode/scores_sic.parquet")
    lac = pd.read_parquet(run / "lacathode/scores_sic.parquet")
    np.testing.assert_array_equal(cat["mjj"], lac["mjj"])
    np.testing.assert_array_equal(cat["label"], lac["label"])
    # all the SR signal that was not injected (the paper's Table I), not only its test third
    n_signal = sum(
        len(pd.read_parquet(base / f"shifted/{SR}/nsig200/split/{part}.parquet"))
        for part in ("signal_train", "signal_val", "signal_test")
    )
    assert cat["label"].sum() == n_signal
    training = json.loads((run / "supervised/training.json").read_text())
    n_signal_train = len(pd.read_parquet(base / f"shifted/{SR}/nsig200/split/signal_train.parquet"))
    assert training["n_train"][1] == n_signal_train
    assert (dijet_run / f"benchmarks/lhco_surrogate/shifted/{SR}/nsig200/runs0-0/cathode").is_dir()


def test_bump_hunt_scan_and_decorrelated_space(dijet_run):
    """Per-run bump hunts, their summary and figures; the SR scan runs the whole chain."""
    base = dijet_run / "results/lhco_surrogate"
    table = pd.read_csv(base / f"shifted/{SR}/bumphunt.csv")
    assert len(table) == len(METHODS) * 2 * 2  # x 2 injections x 2 efficiencies x 1 run
    assert set(table["efficiency"]) == {0.2, 0.05}
    # folds: 2, so every SR data event is searched, each fold cut at its own threshold
    n_sr_data = {
        n: sum(
            len(pd.read_parquet(base / f"shifted/{SR}/nsig{n}/split/{part}.parquet"))
            for part in ("sr_train", "sr_val", "sr_test")
        )
        for n in (200, 0)
    }
    for _, row in table.iterrows():
        assert row["n_sr_data"] == n_sr_data[row["injection"]]
        assert row["folds"] == (1 if row["method"] == "supervised" else 2)
        assert abs(row["n_sr"] - row["efficiency"] * n_sr_data[row["injection"]]) <= 2
        assert row["sr_predicted"] > 0 and row["sr_predicted_err"] > 0
        assert np.isfinite(row["z_local"]) and 0 <= row["sb_p_value"] <= 1
    assert (table.loc[table["injection"] == 0, "n_sr_signal"] == 0).all()
    assert table["fit_converged"].mean() > 0.9
    for name in ("bumphunt_significance", "bumphunt_fits_nsig200", "bumphunt_fits_nsig0"):
        assert (base / f"shifted/{SR}/figures/{name}.png").stat().st_size > 20_000

    # the flow-space methods' data scores come from the cross-fitted flows (each fitted to
    # the SB data outside the folds it maps), the others' from their usual inputs
    for method in METHODS:
        summary = json.loads((base / f"shifted/{SR}/nsig0/run0/{method}/training.json").read_text())
        flow_space = method in ("lacathode", "decorrelated", "latent_cwola")
        assert summary["data_scored"]["cross_flows"] == flow_space
    for flow in (0, 1):
        history = pd.read_csv(base / f"shifted/{SR}/nsig0/run0/flow/cross{flow}/history.csv")
        assert history["selected"].sum() == 1
    # the original feature set is not searched (bumphunt.feature_sets: [shifted]): SIC and
    # sculpting only, no fold classifiers, no cross-fitted flows, no fits
    for method in METHODS:
        path = base / f"original/{SR}/nsig0/run0/{method}/training.json"
        summary = json.loads(path.read_text())
        assert summary["data_scored"]["folds"] == 0 and not summary["data_scored"]["cross_flows"]
    assert not (base / f"original/{SR}/bumphunt.csv").exists()
    assert not list((base / f"original/{SR}").glob("figures/bumphunt_*"))
    assert not (base / f"original/{SR}/nsig0/run0/flow/cross0").exists()
    target = f"results/lhco_surrogate/original/{SR}/bumphunt.csv"
    asked = run_snakemake(dijet_run, "-n", target, check=False)
    assert asked.returncode != 0
    assert "bumphunt.feature_sets = ['shifted']" in asked.stdout + asked.stderr

    # the decorrelated space: every event moved to m0 = the SR centre, samples at m0
    run = base / f"shifted/{SR}/nsig200/run0"
    samples = pd.read_parquet(run / "decorrelated/samples_m0.parquet")
    assert np.allclose(samples["mjj"], 3.5) and len(samples) == 2000
    moved = pd.read_parquet(run / "decorrelated/sb_test.parquet")
    original = pd.read_parquet(base / f"shifted/{SR}/nsig200/split/sb_test.parquet")
    np.testing.assert_array_equal(moved["mjj"], original["mjj"])
    assert not np.allclose(moved["mj1"], original["mj1"])

    # the scan: a second window with its own split (no extra background there), flow and fits
    other = base / "shifted/sr3-3.4/nsig200"
    sr_train = pd.read_parquet(other / "split/sr_train.parquet")
    assert sr_train["mjj"].between(3.0, 3.4, inclusive="neither").all()
    assert len(pd.read_parquet(other / "split/extra_train.parquet")) == 0
    assert (other / "run0/flow/model.pt").exists()
    scan = pd.read_csv(base / "scan/shifted/nsig200/scan.csv")
    windows = set(zip(scan["window_low"], scan["window_high"], strict=True))
    assert windows == {(3.0, 3.4), (3.3, 3.7)}
    assert set(scan["method"]) == {"cathode", "lacathode", "decorrelated"}
    assert len(scan) == 2 * 3 * 2  # windows x methods x efficiencies
    # per method and run: the largest local Z of the scan, its global Z from 50 pseudo-scans
    # and Šidák's bound
    for _, group in scan.groupby(["method", "run"]):
        fitted = group["z_local"].dropna()
        assert (group["n_trials"] == len(fitted)).all() and (group["toys"] == 50).all()
        if len(fitted):
            assert group["z_max_scan"].iloc[0] == fitted.max()
            assert group["z_global_sidak"].iloc[0] <= fitted.max() + 1e-12
            assert 0 < group["p_global"].iloc[0] <= 1 and group["n_eff"].iloc[0] > 0
    assert (base / "scan/shifted/nsig200/scan.png").stat().st_size > 20_000


def test_report_holds_every_figure(dijet_run):
    run_snakemake(dijet_run, "--report", "results/report.html")
    html = (dijet_run / "results/report.html").read_text(errors="replace")
    assert len(html) > 200_000
    names = (*(f"{name}.png" for name in FEATURE_SET_FIGURES), "data_overview.png")
    for name in (*names, "bumphunt_significance.png", "bumphunt_fits_nsig200.png", "scan.png"):
        assert name in html


@pytest.fixture(scope="module")
def served_files(tmp_path_factory):
    """Small files in the real layout, served over HTTP on 127.0.0.1."""
    root = tmp_path_factory.mktemp("www")
    features, extra = generate_surrogate(20_000, 2_000, seed=5, n_extra_sr=3_000)
    write_hdf(features, root / "features.h5")
    write_hdf(extra.drop(columns="label"), root / "extra.h5")  # the real extra file may lack it
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    md5 = {n: hashlib.md5((root / n).read_bytes()).hexdigest() for n in ("features.h5", "extra.h5")}
    yield f"http://127.0.0.1:{httpd.server_address[1]}", md5
    httpd.shutdown()
    httpd.server_close()


def _download_config(workdir, url, features_md5):
    cfg = {
        "studies": ["lhco"],
        "lhco": {
            "data": {
                "source": "download",
                "files": {
                    "features": {
                        "filename": "f.h5",
                        "urls": [f"{url}/features.h5"],
                        "md5": features_md5,
                    },
                    "extra": {"filename": "e.h5", "urls": [f"{url}/extra.h5"], "md5": None},
                },
            },
            "injections": [200],
            "extra_split": {"train": 1000, "val": 500},
        },
    }
    (workdir / "dl.yaml").write_text(yaml.safe_dump(cfg))


def test_download_rule_fetches_verifies_and_prepares(tmp_path, served_files):
    url, md5 = served_files
    workdir = copy_workflow(tmp_path / "wf")
    _download_config(workdir, url, md5["features.h5"])
    dry = run_snakemake(workdir, "-n", "--cores", "1", "--configfile", "dl.yaml")
    assert dry.stdout.count("rule download:") == 2
    target = "results/lhco/prepared/events.parquet"  # before --configfile, which takes a list
    proc = run_snakemake(workdir, target, "--cores", "2", "--configfile", "dl.yaml")
    resources = workdir / "resources/lhco"
    assert (resources / "f.h5.md5").read_text().split()[0] == md5["features.h5"]
    assert (resources / "e.h5.md5").read_text().split()[0] == md5["extra.h5"]  # recorded
    assert "no md5 configured" in (workdir / "logs/lhco/download_e.h5.log").read_text()
    events = pd.read_parquet(workdir / "results/lhco/prepared/events.parquet")
    assert len(events) == 22_000, proc.stdout


def test_wrong_checksum_fails_and_leaves_no_file(tmp_path, served_files):
    url, _ = served_files
    workdir = copy_workflow(tmp_path / "wf")
    _download_config(workdir, url, "0" * 32)
    proc = run_snakemake(
        workdir, "resources/lhco/f.h5", "--cores", "1", "--configfile", "dl.yaml", check=False
    )
    assert proc.returncode != 0
    log_path = workdir / "logs/lhco/download_f.h5.log"
    assert log_path.exists(), proc.stdout + proc.stderr
    log = log_path.read_text()
    assert "md5 mismatch" in log and "0" * 32 in log
    folder = workdir / "resources/lhco"
    assert not folder.exists() or list(folder.iterdir()) == []  # no partial or temporary file


#: the tiny run's methods
ALL = {"cathode", "lacathode", "decorrelated", "idealized", "supervised", "cwola", "latent_cwola"}


@pytest.mark.parametrize(
    ("change", "reruns", "keeps", "retrained"),
    [
        # the CATHODE sample size: the sampling, the m0 samples of the decorrelation and
        # LaCATHODE's N(0, 1) class (sized like it): those three methods' classifiers only
        (
            "lhco_surrogate={flow: {n_samples: 2500}}",
            {"sample_flow", "decorrelate", "train_classifier", "evaluate"},
            {"train_flow", "train_cross_flows", "to_latent", "split"},
            {"cathode", "lacathode", "decorrelated"},
        ),
        # the mass KDE's width: CATHODE's sampling and what reads its samples, no decorrelation
        (
            "lhco_surrogate={flow: {kde_bandwidth: 0.02}}",
            {"sample_flow", "train_classifier", "evaluate"},
            {"train_flow", "to_latent", "decorrelate", "split"},
            {"cathode"},
        ),
        # CWoLa's sidebands: only the classifiers trained against them (CWoLa's, in x and z)
        # and what follows them
        (
            "lhco_surrogate={cwola: {sideband_width: 0.3}}",
            {"train_classifier", "evaluate", "bumphunt"},
            {"train_flow", "sample_flow", "decorrelate", "to_latent"},
            {"cwola", "latent_cwola"},
        ),
        # the NN classifiers' epochs: every method's classifiers, no flow step
        (
            "lhco_surrogate={classifier: {nn: {epochs: 3}}}",
            {"train_classifier", "evaluate", "bumphunt"},
            {"train_flow", "train_cross_flows", "sample_flow", "decorrelate", "to_latent", "split"},
            ALL,
        ),
        # the bump hunt's flows without cross-fitting: the classifiers of the flow-space
        # methods (their data scores), no flow training
        (
            "lhco_surrogate={bumphunt: {cross_flows: false}}",
            {"train_classifier", "bumphunt"},
            {"train_flow", "train_cross_flows", "sample_flow", "decorrelate", "to_latent"},
            {"lacathode", "decorrelated", "latent_cwola"},
        ),
        # the HGB settings, unused while classifier.type is nn: nothing
        ("lhco_surrogate={classifier: {hgb: {n_members: 3}}}", set(), None, set()),
        # the bump hunt's selections: the bump hunts and their summaries, no training
        (
            "lhco_surrogate={bumphunt: {efficiencies: [0.1]}}",
            {"bumphunt"},
            {"train_flow", "sample_flow", "train_classifier", "evaluate", "split"},
            set(),
        ),
    ],
    ids=["n_samples", "kde_bandwidth", "cwola", "nn.epochs", "cross_flows", "hgb", "bumphunt"],
)
def test_a_config_change_reruns_exactly_what_it_touches(
    dijet_run, change, reruns, keeps, retrained
):
    """Each rule's params carry only what it reads: a change reruns the jobs that read it
    (the classifiers of the methods that read it) and what follows them."""
    jobs = planned_jobs(dijet_run, "--config", change)
    rules = {name.split("_lhco_surrogate")[0] for name, _ in jobs}  # group rules → family
    if keeps is None:
        assert jobs == [], jobs
        return
    assert reruns <= rules, rules
    assert not (keeps & rules), rules
    methods = {w["method"] for name, w in jobs if name.startswith("train_classifier")}
    assert methods == retrained, methods
