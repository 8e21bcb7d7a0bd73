from pathlib import Path

import pytest
import yaml
from snakemake.utils import validate

from resonant_ad.pipeline.config import (
    analysis_folds,
    bumphunt_settings,
    capped_threads,
    coerce_strings,
    cross_flow_count,
    load_study,
    merged_config,
    method_sampling_slice,
    project_root,
    rule_resources,
    searched,
    study_cross_flows,
)
from resonant_ad.pipeline.schema import load_schema

SCHEMA_PATH = Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml"


@pytest.fixture(scope="module")
def schema():
    return load_schema(SCHEMA_PATH)


def test_cli_strings_become_typed_values(schema):
    cli = {
        "toy": {
            "classifier": {
                "epochs": "3",
                "class_weight": "null",
                "device": "cpu",
                "hidden_layers": ["32", "32"],
            },
            "correlations": ["0.2"],
            "selection_efficiency": "0.05",
            "spaces": ["x"],
        }
    }
    out = coerce_strings(cli, schema)
    clf = out["toy"]["classifier"]
    assert clf["epochs"] == 3 and clf["class_weight"] is None and clf["device"] == "cpu"
    assert clf["hidden_layers"] == [32, 32]
    assert out["toy"]["correlations"] == [0.2] and out["toy"]["selection_efficiency"] == 0.05
    assert out["toy"]["spaces"] == ["x"]


def test_strings_a_choice_accepts_stay_strings(schema):
    """A value of a oneOf/anyOf key is re-read only when no string alternative takes it."""
    digits = "0" * 32  # an md5 made of digits: a valid hex string, not the number 0
    cli = {
        "lhco": {"data": {"files": {"features": {"md5": digits}}}},
        "runs_per_job": "3",
    }
    out = coerce_strings(cli, schema)
    assert out["lhco"]["data"]["files"]["features"]["md5"] == digits
    assert out["runs_per_job"] == 3
    assert coerce_strings({"runs_per_job": "all"}, schema)["runs_per_job"] == "all"
    null = coerce_strings({"lhco": {"data": {"files": {"features": {"md5": "null"}}}}}, schema)
    assert null["lhco"]["data"]["files"]["features"]["md5"] is None


def test_unparseable_strings_are_left_for_the_schema_to_reject(schema):
    out = coerce_strings({"toy": {"runs": "three"}}, schema)
    assert out["toy"]["runs"] == "three"
    with pytest.raises(Exception, match="runs"):
        validate(out, str(SCHEMA_PATH))


def test_shipped_configs_validate_and_get_defaults(schema):
    """Each config file as ``--configfile`` uses it: merged over config/config.yaml (an
    overlay such as lhco_title_claim_cpu.yaml states only what it changes)."""
    repo = SCHEMA_PATH.parents[2]
    for path in sorted((repo / "config").glob("*.yaml")):
        cfg = merged_config(path.relative_to(repo))
        validate(cfg, str(SCHEMA_PATH))
        assert cfg["toy"]["classifier"]["epochs"] == 50, path  # default or explicit: the paper's
        assert cfg["resources"]["toy_train_classifier"]["threads"] >= 1, path
        if "lhco" in cfg:  # the real-data study runs the paper's classifier and metric
            nn = cfg["lhco"]["classifier"]["nn"]
            assert (nn["epochs"], nn["n_best_epochs"], nn["class_weight"]) == (100, 10, "balanced")
            assert cfg["lhco"]["evaluation"]["sculpting_bins"] == 300
            assert cfg["lhco"]["runs"] == 10


def test_load_study_checks_as_the_workflow_does(tmp_path):
    study = load_study("tests/configs/dijet_tiny.yaml", "lhco_surrogate", base=None)
    assert study["flow"]["epochs"] == 2 and "null_study" in study  # the file's values + defaults
    bad = yaml.safe_load((SCHEMA_PATH.parents[2] / "tests/configs/dijet_tiny.yaml").read_text())
    bad["lhco_surrogate"]["scan"]["windows"] = [[6.5, 7.0]]  # beyond bumphunt.fit_range
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    with pytest.raises(ValueError, match=r"scan.windows\[0\].*fit_range"):
        load_study(path, "lhco_surrogate", base=None)


