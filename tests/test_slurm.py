"""The SLURM profile against a real single-node SLURM cluster on 127.0.0.1.

The cluster is brought up by ``workflow/profiles/slurm/localhost-cluster.sh`` (Debian's
slurm-wlm and munge; root needed) and stopped whatever happens. The tiny toy study runs once
through ``--profile workflow/profiles/slurm`` and once locally; SLURM must have run every job
(its job-completion log and ``squeue`` list them) and the outputs must be the same.
"""

from __future__ import annotations

import os
import subprocess

import pytest
from conftest import REPO, TINY, content_digest, copy_workflow, run_snakemake

pytestmark = pytest.mark.slurm

CLUSTER = REPO / "workflow" / "profiles" / "slurm" / "localhost-cluster.sh"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """A running localhost SLURM cluster (its state folder); stopped after the module."""
    if os.geteuid() != 0:
        pytest.skip("the localhost SLURM cluster needs root (apt-get, munged, slurmd)")
    state = tmp_path_factory.mktemp("slurm")
    try:
        up = subprocess.run([str(CLUSTER), "up", str(state)], capture_output=True, text=True)
        if up.returncode != 0:
            pytest.fail(f"cluster did not start:\n{up.stdout}\n{up.stderr}")
        yield state
    finally:
        subprocess.run([str(CLUSTER), "down", str(state)], capture_output=True, text=True)


def test_profile_runs_every_job_through_slurm_with_local_results(cluster, toy_run, tmp_path):
    """The local run is the session's ``toy_run`` (the same tiny toy, ``--cores 2``)."""
    on_slurm = copy_workflow(tmp_path / "slurm")
    run_snakemake(
        on_slurm,
        "--profile",
        "workflow/profiles/slurm",
        "--slurm-no-account",
        "--slurm-status-command",
        "squeue",
        # a localhost cluster answers at once: poll often, so each DAG level waits seconds
        "--slurm-init-seconds-before-status-checks",
        "1",
        "--seconds-between-status-checks",
        "2",
        "--jobs",
        "4",
        *TINY,
    )
    local = toy_run

    # SLURM ran every job: one COMPLETED record per job of the run, by rule
    env = dict(os.environ)
    queue = subprocess.run(
        ["squeue", "--states=all", "--noheader", "--format=%i|%T|%k"],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.splitlines()
    jobs = [line.split("|") for line in queue if "rule_toy" in line]
    rules = sorted(comment.split("_wildcards")[0] for _, _, comment in jobs)
    print("SLURM jobs of the run:\n" + "\n".join(queue))
    assert rules.count("rule_toy_train_classifier_runs0_1") == 4  # 2 c × 2 spaces, 2 runs each
    assert rules.count("rule_toy_generate") == 2
    assert all(state == "COMPLETED" for _, state, _ in jobs)
    completed = (cluster / "log" / "jobcomp.txt").read_text()
    assert completed.count("JobState=COMPLETED") >= len(jobs)

    # ... and gave the same results as the local run
    files = sorted(p.relative_to(local) for p in (local / "results").rglob("*") if p.is_file())
    assert files
    assert files == sorted(
        p.relative_to(on_slurm) for p in (on_slurm / "results").rglob("*") if p.is_file()
    )
    compared = [f for f in files if f.suffix != ".pdf"]  # PDFs embed their creation time
    different = [f for f in compared if content_digest(local / f) != content_digest(on_slurm / f)]
    assert not different, f"SLURM and local outputs differ: {different}"
