"""Notebooks run headless against a workflow run's results and reproduce its tables."""

import os
from pathlib import Path

import nbformat
import pytest
from conftest import REPO
from nbclient import NotebookClient

pytestmark = pytest.mark.workflow


def run_notebook(name: str, results: Path) -> tuple[str, list[dict]]:
    """Execute ``notebooks/name`` against ``results``; return its text and its outputs."""
    nb = nbformat.read(REPO / "notebooks" / name, as_version=4)
    os.environ["RESONANT_AD_RESULTS"] = str(results)
    try:
        NotebookClient(
            nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(results)}}
        ).execute()
    finally:
        del os.environ["RESONANT_AD_RESULTS"]
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    return "".join(o.get("text", "") for o in outputs), outputs


def test_toy_notebook_runs_headless(toy_run):
    text, _ = run_notebook("toy_sculpting.ipynb", toy_run)
    assert "runs recomputed; all equal to results/toy/sculpting.csv" in text


def test_dijet_notebook_recomputes_the_metric_table(dijet_run):
    text, outputs = run_notebook("dijet_metrics.ipynb", dijet_run)
    assert "rows recomputed from the score files; equal to metrics.csv" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)
