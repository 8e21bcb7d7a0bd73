"""The benchmark script: the stage chain runs end to end, benchmark files sum per rule."""

from __future__ import annotations

import os

import pandas as pd
import pytest
from conftest import copy_workflow

from resonant_ad.bench.chain import STAGES, bench_stages, default_study
from resonant_ad.bench.cli import main
from resonant_ad.bench.cpu import bench_chunks, bench_rules


def test_default_study_rescales_and_shortens_trainings():
    study = default_study(background=50_000)
    assert study["data"]["surrogate"]["n_background"] == 50_000
    full = default_study()
    ratio = 50_000 / full["data"]["surrogate"]["n_background"]
    assert study["flow"]["n_samples"] == int(full["flow"]["n_samples"] * ratio)
    assert study["flow"]["epochs"] == 1 and study["classifier"]["nn"]["epochs"] == 1


def test_every_stage_runs_in_its_own_process_and_reports(tmp_path):
    table = bench_stages(background=5_000)
    assert list(table["stage"]) == list(STAGES)
    assert (table["events"] > 0).all() and (table["seconds"] > 0).all()
    assert (table["peak_rss_mb"] > 100).all()  # each child's own peak, torch included
    events = table.set_index("stage")["events"]
    assert events["generate"] > events["split"] * 0.9  # the split keeps (almost) everything


def test_chunk_table_times_every_pass_and_checks_the_bits():
    table = bench_chunks(events=600, members=[1, 2], sizes=[600, 64])
    assert len(table) == 2 * 2 * 3  # members x sizes x passes
    assert set(table["stage"]) == {"flow_forward", "flow_inverse", "batchnorm_statistics"}
    assert (table["events_per_s"] > 0).all()
    assert table["same_as_first"].all()  # chunks of 64 give the numbers of one chunk
    assert not table["default"].any()  # neither size is the CPU's default here


def test_thread_table_compares_each_count_with_the_first_in_its_own_process(tmp_path, capfd):
    """One child process per thread count, on the AVX2 code path; a row per model: the HGB
    ensemble trains to the same numbers with 1 and 2 threads (scikit-learn's sums keep their
    order; the torch models' rows are measured, not asserted)."""
    csv = tmp_path / "threads.csv"
    before = dict(os.environ)
    assert main(["threads", "--threads", "1", "2", "--events", "1500", "--csv", str(csv)]) == 0
    assert dict(os.environ) == before  # the code path is the children's, not this process's
    table = pd.read_csv(csv).set_index("model")
    assert set(table.index) == {
        "flow maf: latents",
        "flow rqs: latents",
        "NN classifier: scores",
        "HGB ensemble: scores",
        "MKL products",
    }
    assert (table["threads"] == "1 vs 2").all() and (table["max_abs_diff"] >= 0).all()
    assert table.loc["HGB ensemble: scores", "identical"]
    assert table.loc["HGB ensemble: scores", "max_abs_diff"] == 0
    out = capfd.readouterr().out  # the children's lines
    assert "torch threads 1, MKL_CBWR=AVX2" in out and "torch threads 2, MKL_CBWR=AVX2" in out


def test_code_path_table_times_each_path_and_compares_its_numbers(tmp_path, capfd):
    """One child per code path at 1 thread: its MKL branch, the flow step's speed, and each
    model's difference from the first path (the HGB ensemble uses no MKL: the same numbers;
    the torch models' rows are measured, not asserted). This process's environment stays."""
    csv = tmp_path / "paths.csv"
    before = dict(os.environ)
    args = ["code-paths", "--paths", "avx2", "portable", "--events", "1500", "--steps", "10"]
    assert main([*args, "--csv", str(csv)]) == 0
    assert dict(os.environ) == before
    table = pd.read_csv(csv).set_index("code_path")
    assert list(table.index) == ["avx2", "portable"]
    assert list(table["MKL_CBWR"]) == ["AVX2", "COMPATIBLE"]
    assert (table["flow_step_events_per_s"] > 0).all()
    diffs = [c for c in table.columns if c.endswith("(max diff vs avx2)")]
    assert len(diffs) == 5 and (table.loc["avx2", diffs] == 0).all()
    assert table.loc["portable", "HGB ensemble: scores (max diff vs avx2)"] == 0
    assert "MKL_CBWR=COMPATIBLE" in capfd.readouterr().out


