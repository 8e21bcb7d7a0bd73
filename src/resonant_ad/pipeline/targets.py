"""Target lists from the config: what `all`, the scan, the null study and each study build.

Functions of the config (and wildcards) that the rules' inputs and the targets call; the
path patterns themselves are in :mod:`~resonant_ad.pipeline.patterns`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from resonant_ad.pipeline.config import searched
from resonant_ad.pipeline.files import (
    bumphunt_figures,
    bumphunt_runs,
    classifier_outputs,
    feature_set_figures,
    latent_outputs,
    nominal_window,
    scan_windows,
    split_outputs,
)
from resonant_ad.pipeline.patterns import (
    BUMPHUNT_SUMMARY,
    DATA_OVERVIEW,
    DIJET_STUDIES,
    DITAU_BACKGROUND_CHECK,
    DITAU_CALIBRATION,
    DITAU_CHECKS,
    DITAU_CUTFLOW,
    DITAU_DENSITY_RATIO,
    DITAU_DIAGNOSTIC_TABLES,
    DITAU_DIAGNOSTICS,
    DITAU_FIGURE,
    DITAU_FIGURES,
    DITAU_FLOW_LOSS,
    DITAU_METRICS,
    DITAU_METRICS_SUMMARY,
    DITAU_OBJECTS,
    DITAU_REFERENCE_SCORES,
    DITAU_REFERENCE_TRAINING,
    DITAU_SCORES,
    DITAU_SIC_CURVES,
    DITAU_SIGNAL,
    DITAU_SPLIT_PART,
    DITAU_TRAINING,
    DOWNLOAD,
    FEATURE_CORRELATIONS,
    FIGURE_FORMATS,
    FLOW_DIAGNOSTICS,
    FLOW_HISTORY,
    FLOW_LOSS,
    FLOW_SR_FEATURES,
    METRICS,
    METRICS_SUMMARY,
    NULL_CALIBRATED,
    NULL_FIGURE,
    NULL_SUMMARY,
    NULL_TABLE,
    REALISM_FIGURE,
    REALISM_TABLE,
    RUN_CORRELATIONS,
    RUN_TABLE,
    SAMPLING_SUMMARY,
    SCAN_FIGURE,
    SCAN_SUMMARY,
    SURROGATE_EXTRA,
    SURROGATE_FEATURES,
    TOY_DATA,
    TOY_FIGURE,
    TOY_FIGURES,
    TOY_SCORES,
    TOY_SCULPTING,
    TOY_SCULPTING_SUMMARY,
)
from resonant_ad.stages.parts import (
    DITAU_BACKGROUND_PARTS,
    format_c,
)


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
    for spec in config[study]["data"].get("files", {}).values():
        if spec["filename"] == filename:
            return spec
    raise KeyError(f"{study}: no file named {filename!r} under data.files")


def analysis_label(config: Mapping[str, Any], study: str, feature_set: str, window: str) -> str:
    """The seed label of an analysis: the feature set, with the window when it is not nominal.

    The nominal window keeps the plain feature-set label, so adding a scan does not change
    the numbers of the main analysis.
    """
    if window == nominal_window(config, study):
        return feature_set
    return f"{feature_set}@{window}"


def scan_inputs(config: Mapping[str, Any], study: str) -> list[dict[str, Any]]:
    """Every bump hunt of the scan (its methods, injection and runs in each window)."""
    fs = config[study]["scan"]["feature_set"]
    return [
        {**rec, "window": window}
        for window in scan_windows(config, study)
        for rec in bumphunt_runs(config, study, fs, window, scan=True)
    ]


def scan_targets(config: Mapping[str, Any], study: str) -> list[str]:
    """The scan's summary table and figure (nothing when ``scan.windows`` is empty)."""
    scan = config[study]["scan"]
    if not scan["windows"]:
        return []
    ids = {"study": study, "feature_set": scan["feature_set"], "nsig": scan["injection"]}
    return [SCAN_SUMMARY.format(**ids)] + [SCAN_FIGURE.format(**ids, ext=e) for e in FIGURE_FORMATS]


def null_targets(config: Mapping[str, Any]) -> list[str]:
    """The null study's tables and figures (`rule null_study`, not in ``all``), and the
    analysis's bump hunts read against it (``calibrated.csv``: this builds the analysis too;
    for the feature sets the bump hunt searches).

    Every feature set of every listed dijet study that generates its data (a null study
    redraws the dataset, which real files cannot).
    """
    targets: list[str] = []
    for study in DIJET_STUDIES:
        if study not in config["studies"] or config[study]["data"]["source"] != "surrogate":
            continue
        for feature_set in config[study]["feature_sets"]:
            ids = {"study": study, "feature_set": feature_set}
            targets += [NULL_TABLE.format(**ids), NULL_SUMMARY.format(**ids)]
            targets += [NULL_FIGURE.format(**ids, ext=e) for e in FIGURE_FORMATS]
            if searched(config, study, feature_set):
                targets += [NULL_CALIBRATED.format(**ids)]
    return targets


