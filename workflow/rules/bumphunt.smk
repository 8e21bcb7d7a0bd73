# The enhanced bump hunt after the cut (resonant_ad.stats.bumphunt): per classifier run a dijet
# fit of the selected SB spectrum, the SR prediction and the local significance; per analysis a
# table and figures; and the SR window scan, each window a value of the {window} wildcard.


# One job fits every method's classifier runs of a group of runs (`runs_per_job`): a fit takes
# a fraction of a second, the job's start seconds; each fit keeps its per-run, per-method files.
for _study, _kind, _runs, _methods, _windows in files.bumphunt_groups(config):
    _label = files.runs_label(_runs)

    rule:
        """Dijet-function fits of the selected SB spectrum and the SR excess of each
        classifier run of a group, every method."""
        name:
            f"bumphunt_{_study}_{_kind + '_' if _kind else ''}runs{_label.replace('-', '_')}"
        input:
            **files.bumphunt_group_inputs(_study, _runs, _methods),
        output:
            **files.bumphunt_group_outputs(_study, _runs, _methods),
        log:
            f"logs/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{_label}/bumphunt.log",
        benchmark:
            f"benchmarks/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{_label}/bumphunt.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "bumphunt", "threads")
        resources:
            **rule_resources(config, "bumphunt", len(_runs)),
        params:
            window=lambda w: parts.parse_window(w.window),
            bumphunt=lambda w: bumphunt_settings(config, _study, w.feature_set),
            runs=list(_runs),
            methods=_methods,
            code=code_hash("stats.bumphunt"),
        script:
            "../scripts/bumphunt.py"


rule bumphunt_summary:
    """Every bump hunt of one analysis in one table, with Z and fit quality against ε."""
    input:
        lambda w: [
            r["results"] for r in files.bumphunt_runs(config, w.study, w.feature_set, w.window)
        ],
    output:
        table=patterns.BUMPHUNT_SUMMARY,
        png=report(
            patterns.fill(patterns.BUMPHUNT_SIGNIFICANCE, ext="png"),
            caption="../report/bumphunt_significance.rst",
            category="Bump hunt",
            labels={"study": "{study}", "analysis": "{feature_set} SR {window}"},
        ),
        pdf=patterns.fill(patterns.BUMPHUNT_SIGNIFICANCE, ext="pdf"),
    log:
        "logs/{study}/{feature_set}/sr{window}/bumphunt_summary.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/bumphunt_summary.tsv"
    conda:
        ENV
    threads: resource(config, "bumphunt_summary", "threads")
    resources:
        **rule_resources(config, "bumphunt_summary"),
    params:
        records=lambda w: files.bumphunt_runs(config, w.study, w.feature_set, w.window),
        title=lambda w: f"{w.study}, {w.feature_set}, SR {w.window} TeV",
        code=code_hash("studies.dijet.bumphunt_figures"),
    script:
        "../scripts/bumphunt_summary.py"


rule bumphunt_fits:
    """The SB fits of run 0 of one injection: a row per method, a column per ε."""
    input:
        lambda w: [
            r[key]
            for r in files.bumphunt_fit_runs(config, w.study, w.feature_set, w.window, w.nsig)
            for key in ("results", "bins")
        ],
    output:
        png=report(
            patterns.fill(patterns.BUMPHUNT_FITS, ext="png"),
            caption="../report/bumphunt_fits.rst",
            category="Bump hunt",
            labels={"study": "{study}", "analysis": "{feature_set} SR {window} nsig {nsig}"},
        ),
        pdf=patterns.fill(patterns.BUMPHUNT_FITS, ext="pdf"),
    log:
        "logs/{study}/{feature_set}/sr{window}/bumphunt_fits_nsig{nsig}.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/bumphunt_fits_nsig{nsig}.tsv"
    conda:
        ENV
    threads: resource(config, "bumphunt_summary", "threads")
    resources:
        **rule_resources(config, "bumphunt_summary"),
    params:
        records=lambda w: files.bumphunt_fit_runs(config, w.study, w.feature_set, w.window, w.nsig),
        window=lambda w: parts.parse_window(w.window),
        title=lambda w: (
            f"{w.study}, {w.feature_set}, SR {w.window} TeV: {w.nsig} signal events, run 0"
        ),
        code=code_hash("studies.dijet.bumphunt_figures"),
    script:
        "../scripts/bumphunt_fits.py"


rule scan_summary:
    """The SR window scan: Z against the window centre per method."""
    input:
        lambda w: [r["results"] for r in targets.scan_inputs(config, w.study)],
    output:
        table=patterns.SCAN_SUMMARY,
        png=report(
            patterns.fill(patterns.SCAN_FIGURE, ext="png"),
            caption="../report/scan.rst",
            category="Bump hunt",
        ),
        pdf=patterns.fill(patterns.SCAN_FIGURE, ext="pdf"),
    log:
        "logs/{study}/scan/{feature_set}/nsig{nsig}/scan_summary.log",
    benchmark:
        "benchmarks/{study}/scan/{feature_set}/nsig{nsig}/scan_summary.tsv"
    conda:
        ENV
    threads: resource(config, "scan_summary", "threads")
    resources:
        **rule_resources(config, "scan_summary"),
    params:
        records=lambda w: targets.scan_inputs(config, w.study),
        signal_region=lambda w: config[w.study]["signal_region"],
        title=lambda w: f"{w.study}: SR window scan, {w.feature_set}, {w.nsig} signal events",
        bumphunt=lambda w: bumphunt_settings(config, w.study, w.feature_set),
        toys=lambda w: config[w.study]["scan"]["toys"],
        seed=lambda w: derive_seed(config[w.study]["seed"], "scan-toys"),
        code=code_hash("studies.dijet.bumphunt_figures"),
    script:
        "../scripts/scan_summary.py"
