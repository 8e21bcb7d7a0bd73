"""The files of one job or group of jobs: a rule's inputs and outputs as name → path.

Functions of wildcard values (and of the config's SR windows), built on the patterns of
:mod:`~resonant_ad.pipeline.patterns`; they are what the rules' ``input:``/``output:`` call."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from resonant_ad.pipeline.config import (
    NULL_DATASET,
    bumphunt_settings,
    null_dataset_name,
    searched,
)
from resonant_ad.pipeline.patterns import (
    BUMPHUNT_BINS,
    BUMPHUNT_RESULTS,
    CLASSIFIER_HISTORY,
    CLASSIFIER_SUMMARY,
    CROSS_FLOW_HISTORY,
    CROSS_FLOW_MODEL,
    DECORRELATED_PART,
    DECORRELATED_SAMPLES,
    DIJET_STUDIES,
    FEATURE_SET_FIGURE,
    FEATURE_SET_FIGURES,
    FIGURE_FORMATS,
    FLOW_DIAGNOSTICS,
    FLOW_HISTORY,
    FLOW_LOSS,
    FLOW_MODEL,
    LATENT_PART,
    SAMPLES,
    SCORES,
    SPLIT_PART,
    TEST_SETS,
    TOY_HISTORY,
    TOY_MODEL,
    TOY_SCORES,
    fill,
)
from resonant_ad.stages.parts import DATA_PARTS, LATENT_PARTS, SPLIT_PARTS, format_window


def nominal_window(config: Mapping[str, Any], study: str) -> str:
    """The study's ``signal_region`` as a ``{window}`` value."""
    return format_window(config[study]["signal_region"])


def scan_windows(config: Mapping[str, Any], study: str) -> list[str]:
    """The ``{window}`` values of the study's SR scan (empty without one)."""
    return [format_window(w) for w in config[study]["scan"]["windows"]]


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


def _grouped_windows(config: Mapping[str, Any]) -> Iterator[tuple[str, str, tuple[int, ...]]]:
    """(study, window, runs) of every group of runs of every analysis window.

    Every dijet study of the config (and every null-study dataset) splits the runs of each
    analysis window (nominal and scan) into consecutive groups of ``runs_per_job``.
    """
    per_job = config.get("runs_per_job", 1)
    listed = [s for s in DIJET_STUDIES if s in config.get("studies", [])]
    for study in listed + [s for s in config if NULL_DATASET.match(str(s))]:
        for window, n_runs in analysis_runs(config, study).items():
            for runs in run_groups(n_runs, per_job):
                yield study, window, runs


def training_groups(config: Mapping[str, Any]) -> list[tuple[str, tuple[int, ...], list[str]]]:
    """(study, runs, windows): the jobs that handle several runs of an analysis at once.

    A group of runs (:func:`_grouped_windows`) is one job per feature set and injection (and
    method, for the classifiers), for the windows listed with it: flow training, sampling,
    latent mapping, decorrelation, diagnostics and classifier training.
    """
    out: dict[tuple[str, tuple[int, ...]], list[str]] = {}
    for study, window, runs in _grouped_windows(config):
        out.setdefault((study, runs), []).append(window)
    return [(study, runs, windows) for (study, runs), windows in out.items()]


def bumphunt_groups(
    config: Mapping[str, Any],
) -> list[tuple[str, str, tuple[int, ...], list[str], list[str]]]:
    """(study, kind, runs, methods, windows): the bump-hunt jobs, each over every method.

    ``kind`` is ``"scan"`` for the scan's extra windows (which fit the scan's methods) and
    ``""`` for the nominal window; a job fits every method of one group of runs.
    """
    out: dict[tuple[str, str, tuple[int, ...]], list[str]] = {}
    for study, window, runs in _grouped_windows(config):
        kind = "" if window == nominal_window(config, study) else "scan"
        out.setdefault((study, kind, runs), []).append(window)
    return [
        (study, kind, runs, list((config[study]["scan"] if kind else config[study])["methods"]), w)
        for (study, kind, runs), w in out.items()
    ]


def runs_label(runs: Sequence[int]) -> str:
    """The text of a group of runs in log paths and rule names: (0, 1, 2) → ``0-2``."""
    return f"{runs[0]}-{runs[-1]}"


def window_pattern(windows: Sequence[str]) -> str:
    """A wildcard constraint that matches exactly the ``windows`` (``3.3-3.7``, …)."""
    return "|".join(re.escape(w) for w in windows)


