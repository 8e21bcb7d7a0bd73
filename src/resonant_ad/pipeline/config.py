"""Config handling before validation: undo the all-strings parsing of nested ``--config`` values.

``snakemake --config 'toy={classifier: {epochs: 3}}'`` parses the nested value with YAML's
BaseLoader, so ``3`` arrives as the string ``'3'``. :func:`coerce_strings` walks the config
along the JSON schema and re-reads such strings with YAML wherever the schema expects a
number, boolean, null, array or object, so the schema then checks real values.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from resonant_ad.core.seeding import derive_seed
from resonant_ad.pipeline.patterns import DIJET_STUDIES
from resonant_ad.pipeline.schema import resolve_ref

_NON_STRING = {"integer", "number", "boolean", "null", "array", "object"}


#: the workflow's config schema, relative to the project root
SCHEMA = "workflow/schemas/config.schema.yaml"


def project_root(start: str | os.PathLike[str] | None = None) -> Path:
    """The project checkout holding ``start`` (default: the working directory).

    The first of ``start`` and its parents that holds the workflow's schema: configs, schema
    and rules live in the checkout, not in the installed package.
    """
    here = Path.cwd() if start is None else Path(start)
    for d in (here.resolve(), *here.resolve().parents):
        if (d / SCHEMA).is_file():
            return d
    raise FileNotFoundError(f"no {SCHEMA} in {here} or above: run from the project checkout")


#: the workflow's base config (the Snakefile's ``configfile:``), relative to the project root
BASE_CONFIG = "config/config.yaml"


def merged_config(
    config_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    base: str | None = BASE_CONFIG,
) -> dict[str, Any]:
    """The config ``snakemake --configfile`` builds: ``base`` (the Snakefile's default; None:
    none) with each file merged over it in order (nested mappings key by key, anything else
    replaced), so that a study file, or an overlay over one, states only what it changes.
    Relative paths are taken from the project root (:func:`project_root`)."""
    from snakemake.utils import update_config

    root = project_root()
    paths = [config_path] if isinstance(config_path, str | os.PathLike) else list(config_path)
    config: dict[str, Any] = {}
    for path in ([] if base is None else [base]) + paths:
        with open(root / path) as fh:
            update_config(config, yaml.safe_load(fh))
    return config


def load_study(
    config_path: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
    study: str,
    base: str | None = BASE_CONFIG,
) -> dict[str, Any]:
    """One study's section of a config file (or of files merged in order, as ``--configfile
    A B``), resolved and checked as the workflow does it: :func:`merged_config` over ``base``
    (None: the file alone, as the tests' configs, which replace the default), then the schema
    (its defaults filled in) and the cross-key checks
    (:func:`~resonant_ad.pipeline.guards.check_config`).
    """
    from resonant_ad.pipeline.guards import check_config

    config = merged_config(config_path, base)
    if study not in config:
        raise KeyError(f"{config_path}: no {study!r} section")
    config["studies"] = [study]
    check_config(config, project_root() / SCHEMA)  # as the workflow does before any rule
    return config[study]


def _wants_non_string(schema: dict[str, Any], root: dict[str, Any] | None = None) -> bool:
    types = schema.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if types & _NON_STRING and "string" not in types:
        return True
    if any(not isinstance(v, str) for v in schema.get("enum", ())):
        return True
    # one of several alternatives (e.g. an integer or "all"): a YAML non-string picks its own
    branches = schema.get("oneOf", []) + schema.get("anyOf", [])
    return any(_wants_non_string(resolve_ref(b, root or schema), root) for b in branches)


def _accepts(schema: dict[str, Any], value: str, root: dict[str, Any]) -> bool:
    """Whether ``schema`` (or one of its alternatives) takes the string ``value`` as it is.

    E.g. an md5 of 32 digits where the schema allows a hex string or null: it stays a string.
    """
    types = schema.get("type")
    types = {types} if isinstance(types, str) else set(types or ())
    if "enum" in schema and value in schema["enum"]:
        return True
    if "string" in types and "enum" not in schema:
        pattern = schema.get("pattern")
        if pattern is None or re.search(pattern, value):
            return True
    branches = schema.get("oneOf", []) + schema.get("anyOf", [])
    return any(_accepts(resolve_ref(b, root), value, root) for b in branches)


def coerce_strings(value: Any, schema: dict[str, Any], root: dict[str, Any] | None = None) -> Any:
    """Return ``value`` with strings re-read as YAML where ``schema`` expects a non-string."""
    root = schema if root is None else root
    schema = resolve_ref(schema, root)
    if (
        isinstance(value, str)
        and _wants_non_string(schema, root)
        and not _accepts(schema, value, root)
    ):
        try:
            parsed = yaml.safe_load(value)
        except yaml.YAMLError:
            return value
        value = value if isinstance(parsed, str) else parsed
    if isinstance(value, dict):
        props = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        return {
            k: coerce_strings(v, props[k], root)
            if k in props
            else (coerce_strings(v, extra, root) if isinstance(extra, dict) else v)
            for k, v in value.items()
        }
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [coerce_strings(v, schema["items"], root) for v in value]
    return value


def config_slice(config: Mapping[str, Any], section: str, *keys: str) -> dict[str, Any]:
    """The listed keys of one config section: what a rule passes its script through ``params:``.

    Passing only the slice a rule uses means ``--rerun-triggers params`` reruns exactly the
    rules a config change touches.
    """
    return {key: config[section][key] for key in keys}


#: keys of a ``flow`` section that the sampling steps read, not the flow's training
FLOW_SAMPLING_KEYS = ("n_samples", "sample_val_fraction", "kde_bandwidth")


def flow_training_slice(config: Mapping[str, Any], study: str) -> dict[str, Any]:
    """The flow settings a flow training reads: all but the sampling ones.

    So that changing, e.g., ``flow.n_samples`` reruns the sampling and what follows, not the
    training.
    """
    flow = config[study]["flow"]
    return {k: v for k, v in flow.items() if k not in FLOW_SAMPLING_KEYS}


def ditau_flow_seeds(ditau: Mapping[str, Any]) -> list[int]:
    """The seeds of the di-τ SB flows (``flow_ensemble`` of them): the first is the seed of
    a single flow, so that an ensemble of 1 is the flow of before."""
    base = int(ditau["seed"])
    return [derive_seed(base, "flow", *([k] if k else [])) for k in range(ditau["flow_ensemble"])]


def flow_sampling_slice(
    config: Mapping[str, Any], study: str, keys: tuple[str, ...] = FLOW_SAMPLING_KEYS
) -> dict[str, Any]:
    """The flow section's sampling ``keys`` that one step reads (e.g. the decorrelation draws
    ``n_samples`` at m0 but no KDE, so ``kde_bandwidth`` does not rerun it)."""
    return {k: config[study]["flow"][k] for k in keys}


def classifier_slice(section: Mapping[str, Any]) -> dict[str, Any]:
    """A ``classifier`` section's type and that type's settings only: a change under
    ``classifier.hgb`` does not retrain NN classifiers, nor the reverse."""
    kind = section["type"]
    return {"type": kind, kind: section[kind]}


def method_sampling_slice(
    config: Mapping[str, Any], study: str, method_name: str, feature_set: str
) -> dict[str, Any] | None:
    """The flow's sampling settings a method's classifier training reads: the N(0, 1) draws
    of LaCATHODE's reference class are sized like CATHODE's samples (``n_samples``,
    ``sample_val_fraction``), as are the decorrelated fold classifiers' draws at m0 from the
    cross-fitted flows (:func:`cross_flow_count`); the other methods read none (None), the
    latent space's fold classifiers included (they map events, they draw none)."""
    from resonant_ad.stages.methods import method

    cross_fitted = cross_flow_count(config, study, method_name, feature_set) > 0
    if not method(method_name).draws_from_flow(cross_fitted):
        return None
    return flow_sampling_slice(config, study, ("n_samples", "sample_val_fraction"))


