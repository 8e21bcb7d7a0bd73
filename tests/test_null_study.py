"""The null test: each dataset a study of its own, built by the workflow's rules, seeded."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import REPO, dry_run_jobs, run_snakemake
from scipy.stats import norm

from resonant_ad.core.io import write_parquet
from resonant_ad.pipeline.config import load_study, null_datasets, null_title
from resonant_ad.pipeline.files import null_run_inputs, training_groups
from resonant_ad.pipeline.guards import dijet_problems
from resonant_ad.pipeline.targets import null_targets
from resonant_ad.stats.trials import null_calibrated_z, null_prediction
from resonant_ad.studies.dijet.null import (
    CONTROLS,
    calibrate,
    control_rows,
    null_figure,
    null_rows,
    run_files,
    summarize,
)

TINY = "tests/configs/dijet_tiny.yaml"


@pytest.fixture
def config():
    study = load_study(TINY, "lhco_surrogate", base=None)
    study["null_study"] = {"data_seeds": [4, 5], "runs": 1, "methods": ["idealized", "lacathode"]}
    return {"studies": ["lhco_surrogate"], "lhco_surrogate": study}


def test_each_seed_is_an_independent_background_only_study(config):
    datasets = null_datasets(config)
    assert list(datasets) == ["lhco_surrogate_null4", "lhco_surrogate_null5"]
    base = config["lhco_surrogate"]
    for seed, cfg in zip((4, 5), datasets.values(), strict=True):
        assert cfg["data"]["surrogate"]["seed"] == seed
        assert cfg["injections"] == [0] and cfg["runs"] == 1
        assert cfg["methods"] == ["idealized", "lacathode"]
        assert cfg["scan"]["windows"] == []
        assert cfg["feature_sets"] == base["feature_sets"] and cfg["flow"] == base["flow"]
    seeds = {cfg["seed"] for cfg in datasets.values()}
    assert len(seeds) == 2 and base["seed"] not in seeds  # each dataset's networks seeded apart
    assert base["data"]["surrogate"]["seed"] == 1  # the study itself is untouched
    assert null_datasets(config) == datasets  # the same config, the same datasets


def test_datasets_train_like_studies_and_feed_the_null_run(config):
    config.update(null_datasets(config))
    groups = {study for study, _, _ in training_groups(config)}
    assert {"lhco_surrogate", "lhco_surrogate_null4", "lhco_surrogate_null5"} == groups
    files = null_run_inputs(config, "lhco_surrogate", "shifted", 5)
    assert sorted(files) == [
        "data_scores",
        "run0_bumphunt_idealized",
        "run0_bumphunt_lacathode",
        "run0_flow_diagnostics",
        "run0_scores_idealized",
        "run0_scores_lacathode",
        "run0_summary_idealized",
        "run0_summary_lacathode",
    ]
    assert files["run0_bumphunt_lacathode"].endswith("nsig0/run0/lacathode/bumphunt.csv")
    assert files["run0_scores_lacathode"].startswith("results/lhco_surrogate_null5/shifted/sr")
    assert files["run0_scores_lacathode"].endswith("nsig0/run0/lacathode/scores_sic.parquet")
    assert files["data_scores"].endswith("nsig0/run0/idealized/scores_data.parquet")
    assert files["run0_flow_diagnostics"].startswith("results/lhco_surrogate_null5/shifted/sr")
    assert files["run0_flow_diagnostics"].endswith("nsig0/run0/flow/diagnostics.json")
    by_run = run_files(files)
    assert list(by_run) == [0] and by_run[0].flow_diagnostics.endswith("diagnostics.json")
    assert sorted(by_run[0].scores) == ["idealized", "lacathode"]
    with pytest.raises(ValueError, match="lhco_surrogate_null6"):
        null_run_inputs(config, "lhco_surrogate", "shifted", 6)
    assert "results/lhco_surrogate/null/shifted/null.csv" in null_targets(config)


def test_several_runs_per_dataset_keep_run_zero_and_feed_the_null_run_per_run(config):
    """``null_study.runs``: each dataset trains more runs (other seeds), run 0 the same
    files as with one run; the null run reads every run's scores, bump hunt and flow."""
    one = null_datasets(config)
    config["lhco_surrogate"]["null_study"]["runs"] = 3
    three = null_datasets(config)
    for name, section in three.items():
        same = {**section, "runs": 1, "null_study": one[name]["null_study"]}
        assert section["runs"] == 3 and same == one[name]
    config.update(three)
    files = null_run_inputs(config, "lhco_surrogate", "shifted", 4)
    by_run = run_files(files)
    assert list(by_run) == [0, 1, 2]
    for run, inputs in by_run.items():
        assert sorted(inputs.bumphunt) == ["idealized", "lacathode"]
        assert f"nsig0/run{run}/lacathode/bumphunt.csv" in inputs.bumphunt["lacathode"]
        assert f"nsig0/run{run}/flow/diagnostics.json" in inputs.flow_diagnostics
    assert "/run0/" in files["data_scores"]  # the controls: once per dataset
    assert null_title(config, "lhco_surrogate", "shifted").endswith(
        "2 independent datasets × 3 runs"
    )
    with pytest.raises(KeyError, match="run1_weights_lacathode"):
        run_files({**files, "run1_weights_lacathode": "x"})


