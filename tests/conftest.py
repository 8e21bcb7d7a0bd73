"""Shared fixtures: the repository root and a way to run Snakemake on a scratch copy of it."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

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


def run_snakemake(workdir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run snakemake in ``workdir``; on failure with ``check``, fail the test with its output."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.run(
        [*snakemake_cmd(), *args], cwd=workdir, capture_output=True, text=True, env=env
    )
    if check and proc.returncode != 0:
        pytest.fail(f"snakemake {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


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