def searched(config: Mapping[str, Any], study: str, feature_set: str) -> bool:
    """Whether the bump hunt searches ``feature_set``'s analysis (``bumphunt.feature_sets``;
    every feature set where it is null)."""
    names = config[study]["bumphunt"].get("feature_sets")
    return names is None or feature_set in names


def bumphunt_settings(config: Mapping[str, Any], study: str, feature_set: str) -> dict[str, Any]:
    """The ``bumphunt`` section a search of ``feature_set``'s analysis reads (without the list
    of searched feature sets, so that editing the list reruns no fit); a clear error where the
    bump hunt does not search it (:func:`searched`), rather than a search of other events."""
    bump = config[study]["bumphunt"]
    if not searched(config, study, feature_set):
        raise ValueError(
            f"{study}.bumphunt.feature_sets = {bump['feature_sets']}: the bump hunt does not "
            f"search {feature_set!r} (add it there to search its analysis)"
        )
    return {k: v for k, v in bump.items() if k != "feature_sets"}


def null_bumphunt_settings(
    config: Mapping[str, Any], study: str, feature_set: str, data_seed: int | str
) -> dict[str, Any] | None:
    """The bump-hunt settings of a null-study dataset (:func:`bumphunt_settings`), or None
    where its feature set is not searched (the dataset's null rows then hold AUCs only)."""
    dataset = null_dataset_name(study, data_seed)
    if not searched(config, dataset, feature_set):
        return None
    return bumphunt_settings(config, dataset, feature_set)


