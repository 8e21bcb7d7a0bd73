"""Every output path pattern of the workflow, in one place (they are a documented interface)."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
#: the SR signal events that were not injected (supervised training and the SIC test set)
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
    "signal_train",
    "signal_val",
    "signal_test",
)
#: parts mapped to the flow's latent space: what LaCATHODE trains and is tested on
LATENT_PARTS = (
    "sr_train",
    "sr_val",
    "sr_test",
    "sb_test",
    "extra_test",
    "signal_train",
    "signal_val",
    "signal_test",
)
#: one analysis: a feature set with a signal-region window (``3.3-3.7``, TeV); the study's
#: ``signal_region`` is the nominal window, ``scan.windows`` add more (:func:`format_window`)
FEATURE_SET_DIR = "results/{study}/{feature_set}/sr{window}"
SPLIT_PART = FEATURE_SET_DIR + "/nsig{nsig}/split/{part}.parquet"
RUN_DIR = FEATURE_SET_DIR + "/nsig{nsig}/run{run}"
FLOW_MODEL = RUN_DIR + "/flow/model.pt"
FLOW_HISTORY = RUN_DIR + "/flow/history.csv"
FLOW_LOSS = RUN_DIR + "/flow/loss.{ext}"
SAMPLES = RUN_DIR + "/flow/samples.parquet"
SAMPLING_SUMMARY = RUN_DIR + "/flow/sampling.json"
LATENT_PART = RUN_DIR + "/latent/{part}.parquet"
#: the same parts in the decorrelated space x' = f⁻¹(f(x; m); m0), and flow samples at m0
DECORRELATED_PART = RUN_DIR + "/decorrelated/{part}.parquet"
DECORRELATED_SAMPLES = RUN_DIR + "/decorrelated/samples_m0.parquet"
FLOW_CHECKS = RUN_DIR + "/flow/latent_checks.csv"
FLOW_DIAGNOSTICS = RUN_DIR + "/flow/diagnostics.json"
FLOW_SR_FEATURES = RUN_DIR + "/flow/sr_features.{ext}"
CLASSIFIER_DIR = RUN_DIR + "/{method}"
SCORES = CLASSIFIER_DIR + "/scores_{testset}.parquet"
CLASSIFIER_HISTORY = CLASSIFIER_DIR + "/history.csv"
CLASSIFIER_SUMMARY = CLASSIFIER_DIR + "/training.json"
#: score tables of a classifier: the SIC, sculpting and data (bump hunt) test sets
TEST_SETS = ("sic", "sculpting", "data")
BUMPHUNT_RESULTS = CLASSIFIER_DIR + "/bumphunt.csv"
BUMPHUNT_BINS = CLASSIFIER_DIR + "/bumphunt_bins.csv"
METRICS = FEATURE_SET_DIR + "/metrics.csv"
METRICS_SUMMARY = FEATURE_SET_DIR + "/metrics_summary.csv"
SIC_CURVES = FEATURE_SET_DIR + "/sic_curves.csv"
SCULPTING_CURVES = FEATURE_SET_DIR + "/sculpting_curves.csv"
MJJ_SELECTION = FEATURE_SET_DIR + "/mjj_selection.csv"
BUMPHUNT_SUMMARY = FEATURE_SET_DIR + "/bumphunt.csv"
FEATURE_SET_FIGURE = FEATURE_SET_DIR + "/figures/{name}.{ext}"
#: figures per feature set (top left, top right and bottom panels of the paper's Figs. 6-8)
FEATURE_SET_FIGURES = ("sic", "sculpting_chi2", "mjj_selection")
#: bump-hunt figures per analysis: significance and SB fit quality vs ε; the fits of run 0
BUMPHUNT_SIGNIFICANCE = FEATURE_SET_FIGURE.replace("{name}", "bumphunt_significance")
BUMPHUNT_FITS = FEATURE_SET_FIGURE.replace("{name}", "bumphunt_fits_nsig{nsig}")
#: the SR window scan of a dijet study (one feature set and injection, several windows)
SCAN_DIR = "results/{study}/scan/{feature_set}/nsig{nsig}"
SCAN_SUMMARY = SCAN_DIR + "/scan.csv"
SCAN_FIGURE = SCAN_DIR + "/scan.{ext}"
#: the background-only test over independent surrogate datasets (resonant_ad.null_study)
NULL_DIR = "results/{study}/null/{feature_set}"
NULL_RUN = NULL_DIR + "/data{data_seed}.csv"
NULL_TABLE = NULL_DIR + "/null.csv"
NULL_SUMMARY = NULL_DIR + "/null_summary.csv"
NULL_FIGURE = NULL_DIR + "/null_auc.{ext}"
DATA_OVERVIEW = "results/{study}/figures/data_overview.{ext}"
#: the prepared data against the real LHCO R&D SR (resonant_ad.realism)
REALISM_TABLE = "results/{study}/realism/realism.csv"
REALISM_FIGURE = "results/{study}/realism/realism.{ext}"
#: the reference statistics of the real SR events (tracked; see resources/README.md)
REALISM_REFERENCE = [
    f"resources/reference/lhco_rnd_sr_{name}.csv"
    for name in ("marginals", "correlations", "background_vs_mjj")
]
FEATURE_CORRELATIONS = "results/{study}/feature_correlations.csv"


# -- di-τ + X study (the event-level paper) ------------------------------------------------
DITAU_STUDIES = ("ditau",)
#: studies whose raw files may be downloaded into resources/{study}/
DOWNLOAD_STUDIES = (*DIJET_STUDIES, *DITAU_STUDIES)
DITAU_DIR = "results/ditau"
DITAU_OBJECTS = DITAU_DIR + "/raw/objects.parquet"
DITAU_EVENTS = DITAU_DIR + "/selected/events.parquet"
DITAU_CUTFLOW = DITAU_DIR + "/selected/cutflow.csv"
#: background parts of the di-τ split (SB flow train/val; SR train/val/test)
DITAU_BACKGROUND_PARTS = ("sb_train", "sb_val", "sr_train", "sr_val", "sr_test")
DITAU_SPLIT_PART = DITAU_DIR + "/split/{part}.parquet"
DITAU_SIGNAL = DITAU_DIR + "/split/signal_{signal}.parquet"
DITAU_SPLIT_SUMMARY = DITAU_DIR + "/split/split.json"
DITAU_FLOW_MODEL = DITAU_DIR + "/flow/model.pt"
DITAU_FLOW_HISTORY = DITAU_DIR + "/flow/history.csv"
DITAU_FLOW_LOSS = DITAU_DIR + "/flow/loss.{ext}"
DITAU_REPEAT_DIR = DITAU_DIR + "/repeat{repeat}"
DITAU_SAMPLES = DITAU_REPEAT_DIR + "/samples.parquet"
DITAU_SAMPLING = DITAU_REPEAT_DIR + "/sampling.json"
DITAU_BACKGROUND_CHECK = DITAU_REPEAT_DIR + "/background_check.json"
DITAU_RUN_DIR = DITAU_DIR + "/{signal}/sigma{sigma}/repeat{repeat}"
DITAU_SCORES = DITAU_RUN_DIR + "/scores.parquet"
DITAU_TRAINING = DITAU_RUN_DIR + "/training.json"
DITAU_METRICS = DITAU_DIR + "/metrics.csv"
DITAU_METRICS_SUMMARY = DITAU_DIR + "/metrics_summary.csv"
DITAU_SIC_CURVES = DITAU_DIR + "/sic_curves.csv"
DITAU_CHECKS = DITAU_DIR + "/background_check.csv"
DITAU_FIGURE = DITAU_DIR + "/figures/{name}.{ext}"
#: the di-τ figures (names carry the paper's figure numbers)
DITAU_FIGURES = ("fig1_mvis", "fig3_synthetic", "fig4_sic", "fig5_significance")


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


def format_window(window: Sequence[float | str]) -> str:
    """The text of an SR window in paths: ``[3.3, 3.7]`` → ``3.3-3.7``."""
    low, high = window
    return f"{format_c(low)}-{format_c(high)}"


def parse_window(text: str) -> list[float]:
    """The window of a path's ``{window}`` text (the inverse of :func:`format_window`)."""
    try:
        low, high = (float(v) for v in text.split("-"))
    except ValueError:
        raise ValueError(f"SR window {text!r} is not of the form LOW-HIGH (e.g. 3.3-3.7)") from None
    if not low < high:
        raise ValueError(f"SR window {text!r}: low must be below high")
    return [low, high]


