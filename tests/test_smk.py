import logging

import pytest

from resonant_ad import smk


def test_source_hash_follows_package_imports():
    closure = smk.source_modules("toy")
    assert {
        "resonant_ad.toy",
        "resonant_ad.regions",
        "resonant_ad.seeding",
        "resonant_ad.io",
    } <= set(closure)
    assert "resonant_ad.classifier" not in closure  # generation must not rerun on classifier edits
    assert "resonant_ad.classifier" in smk.source_modules("toy_analysis")


def test_source_hash_is_stable_and_distinct():
    assert smk.source_hash("toy") == smk.source_hash("resonant_ad.toy")
    assert smk.source_hash("toy") != smk.source_hash("toy_analysis")
    assert len(smk.source_hash("metrics")) == 12


def test_relative_imports_resolved(tmp_path):
    src = tmp_path / "mod.py"
    src.write_text("from .io import write_parquet\nfrom . import metrics\nimport numpy\n")
    found = smk._package_imports("resonant_ad.mod", src)
    assert {"resonant_ad.io", "resonant_ad.metrics"} <= found
    assert not any(name.startswith("numpy") for name in found)


def test_logged_writes_log_and_reraises(tmp_path):
    log_file = tmp_path / "job.log"
    with pytest.raises(ValueError, match="boom"), smk.logged(str(log_file)):
        logging.getLogger("resonant_ad.test").info("hello from the job")
        raise ValueError("boom")
    text = log_file.read_text()
    assert "hello from the job" in text
    assert "ValueError: boom" in text


def test_relative_package_import_is_followed():
    # `from . import paths` names the package itself, then the module
    closure = smk.source_modules("null_study")
    assert {"resonant_ad.methods", "resonant_ad.flow_study", "resonant_ad"} <= closure.keys()
    assert "resonant_ad.paths" not in closure  # path patterns are the DAG's, not a computation
