"""The README's two set-up commands are the ones CI runs, and they use the pinned lock."""

import subprocess

from conftest import REPO


def _block(marker: str) -> str:
    out = subprocess.run(
        [
            "bash",
            "-c",
            f"source <(sed -n '/^readme_block()/,/^}}/p' .ci/run); readme_block {marker}",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip()


def test_install_block_pins_torch_first_and_runs_the_workflow():
    cmd = _block("ci:install")
    assert cmd.index("pip install torch==2.13.0") < cmd.index("requirements.lock")
    assert cmd.endswith("snakemake --cores all")


def test_test_block_runs_pytest():
    assert "python -m pytest" in _block("ci:test")


def test_lock_pins_every_package_and_torch():
    lines = [
        ln
        for ln in (REPO / "envs/requirements.lock").read_text().splitlines()
        if ln and not ln.startswith("#")
    ]
    assert "torch==2.13.0" in lines
    assert all("==" in ln for ln in lines), [ln for ln in lines if "==" not in ln]
    names = {ln.split("==")[0].lower() for ln in lines}
    assert {
        "snakemake",
        "numpy",
        "pandas",
        "pyarrow",
        "nflows",
        "scikit-learn",
        "matplotlib",
    } <= names