def nominal_window(config: Mapping[str, Any], study: str) -> str:
    """The study's ``signal_region`` as a ``{window}`` value."""
    return format_window(config[study]["signal_region"])


def analysis_label(config: Mapping[str, Any], study: str, feature_set: str, window: str) -> str:
    """The seed label of an analysis: the feature set, with the window when it is not nominal.

    The nominal window keeps the plain feature-set label, so adding a scan does not change
    the numbers of the main analysis.
    """
    if window == nominal_window(config, study):
        return feature_set
    return f"{feature_set}@{window}"


def run_groups(n_runs: int, per_job: int | str) -> list[tuple[int, ...]]:
    """The runs 0 … n_runs − 1 in consecutive groups of ``per_job`` (``"all"``: one group)."""
    size = n_runs if per_job == "all" else int(per_job)
    if size < 1:
        raise ValueError(f"runs_per_job must be >= 1 or 'all', got {per_job!r}")
    return [tuple(range(s, min(s + size, n_runs))) for s in range(0, n_runs, size)]


def analysis_runs(config: Mapping[str, Any], study: str) -> dict[str, int]:
    """The number of runs of every analysis window of a dijet study (nominal and scan)."""
    cfg = config[study]
    out = {window: int(cfg["scan"]["runs"]) for window in scan_windows(config, study)}
    out[nominal_window(config, study)] = int(cfg["runs"])
    return out