def run_flow_files(
    config: Mapping[str, Any], study: str, feature_set: str, window: str
) -> list[dict[str, Any]]:
    """Each run's flow diagnostics and history of one analysis, with its injection and run
    (the run table's inputs: :func:`resonant_ad.stages.runs.write_run_table`)."""
    ids = {"study": study, "feature_set": feature_set, "window": window}
    return [
        {
            "injection": int(nsig),
            "run": run,
            "diagnostics": FLOW_DIAGNOSTICS.format(**ids, nsig=nsig, run=run),
            "history": FLOW_HISTORY.format(**ids, nsig=nsig, run=run),
        }
        for nsig in config[study]["injections"]
        for run in range(int(config[study]["runs"]))
    ]


def title_claim_targets(
    config: Mapping[str, Any], study: str = "lhco_surrogate", feature_set: str = "shifted"
) -> list[str]:
    """LaCATHODE's title claim (`rule title_claim`): one feature set's metric tables and its
    SIC, χ²/ndof and mJJ figures at the nominal window, with every run, injection and method
    of the config (``config/lhco_title_claim.yaml``: the paper's scale), and each run's flow
    diagnostics (is its latent SR background as close to N(0, 1) as its SB?) in the run
    table beside its methods' metrics; nothing else."""
    if study not in config.get("studies", []) or feature_set not in config[study]["feature_sets"]:
        return []
    ids = {"study": study, "feature_set": feature_set, "window": nominal_window(config, study)}
    figures = feature_set_figures(study, feature_set, ids["window"]).values()
    diagnostics = [
        r["diagnostics"] for r in run_flow_files(config, study, feature_set, ids["window"])
    ]
    tables = [METRICS, METRICS_SUMMARY, RUN_TABLE, RUN_CORRELATIONS]
    return [*(t.format(**ids) for t in tables), *figures, *diagnostics]


def dijet_targets(config: Mapping[str, Any], study: str) -> list[str]:
    """What a dijet study builds: data overview, flow diagnostics, metrics, bump hunts, figures."""
    cfg = config[study]
    window = nominal_window(config, study)
    targets = [DATA_OVERVIEW.format(study=study, ext=ext) for ext in FIGURE_FORMATS]
    targets.append(FEATURE_CORRELATIONS.format(study=study))
    targets.append(REALISM_TABLE.format(study=study))
    targets += [REALISM_FIGURE.format(study=study, ext=ext) for ext in FIGURE_FORMATS]
    for feature_set in cfg["feature_sets"]:
        for nsig in cfg["injections"]:
            targets += split_outputs(study, feature_set, window, nsig).values()
            for run in range(int(cfg["runs"])):
                ids = {
                    "study": study,
                    "feature_set": feature_set,
                    "window": window,
                    "nsig": nsig,
                    "run": run,
                }
                targets += latent_outputs(**ids).values()
                targets += [FLOW_DIAGNOSTICS.format(**ids), SAMPLING_SUMMARY.format(**ids)]
                targets += [FLOW_SR_FEATURES.format(**ids, ext=e) for e in FIGURE_FORMATS]
                targets += [FLOW_LOSS.format(**ids, ext=e) for e in FIGURE_FORMATS]
                for method in cfg["methods"]:
                    targets += classifier_outputs(**ids, method=method).values()
        ids = {"study": study, "feature_set": feature_set, "window": window}
        tables = [METRICS, METRICS_SUMMARY, RUN_TABLE, RUN_CORRELATIONS]
        targets += [t.format(**ids) for t in tables]
        targets += feature_set_figures(study, feature_set, window).values()
        if searched(config, study, feature_set):
            targets += [BUMPHUNT_SUMMARY.format(**ids)]
            targets += bumphunt_figures(config, study, feature_set, window).values()
    targets += scan_targets(config, study)
    return targets


def ditau_split_parts() -> dict[str, str]:
    """The background parts of the di-τ split (see resonant_ad.studies.ditau.study)."""
    return {part: DITAU_SPLIT_PART.format(part=part) for part in DITAU_BACKGROUND_PARTS}


