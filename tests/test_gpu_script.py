"""The prepared GPU call (workflow/gpu/): the wheel list it carries and its script, run at a
tiny scale on the CPU (SMOKE=1) in a copy of the workflow."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import tarfile
from pathlib import Path

import pandas as pd
import pytest
from conftest import REPO, copy_workflow
from packaging.utils import canonicalize_name


def _wheels_module():
    """workflow/gpu/wheels.py, imported from its path (it is a script, not a module)."""
    spec = importlib.util.spec_from_file_location("gpu_wheels", REPO / "workflow/gpu/wheels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_wheels_carry_what_the_run_imports_and_nothing_the_image_holds():
    """The closure has Snakemake's and PyTables' own dependencies, at their installed
    versions, and leaves out the image's packages (numpy, torch, pyyaml) and PuLP."""
    wheels = _wheels_module()
    have = wheels.image_packages()
    assert {"torch", "numpy", "pandas", "pyyaml", "scipy"} <= have
    needed = wheels.closure(wheels.WANTED, "3.12", have)
    names = set(needed)
    for name in ("snakemake", "snakemake-interface-common", "tables", "blosc2", "nflows"):
        assert name in names, name
    assert not names & have
    assert "pulp" not in names
    from importlib import metadata

    for name, version in needed.items():
        assert metadata.version(name) == version
    assert all(canonicalize_name(n) == n for n in names)


