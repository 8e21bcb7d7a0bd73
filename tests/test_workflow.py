"""The toy DAG through Snakemake on a tiny config: outputs, physics, partial reruns, schema."""

from __future__ import annotations

import re
import shutil

import pandas as pd
import pytest
from conftest import (
    REPO,
    TINY,
    copy_workflow,
    dry_run_jobs,
    job_table,
    planned_jobs,
    run_snakemake,
)

from resonant_ad.pipeline.config import load_study

pytestmark = pytest.mark.workflow


def test_outputs_exist_and_are_sane(toy_run):
    table = pd.read_csv(toy_run / "results/toy/sculpting.csv")
    assert list(table.columns[:4]) == ["c", "space", "run", "chi2_ndof"]
    assert len(table) == 2 * 2 * 2  # c × space × runs of the tiny config
    assert table["chi2_ndof"].notna().all() and (table["chi2_ndof"] > 0).all()
    # the cut keeps the requested fraction of SR test events
    assert table["sr_efficiency"].between(0.045, 0.055).all()
    for name in ("fig3_m_distribution", "fig4_sculpting_x", "fig5_latent_z", "chi2_summary"):
        for ext in ("png", "pdf"):
            path = toy_run / f"results/toy/figures/{name}.{ext}"
            assert path.stat().st_size > 5_000, path
    for rule in ("generate_c0.1", "train_c0.1_x_runs0-1", "evaluate", "fig4"):
        assert (toy_run / f"benchmarks/toy/{rule}.tsv").exists()
        assert (toy_run / f"logs/toy/{rule}.log").exists()


def test_large_correlation_sculpts_in_x_only(toy_run):
    """The paper's claim on the tiny run: c = 0.1 in x sculpts m; z space and c = 0.001 do not."""
    summary = pd.read_csv(toy_run / "results/toy/sculpting_summary.csv").set_index(["c", "space"])
    sculpted = summary.loc[(0.1, "x"), "median"]
    for key in [(0.1, "z"), (0.001, "x"), (0.001, "z")]:
        assert summary.loc[key, "median"] < 2.5, key
        assert sculpted > 4 * summary.loc[key, "median"], key


def test_classifier_change_reruns_only_classifier_and_downstream(toy_run):
    proc = run_snakemake(
        toy_run, "-n", "--cores", "2", *TINY, "--config", "toy={classifier: {epochs: 3}}"
    )
    jobs = proc.stdout
    assert "toy_train_classifier" in jobs and "toy_evaluate" in jobs and "toy_fig4" in jobs
    assert "toy_generate" not in jobs
    assert "toy_fig3" not in jobs  # Fig. 3 depends on the data only


