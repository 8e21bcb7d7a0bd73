"""The di-τ chain through Snakemake on a tiny config: its outputs, and that a config change
reruns what it touches and nothing upstream of it."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import copy_workflow, dry_run_jobs, run_snakemake

from resonant_ad.core.flow import ConditionalFlow

pytestmark = pytest.mark.workflow

UPSTREAM = {"ditau_generate", "ditau_prepare", "ditau_split", "ditau_reference_background"}


@pytest.fixture(scope="module")
def ditau_run(tmp_path_factory):
    """The whole di-τ chain once, on tests/configs/ditau_tiny.yaml, in a scratch copy."""
    workdir = copy_workflow(tmp_path_factory.mktemp("ditau"), config="ditau_tiny.yaml")
    run_snakemake(workdir, "--cores", "2")
    return workdir


def test_tiny_chain_builds_every_table_from_a_two_flow_mixture(ditau_run):
    results = ditau_run / "results/ditau"
    summary = pd.read_csv(results / "metrics_summary.csv")
    assert sorted(summary["injection"].unique()) == [0.0, 2.0]
    assert set(summary["signal"]) == {"tprime"}
    assert summary["auc_mean"].between(0, 1).all()
    calibration = pd.read_csv(results / "calibration.csv")
    assert set(calibration["signal"]) == {"tprime"}
    assert len(ConditionalFlow.load(results / "flow/model.pt").states_) == 2
    assert pd.read_csv(results / "flow/history.csv")["seed"].nunique() == 2
    proc = run_snakemake(ditau_run, "-n", "--cores", "2")
    assert "Nothing to be done" in proc.stdout + proc.stderr
    # the HGB ensembles' checkpoints (classifier groups, references) are gone once done
    assert not list(results.rglob("*resume*"))
    # cpu_code_path: avx2 (the default) reached the jobs: the flow ran torch's AVX2 kernels
    # under MKL's AVX2 branch
    log = (ditau_run / "logs/ditau/train_flow.log").read_text()
    assert "CPU code path: torch AVX2" in log and "MKL_CBWR=AVX2" in log


def _classifiers(jobs: dict[str, int]) -> bool:
    return any(rule.startswith("ditau_train_classifier") for rule in jobs)


@pytest.mark.parametrize(
    ("change", "reruns", "keeps", "classifiers"),
    [
        (
            "ditau={classifier: {hgb: {n_members: 3}}}",
            {"ditau_evaluate", "ditau_calibration"},
            {"ditau_train_flow", "ditau_density_ratio", "ditau_sample"},
            True,
        ),
        (
            "ditau={density_ratio: {proposals: 3}}",
            {"ditau_sample", "ditau_evaluate"},
            {"ditau_train_flow", "ditau_density_ratio"},
            True,
        ),
        (
            "ditau={density_ratio: {clip: [0.05, 20.0]}}",
            {"ditau_density_ratio", "ditau_sample"},
            {"ditau_train_flow"},
            True,
        ),
        (
            "ditau={flow_ensemble: 3}",
            {"ditau_train_flow", "ditau_density_ratio", "ditau_sample"},
            set(),
            True,
        ),
        (
            "ditau={evaluation: {selection_efficiency: 0.02}}",
            {"ditau_evaluate"},
            {"ditau_train_flow", "ditau_density_ratio", "ditau_sample"},
            None,
        ),
    ],
    ids=["classifier", "proposals", "clip", "flow_ensemble", "evaluation"],
)
def test_a_config_change_reruns_what_it_touches_and_nothing_upstream(
    ditau_run, change, reruns, keeps, classifiers
):
    jobs = dry_run_jobs(ditau_run, "--config", change)
    assert reruns <= set(jobs), jobs
    assert not (keeps | UPSTREAM) & set(jobs), jobs
    if classifiers is not None:
        assert _classifiers(jobs) == classifiers, jobs
