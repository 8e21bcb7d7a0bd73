"""The config's checks before any rule runs: the schema (its defaults filled in) and the
cross-key rules a schema cannot express.

Every problem is one line naming the key path, the value and what is allowed; all of them
are raised together as one :class:`ConfigError`, with no schema dump, so a mistake in a
config file or a ``--config`` value is read in a few lines before any job starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, relevance

from resonant_ad.pipeline.patterns import DIJET_STUDIES
from resonant_ad.pipeline.schema import load_schema, resolve_ref
from resonant_ad.stages.parts import format_window

#: problems listed in one error; the rest are counted
MAX_PROBLEMS = 8
#: the di-τ generator's background processes (the others are signals)
DITAU_BACKGROUNDS = ("drell_yan", "ttbar")


class ConfigError(ValueError):
    """A config value the workflow cannot run with; the message names each key."""


def _with_defaults(cls: Any) -> Any:
    """A validator class that fills in each property's ``default`` as it validates."""
    check_properties = cls.VALIDATORS["properties"]

    def properties(validator: Any, props: Mapping, instance: Any, schema: Mapping) -> Any:
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, sub["default"])
        yield from check_properties(validator, props, instance, schema)

    return validators.extend(cls, {"properties": properties})


def key_path(parts: Iterable[Any]) -> str:
    """``a.b[2].c`` from a sequence of mapping keys and list indices."""
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "(top level)"


