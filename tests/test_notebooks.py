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


def test_dijet_notebook_recomputes_the_metric_table(dijet_run):
    nb = nbformat.read(REPO / "notebooks/dijet_metrics.ipynb", as_version=4)
    os.environ["RESONANT_AD_RESULTS"] = str(dijet_run)
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(dijet_run)}}
        ).execute()
    finally:
        del os.environ["RESONANT_AD_RESULTS"]
    outputs = "".join(
        o.get("text", "") for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs
    )
    assert "rows recomputed from the score files; equal to metrics.csv" in outputs
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "data" in o]
    assert any("image/png" in o["data"] for o in images)