def test_only_weakly_supervised_methods_and_generated_data(config):
    config["lhco_surrogate"]["null_study"]["methods"] = ["supervised"]
    assert dijet_problems(config, "lhco_surrogate") == [
        "lhco_surrogate.null_study.methods: 'supervised' is not weakly supervised"
    ]
    config["lhco_surrogate"]["data"]["source"] = "download"
    assert null_datasets(config) == {}  # real files cannot be redrawn


def test_rows_read_each_methods_signal_auc_and_compare_the_backgrounds(tmp_path):
    g = np.random.default_rng(3)
    scores, summaries, bumphunts = {}, {}, {}
    for name, auc in (("idealized", 0.41), ("cathode", 0.62)):
        bumphunts[name] = str(tmp_path / f"{name}_bumphunt.csv")
        fits = {"efficiency": [0.1, 0.01, 0.001], "z_local": [auc * 4, -auc, np.nan]}
        converged = {"fit_converged": [True, name == "idealized", False]}
        fits |= {"sb_chi2_ndof": [1.1, 0.9, np.nan]} | converged
        fits |= {"sr_over_sb_sides": [1.0 + auc / 10, 1.0, 0.8]}  # known without a fit
        pd.DataFrame(fits).to_csv(bumphunts[name])
        n = 400
        table = pd.DataFrame(
            {
                "score": g.random(n),
                "label": np.r_[np.zeros(300), np.ones(100)],
                "part": ["sr_test"] * 150 + ["extra_test"] * 150 + ["signal_test"] * 100,
            }
        )
        scores[name] = str(tmp_path / f"{name}.parquet")
        write_parquet(table, scores[name])
        summaries[name] = str(tmp_path / f"{name}.json")
        (tmp_path / f"{name}.json").write_text(json.dumps({"auc_sic_test": auc}))
    rows = null_rows(7, "original", scores, summaries, bumphunts)
    assert list(rows["method"]) == ["idealized", "cathode"]
    assert list(rows["auc_signal"]) == [0.41, 0.62] and (rows["data_seed"] == 7).all()
    assert (rows["run"] == 0).all()
    assert rows["auc_sr_vs_extra_background"].between(0.4, 0.6).all()  # random scores
    assert list(rows["z_local_eps0.1"]) == [0.41 * 4, 0.62 * 4]
    assert rows["sb_chi2_ndof_eps0.01"].tolist()[0] == 0.9
    # a fit that did not converge is counted, not averaged: its Z and χ² are NaN
    assert np.isnan(rows["z_local_eps0.01"].tolist()[1])
    assert list(rows["z_failed_eps0.01"]) == [0.0, 1.0]
    assert rows["z_local_eps0.001"].isna().all()  # a cut too tight to fit stays NaN
    assert list(rows["sr_over_sb_sides_eps0.001"]) == [0.8, 0.8]  # whether or not it fits
    other = rows.assign(data_seed=8, auc_signal=[0.59, 0.38], **{"z_local_eps0.1": [-1.0, 3.0]})
    summary = summarize(pd.concat([rows, other]))
    assert list(summary.index) == ["idealized", "cathode"]
    assert summary.loc["idealized", "mean"] == pytest.approx(0.5)
    assert (summary["datasets"] == 2).all() and (summary["rows"] == 2).all()
    assert summary.loc["idealized", "z_mean_eps0.1"] == pytest.approx((1.64 - 1.0) / 2)
    assert summary.loc["cathode", "z_std_eps0.1"] == pytest.approx(np.std([2.48, 3.0], ddof=1))
    assert (summary["z_fits_eps0.001"] == 0).all() and (summary["z_fits_eps0.1"] == 2).all()
    assert list(summary["z_failed_eps0.01"]) == [0, 2] and (summary["z_failed_eps0.001"] == 2).all()
    assert summary.loc["cathode", "sides_ratio_mean_eps0.1"] == pytest.approx(1.062)
    assert summary.loc["cathode", "sides_ratio_sem_eps0.1"] == 0
    null_figure(pd.concat([rows, other]), summary, "test", [str(tmp_path / "null.png")])
    assert (tmp_path / "null.png").stat().st_size > 5_000
    # a feature set the bump hunt does not search: AUCs only, no Z columns, still a figure
    aucs = null_rows(7, "original", scores, summaries, {})
    assert list(aucs["auc_signal"]) == [0.41, 0.62] and not aucs.filter(like="z_").shape[1]
    only = summarize(aucs)
    assert list(only.columns) == ["datasets", "rows", "median", "mean", "sem"]
    null_figure(aucs, only, "not searched", [str(tmp_path / "aucs.png")])
    assert (tmp_path / "aucs.png").stat().st_size > 5_000


