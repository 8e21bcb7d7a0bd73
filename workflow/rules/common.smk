# Shared set-up: config validation (defaults filled in from the schema) and the wildcard
# constraints. Helpers live in the package (resonant_ad.pipeline.patterns / .config / .smk).
from resonant_ad.stages import parts
from resonant_ad.pipeline import ditau_files, files, patterns, targets
from resonant_ad.stages.methods import METHODS
from resonant_ad.pipeline.config import (
    analysis_folds,
    bumphunt_settings,
    null_bumphunt_settings,
    capped_threads,
    claim_gpus,
    classifier_slice,
    declared_gpus,
    flow_sampling_slice,
    cross_flow_count,
    method_sampling_slice,
    coerce_strings,
    config_slice,
    flow_training_slice,
    ditau_flow_seeds,
    null_dataset_name,
    null_datasets,
    null_title,
    STUDY_PATTERN,
    resource,
    rule_resources,
    study_cross_flows,
    threads_cap,
)
from resonant_ad.core.seeding import derive_seed, run_seed
from resonant_ad.studies.dijet.realism import REFERENCE_FILES
from resonant_ad.pipeline.guards import check_config
from resonant_ad.pipeline.schema import load_schema
from resonant_ad.pipeline.smk import (
    check_package_checkout,
    code_path_warning,
    pin_cpu_code_path,
    source_hash,
)
from snakemake.logging import logger

# the package that jobs run, and whose source the rules' code hashes read, is this checkout's
check_package_checkout(workflow.basedir)
# Nested `--config` values arrive as strings: re-read them where the schema wants numbers,
# then check the schema (which also fills in its defaults) and the cross-key rules: a bad
# value stops here, before any job, with a few lines naming its key.
CONFIG_SCHEMA = load_schema(workflow.source_path("../schemas/config.schema.yaml"))
config.update(coerce_strings(dict(config), CONFIG_SCHEMA))
check_config(config, CONFIG_SCHEMA)
# every job's libraries on the AVX2 code path (`cpu_code_path`): the same numbers on any
# Intel CPU with AVX2 (`portable`: any x86-64 CPU with AVX2), not only one of the same generation
pin_cpu_code_path(config["cpu_code_path"])


def code_hash(*modules):
    """A computing rule's `code` parameter: the package code it runs and the CPU code path it
    runs on, so that changing either reruns it (`resonant_ad.pipeline.smk.source_hash`)."""
    return source_hash(*modules, code_path=config["cpu_code_path"])


# a run that declares GPUs (`--resources gpu=N`, the GPU profile) gives each training job one
claim_gpus(config, declared_gpus(workflow))
# the null study's datasets are study sections of their own, built only when asked for
config.update(null_datasets(config))

ENV = "../../envs/resonant-ad.yaml"


wildcard_constraints:
    c=r"[0-9]+(\.[0-9]+)?(e-?[0-9]+)?",
    space="x|z",
    run=r"[0-9]+",
    study=STUDY_PATTERN,
    feature_set=r"[A-Za-z][A-Za-z0-9]*",
    nsig=r"[0-9]+",
    filename=r"[^/]+",
    part="|".join(parts.SPLIT_PARTS),
    method="|".join(METHODS),
    testset="|".join(patterns.TEST_SETS),
    signal=r"[A-Za-z][A-Za-z0-9_]*",
    sigma=r"[0-9]+(\.[0-9]+)?",
    repeat=r"[0-9]+",
    window=r"[0-9.]+-[0-9.]+",


def reported(outputs, kind, caption, category):
    """``outputs`` with every entry whose key starts with ``kind`` registered for the report."""
    return {
        key: report(path, caption=caption, category=category) if key.startswith(kind) else path
        for key, path in outputs.items()
    }


def run_seeds(study, stage, runs):
    """Input function: the seeds of ``stage`` (a name, or a function of the wildcards) for the
    ``runs`` of one analysis of ``study``."""

    def seeds(w):
        label = targets.analysis_label(config, study, w.feature_set, w.window)
        name = stage(w) if callable(stage) else stage
        return [run_seed(config[study]["seed"], name, label, w.nsig, run) for run in runs]

    return seeds


def analysis_seed(stage):
    """Params function: the seed of ``stage`` for one whole analysis (study, feature set,
    window), the same for every injection and run it evaluates."""
    return lambda w: run_seed(
        config[w.study]["seed"],
        stage,
        targets.analysis_label(config, w.study, w.feature_set, w.window),
        0,
        0,
    )


def method_seeds(study, runs):
    """Input function: the classifier seeds of a method for the ``runs`` of one analysis."""
    return run_seeds(study, lambda w: f"classifier-{w.method}", runs)


def classifier_group_inputs(study, runs):
    """Input function: every run's training and test inputs of one method (with its
    cross-fitted flows, where its bump-hunt scores read them)."""
    return lambda w: files.classifier_group_inputs(
        study,
        w.feature_set,
        w.window,
        w.nsig,
        runs,
        w.method,
        cross_flow_count(config, study, w.method, w.feature_set),
    )


def fold_count(study):
    """Params function: the bump hunt's folds of one analysis (0 where it is not searched)."""
    return lambda w: analysis_folds(config, study, w.feature_set)


def fold_seed(study):
    """Params function: the seed of the bump hunt's folds of one analysis and injection,
    shared by its runs, its methods and their cross-fitted flows."""
    return lambda w: derive_seed(
        config[study]["seed"],
        "folds",
        targets.analysis_label(config, study, w.feature_set, w.window),
        int(w.nsig),
    )


def cwola_slice(study):
    """Params function: CWoLa's sideband settings, for the methods that train against the
    SB next to the SR only."""
    return lambda w: config[study]["cwola"] if METHODS[w.method].narrow_sidebands else None


onstart:
    # a job gets at most --cores threads, and fewer than the config's give other numbers
    # (said here, once jobs are about to run: a dry run's --cores is 1 unless given)
    for warning in capped_threads(config, threads_cap(workflow)):
        logger.warning(warning)
    # off Intel CPUs MKL does not hold its AVX2 branch: said once, each job's log says it too
    if warning := code_path_warning(config["cpu_code_path"]):
        logger.warning(warning)
