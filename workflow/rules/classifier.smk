# Per-run classifiers of every method (resonant_ad.stages.methods), then SIC / sculpting evaluation
# and the paper's Figs. 6-8 panels per feature set.


# One job trains a method's classifiers of a group of runs (`runs_per_job`; NN classifiers as
# the members of one model); each run's score tables, history and summary keep their paths.
for _study, _runs, _windows in files.training_groups(config):

    rule:
        """One method's classifiers of a group of runs, trained together, and their scores."""
        name:
            f"train_classifier_{_study}_runs{files.runs_label(_runs).replace('-', '_')}"
        input:
            unpack(classifier_group_inputs(_study, _runs)),
        output:
            **files.classifier_group_outputs(_study, _runs),
        log:
            f"logs/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{files.runs_label(_runs)}/{{method}}/train_classifier.log",
        benchmark:
            f"benchmarks/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{files.runs_label(_runs)}/{{method}}/train_classifier.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "train_classifier", "threads")
        resources:
            **rule_resources(config, "train_classifier", len(_runs), members=True),
        params:
            classifier=classifier_slice(config[_study]["classifier"]),
            sampling=lambda w: method_sampling_slice(config, _study, w.method, w.feature_set),
            signal_region=lambda w: parts.parse_window(w.window),
            cwola=cwola_slice(_study),
            folds=fold_count(_study),
            fold_seed=fold_seed(_study),
            seeds=method_seeds(_study, _runs),
            runs=list(_runs),
            code=code_hash("stages.classify"),
        script:
            "../scripts/train_classifier.py"


rule evaluate:
    """SIC, χ²/ndof sculpting (Eq. 5) and the metric tables of one analysis."""
    input:
        sic=lambda w: [
            r["path"] for r in files.score_files(config, w.study, w.feature_set, w.window, "sic")
        ],
        sculpting=lambda w: [
            r["path"]
            for r in files.score_files(config, w.study, w.feature_set, w.window, "sculpting")
        ],
    output:
        metrics=patterns.METRICS,
        summary=patterns.METRICS_SUMMARY,
        sic=patterns.SIC_CURVES,
        sculpting=patterns.SCULPTING_CURVES,
        sculpting_runs=patterns.SCULPTING_RUNS,
        mjj=patterns.MJJ_SELECTION,
    log:
        "logs/{study}/{feature_set}/sr{window}/evaluate.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/evaluate.tsv"
    conda:
        ENV
    threads: resource(config, "evaluate", "threads")
    resources:
        **rule_resources(config, "evaluate"),
    params:
        sic_files=lambda w: files.score_files(config, w.study, w.feature_set, w.window, "sic"),
        sculpting_files=lambda w: files.score_files(
            config, w.study, w.feature_set, w.window, "sculpting"
        ),
        evaluation=lambda w: config[w.study]["evaluation"],
        seed=analysis_seed("evaluate"),
        code=code_hash("stages.evaluate"),
    script:
        "../scripts/evaluate.py"


rule run_table:
    """Each run's flow diagnostics beside its methods' metrics, and their correlations over
    runs: which flow, if any, makes a run sculpt or lose the signal."""
    input:
        metrics=patterns.METRICS,
        flows=lambda w: [
            r[kind]
            for r in targets.run_flow_files(config, w.study, w.feature_set, w.window)
            for kind in ("diagnostics", "history")
        ],
    output:
        table=patterns.RUN_TABLE,
        correlations=patterns.RUN_CORRELATIONS,
    log:
        "logs/{study}/{feature_set}/sr{window}/run_table.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/run_table.tsv"
    conda:
        ENV
    threads: resource(config, "run_table", "threads")
    resources:
        **rule_resources(config, "run_table"),
    params:
        flows=lambda w: targets.run_flow_files(config, w.study, w.feature_set, w.window),
        seed=analysis_seed("run_table"),
        code=code_hash("stages.runs"),
    script:
        "../scripts/run_table.py"


rule evaluation_figures:
    """The paper's Figs. 6-8 panels of one analysis: SIC, sculpting, mJJ after the cut; and
    each run's metrics against its flow's diagnostics."""
    input:
        sic=patterns.SIC_CURVES,
        sculpting=patterns.SCULPTING_CURVES,
        mjj=patterns.MJJ_SELECTION,
        runs=patterns.RUN_TABLE,
        correlations=patterns.RUN_CORRELATIONS,
    output:
        sic_png=report(
            patterns.fill(patterns.FEATURE_SET_FIGURE, name="sic", ext="png"),
            caption="../report/sic.rst",
            category="Dijet: {feature_set}",
            labels={"study": "{study}", "figure": "SIC"},
        ),
        sic_pdf=patterns.fill(patterns.FEATURE_SET_FIGURE, name="sic", ext="pdf"),
        sculpting_chi2_png=report(
            patterns.fill(patterns.FEATURE_SET_FIGURE, name="sculpting_chi2", ext="png"),
            caption="../report/sculpting_chi2.rst",
            category="Dijet: {feature_set}",
            labels={"study": "{study}", "figure": "sculpting chi2/ndof"},
        ),
        sculpting_chi2_pdf=patterns.fill(
            patterns.FEATURE_SET_FIGURE, name="sculpting_chi2", ext="pdf"
        ),
        mjj_selection_png=report(
            patterns.fill(patterns.FEATURE_SET_FIGURE, name="mjj_selection", ext="png"),
            caption="../report/mjj_selection.rst",
            category="Dijet: {feature_set}",
            labels={"study": "{study}", "figure": "mJJ after the cut"},
        ),
        mjj_selection_pdf=patterns.fill(
            patterns.FEATURE_SET_FIGURE, name="mjj_selection", ext="pdf"
        ),
        runs_png=report(
            patterns.fill(patterns.FEATURE_SET_FIGURE, name="runs", ext="png"),
            caption="../report/runs.rst",
            category="Dijet: {feature_set}",
            labels={"study": "{study}", "figure": "each run against its flow"},
        ),
        runs_pdf=patterns.fill(patterns.FEATURE_SET_FIGURE, name="runs", ext="pdf"),
    log:
        "logs/{study}/{feature_set}/sr{window}/evaluation_figures.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/evaluation_figures.tsv"
    conda:
        ENV
    threads: resource(config, "evaluation_figures", "threads")
    resources:
        **rule_resources(config, "evaluation_figures"),
    params:
        signal_region=lambda w: parts.parse_window(w.window),
        efficiency=lambda w: config[w.study]["evaluation"]["selection_efficiency"],
        code=code_hash("studies.dijet.evaluation_figures"),
    script:
        "../scripts/evaluation_figures.py"


rule title_claim:
    """LaCATHODE's title claim at the paper's scale: the shifted features' SIC and sculpting
    (snakemake --profile workflow/profiles/gpu --configfile config/lhco_title_claim.yaml
    title_claim)."""
    input:
        targets.title_claim_targets(config),
