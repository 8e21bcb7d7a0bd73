"""The null test: the workflow's steps per dataset, two true-background samples alike, seeded."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import copy_workflow, run_snakemake

from resonant_ad.workflow.config import load_study
from resonant_ad.workflow.null import main, null_run, null_study, summarize, write_null_run
from resonant_ad.workflow.targets import null_targets

TINY = "tests/configs/dijet_tiny.yaml"


@pytest.fixture(scope="module")
def study():
    return load_study(TINY, "lhco_surrogate")


@pytest.fixture(scope="module")
def table(study):
    return null_study(study, "original", [1, 2], ["idealized", "cathode", "lacathode"])


def test_every_method_and_dataset_has_a_row(table):
    assert list(table["data_seed"]) == [1, 1, 1, 2, 2, 2]
    assert list(table["method"][:3]) == ["idealized", "cathode", "lacathode"]
    assert table["auc_signal"].between(0.0, 1.0).all()


def test_the_two_background_test_samples_look_alike(table):
    # the SR data's test background and the extra SR sample are one distribution
    assert table["auc_sr_vs_extra_background"].between(0.42, 0.58).all()


def test_each_dataset_is_seeded_and_distinct(study, table, tmp_path):
    again = null_run(study, "original", 2, ["idealized"], tmp_path)
    assert again.iloc[0].to_dict() == table.iloc[3].to_dict()  # same seed, same numbers
    ideal = table[table["method"] == "idealized"]["auc_signal"]
    assert ideal.nunique() == 2  # another dataset, another fluctuation
    assert (tmp_path / "data2/results/null/original/sr3.3-3.7/nsig0/run2/idealized").is_dir()


def test_summary_per_method(table):
    summary = summarize(table)
    assert list(summary.index) == ["idealized", "cathode", "lacathode"]
    assert (summary["datasets"] == 2).all()
    ideal = table[table["method"] == "idealized"]["auc_signal"]
    assert summary.loc["idealized", "mean"] == pytest.approx(ideal.mean())


def test_command_line_writes_the_table(tmp_path, capsys):
    out = tmp_path / "null.csv"
    assert main(["--config", TINY, "--seeds", "3", "--out", str(out)]) == 0
    assert list(pd.read_csv(out)["method"]) == ["idealized"]
    assert "median" in capsys.readouterr().out


def test_bad_arguments_are_named(study, tmp_path):
    with pytest.raises(SystemExit):
        main(["--config", TINY, "--feature-set", "nope"])
    with pytest.raises(ValueError, match="supervised"):
        null_run(study, "original", 1, ["supervised"], tmp_path)
    with pytest.raises(KeyError, match="lhco_surrogate"):
        load_study("config/ditau.yaml", "lhco_surrogate")


@pytest.mark.workflow
def test_null_target_runs_one_job_per_dataset(tmp_path):
    workdir = copy_workflow(tmp_path / "wf", config="dijet_tiny.yaml")
    target = "results/lhco_surrogate/null/original/null.csv"
    null_cfg = "lhco_surrogate={null_study: {data_seeds: [4, 5], methods: [idealized, lacathode]}}"
    run_snakemake(workdir, "--cores", "2", target, "--config", null_cfg)
    table = pd.read_csv(workdir / target)
    assert list(table["data_seed"]) == [4, 4, 5, 5]
    assert list(table["method"]) == ["idealized", "lacathode"] * 2
    for seed in (4, 5):  # one job, log and benchmark per dataset
        assert (workdir / f"results/lhco_surrogate/null/original/data{seed}.csv").is_file()
        assert (workdir / f"benchmarks/lhco_surrogate/null/original/data{seed}.tsv").is_file()
    summary = pd.read_csv(workdir / "results/lhco_surrogate/null/original/null_summary.csv")
    assert list(summary["method"]) == ["idealized", "lacathode"]
    assert (summary["datasets"] == 2).all()
    figure = workdir / "results/lhco_surrogate/null/original/null_auc.png"
    assert figure.stat().st_size > 10_000
    assert not (workdir / "results/lhco_surrogate/original").exists()  # nothing else ran


def test_null_study_refuses_real_data(study, tmp_path):
    real = {**study, "data": {**study["data"], "source": "download"}}
    with pytest.raises(ValueError, match="download"):
        write_null_run(real, "original", 1, ["idealized"], str(tmp_path / "x.csv"))
    assert not (tmp_path / "x.csv").exists()


def test_null_targets_cover_generated_studies_only():
    config = {
        "studies": ["lhco_surrogate", "lhco"],
        "lhco_surrogate": {"data": {"source": "surrogate"}, "feature_sets": {"a": {}, "b": {}}},
        "lhco": {"data": {"source": "download"}, "feature_sets": {"a": {}}},
    }
    targets = null_targets(config)
    assert "results/lhco_surrogate/null/b/null.csv" in targets
    assert "results/lhco_surrogate/null/a/null_auc.pdf" in targets
    assert not any("results/lhco/" in t for t in targets)  # real data cannot be redrawn
    assert null_targets({**config, "studies": ["lhco"]}) == []