def test_controls_fit_without_a_cut_and_with_random_cuts(tmp_path):
    """A smooth falling spectrum without signal: the controls' fits converge and give Z of
    order 1, seeded; ε = 1 keeps every event (SR and SB)."""
    g = np.random.default_rng(11)
    mjj = 2.7 + g.exponential(0.45, 60_000)
    mjj = mjj[mjj < 6.0]
    events = pd.DataFrame({"score": 0.0, "mjj": mjj, "sr": (mjj > 3.3) & (mjj < 3.7), "label": 0})
    path = str(tmp_path / "scores_data.parquet")
    write_parquet(events, path)
    bumphunt = {
        "efficiencies": [0.5, 0.2],
        "function": "dijet4",
        "bin_width": 0.1,
        "fit_range": [2.7, 6.0],
        "sqrt_s": 13.0,
    }
    rows = control_rows(3, "original", path, [3.3, 3.7], bumphunt, seed=5)
    assert list(rows["method"]) == ["no_cut", "random_cut"]
    no_cut, random_cut = rows.iloc[0], rows.iloc[1]
    assert np.isnan(no_cut["z_local_eps0.5"]) and np.isnan(random_cut["z_local_eps1"])
    for z in (no_cut["z_local_eps1"], random_cut["z_local_eps0.5"], random_cut["z_local_eps0.2"]):
        assert abs(z) < 4
    assert (rows.filter(like="z_failed").fillna(0) == 0).all().all()
    again = control_rows(3, "original", path, [3.3, 3.7], bumphunt, seed=5)
    pd.testing.assert_frame_equal(rows, again)
    other = control_rows(3, "original", path, [3.3, 3.7], bumphunt, seed=6)
    assert other["z_local_eps1"].iloc[0] == no_cut["z_local_eps1"]  # no cut: no draw
    assert other["z_local_eps0.5"].iloc[1] != random_cut["z_local_eps0.5"]