def ditau_signals(ditau: Mapping[str, Any]) -> dict[str, str]:
    """Signal name → its split table."""
    return {name: DITAU_SIGNAL.format(signal=name) for name in ditau["signals"]}


def ditau_raw_inputs(ditau: Mapping[str, Any]) -> list[str]:
    """The object table (offline generator) or the Delphes ROOT files of the di-τ study."""
    data = ditau["data"]
    if data["source"] == "surrogate":
        return [DITAU_OBJECTS]
    return [
        DOWNLOAD.format(study="ditau", filename=spec["filename"]) for spec in data["files"].values()
    ]


def ditau_ratio_input(ditau: Mapping[str, Any]) -> list[str]:
    """The flow's SB density ratio if the config resamples with one
    (``density_ratio.proposals`` > 0), else nothing: an input of the sampling rules."""
    return [DITAU_DENSITY_RATIO] if ditau["density_ratio"]["proposals"] else []


def ditau_runs(ditau: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every (signal, injection σ, repeat) of the scan with its score and summary files."""
    out = []
    for signal in ditau["signals"]:
        for sigma in ditau["injections"]:
            for repeat in range(int(ditau["repeats"])):
                ids = {"signal": signal, "sigma": format_c(sigma), "repeat": repeat}
                out.append(
                    {
                        "signal": signal,
                        "injection": float(sigma),
                        "repeat": repeat,
                        "scores": DITAU_SCORES.format(**ids),
                        "summary": DITAU_TRAINING.format(**ids),
                    }
                )
    return out


def ditau_checks(ditau: Mapping[str, Any]) -> list[str]:
    """The real-vs-synthetic check of every repeat."""
    return [DITAU_BACKGROUND_CHECK.format(repeat=r) for r in range(int(ditau["repeats"]))]


def ditau_has_null(ditau: Mapping[str, Any]) -> bool:
    """Whether the scan has no-signal (injection 0) runs."""
    return 0 in [float(s) for s in ditau["injections"]]


def ditau_has_reference(ditau: Mapping[str, Any]) -> bool:
    """Whether the scan has its no-signal reference: injection 0 and a reference scale."""
    return ditau_has_null(ditau) and float(ditau.get("reference", {}).get("scale", 0)) > 0


def ditau_reference_scores(ditau: Mapping[str, Any]) -> list[str]:
    """The no-signal reference's score file of every repeat."""
    return [DITAU_REFERENCE_SCORES.format(repeat=r) for r in range(int(ditau["repeats"]))]


def ditau_reference_trainings(ditau: Mapping[str, Any]) -> list[str]:
    """The no-signal reference's training.json of every repeat."""
    return [DITAU_REFERENCE_TRAINING.format(repeat=r) for r in range(int(ditau["repeats"]))]


def ditau_null_trainings(ditau: Mapping[str, Any]) -> list[str]:
    """The training.json of every no-signal (injection 0) run."""
    return [run["summary"] for run in ditau_runs(ditau) if run["injection"] == 0]


def ditau_figures() -> dict[str, str]:
    """name_ext → path of every di-τ figure."""
    return {
        f"{name}_{ext}": DITAU_FIGURE.format(name=name, ext=ext)
        for name in DITAU_FIGURES
        for ext in FIGURE_FORMATS
    }


def ditau_diagnostics() -> dict[str, str]:
    """name → path of the background model's diagnostic tables and figure (all formats)."""
    out = {name: DITAU_DIAGNOSTICS.format(name=name) for name in DITAU_DIAGNOSTIC_TABLES}
    for ext in FIGURE_FORMATS:
        out[f"figure_{ext}"] = DITAU_FIGURE.format(name="background_diagnostics", ext=ext)
    return out


def ditau_targets(ditau: Mapping[str, Any]) -> list[str]:
    """What the di-τ study builds: cut flow, flow loss, metric tables and figures, and (with
    injection 0 in the scan: its no-signal classifiers) the background model's diagnostics
    and, with a reference scale, the no-signal calibration table."""
    targets = [DITAU_CUTFLOW, DITAU_METRICS, DITAU_METRICS_SUMMARY, DITAU_SIC_CURVES, DITAU_CHECKS]
    targets += [DITAU_FLOW_LOSS.format(ext=e) for e in FIGURE_FORMATS]
    targets += ditau_figures().values()
    if ditau_has_null(ditau):
        targets += ditau_diagnostics().values()
    if ditau_has_reference(ditau):
        targets.append(DITAU_CALIBRATION)
    return targets


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
    if "ditau" in config["studies"]:
        targets += ditau_targets(config["ditau"])
    return targets