def training_groups(config: Mapping[str, Any]) -> list[tuple[str, tuple[int, ...], list[str]]]:
    """(study, runs, windows): the jobs that train several runs' flows or classifiers at once.

    Every dijet study of the config splits the runs of each analysis window into groups of
    ``runs_per_job``; a group of runs is one job per feature set and injection (and method,
    for the classifiers), for the windows listed with it.
    """
    out: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    per_job = config.get("runs_per_job", 1)
    for study in DIJET_STUDIES:
        if study not in config.get("studies", []):
            continue
        for window, n_runs in analysis_runs(config, study).items():
            for runs in run_groups(n_runs, per_job):
                out.setdefault((study, runs), []).append(window)
    return [(study, runs, windows) for (study, runs), windows in out.items()]


def runs_label(runs: Sequence[int]) -> str:
    """The text of a group of runs in log paths and rule names: (0, 1, 2) → ``0-2``."""
    return f"{runs[0]}-{runs[-1]}"


def window_pattern(windows: Sequence[str]) -> str:
    """A wildcard constraint that matches exactly the ``windows`` (``3.3-3.7``, …)."""
    return "|".join(re.escape(w) for w in windows)


def flow_group_outputs(study: str, runs: Sequence[int]) -> dict[str, str]:
    """The per-run outputs of one flow training job, keyed ``{kind}_{run}`` (wildcards left)."""
    out = {}
    for run in runs:
        ids = {"run": run, "study": study}
        out[f"model_{run}"] = _fill(FLOW_MODEL, ids)
        out[f"history_{run}"] = _fill(FLOW_HISTORY, ids)
        for ext in FIGURE_FORMATS:
            out[f"{ext}_{run}"] = _fill(FLOW_LOSS, {**ids, "ext": ext})
    return out


def classifier_group_outputs(study: str, runs: Sequence[int]) -> dict[str, str]:
    """The per-run outputs of one classifier training job, keyed ``{kind}_{run}``."""
    out = {}
    for run in runs:
        files = classifier_outputs(study, "{feature_set}", "{window}", "{nsig}", run, "{method}")
        out |= {f"{kind}_{run}": path for kind, path in files.items()}
    return out


def classifier_group_inputs(
    study: str, feature_set: str, window: str, nsig: int | str, runs: Sequence[int], method: str
) -> dict[str, str]:
    """Every run's classifier inputs (:func:`classifier_inputs`), keyed ``{source}_{run}``."""
    out = {}
    for run in runs:
        files = classifier_inputs(study, feature_set, window, nsig, run, method)
        out |= {f"{source}_{run}": path for source, path in files.items()}
    return out


def per_run(files: Mapping[str, str], runs: Sequence[int]) -> list[dict[str, str]]:
    """Undo the ``{kind}_{run}`` keys: one dict of kind → path per run, in ``runs`` order."""
    out: list[dict[str, str]] = [{} for _ in runs]
    index = {int(r): i for i, r in enumerate(runs)}
    for key, path in files.items():
        kind, _, run = key.rpartition("_")
        if run.isdigit() and int(run) in index:
            out[index[int(run)]][kind] = path
    return out