def test_a_summary_splits_the_spread_of_several_runs_per_dataset():
    """Two runs per dataset share the dataset's fluctuation: the summary's Z spread splits
    into datasets and runs, its s.e.m. counts datasets, and its prediction for a new run on
    new data is :func:`null_prediction`'s; with one run per dataset it is the t of n − 1."""
    g = np.random.default_rng(2)
    shift = np.repeat(g.normal(0.0, 1.5, 6), 2)  # the dataset's part, shared by its runs
    z = 1.0 + shift + g.normal(0.0, 0.3, 12)
    table = pd.DataFrame(
        {
            "data_seed": np.repeat(np.arange(6), 2),
            "run": np.tile([0, 1], 6),
            "method": "lacathode",
            "auc_signal": 0.5,
            "z_local_eps0.1": z,
            "z_failed_eps0.1": 0.0,
        }
    )
    row = summarize(table).loc["lacathode"]
    assert row["datasets"] == 6 and row["rows"] == 12 and row["z_fits_eps0.1"] == 12
    assert row["z_std_datasets_eps0.1"] > 3 * row["z_std_runs_eps0.1"]
    expected = null_prediction(z, table["data_seed"])
    for key in ("mean", "sem", "std", "scale", "dof"):
        assert row[f"z_{key}_eps0.1"] == pytest.approx(expected[key])
    # 12 rows, but about 6 datasets' worth of information: not 11 dof, not s/√12
    assert row["z_dof_eps0.1"] < 7 and row["z_sem_eps0.1"] > z.std(ddof=1) / np.sqrt(12)
    one = summarize(table[table["run"] == 0]).loc["lacathode"]
    first = z[::2]
    assert one["z_dof_eps0.1"] == pytest.approx(5)
    assert one["z_scale_eps0.1"] == pytest.approx(first.std(ddof=1) * np.sqrt(1 + 1 / 6))
    assert one["z_sem_eps0.1"] == pytest.approx(first.std(ddof=1) / np.sqrt(6))
    assert np.isnan(one["z_std_runs_eps0.1"])  # one run: no spread between runs


def test_the_analysis_bump_hunts_are_read_against_their_methods_null_at_their_efficiency():
    def t_of(n: int, std: float) -> dict[str, float]:  # one run per dataset
        return {"std": std, "scale": std * np.sqrt(1 + 1 / n), "dof": n - 1}

    nulls = {
        ("lacathode", "eps0.1"): (8, 1.6, t_of(8, 1.1)),
        ("random_cut", "eps0.1"): (8, 0.1, t_of(8, 0.6)),
        ("lacathode", "eps0.01"): (7, 0.7, t_of(7, 0.9)),
        ("random_cut", "eps0.01"): (8, 0.2, t_of(8, 1.0)),
    }
    summary = pd.DataFrame({"method": ["lacathode", "random_cut"]})
    for (method, eps), (fits, mean, t) in nulls.items():
        at = summary["method"] == method
        summary.loc[at, [f"z_fits_{eps}", f"z_mean_{eps}"]] = [fits, mean]
        summary.loc[at, [f"z_{key}_{eps}" for key in t]] = list(t.values())
    bumphunts = pd.DataFrame(
        {
            "method": ["lacathode", "lacathode", "cathode"],
            "injection": [1000, 1000, 1000],
            "run": [0, 0, 0],
            "efficiency": [0.1, 0.01, 0.1],
            "z_local": [3.4, 0.7, -6.0],
            "n_params": [4, 5, 4],
        }
    )
    out = calibrate(bumphunts, summary)
    assert list(out["method"]) == ["lacathode", "lacathode"]  # CATHODE has no null here
    assert list(out["null_fits"]) == [8, 7] and list(out["null_z_mean"]) == [1.6, 0.7]
    assert out["z_calibrated"].iloc[1] == pytest.approx(0.0, abs=1e-12)  # at its null mean
    expected = null_calibrated_z(np.array([3.4]), 1.6, 1.1 * np.sqrt(1 + 1 / 8), 7)[0]
    assert out["z_calibrated"].iloc[0] == pytest.approx(expected)
    assert 0 < expected < 3.4 - 1.6  # the offset removed, the null's spread and size counted
    assert "p_empirical" not in out  # without the null's rows, the t reading alone
    # with the null's rows: the rank of each Z among its method's null Z at that efficiency
    table = pd.DataFrame(
        {
            "method": ["lacathode"] * 4 + ["random_cut"] * 4,
            "z_local_eps0.1": [0.5, 3.4, 3.9, np.nan, 9.0, 9.0, 9.0, 9.0],
            "z_local_eps0.01": [-1.0, 0.2, 0.7, 0.9, 9.0, 9.0, 9.0, 9.0],
        }
    )
    ranked = calibrate(bumphunts, summary, table)
    assert list(ranked["null_runs_beyond"]) == [2, 2]  # 3.4, 3.9 ≥ 3.4; 0.7, 0.9 ≥ 0.7
    np.testing.assert_allclose(ranked["p_empirical"], [3 / 4, 3 / 5])
    np.testing.assert_allclose(ranked["z_empirical"], norm.isf([3 / 4, 3 / 5]))
    with pytest.raises(KeyError, match=r"efficiency \[.eps0\.5.\]"):
        calibrate(bumphunts.assign(efficiency=0.5), summary)


