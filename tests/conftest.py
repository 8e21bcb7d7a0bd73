"""Shared fixtures: the repository root and a way to run Snakemake on a scratch copy of it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest
import torch

from resonant_ad.core import training

REPO = Path(__file__).resolve().parents[1]
CONFIGS = Path(__file__).resolve().parent / "configs"


def snakemake_cmd() -> list[str]:
    """The snakemake of the interpreter running the tests."""
    exe = Path(sys.executable).with_name("snakemake")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "snakemake"]


def copy_workflow(dest: Path, config: str | None = None) -> Path:
    """Copy the Snakefile, the profiles link, workflow/, config/ and envs/ to ``dest``.

    ``config`` (a file of tests/configs) replaces the copy's ``config/config.yaml``, so
    that only what it lists runs (``--configfile`` could only add to the default).
    """
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "Snakefile", dest / "Snakefile")
    shutil.copy2(REPO / "profiles", dest / "profiles", follow_symlinks=False)
    shutil.copytree(REPO / "workflow", dest / "workflow")
    shutil.copytree(REPO / "config", dest / "config")
    shutil.copytree(REPO / "envs", dest / "envs")
    shutil.copytree(CONFIGS, dest / "test_configs")
    if config is not None:
        shutil.copy2(CONFIGS / config, dest / "config" / "config.yaml")
    return dest


def run_snakemake(
    workdir: Path, *args: str, check: bool = True, env: Mapping[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir``; on failure with ``check``, fail the test with its output.
    ``env``: variables set on top of the test's environment (e.g. ``PYTHONPATH``)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    proc = subprocess.run(
        [*snakemake_cmd(), *args], cwd=workdir, capture_output=True, text=True, env=env
    )
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def job_table(stdout: str) -> dict[str, int]:
    """Rule name → jobs of the first job table ("Job stats:", a header, rows, "total") that a
    Snakemake run printed; empty where it printed none."""
    lines = stdout.splitlines()
    if "Job stats:" not in lines:
        return {}
    out: dict[str, int] = {}
    for line in lines[lines.index("Job stats:") + 3 :]:
        name, count = line.split()
        if name == "total":
            break
        out[name] = int(count)
    return out


def dry_run_jobs(workdir: Path, *args: str, env: Mapping[str, str] | None = None) -> dict[str, int]:
    """Rule name → jobs of ``snakemake -n --quiet rules *args`` in ``workdir`` (its job table)."""
    return job_table(run_snakemake(workdir, "-n", "--quiet", "rules", *args, env=env).stdout)


def planned_jobs(workdir: Path, *args: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, {threads, wildcards and resources by name}) of every job ``snakemake -n *args``
    plans in ``workdir``."""
    out = run_snakemake(workdir, "-n", *args).stdout
    jobs: list[tuple[str, dict[str, str]]] = []
    for block in out.split("\nrule ")[1:]:
        name, _, body = block.partition(":\n")
        found: dict[str, str] = {}
        for line in body.splitlines():
            key, _, value = line.strip().partition(": ")
            if key == "threads":
                found["threads"] = value
            elif key in ("resources", "wildcards"):
                found.update(item.split("=", 1) for item in value.split(", ") if "=" in item)
        jobs.append((name.strip(), found))
    return jobs


def content_digest(path: Path) -> str:
    """Content digest: tables byte for byte, models by their tensors (the archive differs)."""
    if path.suffix == ".pt":
        import torch

        payload = torch.load(path, map_location="cpu", weights_only=False)
        fitted = payload["state"]  # resonant_ad.core.estimator.Estimator.save
        states = fitted["states"] if "states" in fitted else [fitted]
        h = hashlib.sha256()
        for state in states:
            for key in sorted(state):
                value = state[key]
                h.update(key.encode())
                if isinstance(value, torch.Tensor):
                    h.update(value.cpu().numpy().tobytes())
        return h.hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


#: The tests of each session run (a tiny workflow run, built once per pytest process): whole
#: modules, or single tests of a module that needs another. pytest-xdist sends each run's
#: tests to one worker (:func:`work_unit`), so that the run is built once; any other module
#: is a unit of its own, its module fixtures built once. (xdist's ``xdist_group`` marks would
#: say this per test, but its ``loadgroup`` cannot rename pytest 9's node ids.)
SESSION_RUNS: dict[str, tuple[str, ...]] = {
    "toy_run": (
        "tests/test_workflow.py",
        "tests/test_slurm.py",
        "tests/test_notebooks.py::test_toy_notebook_runs_headless",
    ),
    "dijet_run": (
        "tests/test_workflow_data.py",
        "tests/test_null_study.py",
        "tests/test_robustness.py",
        "tests/test_notebooks.py::test_dijet_notebook_recomputes_the_metric_table",
    ),
}