def _fill(pattern: str, values: Mapping[str, Any]) -> str:
    """Substitute some wildcards of a path pattern, leaving the others in place."""
    for key, value in values.items():
        pattern = pattern.replace("{" + key + "}", str(value))
    return pattern


def split_outputs(study: str, feature_set: str, window: str, nsig: int | str) -> dict[str, str]:
    """Every part file of one split (see :data:`SPLIT_PARTS`)."""
    ids = {"study": study, "feature_set": feature_set, "window": window, "nsig": nsig}
    return {part: SPLIT_PART.format(**ids, part=part) for part in SPLIT_PARTS}


def latent_inputs(study: str, feature_set: str, window: str, nsig: int | str) -> dict[str, str]:
    """The split parts that :func:`latent_outputs` maps to latent space."""
    return {
        part: path
        for part, path in split_outputs(study, feature_set, window, nsig).items()
        if part in LATENT_PARTS
    }


def latent_outputs(
    study: str, feature_set: str, window: str, nsig: int | str, run: int | str
) -> dict[str, str]:
    """Every latent-space part of one flow run (:data:`LATENT_PARTS`)."""
    ids = {"study": study, "feature_set": feature_set, "window": window, "nsig": nsig, "run": run}
    return {part: LATENT_PART.format(**ids, part=part) for part in LATENT_PARTS}


def decorrelated_outputs(
    study: str, feature_set: str, window: str, nsig: int | str, run: int | str
) -> dict[str, str]:
    """The decorrelated parts (:data:`LATENT_PARTS` at m0) and the samples at m0 of one run."""
    ids = {"study": study, "feature_set": feature_set, "window": window, "nsig": nsig, "run": run}
    out = {part: DECORRELATED_PART.format(**ids, part=part) for part in LATENT_PARTS}
    out["samples_m0"] = DECORRELATED_SAMPLES.format(**ids)
    return out


def classifier_outputs(
    study: str, feature_set: str, window: str, nsig: int | str, run: int | str, method: str
) -> dict[str, str]:
    """The score tables, history and summary of one classifier training."""
    ids = {
        "study": study,
        "feature_set": feature_set,
        "window": window,
        "nsig": nsig,
        "run": run,
        "method": method,
    }
    out = {t: SCORES.format(**ids, testset=t) for t in TEST_SETS}
    out["history"] = CLASSIFIER_HISTORY.format(**ids)
    out["summary"] = CLASSIFIER_SUMMARY.format(**ids)
    return out


def classifier_inputs(
    study: str, feature_set: str, window: str, nsig: int | str, run: int | str, method: str
) -> dict[str, str]:
    """Source name → file of one method's training and test inputs (see resonant_ad.methods)."""
    from .methods import method as lookup

    m = lookup(method)
    ids = {"study": study, "feature_set": feature_set, "window": window, "nsig": nsig}
    pattern = {"z": LATENT_PART, "xp": DECORRELATED_PART}.get(m.space, SPLIT_PART)
    out = {part: pattern.format(**ids, run=run, part=part) for part in m.split_parts()}
    if m.space in ("z", "xp"):
        bad = [p for p in m.split_parts() if p not in LATENT_PARTS]
        if bad:
            raise ValueError(f"method {method!r} needs mapped parts {bad}, not in {LATENT_PARTS}")
    if "samples" in m.sources():
        out["samples"] = (DECORRELATED_SAMPLES if m.space == "xp" else SAMPLES).format(
            **ids, run=run
        )
    return out


def score_files(
    config: Mapping[str, Any], study: str, feature_set: str, window: str, testset: str
) -> list[dict[str, Any]]:
    """Every classifier score table of one analysis, with its method, injection and run."""
    cfg = config[study]
    return [
        {
            "method": method,
            "injection": int(nsig),
            "run": run,
            "path": SCORES.format(
                study=study,
                feature_set=feature_set,
                window=window,
                nsig=nsig,
                run=run,
                method=method,
                testset=testset,
            ),
        }
        for method in cfg["methods"]
        for nsig in cfg["injections"]
        for run in range(int(cfg["runs"]))
    ]


