"""Every bad config value is refused by ``snakemake -n`` before any job: a few lines naming
the key, the value and what is allowed (``resonant_ad.pipeline.guards``), no schema dump."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml
from conftest import REPO, copy_workflow, run_snakemake

from resonant_ad.pipeline.guards import ConfigError, check_config, key_path

#: (--config override, the key path the error must name)
BAD = [
    # the schema: unknown keys, types, ranges, choices
    ("bogus=1", "(top level): unknown key 'bogus'"),
    ("lhco_surrogate={flow: {bogus: 1}}", "lhco_surrogate.flow: unknown key 'bogus'"),
    ("toy={classifier: {epoch: 3}}", "toy.classifier: unknown key 'epoch'"),
    ("runs_per_job=0", "runs_per_job = 0: must be an integer >= 1 or all"),
    ("cpu_code_path=avx512", "cpu_code_path = avx512"),
    ("toy={classifier: {epochs: ten}}", "toy.classifier.epochs = ten"),
    ("toy={selection_efficiency: 1.5}", "toy.selection_efficiency = 1.5"),
    ("studies=[nonsense]", "studies[0] = nonsense"),
    ("ditau={split: {sr_test: 1.5}}", "ditau.split.sr_test = 1.5"),
    ("lhco_surrogate={null_study: {methods: [supervised]}}", "null_study.methods[0]"),
    ("lhco_surrogate={null_study: {runs: 0}}", "lhco_surrogate.null_study.runs = 0"),
    # fractions that do not add up
    ("lhco_surrogate={split: {train: 0.9, val: 0.4, test: 0.4}}", "lhco_surrogate.split"),
    ("toy={split: {train: 0.5, val: 0.5, test: 0.5}}", "toy.split"),
    # the epochs kept cannot outnumber those run
    ("lhco_surrogate={flow: {n_best_epochs: 500}}", "lhco_surrogate.flow.n_best_epochs"),
    (
        "lhco_surrogate={classifier: {nn: {epochs: 3, n_best_epochs: 5}}}",
        "lhco_surrogate.classifier.nn.n_best_epochs",
    ),
    ("toy={classifier: {epochs: 3}}", "toy.classifier.n_best_epochs"),
    ("ditau={flow: {epochs: 1, n_best_epochs: 2}}", "ditau.flow.n_best_epochs"),
    # injections and extra background beyond what the config generates
    ("lhco_surrogate={injections: [90000, 500]}", "lhco_surrogate.injections[0] = 90000"),
    (
        "lhco_surrogate={extra_split: {train: 80000, val: 8350}}",
        "lhco_surrogate.extra_split",
    ),
    # windows inside the ranges they must sit in
    ("toy={signal_region: [20, 30]}", "toy.signal_region = [20, 30]: lies outside toy.m_range"),
    ("toy={m_range: [5, -5]}", "toy.m_range"),
    ("lhco_surrogate={signal_region: [3.7, 3.3]}", "lhco_surrogate.signal_region"),
    ("lhco_surrogate={signal_region: [1.0, 3.5]}", "lhco_surrogate.bumphunt.fit_range"),
    ("lhco_surrogate={scan: {windows: [[1.0, 1.4]]}}", "lhco_surrogate.scan.windows[0]"),
    ("ditau={signal_region: [50, 300]}", "ditau.selection.mvis_min"),
    ("ditau={reference: {scale: 1}}", "ditau.reference.scale = 1: too little"),
    ("ditau={density_ratio: {clip: [2, 50]}}", "ditau.density_ratio.clip = [2, 50]"),
    ("ditau={density_ratio: {proposals: -1}}", "ditau.density_ratio.proposals = -1"),
    # names that must exist
    ("ditau={signals: [ttbar]}", "ditau.signals[0] = 'ttbar'"),
    ("ditau={signals: [zprime]}", "ditau.signals[0] = 'zprime'"),
    (
        "lhco_surrogate={scan: {windows: [[3.0, 3.4]], feature_set: nope}}",
        "lhco_surrogate.scan.feature_set",
    ),
    # the scan's nominal window is the main analysis: it can only read what that builds
    ("lhco_surrogate={scan: {methods: [cathode, cwola]}}", "lhco_surrogate.scan.methods"),
    ("lhco_surrogate={scan: {injection: 700}}", "lhco_surrogate.scan.injection"),
    ("lhco_surrogate={scan: {runs: 4}}", "lhco_surrogate.scan.runs"),
    # the fit function and the F-test's level
    ("lhco_surrogate={bumphunt: {function: dijet6}}", "lhco_surrogate.bumphunt.function = dijet6"),
    (
        "lhco_surrogate={bumphunt: {f_test_alpha: 1.5}}",
        "lhco_surrogate.bumphunt.f_test_alpha = 1.5",
    ),
    # one fold would score the data with a classifier trained on it
    ("lhco_surrogate={bumphunt: {folds: 1}}", "lhco_surrogate.bumphunt.folds = 1"),
    # a search of a feature set the study lacks, and a scan (a bump hunt) of one not searched
    ("lhco_surrogate={bumphunt: {feature_sets: [shifted, raw]}}", "['raw'] not among"),
    ("lhco_surrogate={bumphunt: {feature_sets: [original]}}", "scan.feature_set = 'shifted'"),
]
MAX_LINES = 15


@pytest.fixture(scope="module")
def refusals(tmp_path_factory):
    """``snakemake -n --config <override>`` for every row of :data:`BAD`, two at a time."""
    workdir = copy_workflow(tmp_path_factory.mktemp("guards") / "wf")

    def dry_run(override: str):
        return run_snakemake(workdir, "-n", "--cores", "1", "--config", override, check=False)

    with ThreadPoolExecutor(2) as pool:
        procs = list(pool.map(dry_run, [override for override, _ in BAD]))
    return workdir, dict(zip([override for override, _ in BAD], procs, strict=True))


@pytest.mark.parametrize(("override", "culprit"), BAD, ids=[o for o, _ in BAD])
def test_bad_config_is_refused_before_any_job_in_a_few_lines(refusals, override, culprit):
    workdir, procs = refusals
    proc = procs[override]
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert culprit in output, output
    assert len(output.splitlines()) <= MAX_LINES, output
    assert "ConfigError" in output and "$schema" not in output
    assert not (workdir / "results").exists()


def test_the_table_covers_at_least_twenty_bad_inputs():
    assert len(BAD) >= 20 and len({o for o, _ in BAD}) == len(BAD)


def test_every_problem_is_listed_at_once_and_good_configs_pass():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    schema = REPO / "workflow/schemas/config.schema.yaml"
    check_config(config, schema)  # the shipped default passes, with defaults filled in
    assert config["lhco_surrogate"]["null_study"]["methods"]
    config["toy"]["split"]["train"] = 0.9
    config["toy"]["classifier"]["epochs"] = 2
    with pytest.raises(ConfigError) as err:
        check_config(config, schema)
    lines = str(err.value).splitlines()
    assert len(lines) == 2 and lines[0].startswith("config: toy.split")
    assert lines[1].startswith("config: toy.classifier.n_best_epochs = 5")


def test_key_paths_read_as_in_the_config():
    assert key_path(["lhco_surrogate", "scan", "windows", 0]) == "lhco_surrogate.scan.windows[0]"
    assert key_path([]) == "(top level)"