def grouped(
    files_of_run: Callable[[int], Mapping[str, str]], runs: Sequence[int]
) -> dict[str, str]:
    """The files of a group job: each run's ``kind → path``, keyed ``{kind}_{run}``
    (:func:`per_run` undoes it)."""
    return {f"{kind}_{run}": path for run in runs for kind, path in files_of_run(run).items()}


def run_files(study: str, runs: Sequence[int], **kinds: str) -> dict[str, str]:
    """``{kind}_{run}`` → the pattern ``kinds[kind]`` with ``{study}`` (where it has one) and
    ``{run}`` filled in, for each run of a group (the other wildcards left in place)."""

    def files_of_run(run: int) -> dict[str, str]:
        out = {}
        for kind, pattern in kinds.items():
            ids = {"study": study, "run": run} if "{study}" in pattern else {"run": run}
            out[kind] = fill(pattern, **ids)
        return out

    return grouped(files_of_run, runs)


def flow_group_outputs(study: str, runs: Sequence[int]) -> dict[str, str]:
    """The per-run outputs of one flow training job, keyed ``{kind}_{run}`` (wildcards left)."""
    losses = {ext: fill(FLOW_LOSS, ext=ext) for ext in FIGURE_FORMATS}
    return run_files(study, runs, model=FLOW_MODEL, history=FLOW_HISTORY, **losses)


def cross_flow_group_outputs(study: str, runs: Sequence[int], flows: int) -> dict[str, str]:
    """The per-run outputs of one job of ``flows`` cross-fitted flows per run, keyed
    ``{kind}{flow}_{run}`` (``model0_3``: run 3's flow 0)."""
    kinds = {}
    for g in range(flows):
        kinds[f"model{g}"] = fill(CROSS_FLOW_MODEL, flow=g)
        kinds[f"history{g}"] = fill(CROSS_FLOW_HISTORY, flow=g)
    return run_files(study, runs, **kinds)


def classifier_group_outputs(study: str, runs: Sequence[int]) -> dict[str, str]:
    """The per-run outputs of one classifier training job, keyed ``{kind}_{run}``."""
    wildcards = ("{feature_set}", "{window}", "{nsig}")
    return grouped(lambda run: classifier_outputs(study, *wildcards, run, "{method}"), runs)


def classifier_group_inputs(
    study: str,
    feature_set: str,
    window: str,
    nsig: int | str,
    runs: Sequence[int],
    method: str,
    cross_flows: int = 0,
) -> dict[str, str]:
    """Every run's classifier inputs (:func:`classifier_inputs`), keyed ``{source}_{run}``;
    with ``cross_flows`` = n, also its n cross-fitted flows (``cross_flow{g}``) and the data
    parts in feature space (``x_{part}``) that they map."""
    ids = {"study": study, "feature_set": feature_set, "window": window, "nsig": nsig}
    split = split_outputs(study, feature_set, window, nsig)
    x_parts = {f"x_{p}": split[p] for p in DATA_PARTS}

    def files_of_run(run: int) -> dict[str, str]:
        out = classifier_inputs(study, feature_set, window, nsig, run, method)
        if cross_flows:
            for g in range(cross_flows):
                out[f"cross_flow{g}"] = CROSS_FLOW_MODEL.format(**ids, run=run, flow=g)
            out |= x_parts
        return out

    return grouped(files_of_run, runs)


def toy_group_outputs(runs: Sequence[int]) -> dict[str, str]:
    """The scores, model and history of a group of toy runs, keyed ``{kind}_{run}``."""
    kinds = {"scores": TOY_SCORES, "model": TOY_MODEL, "history": TOY_HISTORY}
    return grouped(lambda run: {k: fill(p, run=run) for k, p in kinds.items()}, runs)


def bumphunt_group_inputs(
    study: str, runs: Sequence[int], methods: Sequence[str]
) -> dict[str, str]:
    """The data-test score tables of a bump-hunt job, keyed ``scores_{method}_{run}``."""
    scores = fill(SCORES, testset="data")
    return run_files(study, runs, **{f"scores_{m}": fill(scores, method=m) for m in methods})


def bumphunt_group_outputs(
    study: str, runs: Sequence[int], methods: Sequence[str]
) -> dict[str, str]:
    """The tables of a bump-hunt job, keyed ``results_{method}_{run}`` / ``bins_{method}_{run}``."""
    kinds = {}
    for m in methods:
        kinds[f"results_{m}"] = fill(BUMPHUNT_RESULTS, method=m)
        kinds[f"bins_{m}"] = fill(BUMPHUNT_BINS, method=m)
    return run_files(study, runs, **kinds)