def test_rule_table_groups_wildcard_file_names(tmp_path):
    def tsv(rel: str, seconds: float, rss: float) -> None:
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"s\th:m:s\tmax_rss\n{seconds}\t0:00:01\t{rss}\n")

    tsv("lhco/shifted/sr3.3-3.7/nsig0/run0/train_flow.tsv", 10, 500)
    tsv("lhco/shifted/sr3.3-3.7/nsig0/run1/train_flow.tsv", 30, 700)
    tsv("lhco/split_shifted_sr3.3-3.7_nsig0.tsv", 2, 300)
    tsv("lhco/shifted/sr3.3-3.7/bumphunt_fits_nsig0.tsv", 3, 200)
    tsv("toy/train_c0.1_x_run0.tsv", 5, 400)
    table = bench_rules(str(tmp_path)).set_index(["study", "rule"])
    assert table.loc[("lhco", "train_flow"), "jobs"] == 2
    assert table.loc[("lhco", "train_flow"), "total_s"] == 40
    assert table.loc[("lhco", "train_flow"), "max_rss_mb"] == 700
    assert ("lhco", "split") in table.index and ("toy", "train") in table.index
    assert ("lhco", "bumphunt_fits") in table.index  # a rule name with "_" is kept whole
    out = tmp_path / "rules.csv"
    assert (
        main(["rules", str(tmp_path), "--csv", str(out), "--figure", str(tmp_path / "r.png")]) == 0
    )
    assert len(pd.read_csv(out)) == 4 and (tmp_path / "r.png").stat().st_size > 5_000


def test_dag_table_times_the_dry_run_of_each_config(tmp_path, capfd):
    """`bench dag` plans the DAG of a copy of the workflow with the default config and
    another one, reports the jobs each plans, and names a config that fails."""
    workdir = copy_workflow(tmp_path / "wf")
    out = tmp_path / "dag.csv"
    args = ["dag", "config/lhco_title_claim.yaml", "--repeats", "1", "--workdir", str(workdir)]
    assert main([*args, "--csv", str(out)]) == 0
    table = pd.read_csv(out).set_index("config")
    assert list(table.index) == ["config/config.yaml", "config/lhco_title_claim.yaml"]
    assert (table["jobs"] > 10).all() and (table["median_s"] > 0).all()
    assert (
        table.loc["config/config.yaml", "jobs"] != table.loc["config/lhco_title_claim.yaml", "jobs"]
    )
    assert "dag: config/lhco_title_claim.yaml 1/1" in capfd.readouterr().err  # progress
    with pytest.raises(RuntimeError, match=r"no_such\.yaml"):
        main(["dag", "no_such.yaml", "--repeats", "1", "--workdir", str(workdir)])


def test_gpu_benchmark_code_runs_on_the_cpu_at_smoke_size(tmp_path):
    """Every part of `bench gpu` but the graph capture (which needs CUDA), at tiny sizes:
    the code a scarce GPU run depends on, and its table, record and figure."""
    import json

    from resonant_ad.bench.gpu import run
    from resonant_ad.bench.gpu_steps import SMOKE

    report = run(str(tmp_path), SMOKE)
    assert not [k for k, v in report.items() if isinstance(v, dict) and "error" in v], report
    table = pd.read_csv(tmp_path / "gpu_bench.csv")
    assert {"steps", "flow", "classifier", "inference", "ditau_rqs"} <= set(table["part"])
    flows = table[table["part"] == "flow"].set_index("members")
    assert set(flows.index) == {1, SMOKE.members}
    assert (flows["s_per_epoch"] > 0).all() and (flows["projected_100_epochs_s"] > 0).all()
    assert json.loads((tmp_path / "gpu_bench.json").read_text())["projection"]["total_h"] > 0
    assert (tmp_path / "gpu_bench.png").stat().st_size > 5_000


def test_gpu_benchmark_graph_branches_run_with_stand_in_graphs(
    tmp_path, monkeypatch, fake_cuda_graphs
):
    """The benchmark's CUDA-only branches (graph and member step rows, the graph-vs-eager
    check, graph-mode trainings) at smoke size, with the CPU stand-in graphs of
    ``conftest.fake_cuda_graphs``: they run, and a replayed step loses what an eager one does."""
    from resonant_ad.bench import gpu, gpu_steps

    monkeypatch.setattr(gpu_steps, "graphs_possible", lambda scale: True)
    monkeypatch.setattr(gpu, "graphs_possible", lambda scale: True)
    report = gpu.run(str(tmp_path), gpu_steps.SMOKE, parts="steps,data,flow,classifier,ditau_rqs")
    assert not [k for k, v in report.items() if isinstance(v, dict) and "error" in v], report
    steps = pd.read_csv(tmp_path / "gpu_bench.csv").query("part == 'steps'")
    modes = set(zip(steps["model"], steps["mode"], steps["members"], strict=True))
    for model in ("flow", "classifier"):
        assert {(model, "eager", 1), (model, "graph", 1), (model, "graph", 2)} <= modes
        assert report["steps"]["graph_vs_eager"][model]["max_rel_diff"] == 0
    trainings = pd.read_csv(tmp_path / "gpu_bench.csv").query("part in ('flow', 'classifier')")
    assert (trainings["mode"] == "graph").all()
    assert sum(g.replays for g in fake_cuda_graphs) > 0