def _run(workdir: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    """workflow/gpu/run.sh in ``workdir`` with this interpreter's python3 first on PATH."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    full = dict(os.environ, PATH=path, WHEELS=str(workdir / "no-wheels")) | env
    script = workdir / "workflow/gpu/run.sh"
    return subprocess.run(
        ["bash", str(script), *args], cwd=workdir, capture_output=True, text=True, env=full
    )


def test_run_script_refuses_an_unknown_mode(tmp_path):
    proc = _run(copy_workflow(tmp_path / "wf"), "everything")
    assert proc.returncode == 2
    assert "unknown mode 'everything'" in proc.stderr
    proc = _run(tmp_path / "wf", "claim", STEP="fastest")
    assert proc.returncode == 2
    assert "unknown STEP 'fastest'" in proc.stderr


@pytest.mark.workflow
def test_run_script_smoke_runs_the_claim_in_two_passes_and_packs_it(tmp_path):
    """SMOKE=1 `all`: injection 0 first, then both; the metrics, χ²/ndof and SIC figures and
    the benchmark files come back in claim.tar.gz, the histories in claim-runs.tar.gz; the
    bench's step rows in bench/."""
    workdir = copy_workflow(tmp_path / "wf")  # tests/configs/ lands in test_configs/
    out = tmp_path / "out"
    smoke = "test_configs/title_claim_smoke.yaml"
    # the fused step wherever it compiles, whatever this machine's timings (the run's usual
    # step is every other workflow test's)
    env = {"SMOKE": "1", "SMOKE_CONFIG": smoke, "OUT": str(out), "STEP_MIN_GAIN": "0"}
    proc = _run(workdir, "all", COMMIT="abc1234", **env)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    log = (out / "log.txt").read_text()
    assert log.index("sculpting pass: exit 0") < log.index("full pass: exit 0")
    # the data jobs ran beside the step choice, before the first pass, which found them done
    beside = log.index("the data jobs beside the step choice")
    assert beside < log.index("step choice: the flow's step") < log.index("sculpting pass (")
    assert log.index("data jobs: exit 0") < log.index("sculpting pass (")
    first_pass = log[log.index("sculpting pass (") : log.index("sculpting pass: exit 0")]
    assert re.search(r"^(local)?rule generate_surrogate:", log[beside:], re.M)
    assert not re.search(
        r"^(local)?rule (generate_surrogate|prepare|inject|split):", first_pass, re.M
    )
    machine = json.loads((out / "machine.json").read_text())
    assert machine["commit"] == "abc1234"
    assert machine["versions"]["snakemake"].startswith("9.")
    # this CPU machine is not the GPU image: the image's packages it lacks are named
    missing = set(machine["image_packages_missing"])
    assert "jax" in missing and not {"numpy", "torch", "pandas"} & missing
    assert "device-packages.txt lists packages this machine lacks" in log
    with tarfile.open(out / "claim.tar.gz") as tar:
        names = set(tar.getnames())
        summary = pd.read_csv(tar.extractfile(next(n for n in names if "metrics_summary" in n)))
    sr = "results/lhco_surrogate/shifted/sr3.3-3.7"
    for name in ("metrics.csv", "figures/sic.png", "figures/sculpting_chi2.png"):
        assert f"{sr}/{name}" in names, name
    assert "benchmarks/rules.md" in names
    assert any(n.endswith("train_flow.tsv") for n in names)
    assert {"cathode", "lacathode", "idealized"} <= set(summary["method"])
    assert {0, 200} <= set(summary["injection"])
    with tarfile.open(out / "claim-runs.tar.gz") as tar:
        runs = tar.getnames()
    assert f"{sr}/nsig0/run1/flow/history.csv" in runs
    assert f"{sr}/nsig200/run1/flow/diagnostics.json" in runs  # the latent-vs-N(0, 1) AUCs
    with tarfile.open(out / "claim.tar.gz") as tar:
        choice = json.load(tar.extractfile("benchmarks/step_choice.json"))
    assert choice["step_ms_per_step"] > 0 and choice["members"] == 2
    assert choice["min_gain"] == 0 and choice["compiled"] == ("fused_error" not in choice)
    step = "compiled" if choice["compiled"] else "graph"
    assert f"claim: the flow trains with the {step} step" in log
    with tarfile.open(out / "claim-runs.tar.gz") as tar:
        flow_log = "logs/lhco_surrogate/shifted/sr3.3-3.7/nsig0/runs0-1/train_flow.log"
        text = tar.extractfile(flow_log).read().decode()
    assert ("step: eager fused" in text) == choice["compiled"]
    bench = pd.read_csv(out / "bench" / "gpu_bench.csv")
    assert set(bench["part"]) == {"steps", "ditau_rqs"}


def test_wheel_set_is_checked_against_each_wheels_own_requirements(tmp_path):
    """`unmet` reads each wheel's METADATA: a requirement that neither the set nor the image
    holds is named; the image's packages, the set's own and markers for other Pythons pass."""
    import zipfile

    wheels = _wheels_module()

    def wheel(name: str, *requires: str) -> None:
        lines = [f"Name: {name}", "Version: 1.0", *(f"Requires-Dist: {r}" for r in requires)]
        with zipfile.ZipFile(tmp_path / f"{name}-1.0-py3-none-any.whl", "w") as zf:
            zf.writestr(f"{name}-1.0.dist-info/METADATA", "\n".join(lines) + "\n")

    wheel("alpha", "numpy>=2", "beta_pkg", 'tomli; python_version < "3.11"')
    wheel("beta_pkg")
    assert wheels.unmet(tmp_path, "3.12", wheels.image_packages()) == []
    wheel("gamma", "not-on-the-image>=1")
    assert wheels.unmet(tmp_path, "3.12", wheels.image_packages()) == [
        "gamma needs not-on-the-image>=1"
    ]


def _tiny_wheel(folder: Path, name: str = "tinypkg") -> None:
    """A valid pure-Python wheel of one module, ``name`` (what pip installs from)."""
    import base64
    import hashlib
    import zipfile

    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}/__init__.py": "X = 1\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    digest = {
        k: base64.urlsafe_b64encode(hashlib.sha256(v.encode()).digest()).rstrip(b"=").decode()
        for k, v in files.items()
    }
    record = [f"{k},sha256={digest[k]},{len(v)}" for k, v in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    folder.mkdir(exist_ok=True)
    with zipfile.ZipFile(folder / f"{name}-1.0-py3-none-any.whl", "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)


def test_run_script_installs_the_wheels_once_per_machine(tmp_path):
    """A second call on the same machine (the claim resumed) finds the wheels it carries
    installed by the first and does not install them again; a changed set is installed."""
    workdir = copy_workflow(tmp_path / "wf")
    _tiny_wheel(tmp_path / "wheels")
    env = {"WHEELS": str(tmp_path / "wheels"), "SITE": str(tmp_path / "site"), "SMOKE": "1"}
    env["BENCH_S"] = "1"  # the bench is not what this test is about
    for call in ("first", "second"):
        _run(workdir, "bench", OUT=str(tmp_path / call), **env)
    first, second = ((tmp_path / c / "log.txt").read_text() for c in ("first", "second"))
    assert "installing 1 wheels" in first and (tmp_path / "site/tinypkg/__init__.py").exists()
    assert "installed in" in second and "installing" not in second
    _tiny_wheel(tmp_path / "wheels", "otherpkg")  # another set
    _run(workdir, "bench", OUT=str(tmp_path / "third"), **env)
    assert "installing 2 wheels" in (tmp_path / "third/log.txt").read_text()