def bumphunt_runs(
    config: Mapping[str, Any],
    study: str,
    feature_set: str,
    window: str,
    scan: bool | None = None,
) -> list[dict[str, Any]]:
    """Every bump hunt of one analysis: method, injection, run and its results/bins tables.

    The study's methods, injections and runs, or with ``scan`` those of its ``scan``
    section (the default: the scan's for every window but the nominal one).
    """
    cfg = config[study]
    if scan is None:
        scan = window != nominal_window(config, study)
    if scan:
        sc = cfg["scan"]
        methods, injections, runs = sc["methods"], [sc["injection"]], int(sc["runs"])
    else:
        methods, injections, runs = cfg["methods"], cfg["injections"], int(cfg["runs"])
    out = []
    for method in methods:
        for nsig in injections:
            for run in range(runs):
                ids = {
                    "study": study,
                    "feature_set": feature_set,
                    "window": window,
                    "nsig": nsig,
                    "run": run,
                    "method": method,
                }
                out.append(
                    {
                        "method": method,
                        "injection": int(nsig),
                        "run": run,
                        "results": BUMPHUNT_RESULTS.format(**ids),
                        "bins": BUMPHUNT_BINS.format(**ids),
                    }
                )
    return out


def bumphunt_fit_runs(
    config: Mapping[str, Any], study: str, feature_set: str, window: str, nsig: int | str
) -> list[dict[str, Any]]:
    """The bump hunts drawn in one fits figure: run 0 of injection ``nsig``, every method."""
    return [
        r
        for r in bumphunt_runs(config, study, feature_set, window)
        if r["run"] == 0 and r["injection"] == int(nsig)
    ]


def analysis_figures(
    study: str, feature_set: str, window: str, names: Sequence[str]
) -> dict[str, str]:
    """name_ext → path of the figures ``names`` of one analysis, in every format."""
    ids = {"study": study, "feature_set": feature_set, "window": window}
    return {
        f"{name}_{ext}": FEATURE_SET_FIGURE.format(**ids, name=name, ext=ext)
        for name in names
        for ext in FIGURE_FORMATS
    }


def bumphunt_figures(
    config: Mapping[str, Any], study: str, feature_set: str, window: str
) -> dict[str, str]:
    """The bump-hunt figures of one analysis: significance, and the fits of each injection."""
    names = ["bumphunt_significance"]
    names += [f"bumphunt_fits_nsig{n}" for n in config[study]["injections"]]
    return analysis_figures(study, feature_set, window, names)


def feature_set_figures(study: str, feature_set: str, window: str) -> dict[str, str]:
    """The evaluation figures (:data:`FEATURE_SET_FIGURES`) of one analysis."""
    return analysis_figures(study, feature_set, window, FEATURE_SET_FIGURES)


def scan_windows(config: Mapping[str, Any], study: str) -> list[str]:
    """The ``{window}`` values of the study's SR scan (empty without one)."""
    return [format_window(w) for w in config[study]["scan"]["windows"]]


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
    """The null study's tables and figures (`rule null_study`, not in ``all``).

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
    return targets


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
        targets += [METRICS.format(**ids), METRICS_SUMMARY.format(**ids)]
        targets += [BUMPHUNT_SUMMARY.format(**ids)]
        targets += feature_set_figures(study, feature_set, window).values()
        targets += bumphunt_figures(config, study, feature_set, window).values()
    targets += scan_targets(config, study)
    return targets


def ditau_split_parts() -> dict[str, str]:
    """The background parts of the di-τ split (see resonant_ad.ditau_study)."""
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


def ditau_figures() -> dict[str, str]:
    """name_ext → path of every di-τ figure."""
    return {
        f"{name}_{ext}": DITAU_FIGURE.format(name=name, ext=ext)
        for name in DITAU_FIGURES
        for ext in FIGURE_FORMATS
    }


def ditau_targets(ditau: Mapping[str, Any]) -> list[str]:
    """What the di-τ study builds: cut flow, flow loss, metric tables and figures."""
    targets = [DITAU_CUTFLOW, DITAU_METRICS, DITAU_METRICS_SUMMARY, DITAU_SIC_CURVES, DITAU_CHECKS]
    targets += [DITAU_FLOW_LOSS.format(ext=e) for e in FIGURE_FORMATS]
    targets += ditau_figures().values()
    return targets


def format_c(c: float | str) -> str:
    """The canonical text of a number in paths and seeds (a toy correlation c or a di-τ
    injection strength σ: 0.1 → '0.1', 2.0 → '2')."""
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
    if "ditau" in config["studies"]:
        targets += ditau_targets(config["ditau"])
    return targets
