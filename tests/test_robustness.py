"""Reruns give the same numbers; a run killed mid-training resumes to the same outputs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import content_digest, copy_workflow, run_snakemake, snakemake_cmd

pytestmark = pytest.mark.workflow

ANALYSIS = "results/lhco_surrogate/shifted/sr3.3-3.7/nsig200"


def _run_outputs(run: int) -> list[str]:
    """Tables and models of one run of the tiny dijet config, flow to classifier scores (a
    bump hunt job fits every method of its runs, so asking for one would train them all)."""
    base = f"{ANALYSIS}/run{run}"
    return [
        f"{base}/flow/model.pt",
        f"{base}/flow/history.csv",
        f"{base}/flow/samples.parquet",
        f"{base}/latent/sr_test.parquet",
        f"{base}/decorrelated/samples_m0.parquet",
        f"{base}/cathode/scores_data.parquet",
        f"{base}/lacathode/scores_data.parquet",
    ]


def test_same_config_gives_identical_outputs_and_runs_differ(dijet_run, tmp_path):
    """A fresh copy recomputes run 0 bit for bit (models: tensor for tensor); run 1 differs."""
    again = copy_workflow(tmp_path / "again", config="dijet_tiny.yaml")
    path = again / "config/config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["lhco_surrogate"]["runs"] = 2  # one job per run (runs_per_job: 1), as the session's
    path.write_text(yaml.safe_dump(cfg))
    run_snakemake(again, "--cores", "2", *_run_outputs(0), *_run_outputs(1))
    for rel in _run_outputs(0):
        assert content_digest(dijet_run / rel) == content_digest(again / rel), rel
    for rel0, rel1 in zip(_run_outputs(0), _run_outputs(1), strict=True):
        assert content_digest(again / rel0) != content_digest(again / rel1), rel1


def _long_flow_copy(dest: Path) -> Path:
    """The tiny dijet config with a flow training long enough to be interrupted."""
    workdir = copy_workflow(dest, config="dijet_tiny.yaml")
    path = workdir / "config/config.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["lhco_surrogate"]["flow"].update(epochs=40, patience=40)
    path.write_text(yaml.safe_dump(cfg))
    return workdir


def test_killed_flow_training_resumes_to_the_same_model(tmp_path, monkeypatch):
    """SIGKILL to snakemake and its jobs during train_flow: no output under a final name, the
    training's checkpoint kept; after --unlock a plain rerun (the profile's rerun-incomplete)
    resumes the training from it and finishes with the model an uninterrupted run gives."""
    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "0")  # a checkpoint after every epoch
    model = f"{ANALYSIS}/run0/flow/model.pt"
    checkpoint = f"{ANALYSIS}/run0/flow/model.resume.pt"
    outputs = [model, f"{ANALYSIS}/run0/flow/history.csv", f"{ANALYSIS}/run0/flow/loss.png"]
    killed = _long_flow_copy(tmp_path / "killed")
    log = killed / "logs/lhco_surrogate/shifted/sr3.3-3.7/nsig200/runs0-0/train_flow.log"
    proc = subprocess.Popen(
        [*snakemake_cmd(), "--cores", "2", model],
        cwd=killed,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 300
        while not (log.exists() and "epoch   3" in log.read_text()):
            assert proc.poll() is None, "snakemake ended before the flow training was reached"
            assert time.monotonic() < deadline, "the flow training did not start in 300 s"
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert "epoch  40" not in log.read_text()  # killed mid-training
    for rel in outputs:
        assert not (killed / rel).exists(), rel
    assert (killed / checkpoint).exists()  # written after each epoch, before its log line
    # a temporary of the checkpoint's own write may be left by the kill (the rerun drops it)
    leftovers = [p for p in (killed / ANALYSIS).rglob("*.part") if "resume" not in p.name]
    assert not leftovers

    run_snakemake(killed, "--unlock")
    run_snakemake(killed, "--cores", "2", model)
    text = log.read_text()
    assert "epoch  40" in text
    done = int(re.search(r"model\.resume\.pt after epoch (\d+)", text).group(1))
    assert 3 <= done < 40 and f"epoch {done:3d} " not in text  # resumed, not restarted
    assert not list((killed / ANALYSIS).rglob("*resume*"))

    clean = _long_flow_copy(tmp_path / "clean")
    run_snakemake(clean, "--cores", "2", model)
    for rel in outputs[:2]:
        assert content_digest(killed / rel) == content_digest(clean / rel), rel