@pytest.mark.workflow
def test_null_target_builds_each_dataset_with_the_workflow_rules(dijet_run, tmp_path):
    # a copy of the session's tiny dijet run: its analysis is there, the null's datasets not
    workdir = shutil.copytree(dijet_run, tmp_path / "wf", symlinks=True)
    target = "results/lhco_surrogate/null/shifted/null.csv"
    null = "{data_seeds: [4, 5], runs: 2, methods: [idealized, lacathode]}"
    null_cfg = f"lhco_surrogate={{null_study: {null}}}"
    calibrated = "results/lhco_surrogate/null/shifted/calibrated.csv"
    run_snakemake(workdir, "--cores", "2", target, calibrated, "--config", null_cfg)
    table = pd.read_csv(workdir / target)
    # per dataset: run 0's methods and the controls (once per dataset), run 1's methods
    assert list(table["data_seed"]) == [4] * 6 + [5] * 6
    assert list(table["run"]) == [0, 0, 0, 0, 1, 1] * 2
    methods_per_run = ["idealized", "lacathode"]
    assert list(table["method"]) == (methods_per_run + list(CONTROLS) + methods_per_run) * 2
    methods = table[table["method"].isin(["idealized", "lacathode"])]
    assert methods["auc_signal"].between(0.0, 1.0).all()
    assert {"z_local_eps0.2", "z_local_eps0.05", "sb_chi2_ndof_eps0.2"} <= set(table.columns)
    # each dataset's bump hunt, from its scores, and its controls: the same fit without a
    # cut (ε = 1) and with random cuts, on the same events
    assert table["z_local_eps0.2"].notna().sum() + table["z_failed_eps0.2"].sum() == 10
    no_cut = table[table["method"] == "no_cut"]
    assert no_cut["z_local_eps1"].notna().all() and no_cut["z_local_eps0.2"].isna().all()
    assert (no_cut["sr_over_sb_sides_eps1"] == 1).all()  # no cut keeps SR and SB alike
    assert table.loc[table["method"] != "no_cut", "sr_over_sb_sides_eps0.2"].gt(0).all()
    # each dataset's flow: how far its latent SB and SR background are from N(0, 1), per row
    for col, (low, high) in {
        "flow_sb_latent_vs_normal_auc": (0.3, 1.0),
        "flow_sr_latent_vs_normal_auc": (0.3, 1.0),
        "flow_normal_cut_sr_over_sb_sides": (0.3, 3.0),  # an efficiency ratio, ~1
        "flow_normal_cut_sr_over_sb_sides_sb_train": (0.3, 3.0),  # the flow's SB training part
        "flow_normal_cut_sr_over_sb_sides_sb_val_test": (0.3, 3.0),  # the SB it was not fitted to
    }.items():
        assert (table.groupby(["data_seed", "run"])[col].nunique() == 1).all()
        assert table[col].between(low, high).all(), col
    summary = pd.read_csv(workdir / "results/lhco_surrogate/null/shifted/null_summary.csv")
    assert {"no_cut", "random_cut"} <= set(summary["method"])
    at = summary.set_index("method")
    assert list(at.loc[["idealized", "lacathode", "no_cut"], "rows"]) == [4, 4, 2]
    assert (at.loc[["idealized", "lacathode"], "datasets"] == 2).all()
    assert {"z_failed_eps0.2", "sides_ratio_mean_eps0.2"} <= set(summary.columns)
    # the analysis itself (injections 200 and 0, one run), read against that null
    cal = pd.read_csv(workdir / calibrated)
    assert set(cal["method"]) == {"idealized", "lacathode"}  # the null study's methods
    assert len(cal) == 2 * 2 * 2  # methods × injections × efficiencies
    assert (cal["null_fits"] <= 4).all() and cal["z_local"].notna().any()
    # and by its rank among the null's runs: at most 1/(1 + 4) below 1, never below that
    ranked = cal.dropna(subset=["z_local"])
    assert ranked["null_runs_beyond"].between(0, 4).all()
    assert ranked["p_empirical"].between(1 / (1 + 4), 1).all()
    fitted = cal.dropna(subset=["z_calibrated"])
    assert (
        np.sign(fitted["z_calibrated"]) == np.sign(fitted["z_local"] - fitted["null_z_mean"])
    ).all()
    # the SR data's test background and the extra SR sample are one distribution
    assert methods["auc_sr_vs_extra_background"].between(0.42, 0.58).all()
    ideal = table[table["method"] == "idealized"]["auc_signal"]
    assert ideal.nunique() == 4  # another dataset or seed, another fluctuation
    for seed in (4, 5):  # each dataset is a study the rules built: data, split, flow, scores
        study = workdir / f"results/lhco_surrogate_null{seed}"
        assert (study / "raw/features.h5").is_file()
        assert (study / "shifted/sr3.3-3.7/nsig0/run0/flow/model.pt").is_file()
        assert (study / "shifted/sr3.3-3.7/nsig0/run1/flow/model.pt").is_file()
        assert (workdir / f"results/lhco_surrogate/null/shifted/data{seed}.csv").is_file()
        assert (workdir / f"benchmarks/lhco_surrogate/null/shifted/data{seed}.tsv").is_file()
    assert not (workdir / "results/lhco_surrogate_null4/original").exists()  # only what is asked
    # the original feature set is not searched in the tiny config: its null study plans the
    # datasets' AUCs only (no bump hunt, no fold classifiers' flows), and no calibrated.csv
    original = "results/lhco_surrogate/null/original/null.csv"
    plan = dry_run_jobs(workdir, "--cores", "1", original, "--config", null_cfg)
    assert plan["null_run"] == 2 and "null_summary" in plan
    assert not [rule for rule in plan if rule.startswith(("bumphunt", "train_cross_flows"))]
    asked = run_snakemake(
        workdir, "-n", "results/lhco_surrogate/null/original/calibrated.csv", check=False
    )
    assert asked.returncode != 0 and "does not search 'original'" in asked.stdout + asked.stderr
    # LaCATHODE's bump hunt mapped each fold through a cross-fitted flow; the exploration
    # script splits its cut's SB efficiency by split part (a ratio per subset, and means)
    for seed in (4, 5):
        flows = workdir / f"results/lhco_surrogate_null{seed}/shifted/sr3.3-3.7/nsig0/run0/flow"
        assert (flows / "cross0/model.pt").is_file() and (flows / "cross1/model.pt").is_file()
    script = REPO / "notebooks/null_flow_training_events.py"
    args = ["--datasets", "4", "5", "--results", str(workdir / "results"), "--eps", "0.2"]
    args += ["--path", "shifted/sr3.3-3.7/nsig0"]
    out = subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=True
    ).stdout
    means = dict(line.split()[:2] for line in out.splitlines()[-3:])
    assert set(means) == {"all", "sb_train", "sb_val_test"}
    assert all(0.2 < float(v) < 5 for v in means.values()), out
