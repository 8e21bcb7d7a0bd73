import logging

import pytest

from resonant_ad.workflow import smk


def test_source_hash_follows_package_imports():
    closure = smk.source_modules("studies.toy.data")
    assert {
        "resonant_ad.studies.toy.data",
        "resonant_ad.core.regions",
        "resonant_ad.core.seeding",
        "resonant_ad.core.io",
    } <= set(closure)
    # generation must not rerun on classifier edits; the analysis must
    assert "resonant_ad.core.classifier" not in closure
    assert "resonant_ad.core.classifier" in smk.source_modules("studies.toy.analysis")


def test_source_hash_is_stable_and_distinct():
    toy = smk.source_hash("studies.toy.data")
    assert toy == smk.source_hash("resonant_ad.studies.toy.data")
    assert toy != smk.source_hash("studies.toy.analysis")
    assert len(smk.source_hash("stats.metrics")) == 12


def test_relative_imports_resolved(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("from .methods import method\nfrom ..core import io\nimport numpy\n")
    found = smk._package_imports("resonant_ad.stages.mod", src)
    assert {"resonant_ad.stages.methods", "resonant_ad.core.io"} <= found
    assert not any(name.startswith("numpy") for name in found)


def test_logged_writes_log_and_reraises(tmp_path):
    log_file = tmp_path / "job.log"
    with pytest.raises(ValueError, match="boom"), smk.logged(str(log_file)):
        logging.getLogger("resonant_ad.test").info("hello from the job")
        raise ValueError("boom")
    text = log_file.read_text()
    assert "hello from the job" in text
    assert "ValueError: boom" in text


def test_package_import_is_followed_and_patterns_are_not_hashed():
    # `from resonant_ad.stages import flows` names the package, then the module
    closure = smk.source_modules("bench.stages")
    assert {"resonant_ad.stages.flows", "resonant_ad.workflow.config"} <= closure.keys()
    # path patterns, job files and targets are the DAG's, not a computation
    assert not {f"resonant_ad.workflow.{m}" for m in ("patterns", "files", "targets")} & set(
        closure
    )