def work_unit(nodeid: str) -> str:
    """The tests that share a worker with ``nodeid``: its session run's, else its module's."""
    for run, listed in SESSION_RUNS.items():
        if any(nodeid == n or nodeid.startswith(f"{n}::") for n in listed):
            return run
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Refuse a test that uses a session run :data:`SESSION_RUNS` does not list it under: on
    another worker it would build the run a second time."""
    for item in items:
        for run in SESSION_RUNS:
            if run in getattr(item, "fixturenames", ()) and work_unit(item.nodeid) != run:
                raise pytest.UsageError(
                    f"{item.nodeid} uses {run}: list it (or its module) under "
                    f"SESSION_RUNS[{run!r}] in tests/conftest.py"
                )


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """``--dist loadscope`` (the default, pyproject.toml) with :func:`work_unit` as the scope."""
    if config.getvalue("dist") != "loadscope":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SessionRunScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return SessionRunScheduling(config, log)


if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # a worker: its share of the cores for torch
    torch.set_num_threads(
        max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    )


TINY = ["--configfile", "test_configs/toy_tiny.yaml"]


@pytest.fixture
def tiny_chunks(monkeypatch):
    """CPU chunks of 64 events (at least 16) instead of thousands, for one test."""
    from resonant_ad.core import device

    monkeypatch.setattr(device, "CPU_CHUNK_ROWS", 64)
    monkeypatch.setattr(device, "CPU_MIN_CHUNK_EVENTS", 16)


@pytest.fixture(scope="session")
def toy_run(tmp_path_factory):
    """Run the toy study once (per test session) on the tiny config in a scratch copy."""
    workdir = copy_workflow(tmp_path_factory.mktemp("wf"))
    run_snakemake(workdir, "--cores", "2", *TINY)
    return workdir


@pytest.fixture(scope="session")
def dijet_run(tmp_path_factory):
    """Run the whole dijet chain once (per test session) on the tiny surrogate config."""
    workdir = copy_workflow(tmp_path_factory.mktemp("dijet"), config="dijet_tiny.yaml")
    run_snakemake(workdir, "--cores", "2")
    return workdir


class _FakeStream:
    def wait_stream(self, other: object) -> None:
        """Nothing to order on the CPU."""


class _FakeGraph:
    """A CUDA graph's contract on the CPU: capturing runs nothing, replay reruns the captured
    step on the very index tensor it was captured with (the static buffer), and the tensors
    the step reads and writes (parameters, buffers, Adam's state, the loss sum) must be the
    ones it was captured on: a real graph replays on fixed addresses."""

    def __init__(self) -> None:
        self.calls: list[tuple[training.EpochRunner, torch.Tensor, dict[str, int]]] = []
        self.replays = 0


def _addresses(runner: training.EpochRunner) -> dict[str, int]:
    """Where the step's persistent tensors live (what a captured graph would write into)."""
    out = {f"parameter {k}": v.data_ptr() for k, v in runner.model.named_parameters()}
    out |= {f"buffer {k}": v.data_ptr() for k, v in runner.model.named_buffers()}
    for i, state in enumerate(runner.opt.state.values()):
        out |= {f"adam {i} {k}": v.data_ptr() for k, v in state.items()}
    return out | {"loss sum": runner.total.data_ptr()}


@pytest.fixture
def fake_cuda_graphs(monkeypatch):
    """Route ``graphs: on`` to :class:`_FakeGraph` on the CPU; yields the captured graphs."""
    on = (True, "on", "auto")  # as on a CUDA device
    graphs: list[_FakeGraph] = []
    capturing: list[_FakeGraph] = []
    step = training.EpochRunner._step

    def recorded_step(self: training.EpochRunner, idx: torch.Tensor) -> None:
        if capturing:  # a capture records the step and executes none of it
            capturing[-1].calls.append((self, idx, _addresses(self)))
        else:
            step(self, idx)

    def replay(graph: _FakeGraph) -> None:
        graph.replays += 1
        for runner, idx, addresses in graph.calls:
            assert _addresses(runner) == addresses, "a tensor of the step moved after capture"
            step(runner, idx)

    @contextlib.contextmanager
    def capture(graph: _FakeGraph):
        capturing.append(graph)
        graphs.append(graph)
        try:
            yield
        finally:
            capturing.pop()

    monkeypatch.setattr(_FakeGraph, "replay", replay, raising=False)
    monkeypatch.setattr(training.EpochRunner, "_step", recorded_step)
    monkeypatch.setattr(training, "use_graphs", lambda mode, device, capturable=True: mode in on)
    monkeypatch.setattr(torch.cuda, "CUDAGraph", _FakeGraph)
    monkeypatch.setattr(torch.cuda, "graph", capture)
    monkeypatch.setattr(torch.cuda, "Stream", lambda device=None: _FakeStream())
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: _FakeStream())
    monkeypatch.setattr(torch.cuda, "stream", lambda stream: contextlib.nullcontext())
    return graphs


def count_member_fits(monkeypatch, kill_at=None):
    """Count HistGradientBoosting fits; the ``kill_at``-th raises as a killed job would."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    original, calls = HistGradientBoostingClassifier.fit, []

    def fit(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == kill_at:
            raise KeyboardInterrupt("killed")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", fit)
    return calls