def test_gpu_projection_counts_the_paper_scale_config():
    """The projected study is the one ``config/lhco_surrogate_full.yaml`` runs."""
    from resonant_ad.bench.gpu import PAPER_STUDY
    from resonant_ad.pipeline.config import load_study

    full = load_study("config/lhco_surrogate_full.yaml", "lhco_surrogate")
    assert PAPER_STUDY["groups"] == len(full["feature_sets"]) * len(full["injections"])
    assert PAPER_STUDY["runs"] == full["runs"]
    assert PAPER_STUDY["methods"] == len(full["methods"])  # each trains classifiers
    # the bump hunt's cross-fitted flows (LaCATHODE and x′ are in it) fit 3/4 of the SB
    assert full["bumphunt"]["folds"] >= 2 and full["bumphunt"]["cross_flows"]
    assert {"lacathode", "decorrelated"} <= set(full["methods"])
    split = full["split"]
    cross = (split["train"] / (split["train"] + split["val"])) / split["train"]
    assert PAPER_STUDY["cross_flow_events"] == pytest.approx(cross, rel=0.01)


def test_ditau_benchmarks_time_the_flows_and_the_hgb_ensemble(tmp_path, capsys):
    """The di-τ flow epochs (paper and default flows), its sampling (nflows' inverse against
    the package's, the same outputs) and HGB ensemble sizes, at smoke size."""
    import numpy as np

    from resonant_ad.bench.cpu import bench_ditau_flows, bench_hgb

    flows = bench_ditau_flows(events=300)
    assert len(flows) == 2 and (flows["s_per_epoch"] > 0).all()
    assert flows["flow"].str.contains("6 MADE").iloc[0]
    assert main(["ditau-sample", "--events", "200"]) == 0  # nflows' inverse and ours
    printed = capsys.readouterr().out
    assert "per-feature inverse" in printed and "nflows inverse" in printed
    gap = float(printed.split("largest difference of the outputs: ")[1].split()[0])
    assert gap < 1e-4
    g = np.random.default_rng(0)
    cols = [f"rho{i}" for i in range(3)]
    (tmp_path / "split").mkdir()
    (tmp_path / "repeat0").mkdir()
    for split in ("train", "val"):
        pd.DataFrame(g.normal(size=(300, 3)), columns=cols).assign(mvis=200.0).to_parquet(
            tmp_path / "split" / f"sr_{split}.parquet"
        )
    samples = pd.DataFrame(g.normal(size=(1800, 3)), columns=cols)
    samples.assign(mvis=200.0, split=["train", "val"] * 900).to_parquet(
        tmp_path / "repeat0" / "samples.parquet"
    )
    table = bench_hgb([1, 3], str(tmp_path))
    assert list(table["members"]) == [1, 3] and (table["events"] == 2400).all()
    assert (table["s_per_member"] > 0).all()
    assert main(["hgb", "--members", "2", "--results", str(tmp_path)]) == 0
    assert "s_per_training" in capsys.readouterr().out


def test_step_choice_reports_a_failed_compilation_and_keeps_the_run_step(monkeypatch):
    """The fused step is chosen only where it compiles: a compiler error is a result (named
    in the JSON), and the claim then trains with the step it would take anyway."""
    import torch

    from resonant_ad.bench.gpu_steps import flow_step_choice

    def broken(fn, **kwargs):
        raise RuntimeError("no C++ compiler for inductor")

    monkeypatch.setattr(torch, "compile", broken)
    out = flow_step_choice("cpu", members=2, batch=16, steps=3, blocks=1)
    assert out["compiled"] is False and out["gain"] is None
    assert "no C++ compiler" in out["fused_error"]
    assert out["step_ms_per_step"] > 0 and out["graphs"] is False
