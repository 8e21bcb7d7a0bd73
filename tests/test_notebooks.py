"""Notebooks run headless against a workflow run's results and reproduce its table."""

import os

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

pytestmark = pytest.mark.workflow


def test_toy_notebook_runs_headless(toy_run):
    nb = nbformat.read(REPO / "notebooks/toy_sculpting.ipynb", as_version=4)
    os.environ["RESONANT_AD_RESULTS"] = str(toy_run)
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(toy_run)}}
        ).execute()
    finally:
        del os.environ["RESONANT_AD_RESULTS"]
    outputs = "".join(
        o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
    )
    assert "runs recomputed; all equal to results/toy/sculpting.csv" in outputs
