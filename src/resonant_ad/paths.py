"""Every output path pattern of the workflow, in one place (they are a documented interface)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# -- toy study (LaCATHODE Sec. III) -------------------------------------------------------
TOY_DIR = "results/toy"
TOY_DATA = TOY_DIR + "/c{c}/data.parquet"
TOY_RUN_DIR = TOY_DIR + "/c{c}/{space}/run{run}"
TOY_SCORES = TOY_RUN_DIR + "/scores.parquet"
TOY_MODEL = TOY_RUN_DIR + "/model.pt"
TOY_HISTORY = TOY_RUN_DIR + "/history.csv"
TOY_SCULPTING = TOY_DIR + "/sculpting.csv"
TOY_SCULPTING_SUMMARY = TOY_DIR + "/sculpting_summary.csv"
TOY_FIGURE = TOY_DIR + "/figures/{name}.{ext}"

#: toy figure names (``fig3`` … are the paper's figure numbers)
TOY_FIGURES = ("fig3_m_distribution", "fig4_sculpting_x", "fig5_latent_z", "chi2_summary")
FIGURE_FORMATS = ("png", "pdf")


# -- dijet studies (LHCO R&D and its offline surrogate) -----------------------------------
DIJET_STUDIES = ("lhco", "lhco_surrogate")
DOWNLOAD = "resources/{study}/{filename}"
SURROGATE_FEATURES = "results/{study}/raw/features.h5"
SURROGATE_EXTRA = "results/{study}/raw/extra_sr.h5"
PREPARED_EVENTS = "results/{study}/prepared/events.parquet"
PREPARED_EXTRA = "results/{study}/prepared/extra_sr.parquet"
INJECT_DIR = "results/{study}/inject/nsig{nsig}"
INJECTED_DATA = INJECT_DIR + "/data.parquet"
UNUSED_SIGNAL = INJECT_DIR + "/signal_unused.parquet"
INJECTION_SUMMARY = INJECT_DIR + "/injection.json"
#: parts of a split: data by region and split, the extra SR background (idealized AD), and
#: the SR signal events that were not injected (for the SIC test set)
SPLIT_PARTS = (
    "sr_train",
    "sr_val",
    "sr_test",
    "sb_train",
    "sb_val",
    "sb_test",
    "extra_train",
    "extra_val",
    "extra_test",
    "signal_test",
)
SPLIT_PART = "results/{study}/{feature_set}/nsig{nsig}/split/{part}.parquet"
RUN_DIR = "results/{study}/{feature_set}/nsig{nsig}/run{run}"
FLOW_MODEL = RUN_DIR + "/flow/model.pt"
FLOW_HISTORY = RUN_DIR + "/flow/history.csv"
FLOW_LOSS = RUN_DIR + "/flow/loss.{ext}"
SAMPLES = RUN_DIR + "/flow/samples.parquet"
SAMPLING_SUMMARY = RUN_DIR + "/flow/sampling.json"
LATENT_PART = RUN_DIR + "/latent/{part}.parquet"
FLOW_CHECKS = RUN_DIR + "/flow/latent_checks.csv"
FLOW_DIAGNOSTICS = RUN_DIR + "/flow/diagnostics.json"
FLOW_SR_FEATURES = RUN_DIR + "/flow/sr_features.{ext}"
DATA_OVERVIEW = "results/{study}/figures/data_overview.{ext}"
FEATURE_CORRELATIONS = "results/{study}/feature_correlations.csv"


def raw_inputs(config: Mapping[str, Any], study: str) -> dict[str, str]:
    """The raw features and extra-SR files of a dijet study: downloaded or generated."""
    data = config[study]["data"]
    if data["source"] == "surrogate":
        return {
            "features": SURROGATE_FEATURES.format(study=study),
            "extra": SURROGATE_EXTRA.format(study=study),
        }
    files = data["files"]
    return {
        key: DOWNLOAD.format(study=study, filename=files[key]["filename"])
        for key in ("features", "extra")
    }


def download_spec(config: Mapping[str, Any], study: str, filename: str) -> dict[str, Any]:
    """The configured URLs and md5 of the download ``filename`` of ``study``."""
    for spec in config[study]["data"]["files"].values():
        if spec["filename"] == filename:
            return spec
    raise KeyError(f"{study}: no file named {filename!r} under data.files")


def split_outputs(study: str, feature_set: str, nsig: int | str) -> dict[str, str]:
    """Every part file of one split (see :data:`SPLIT_PARTS`)."""
    return {
        part: SPLIT_PART.format(study=study, feature_set=feature_set, nsig=nsig, part=part)
        for part in SPLIT_PARTS
    }


def latent_outputs(study: str, feature_set: str, nsig: int | str, run: int | str) -> dict[str, str]:
    """Every latent-space part of one flow run (same parts as the split)."""
    return {
        part: LATENT_PART.format(
            study=study, feature_set=feature_set, nsig=nsig, run=run, part=part
        )
        for part in SPLIT_PARTS
    }


def dijet_targets(config: Mapping[str, Any], study: str) -> list[str]:
    """What a dijet study builds so far: data overview, splits, flows, latents, diagnostics."""
    cfg = config[study]
    targets = [DATA_OVERVIEW.format(study=study, ext=ext) for ext in FIGURE_FORMATS]
    targets.append(FEATURE_CORRELATIONS.format(study=study))
    for feature_set in cfg["feature_sets"]:
        for nsig in cfg["injections"]:
            targets += split_outputs(study, feature_set, nsig).values()
            for run in range(int(cfg["flow"]["runs"])):
                ids = {"study": study, "feature_set": feature_set, "nsig": nsig, "run": run}
                targets += latent_outputs(**ids).values()
                targets += [FLOW_DIAGNOSTICS.format(**ids), SAMPLING_SUMMARY.format(**ids)]
                targets += [FLOW_SR_FEATURES.format(**ids, ext=e) for e in FIGURE_FORMATS]
                targets += [FLOW_LOSS.format(**ids, ext=e) for e in FIGURE_FORMATS]
    return targets


def format_c(c: float | str) -> str:
    """The canonical text of a correlation value in paths and seeds (0.1 → '0.1')."""
    return f"{float(c):g}"


def toy_runs(toy: Mapping[str, Any]) -> list[tuple[str, str, int]]:
    """Every (c, space, run) the toy config asks for, in a fixed order."""
    return [
        (format_c(c), space, run)
        for c in toy["correlations"]
        for space in toy["spaces"]
        for run in range(int(toy["runs"]))
    ]


def toy_figure(name: str, ext: str | None = None) -> list[str] | str:
    """The path of one toy figure in format ``ext``, or the list of its PNG and PDF paths."""
    if ext is not None:
        return TOY_FIGURE.format(name=name, ext=ext)
    return [TOY_FIGURE.format(name=name, ext=e) for e in FIGURE_FORMATS]


def toy_scores(
    runs: list[tuple[str, str, int]], c: str | None = None, space: str | None = None
) -> list[str]:
    """Score files of ``runs``, optionally only those of one c and/or space, in run order."""
    return [
        TOY_SCORES.format(c=rc, space=rs, run=rr)
        for rc, rs, rr in runs
        if (c is None or rc == c) and (space is None or rs == space)
    ]


def toy_panels(runs: list[tuple[str, str, int]], cs: list[str], space: str) -> list[dict[str, Any]]:
    """One row per c of a toy sculpting figure: its dataset and its runs' score files."""
    return [
        {"c": c, "space": space, "data": TOY_DATA.format(c=c), "scores": toy_scores(runs, c, space)}
        for c in cs
    ]


def all_targets(config: Mapping[str, Any]) -> list[str]:
    """Final outputs of every study listed in ``config['studies']`` (what `rule all` builds)."""
    targets: list[str] = []
    if "toy" in config["studies"]:
        targets += [TOY_SCULPTING, TOY_SCULPTING_SUMMARY]
        for name in TOY_FIGURES:
            targets += toy_figure(name)
    for study in DIJET_STUDIES:
        if study in config["studies"]:
            targets += dijet_targets(config, study)
    return targets