def analysis_folds(config: Mapping[str, Any], study: str, feature_set: str) -> int:
    """The bump hunt's folds of one analysis: ``bumphunt.folds`` where it is searched
    (:func:`searched`), else 0 (no out-of-fold trainings for a search that is not made)."""
    return int(config[study]["bumphunt"]["folds"]) if searched(config, study, feature_set) else 0


def study_cross_flows(config: Mapping[str, Any], study: str) -> int:
    """The cross-fitted flows per run that any method of ``study`` (or of its scan) reads in
    any of its feature sets: :func:`cross_flow_count` at its largest; 0 when no job needs them."""
    cfg = config[study]
    names = {*cfg["methods"], *cfg.get("scan", {}).get("methods", [])}
    return max(
        (cross_flow_count(config, study, n, fs) for n in names for fs in cfg["feature_sets"]),
        default=0,
    )


def cross_flow_count(
    config: Mapping[str, Any], study: str, method_name: str, feature_set: str
) -> int:
    """How many cross-fitted flows per run a method's bump-hunt scores read in one feature
    set's analysis (:mod:`resonant_ad.stages.mapping`):
    :data:`~resonant_ad.stages.folds.CROSS_FLOWS` for a method in a flow's space that trains on
    the data, with :func:`analysis_folds` ≥ 2 and ``bumphunt.cross_flows``; else 0. (The
    decorrelated method's fold classifiers also draw their reference at m0 from those flows,
    hence its sampling settings.)"""
    from resonant_ad.stages.folds import CROSS_FLOWS
    from resonant_ad.stages.methods import method

    m = method(method_name)
    wanted = config[study]["bumphunt"]["cross_flows"] and m.mapped_by_flow()
    folds = analysis_folds(config, study, feature_set)
    return CROSS_FLOWS if wanted and m.trains_on_data() and folds >= 2 else 0


def resource(config: Mapping[str, Any], rule: str, key: str) -> Any:
    """One compute request (threads, mem_mb, runtime) of ``rule`` from ``config['resources']``."""
    return config["resources"][rule][key]


def rule_resources(
    config: Mapping[str, Any], rule: str, runs: int = 1, members: bool = False
) -> dict[str, Any]:
    """A rule family's ``resources:`` (all of its ``config['resources']`` entry but threads).

    The table in the config is the one place compute requests are set: a rule takes
    ``threads`` and ``**rule_resources(config, name)`` from it. ``runtime`` is per run: a job
    that does ``runs`` runs asks for ``runs`` × it, as their work adds up, except where they
    train as the ``members`` of one model on a GPU (``gpu`` > 0), which takes about the time
    of one (a CPU cluster's time limit would otherwise kill a grouped job).
    """
    out = {k: v for k, v in config["resources"][rule].items() if k not in ("threads", "on_gpu")}
    if "runtime" in out and not (members and out.get("gpu", 0) > 0):
        out["runtime"] = int(out["runtime"]) * max(1, int(runs))
    return out


#: the rules whose jobs train torch models: they take a GPU when the run declares one
GPU_RULES = ("train_flow", "train_classifier", "ditau_train_flow")


def declared_gpus(workflow: Any) -> int:
    """The GPUs a Snakemake run declares (``--resources gpu=N``, as the GPU profile does)."""
    declared = workflow.global_resources.get("gpu")
    return int(getattr(declared, "value", None) or 0)


def claim_gpus(config: dict[str, Any], gpus: int) -> None:
    """With ``gpus`` declared, every :data:`GPU_RULES` job asks for one GPU and takes its
    ``on_gpu`` threads and memory (in place).

    The declaration is a command-line resource, not a config value, so a user's ``--config``
    (which replaces a profile's ``config:``) cannot drop the GPU requests.
    """
    if gpus < 1:
        return
    for rule in GPU_RULES:
        entry = config["resources"][rule]
        entry.update(entry.get("on_gpu", {}))
        entry["gpu"] = max(int(entry.get("gpu", 0)), 1)