def test_a_cpu_code_path_change_reruns_every_job(toy_run):
    """Another CPU code path gives other last bits (a training carries them into every number
    after it): changing it reruns every job of the run, as a package edit that each of them
    imports would; setting the default explicitly reruns nothing."""
    everything = dry_run_jobs(toy_run, *TINY, "--forceall")
    assert dry_run_jobs(toy_run, *TINY, "--config", "cpu_code_path=portable") == everything
    proc = run_snakemake(toy_run, "-n", "--cores", "2", *TINY, "--config", "cpu_code_path=avx2")
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_a_package_edit_reruns_the_rules_whose_code_imports_it(toy_run, tmp_path):
    """Snakemake sees a rule's script, not the package it imports: the rule's `code` hash
    does. On a copy of the package (put first on the path), editing the toy's analysis
    module reruns its trainings and evaluation, and the figure rules, whose module imports
    it, but not the data generation; undoing the edit reruns nothing."""
    pkg = shutil.copytree(
        REPO / "src" / "resonant_ad",
        tmp_path / "src" / "resonant_ad",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    env = {"PYTHONPATH": str(tmp_path / "src")}
    nothing = run_snakemake(toy_run, "-n", "--cores", "2", *TINY, env=env)
    assert "Nothing to be done" in nothing.stdout + nothing.stderr
    module = pkg / "studies" / "toy" / "analysis.py"
    source = module.read_text()
    module.write_text(source + "\n# an edit that changes no number, only the source\n")
    proc = run_snakemake(toy_run, "-n", "--cores", "2", *TINY, env=env)
    figures = {"toy_fig3": 1, "toy_fig4": 1, "toy_fig5": 1, "toy_chi2_summary": 1}
    assert job_table(proc.stdout) == {
        "toy_train_classifier_runs0_1": 4,
        "toy_evaluate": 1,
        **figures,
        "all": 1,
    }
    assert "Params have changed" in proc.stdout  # the reason Snakemake gives is the code hash
    module.write_text(source)
    undone = run_snakemake(toy_run, "-n", "--cores", "2", *TINY, env=env)
    assert "Nothing to be done" in undone.stdout + undone.stderr


def test_a_checkout_that_imports_another_checkouts_package_is_stopped(tmp_path):
    """A clone with its own src/ whose Python imports the package from elsewhere (an editable
    install of another clone) would run, and hash, the other copy: the run stops before any
    job, naming both; with its own package first on the path it plans."""
    workdir = copy_workflow(tmp_path / "clone")
    shutil.copytree(REPO / "src", workdir / "src", ignore=shutil.ignore_patterns("__pycache__"))
    proc = run_snakemake(workdir, "-n", *TINY, check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert str(workdir / "src" / "resonant_ad") in out and str(REPO / "src") in out
    assert "PYTHONPATH=" in out
    ok = run_snakemake(workdir, "-n", *TINY, env={"PYTHONPATH": str(workdir / "src")})
    assert "toy_generate" in ok.stdout


def test_nothing_to_do_after_a_complete_run(toy_run):
    proc = run_snakemake(toy_run, "-n", "--cores", "2", *TINY)
    assert "Nothing to be done" in proc.stdout + proc.stderr


@pytest.mark.parametrize(
    "args",
    [
        # the GPU profile's settings with the real data's config (its runs_per_job: all is
        # the default's, whose grouped DAG the other tests run)
        ("--configfile", "config/lhco.yaml", "--profile", "workflow/profiles/gpu"),
        (
            *("--configfile", "config/lhco_surrogate_full.yaml", "--profile"),
            *("workflow/profiles/slurm", "--slurm-no-account", "--config", "runs_per_job=1"),
        ),
    ],
    ids=["lhco-gpu", "surrogate_full-slurm"],
)
def test_the_paper_scale_configs_plan_their_dag_with_the_readme_commands(tmp_path, args):
    """The README's paper-scale commands plan a DAG (each study file merged over the default,
    as Snakemake does). On a CPU cluster (a job per run): 3 feature sets × 2 injections × 10
    runs, 60 flows and 6 methods × 60 classifier trainings, and the scan's two other windows
    with one run each (a flow, 3 classifiers)."""
    workdir = copy_workflow(tmp_path / "wf")
    counts = dry_run_jobs(workdir, *args)
    assert counts  # a DAG was planned
    if "runs_per_job=1" in args:
        flows = sum(v for k, v in counts.items() if k.startswith("train_flow"))
        classifiers = sum(v for k, v in counts.items() if k.startswith("train_classifier"))
        assert (flows, classifiers) == (60 + 2, 6 * 60 + 2 * 3)


#: the training rules: the cross-fitted flows take `train_flow`'s resources entry
TRAINING = ("train_flow", "train_cross_flows", "train_classifier")


def _training(rule: str) -> bool:
    return rule.split("_lhco")[0] in TRAINING or rule == "ditau_train_flow"


def test_gpu_profile_keeps_every_training_job_on_the_gpu_under_a_users_config(tmp_path):
    """The GPU profile declares the machine's GPU (`resources: [gpu=1]`); a `--config` of the
    user's (which replaces a profile's `config:`) cannot drop the training jobs' GPU."""
    workdir = copy_workflow(tmp_path / "wf")
    jobs = planned_jobs(
        workdir,
        *("--profile", "workflow/profiles/gpu", "--configfile", "config/lhco_surrogate_full.yaml"),
        *("--config", "lhco_surrogate={flow: {epochs: 50}}"),
    )
    training = [(rule, res) for rule, res in jobs if _training(rule)]
    assert {rule.split("_lhco")[0] for rule, _ in training} == set(TRAINING)
    for rule, res in training:
        assert (res["gpu"], res["threads"], res["mem_mb"]) == ("1", "2", "16000"), rule
    others = [res.get("gpu", "0") for rule, res in jobs if not _training(rule)]
    assert others and set(others) == {"0"}


def test_a_run_that_caps_a_rules_threads_says_so_before_any_job(tmp_path):
    """`--cores 1` under a config that gives a rule 2 threads: its job runs with 1, and the
    run names the entry before it starts (a training's numbers depend on its threads); a
    dry run says nothing (its `--cores` is 1 unless given, even for a cluster run)."""
    workdir = copy_workflow(tmp_path / "wf")
    target = "results/toy/c0/data.parquet"
    config = ("--config", "resources={toy_generate: {threads: 2}}")
    dry = run_snakemake(workdir, target, "-n", "--cores", "1", *TINY, *config)
    assert "allows" not in dry.stdout + dry.stderr
    proc = run_snakemake(workdir, target, "--cores", "1", *TINY, *config)
    said = proc.stdout + proc.stderr
    assert "resources.toy_generate.threads = 2 but this run allows 1 per job" in said
    assert said.count("but this run allows") == 1 and (workdir / target).exists()
    shown = re.compile(r"^\s+threads: 2$", re.MULTILINE)  # a job's threads, shown when > 1
    assert not shown.search(said)
    again = run_snakemake(workdir, target, "--cores", "2", "--forceall", *TINY, *config)
    assert "allows" not in again.stdout + again.stderr
    assert shown.search(again.stdout + again.stderr)


@pytest.mark.parametrize("declared", [None, "gpu=4"])
def test_slurm_profile_gpu_example_gives_training_jobs_a_gpu(tmp_path, declared):
    """The SLURM profile's commented GPU example (`resources: [gpu=4]`) as a flag: training
    jobs ask for one GPU each; without it, none does."""
    workdir = copy_workflow(tmp_path / "wf")
    extra = ("--resources", declared) if declared else ()
    jobs = planned_jobs(
        workdir, "--profile", "workflow/profiles/slurm", "--slurm-no-account", *extra
    )
    training = [res for rule, res in jobs if _training(rule)]
    assert len(training) >= 3
    assert {res["gpu"] for res in training} == ({"1"} if declared else {"0"})
    assert "# resources: [gpu=4]" in (REPO / "workflow/profiles/slurm/config.yaml").read_text()


def test_title_claim_target_plans_the_shifted_paper_scale_study_on_the_gpu(tmp_path):
    """`title_claim` with config/lhco_title_claim.yaml: the paper-scale shifted analysis only
    (2 injections × 10 runs, 3 methods), every training job on the GPU."""
    workdir = copy_workflow(tmp_path / "wf")
    args = ("--profile", "workflow/profiles/gpu", "title_claim")
    jobs = planned_jobs(workdir, *args, "--configfile", "config/lhco_title_claim.yaml")
    counts: dict[str, int] = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    assert counts == {
        "generate_surrogate": 1,
        "prepare": 1,
        "inject": 2,
        "split": 2,
        "train_flow_lhco_surrogate_runs0_9": 2,
        "sample_flow_lhco_surrogate_runs0_9": 2,
        "to_latent_lhco_surrogate_runs0_9": 2,
        "flow_diagnostics_lhco_surrogate_runs0_9": 2,
        "train_classifier_lhco_surrogate_runs0_9": 6,
        "evaluate": 1,
        "evaluation_figures": 1,
        "run_table": 1,
        "title_claim": 1,
    }
    assert all(res["feature_set"] == "shifted" for rule, res in jobs if "feature_set" in res)
    for rule, res in jobs:
        if _training(rule):
            assert res["gpu"] == "1", rule


def test_title_claim_cpu_overlay_keeps_the_paper_data_and_trains_two_runs_apart(tmp_path):
    """config/lhco_title_claim_cpu.yaml over the title claim's file: the same 1M-event data,
    injections and methods, 2 runs as one job each, 25-epoch flows and classifiers."""
    files = ("config/lhco_title_claim.yaml", "config/lhco_title_claim_cpu.yaml")
    study = load_study(files, "lhco_surrogate")  # over config/config.yaml, in this order
    assert study["data"]["surrogate"]["n_background"] == 1_000_000
    assert (study["injections"], study["runs"], study["methods"]) == (
        [0, 1000],
        2,
        ["cathode", "lacathode", "idealized"],
    )
    assert study["flow"]["epochs"] == study["classifier"]["nn"]["epochs"] == 25
    workdir = copy_workflow(tmp_path / "wf")
    jobs = planned_jobs(workdir, "--cores", "2", "title_claim", "--configfile", *files)
    counts: dict[str, int] = {}
    for rule, _ in jobs:
        counts[rule] = counts.get(rule, 0) + 1
    per_run = {"train_flow": 1, "sample_flow": 1, "to_latent": 1, "flow_diagnostics": 1}
    expected = {"generate_surrogate": 1, "prepare": 1, "inject": 2, "split": 2}
    for runs in ("runs0_0", "runs1_1"):
        expected.update({f"{r}_lhco_surrogate_{runs}": 2 * n for r, n in per_run.items()})
        expected[f"train_classifier_lhco_surrogate_{runs}"] = 2 * 3
    expected.update({"evaluate": 1, "evaluation_figures": 1, "run_table": 1, "title_claim": 1})
    assert counts == expected