def test_study_files_are_merged_over_the_default_as_snakemake_does():
    """``--configfile config/lhco_surrogate_full.yaml`` is merged over config/config.yaml:
    the paper's scale must be stated in the file, everything else is the default's."""
    default = load_study("config/config.yaml", "lhco_surrogate")
    full = load_study("config/lhco_surrogate_full.yaml", "lhco_surrogate")
    assert full["data"]["surrogate"]["n_background"] == 1_000_000
    assert (full["injections"], full["scan"]["injection"], full["runs"]) == ([1000, 0], 1000, 10)
    assert (full["flow"]["epochs"], full["flow"]["n_samples"]) == (100, 267_000)
    for study in (full, load_study("config/lhco_title_claim.yaml", "lhco_surrogate")):
        # every epoch trained, the best kept: CATHODE's reference code has no early stop
        assert study["flow"]["patience"] >= study["flow"]["epochs"] == 100
        assert study["flow"]["n_best_epochs"] == 1  # LaCATHODE: the single best epoch
    nn = full["classifier"]["nn"]
    assert (nn["epochs"], nn["n_best_epochs"], nn["batch_size"]) == (100, 10, 128)
    assert full["evaluation"]["sculpting_bins"] == 300
    assert set(default["methods"]) <= set(full["methods"])  # every method of the default
    assert full["scan"]["windows"] == default["scan"]["windows"]  # inherited, not restated
    assert full["bumphunt"]["folds"] == 5  # every event searched, out of 5 folds
    # the function is chosen per selection (F-test), at 1M events as at an eighth
    assert full["bumphunt"]["function"] == default["bumphunt"]["function"] == "auto"
    # and every feature set searched, the default's only the shifted one (CI's time)
    assert full["bumphunt"]["feature_sets"] is None and default["bumphunt"]["feature_sets"] == [
        "shifted"
    ]
    assert {**full["bumphunt"], "folds": 2, "feature_sets": ["shifted"]} == default["bumphunt"]
    alone = load_study("config/lhco_surrogate_full.yaml", "lhco_surrogate", base=None)
    assert alone["scan"]["windows"] == []  # the file alone gets the schema's defaults only


def test_grouped_jobs_ask_for_the_runtime_of_their_runs():
    """SLURM's time limit of a job of k runs: k × the per-run runtime, as the work adds up,
    but one runtime for k members trained as one model on a GPU."""
    cpu = {"threads": 1, "mem_mb": 4000, "runtime": 240, "gpu": 0}
    config = {
        "resources": {"train_flow": cpu, "gpu_flow": {**cpu, "gpu": 1}, "fit": {"runtime": 10}}
    }
    assert rule_resources(config, "train_flow") == {"mem_mb": 4000, "runtime": 240, "gpu": 0}
    assert rule_resources(config, "train_flow", 10, members=True)["runtime"] == 2400
    assert rule_resources(config, "gpu_flow", 10, members=True)["runtime"] == 240
    assert rule_resources(config, "gpu_flow", 10)["runtime"] == 2400  # runs one after another
    assert rule_resources(config, "fit", 3) == {"runtime": 30}
    assert config["resources"]["train_flow"]["runtime"] == 240  # the table is left as it is


def test_threads_above_the_runs_cap_are_named():
    """A job gets at most --cores threads: each entry asking for more is named once, with
    its value and the cap (a training's numbers depend on its thread count)."""
    config = {
        "resources": {
            "train_flow": {"threads": 4},
            "split": {"threads": 1},
            "scan_summary": {"threads": 4},  # its processes give the same numbers with any
        }
    }
    (warning,) = capped_threads(config, 2)
    assert warning.startswith("resources.train_flow.threads = 4 but this run allows 2 per job")
    assert capped_threads(config, 4) == capped_threads(config, None) == []


def test_project_root_is_found_from_inside_the_checkout_only(tmp_path):
    root = SCHEMA_PATH.parents[2]
    assert project_root(root / "src" / "resonant_ad" / "core") == root.resolve()
    with pytest.raises(FileNotFoundError, match=r"config\.schema\.yaml.*project checkout"):
        project_root(tmp_path)


def test_ditau_injection_zero_is_the_no_signal_run_and_negatives_are_rejected():
    cfg = yaml.safe_load((SCHEMA_PATH.parents[2] / "config/config.yaml").read_text())
    assert 0 in cfg["ditau"]["injections"]  # the default scan carries its no-signal check
    validate(cfg, str(SCHEMA_PATH))
    cfg["ditau"]["injections"] = [-0.5, 1.0]
    with pytest.raises(Exception, match="injections"):
        validate(cfg, str(SCHEMA_PATH))


def test_ditau_flow_models_all_kept_rho_as_one_composition():
    """The kept ρ sum below 1: modelled together in log-ratio coordinates, never in log ones."""
    for name in ("config.yaml", "ditau.yaml"):
        cfg = yaml.safe_load((SCHEMA_PATH.parents[2] / "config" / name).read_text())
        validate(cfg, str(SCHEMA_PATH))
        d = cfg["ditau"]
        rho = [f"rho{i}" for i in range(d["features"]["n_rho"])]
        assert d["flow"]["simplex_features"] == rho, name
        assert not set(d["flow"]["log_features"]) & set(rho), name