def threads_cap(workflow: Any) -> int | None:
    """The most threads Snakemake gives one job of this run (``--cores``, ``--max-threads``;
    None where neither bounds them, as on a cluster). Ask it in ``onstart``: while the
    Snakefile is read, a dry run's default ``--cores`` of 1 looks like a real bound."""
    caps = [workflow.resource_settings.max_threads, workflow.global_resources.get("_cores")]
    caps = [getattr(c, "value", c) for c in caps]
    values = [int(c) for c in caps if isinstance(c, int | float) and c > 0]
    return min(values) if values else None


#: ``resources`` entries whose jobs give the same numbers with any threads: the scan's
#: pseudo-scans (each method's run whole in one process; the threads are processes)
THREAD_FREE_RESOURCES = ("scan_summary",)


def capped_threads(config: Mapping[str, Any], cap: int | None) -> list[str]:
    """One warning per ``resources`` entry whose ``threads`` exceed ``cap`` (but those of
    :data:`THREAD_FREE_RESOURCES`).

    Snakemake runs such a job with ``cap`` threads, and a torch training's numbers depend on
    its thread count (MKL and torch split some sums across threads): the run then does not
    reproduce one that gave the jobs their config's threads.
    """
    if cap is None:
        return []
    return [
        f"resources.{rule}.threads = {entry['threads']} but this run allows {cap} per job "
        f"(--cores/--max-threads): its jobs run with {cap}, and a flow's or NN's training "
        "gives other numbers with other threads (an HGB's does not; docs/running.md#threads)"
        for rule, entry in config["resources"].items()
        if int(entry["threads"]) > cap and rule not in THREAD_FREE_RESOURCES
    ]


_DIJET = "|".join(DIJET_STUDIES)
#: the ``study`` wildcard: a dijet study, or one of its null-study datasets ``<study>_null<seed>``
STUDY_PATTERN = rf"(?:{_DIJET})(?:_null[0-9]+)?"
#: the name of a null-study dataset (a study section of its own), as :func:`null_dataset_name`
NULL_DATASET = re.compile(rf"^(?P<study>{_DIJET})_null(?P<seed>[0-9]+)$")


def null_dataset_name(study: str, seed: int | str) -> str:
    """The study section of one null-study dataset: ``<study>_null<seed>``."""
    return f"{study}_null{int(seed)}"


def null_title(config: Mapping[str, Any], study: str, feature_set: str) -> str:
    """The null study's figure title: study, feature set, datasets (and runs per dataset)."""
    null = config[study]["null_study"]
    runs = int(null["runs"])
    per = f" × {runs} runs" if runs > 1 else ""
    return f"{study}, {feature_set}: no signal, {len(null['data_seeds'])} independent datasets{per}"


def null_datasets(config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The null study's datasets as study sections: ``<study>_null<seed>`` → its section.

    For every listed dijet study that generates its data, one section per seed of
    ``null_study.data_seeds``: the study with the surrogate's seed replaced (an independent
    dataset), no signal (``injections: [0]``), the runs and methods of ``null_study`` and no
    scan. Its ``seed`` is derived from the study's and the data seed, so the networks of each
    dataset have their own seeds too. The workflow's rules build these like any study
    (``results/<study>_null<seed>/…``); only the null study's tables ask for them.
    """
    from resonant_ad.core.seeding import derive_seed

    out: dict[str, dict[str, Any]] = {}
    for study in DIJET_STUDIES:
        if study not in config.get("studies", []) or study not in config:
            continue
        cfg = config[study]
        if cfg["data"]["source"] != "surrogate":
            continue
        null = cfg["null_study"]  # its methods are checked in guards.dijet_problems
        for seed in null["data_seeds"]:
            section = copy.deepcopy(dict(cfg))
            section["data"]["surrogate"]["seed"] = int(seed)
            section["seed"] = derive_seed(int(cfg["seed"]), "null-dataset", int(seed))
            section.update(injections=[0], runs=int(null["runs"]), methods=list(null["methods"]))
            section["scan"] = {**section["scan"], "windows": []}
            out[null_dataset_name(study, seed)] = section
    return out
