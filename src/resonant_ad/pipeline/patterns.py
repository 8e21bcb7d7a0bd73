"""Every output path pattern of the workflow, in one place (they are a documented interface)."""

from __future__ import annotations

import re


def fill(pattern: str, **values: object) -> str:
    """``pattern`` with the named wildcards filled in and the others left in place, e.g.
    ``fill(SPLIT_PART, part="sb_train")``; a name that is not a wildcard of it is an error."""
    names = set(re.findall(r"{(\w+)}", pattern))
    unknown = sorted(set(values) - names)
    if unknown:
        raise KeyError(f"{pattern!r} has no wildcard {unknown}")
    for key, value in values.items():
        pattern = pattern.replace("{" + key + "}", str(value))
    return pattern


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
#: one analysis: a feature set with a signal-region window (``3.3-3.7``, TeV); the study's
#: ``signal_region`` is the nominal window, ``scan.windows`` add more (:func:`format_window`)
FEATURE_SET_DIR = "results/{study}/{feature_set}/sr{window}"
SPLIT_PART = FEATURE_SET_DIR + "/nsig{nsig}/split/{part}.parquet"
RUN_DIR = FEATURE_SET_DIR + "/nsig{nsig}/run{run}"
FLOW_MODEL = RUN_DIR + "/flow/model.pt"
FLOW_HISTORY = RUN_DIR + "/flow/history.csv"
FLOW_LOSS = RUN_DIR + "/flow/loss.{ext}"
#: the cross-fitted flows of the bump hunt: flow g, fitted to the SB data outside the folds it
#: maps (stages.folds.flow_folds)
CROSS_FLOW_MODEL = RUN_DIR + "/flow/cross{flow}/model.pt"
CROSS_FLOW_HISTORY = RUN_DIR + "/flow/cross{flow}/history.csv"
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
SCULPTING_RUNS = FEATURE_SET_DIR + "/sculpting_runs.csv"
MJJ_SELECTION = FEATURE_SET_DIR + "/mjj_selection.csv"
#: each run's flow diagnostics beside its methods' metrics, and their correlations over runs
RUN_TABLE = FEATURE_SET_DIR + "/runs.csv"
RUN_CORRELATIONS = FEATURE_SET_DIR + "/run_correlations.csv"
BUMPHUNT_SUMMARY = FEATURE_SET_DIR + "/bumphunt.csv"
FEATURE_SET_FIGURE = FEATURE_SET_DIR + "/figures/{name}.{ext}"
#: figures per feature set (top left, top right and bottom panels of the paper's Figs. 6-8;
#: each run's metrics against its flow's diagnostics)
FEATURE_SET_FIGURES = ("sic", "sculpting_chi2", "mjj_selection", "runs")
#: bump-hunt figures per analysis: significance and SB fit quality vs ε; the fits of run 0
BUMPHUNT_SIGNIFICANCE = fill(FEATURE_SET_FIGURE, name="bumphunt_significance")
BUMPHUNT_FITS = fill(FEATURE_SET_FIGURE, name="bumphunt_fits_nsig{nsig}")
#: the SR window scan of a dijet study (one feature set and injection, several windows)
SCAN_DIR = "results/{study}/scan/{feature_set}/nsig{nsig}"
SCAN_SUMMARY = SCAN_DIR + "/scan.csv"
SCAN_FIGURE = SCAN_DIR + "/scan.{ext}"
#: the background-only test over independent surrogate datasets (resonant_ad.studies.dijet.null)
NULL_DIR = "results/{study}/null/{feature_set}"
NULL_RUN = NULL_DIR + "/data{data_seed}.csv"
NULL_TABLE = NULL_DIR + "/null.csv"
NULL_SUMMARY = NULL_DIR + "/null_summary.csv"
NULL_FIGURE = NULL_DIR + "/null_auc.{ext}"
#: the analysis's bump hunts read against the null study (its nominal window)
NULL_CALIBRATED = NULL_DIR + "/calibrated.csv"
DATA_OVERVIEW = "results/{study}/figures/data_overview.{ext}"
#: the prepared data against the real LHCO R&D SR (resonant_ad.studies.dijet.realism)
REALISM_TABLE = "results/{study}/realism/realism.csv"
REALISM_FIGURE = "results/{study}/realism/realism.{ext}"
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

DITAU_SPLIT_PART = DITAU_DIR + "/split/{part}.parquet"
DITAU_SIGNAL = DITAU_DIR + "/split/signal_{signal}.parquet"
DITAU_SPLIT_SUMMARY = DITAU_DIR + "/split/split.json"
DITAU_FLOW_MODEL = DITAU_DIR + "/flow/model.pt"
DITAU_FLOW_HISTORY = DITAU_DIR + "/flow/history.csv"
DITAU_FLOW_LOSS = DITAU_DIR + "/flow/loss.{ext}"
DITAU_DENSITY_RATIO = DITAU_DIR + "/flow/density_ratio.pt"
DITAU_DENSITY_RATIO_SUMMARY = DITAU_DIR + "/flow/density_ratio.json"
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
DITAU_REFERENCE_BACKGROUND = DITAU_DIR + "/reference/background.parquet"
DITAU_REFERENCE_SCORES = DITAU_DIR + "/reference/repeat{repeat}/scores.parquet"
DITAU_REFERENCE_TRAINING = DITAU_DIR + "/reference/repeat{repeat}/training.json"
DITAU_CALIBRATION = DITAU_DIR + "/calibration.csv"
DITAU_FIGURE = DITAU_DIR + "/figures/{name}.{ext}"
#: the background model's diagnostics (repeat 0): per feature, multiplicity, no-signal cut
DITAU_DIAGNOSTICS = DITAU_DIR + "/diagnostics/{name}.csv"
DITAU_DIAGNOSTIC_TABLES = ("features", "multiplicity", "selection", "mass")
#: the di-τ figures (names carry the paper's figure numbers)
DITAU_FIGURES = ("fig1_mvis", "fig3_synthetic", "fig4_sic", "fig5_significance")