def test_ditau_paper_config_states_the_papers_flow_and_ensemble():
    """config/ditau.yaml: Appendix 2's flow and Sec. IV B's 50 HGB members, and injection 0."""
    cfg = yaml.safe_load((SCHEMA_PATH.parents[2] / "config/ditau.yaml").read_text())["ditau"]
    paper = {
        "architecture": "rqs",
        "blocks": 6,
        "made_blocks": 6,
        "residual_blocks": False,
        "hidden": 512,
        "bins": 24,
        "tail_bound": 6.0,
        "learning_rate": 5.0e-5,
        "batch_size": 256,
        "patience": 50,
        "kde_bandwidth": 0.01,
    }
    assert {k: cfg["flow"][k] for k in paper} == paper
    assert cfg["classifier"]["hgb"]["n_members"] == 50 and cfg["oversampling"] == 3.0
    assert cfg["injections"] == [0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0] and cfg["repeats"] == 5


def test_cross_fitted_flows_serve_the_flow_space_methods_of_an_out_of_fold_bump_hunt():
    """Two cross-fitted flows per run for the flow-space methods that train on data (LaCATHODE,
    x′, CWoLa in z) with folds ≥ 2 and cross_flows on; none for the methods in feature space,
    with folds 0, with cross_flows off or in a feature set the bump hunt does not search. x′'s
    fold classifiers then read the sampling settings (their reference is drawn at m0)."""
    study = load_study("tests/configs/dijet_tiny.yaml", "lhco_surrogate", base=None)
    config = {"s": study}
    assert study["bumphunt"]["cross_flows"] is True and study["bumphunt"]["folds"] == 2
    assert study["bumphunt"]["feature_sets"] == ["shifted"]
    counts = {m: cross_flow_count(config, "s", m, "shifted") for m in study["methods"]}
    assert counts == {
        "cathode": 0,
        "lacathode": 2,
        "decorrelated": 2,
        "idealized": 0,
        "supervised": 0,
        "cwola": 0,
        "latent_cwola": 2,
    }
    assert {cross_flow_count(config, "s", m, "original") for m in study["methods"]} == {0}
    assert study_cross_flows(config, "s") == 2
    assert method_sampling_slice(config, "s", "decorrelated", "shifted") == {
        "n_samples": 2000,
        "sample_val_fraction": 0.25,
    }
    assert method_sampling_slice(config, "s", "decorrelated", "original") is None
    assert method_sampling_slice(config, "s", "cathode", "shifted") is None
    # the latent space's fold classifiers map events through those flows, they draw none
    assert method_sampling_slice(config, "s", "latent_cwola", "shifted") is None
    for change in ({"cross_flows": False}, {"folds": 0}, {"feature_sets": []}):
        off = {"s": {**study, "bumphunt": {**study["bumphunt"], **change}}}
        assert study_cross_flows(off, "s") == 0
        assert method_sampling_slice(off, "s", "decorrelated", "shifted") is None
    only_x = {"s": {**study, "methods": ["cathode"], "scan": {"methods": ["idealized"]}}}
    assert study_cross_flows(only_x, "s") == 0


def test_only_the_searched_feature_sets_train_out_of_fold_and_are_fitted():
    """``bumphunt.feature_sets`` (null: all) picks the analyses the bump hunt searches: their
    folds are ``bumphunt.folds``, the others' 0; asking for a search of another one is a
    clear error naming the key, and the settings the fits read leave the list out."""
    study = load_study("tests/configs/dijet_tiny.yaml", "lhco_surrogate", base=None)
    config = {"s": study}
    assert searched(config, "s", "shifted") and not searched(config, "s", "original")
    assert analysis_folds(config, "s", "shifted") == 2
    assert analysis_folds(config, "s", "original") == 0
    settings = bumphunt_settings(config, "s", "shifted")
    assert "feature_sets" not in settings and settings["folds"] == 2
    with pytest.raises(ValueError, match=r"s\.bumphunt\.feature_sets = \['shifted'\].*'original'"):
        bumphunt_settings(config, "s", "original")
    every = {"s": {**study, "bumphunt": {**study["bumphunt"], "feature_sets": None}}}
    assert all(searched(every, "s", fs) for fs in study["feature_sets"])
    assert analysis_folds(every, "s", "original") == 2