def _short(value: Any, width: int = 70) -> str:
    text = yaml.safe_dump(value, default_flow_style=True, width=10_000).strip()
    text = text.removesuffix("...").strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def _describe(schema: Mapping[str, Any], root: Mapping[str, Any]) -> str:
    """What one schema alternative accepts, in a few words (e.g. ``an integer >= 1``)."""
    schema = resolve_ref(dict(schema), dict(root))
    if "const" in schema:
        return _short(schema["const"])
    if "enum" in schema:
        return "one of " + _short(list(schema["enum"]))
    kind = schema.get("type", "a value")
    words = {"integer": "an integer", "number": "a number", "array": "a list", "object": "a map"}
    text = words.get(kind, str(kind))
    for key, sign in (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<=")):
        if key in schema:
            text += f" {sign} {schema[key]}"
    return text


def _message(error: ValidationError, root: Mapping[str, Any]) -> str:
    path = key_path(error.absolute_path)
    schema, value = error.schema, error.instance
    if error.validator == "additionalProperties" and isinstance(value, dict):
        known = sorted(schema.get("properties", {}))
        extra = sorted(set(value) - set(known))
        allowed = f" (allowed: {', '.join(known)})" if known else ""
        return f"{path}: unknown key {', '.join(map(repr, extra))}{allowed}"
    if error.validator in ("oneOf", "anyOf"):
        options = " or ".join(_describe(b, root) for b in error.validator_value)
        return f"{path} = {_short(value)}: must be {options}"
    if error.validator == "enum":
        return f"{path} = {_short(value)}: must be one of {_short(list(error.validator_value))}"
    if error.validator == "required":
        return f"{path}: {error.message}"
    return f"{path} = {_short(value)}: {error.message}"


def schema_problems(config: dict[str, Any], schema: Mapping[str, Any]) -> list[str]:
    """The schema's complaints about ``config``, one line each; fills in defaults in place."""
    validator = _with_defaults(Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=relevance)
    return [_message(e, schema) for e in errors]


def _fractions(problems: list[str], key: str, split: Mapping[str, float]) -> None:
    total = sum(float(v) for v in split.values())
    if abs(total - 1.0) > 1e-6:
        problems.append(f"{key} = {_short(dict(split))}: the fractions sum to {total:.4g}, not 1")


def _epochs(problems: list[str], key: str, section: Any) -> None:
    """``n_best_epochs`` <= ``epochs`` in every mapping under ``section`` that has both."""
    if not isinstance(section, Mapping):
        return
    if "epochs" in section and "n_best_epochs" in section:
        if int(section["n_best_epochs"]) > int(section["epochs"]):
            problems.append(
                f"{key}.n_best_epochs = {section['n_best_epochs']}: more than "
                f"{key}.epochs = {section['epochs']} (the epochs kept come from those run)"
            )
    for sub, value in section.items():
        _epochs(problems, f"{key}.{sub}", value)


def _window(
    problems: list[str], key: str, window: list[float], outer_key: str, outer: list[float]
) -> None:
    low, high = window
    if not low < high:
        problems.append(f"{key} = {_short(list(window))}: needs low < high")
    elif not (outer[0] <= low and high <= outer[1]):
        problems.append(
            f"{key} = {_short(list(window))}: lies outside {outer_key} = {_short(list(outer))}"
        )


def toy_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Cross-key checks of the toy section."""
    problems: list[str] = []
    low, high = cfg["m_range"]
    if not low < high:
        problems.append(f"toy.m_range = {_short(list(cfg['m_range']))}: needs low < high")
    else:
        _window(problems, "toy.signal_region", cfg["signal_region"], "toy.m_range", [low, high])
    _fractions(problems, "toy.split", cfg["split"])
    _epochs(problems, "toy.classifier", cfg["classifier"])
    return problems


def dijet_problems(config: Mapping[str, Any], study: str) -> list[str]:
    """Cross-key checks of a dijet study (an LHCO-like section)."""
    from resonant_ad.stages.methods import method

    cfg = config[study]
    problems: list[str] = []
    _fractions(problems, f"{study}.split", cfg["split"])
    _epochs(problems, f"{study}.flow", cfg["flow"])
    _epochs(problems, f"{study}.classifier", cfg["classifier"])
    fit_range = cfg["bumphunt"]["fit_range"]
    windows = [("signal_region", cfg["signal_region"])]
    windows += [(f"scan.windows[{i}]", w) for i, w in enumerate(cfg["scan"]["windows"])]
    for key, window in windows:
        _window(problems, f"{study}.{key}", window, f"{study}.bumphunt.fit_range", fit_range)
    if cfg["data"]["source"] == "surrogate":
        gen = cfg["data"]["surrogate"]
        pool = int(gen["n_signal"])
        for i, n in enumerate(cfg["injections"]):
            if int(n) > pool:
                problems.append(
                    f"{study}.injections[{i}] = {n}: more than the signal pool "
                    f"{study}.data.surrogate.n_signal = {pool}"
                )
        extra = int(cfg["extra_split"]["train"]) + int(cfg["extra_split"]["val"])
        if extra > int(gen["n_extra_sr"]):
            problems.append(
                f"{study}.extra_split = {_short(dict(cfg['extra_split']))}: asks for {extra} "
                f"events, more than {study}.data.surrogate.n_extra_sr = {gen['n_extra_sr']}"
            )
    if int(cfg["bumphunt"]["folds"]) == 1:
        problems.append(
            f"{study}.bumphunt.folds = 1: must be 0 (the test parts only) or >= 2 (out of fold)"
        )
    for name in cfg["null_study"]["methods"]:
        if not method(name).weakly_supervised:
            problems.append(f"{study}.null_study.methods: {name!r} is not weakly supervised")
    scan = cfg["scan"]
    if scan["windows"] and scan["feature_set"] not in cfg["feature_sets"]:
        problems.append(
            f"{study}.scan.feature_set = {scan['feature_set']!r}: not one of "
            f"{study}.feature_sets {sorted(cfg['feature_sets'])}"
        )
    searched = cfg["bumphunt"].get("feature_sets")
    if searched is not None:
        unknown = [f for f in searched if f not in cfg["feature_sets"]]
        if unknown:
            problems.append(
                f"{study}.bumphunt.feature_sets: {unknown} not among {study}.feature_sets "
                f"{sorted(cfg['feature_sets'])}"
            )
        if scan["windows"] and scan["feature_set"] not in searched:
            problems.append(
                f"{study}.scan.feature_set = {scan['feature_set']!r}: not searched, add it to "
                f"{study}.bumphunt.feature_sets {list(searched)} (the scan is a bump hunt)"
            )
    if format_window(cfg["signal_region"]) in [format_window(w) for w in scan["windows"]]:
        # the scan's nominal window is the main analysis, whose bump hunts it reads
        why = f"(the scan's window {list(cfg['signal_region'])} is the main analysis)"
        missing = [m for m in scan["methods"] if m not in cfg["methods"]]
        if missing:
            problems.append(
                f"{study}.scan.methods: {missing} not in {study}.methods {cfg['methods']} {why}"
            )
        if scan["injection"] not in cfg["injections"]:
            problems.append(
                f"{study}.scan.injection = {scan['injection']}: not in {study}.injections "
                f"{cfg['injections']} {why}"
            )
        if scan["runs"] > cfg["runs"]:
            problems.append(
                f"{study}.scan.runs = {scan['runs']}: more than {study}.runs = {cfg['runs']} {why}"
            )
    return problems


def ditau_problems(cfg: Mapping[str, Any]) -> list[str]:
    """Cross-key checks of the di-τ section.

    The injections (in S/√B) are checked against the signal pool in the split job: the pool
    and B are known only once the events are selected.
    """
    problems: list[str] = []
    _epochs(problems, "ditau.flow", cfg["flow"])
    low, high = cfg["signal_region"]
    mvis_min = float(cfg["selection"]["mvis_min"])
    if not low < high:
        problems.append(f"ditau.signal_region = {_short([low, high])}: needs low < high")
    elif low <= mvis_min:
        problems.append(
            f"ditau.signal_region = {_short([low, high])}: starts at or below "
            f"ditau.selection.mvis_min = {mvis_min}, which leaves no lower sideband"
        )
    data = cfg["data"]
    scale = float(cfg["reference"]["scale"])
    if scale > 0 and data["source"] != "surrogate":
        problems.append(
            f"ditau.reference.scale = {scale:g}: the reference's true background comes from "
            f"the package's generator, not ditau.data.source = {data['source']!r}; set it to 0"
        )
    test = float(cfg["split"]["sr_test"])
    need = 1.1 * (float(cfg["oversampling"]) * (1.0 - test) + test)
    if 0 < scale < need:
        problems.append(
            f"ditau.reference.scale = {scale:g}: too little true background for "
            f"ditau.oversampling = {cfg['oversampling']:g} per SR event; at least {need:.2f}"
        )
    low_w, high_w = cfg["density_ratio"]["clip"]
    if not 0 < low_w < 1 < high_w:
        problems.append(
            f"ditau.density_ratio.clip = {_short([low_w, high_w])}: needs 0 < low < 1 < high "
            "(weights about 1 must pass unclipped)"
        )
    made = data["surrogate"]["counts"] if data["source"] == "surrogate" else data.get("files", {})
    where = "ditau.data.surrogate.counts" if data["source"] == "surrogate" else "ditau.data.files"
    for i, name in enumerate(cfg["signals"]):
        if name in DITAU_BACKGROUNDS or name not in made:
            problems.append(
                f"ditau.signals[{i}] = {name!r}: not a signal process of {where} "
                f"({', '.join(k for k in made if k not in DITAU_BACKGROUNDS)})"
            )
    return problems


def cross_key_problems(config: Mapping[str, Any]) -> list[str]:
    """The cross-key checks of every study listed in ``studies``."""
    problems: list[str] = []
    for study in config["studies"]:
        if study not in config:
            problems.append(f"studies: {study!r} is listed but the config has no {study} section")
        elif study == "toy":
            problems += toy_problems(config[study])
        elif study in DIJET_STUDIES:
            problems += dijet_problems(config, study)
        elif study == "ditau":
            problems += ditau_problems(config[study])
    return problems


def check_config(config: dict[str, Any], schema: str | os.PathLike[str] | Mapping) -> None:
    """Validate ``config`` (defaults filled in place) or raise one short :class:`ConfigError`.

    The schema comes first: cross-key checks run only on a config the schema accepts.
    """
    if not isinstance(schema, Mapping):
        schema = load_schema(schema)
    problems = schema_problems(config, schema)
    if not problems:
        problems = cross_key_problems(config)
    if problems:
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        lines = [f"config: {p}" for p in shown]
        if more:
            lines.append(f"config: … and {more} more")
        raise ConfigError("\n".join(lines))