def per_run(files: Mapping[str, str], runs: Sequence[int]) -> list[dict[str, str]]:
    """Undo the ``{kind}_{run}`` keys: one dict of kind → path per run, in ``runs`` order."""
    out: list[dict[str, str]] = [{} for _ in runs]
    index = {int(r): i for i, r in enumerate(runs)}
    for key, path in files.items():
        kind, _, run = key.rpartition("_")
        if run.isdigit() and int(run) in index:
            out[index[int(run)]][kind] = path
    return out


def split_outputs(study: str, feature_set: str, window: str, nsig: int | str) -> dict[str, str]:
    """Every part file of one split (see :data:`SPLIT_PARTS`)."""
    ids = {"study": study, "feature_set": feature_set, "window": window, "nsig": nsig}
    return {part: SPLIT_PART.format(**ids, part=part) for part in SPLIT_PARTS}


def latent_inputs(study: str, feature_set: str, window: str, nsig: int | str) -> dict[str, str]:
    """The split parts that the flow maps to its latent (and decorrelated) space."""
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
    return {part: pattern.format(**ids) for part, pattern in latent_patterns().items()}


def latent_patterns() -> dict[str, str]:
    """Part → the latent-space pattern of each :data:`LATENT_PARTS` part (``{run}`` left)."""
    return {part: fill(LATENT_PART, part=part) for part in LATENT_PARTS}


def decorrelated_patterns() -> dict[str, str]:
    """Part → the decorrelated-space pattern of each :data:`LATENT_PARTS` part."""
    return {part: fill(DECORRELATED_PART, part=part) for part in LATENT_PARTS}


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
    """Source name → file of one method's training and test inputs (see stages.methods)."""
    from resonant_ad.stages.methods import method as lookup
    from resonant_ad.stages.methods import space_draws_at_m0

    m = lookup(method)
    ids = {"study": study, "feature_set": feature_set, "window": window, "nsig": nsig}
    pattern = {"z": LATENT_PART, "xp": DECORRELATED_PART}.get(m.space, SPLIT_PART)
    out = {part: pattern.format(**ids, run=run, part=part) for part in m.split_parts()}
    if m.mapped_by_flow():
        bad = [p for p in m.split_parts() if p not in LATENT_PARTS]
        if bad:
            raise ValueError(f"method {method!r} needs mapped parts {bad}, not in {LATENT_PARTS}")
    if "samples" in m.sources():
        out["samples"] = (DECORRELATED_SAMPLES if space_draws_at_m0(m.space) else SAMPLES).format(
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
    section (the default: the scan's for every window but the nominal one). A ValueError
    for a feature set the bump hunt does not search (``bumphunt.feature_sets``).
    """
    cfg = config[study]
    bumphunt_settings(config, study, feature_set)  # searched, or a clear error
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


def null_run_inputs(
    config: Mapping[str, Any], study: str, feature_set: str, data_seed: int | str
) -> dict[str, str]:
    """A null-study dataset's files, per run r of ``null_study.runs``: ``run<r>_scores_<m>``,
    ``run<r>_summary_<m>``, ``run<r>_bumphunt_<m>`` (method m's bump-hunt results, where the
    feature set is searched: :func:`~resonant_ad.pipeline.config.searched`) and
    ``run<r>_flow_diagnostics`` (its flow's latent checks); and ``data_scores`` (run 0's
    first method's test-data scores, whose events the controls cut at random).

    The dataset is the study section ``<study>_null<seed>`` (``config.null_datasets``).
    """
    dataset = null_dataset_name(study, data_seed)
    if dataset not in config:
        raise ValueError(f"null study: {dataset!r} is not a dataset of {study}.null_study")
    window = nominal_window(config, dataset)
    out: dict[str, str] = {}
    for run in range(int(config[dataset]["runs"])):
        for name in config[dataset]["methods"]:
            files = classifier_outputs(dataset, feature_set, window, 0, run, name)
            out[f"run{run}_scores_{name}"] = files["sic"]
            out[f"run{run}_summary_{name}"] = files["summary"]
            out.setdefault("data_scores", files["data"])  # the controls' events: any method's
        ids = {"study": dataset, "feature_set": feature_set, "window": window, "nsig": 0}
        out[f"run{run}_flow_diagnostics"] = FLOW_DIAGNOSTICS.format(**ids, run=run)
    if searched(config, dataset, feature_set):  # no signal
        for rec in bumphunt_runs(config, dataset, feature_set, window):
            out[f"run{rec['run']}_bumphunt_{rec['method']}"] = rec["results"]
    return out
