"""The front page and the docs site: short, buildable, and every code reference they make
(a file of the tree, a module or object of the package) exists."""

from __future__ import annotations

import importlib
import re
import subprocess
import sys

import pytest
from conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
#: a backticked path into the tree (outputs under results/, logs/, … are not in it)
TREE_PATH = re.compile(r"`((?:src|config|workflow|tests|docs|envs|notebooks|\.ci)/[^`\s]*)`")
#: a backticked package object, e.g. `resonant_ad.stages.flows.kernel_samples`
PACKAGE_REF = re.compile(r"`(?:python -m )?(resonant_ad(?:\.[A-Za-z_][A-Za-z0-9_]*)+)")


def _resolve(dotted: str) -> object:
    """The module or object a dotted name refers to: the longest importable module prefix,
    then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        return obj
    raise ModuleNotFoundError(dotted)


def test_readme_is_a_front_page():
    text = (REPO / "README.md").read_text()
    assert len(text.splitlines()) <= 200
    assert "<!-- ci:install -->" in text and "<!-- ci:test -->" in text
    assert "snakemake --report" in text and "docs/outputs.md" in text
    assert not re.search(r"\b[0-9a-f]{7,40}\b(?![-.])", text.replace("md5", ""))  # no hashes


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_code_references_exist(page):
    text = page.read_text()
    missing = []
    for raw in TREE_PATH.findall(text):
        path = raw.rstrip(".,;:)")
        if any(ch in path for ch in "{}*<>…$"):  # a pattern, not one file
            continue
        if not (REPO / path).exists():
            missing.append(path)
    for dotted in PACKAGE_REF.findall(text):
        try:
            _resolve(dotted)
        except (ImportError, AttributeError):
            missing.append(dotted)
    assert not missing, f"{page.name}: stale references {missing}"


def test_every_page_is_in_the_site_and_it_builds_strictly(tmp_path):
    nav = (REPO / "mkdocs.yml").read_text()
    assert all(p.name in nav for p in PAGES if p.parent.name == "docs")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
