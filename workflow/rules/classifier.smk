# Per-run classifiers of every method (resonant_ad.methods), then SIC / sculpting evaluation
# and the paper's Figs. 6-8 panels per feature set.


rule train_classifier:
    input:
        unpack(
            lambda w: paths.classifier_inputs(
                w.study, w.feature_set, w.window, w.nsig, w.run, w.method
            )
        ),
    output:
        **paths.classifier_outputs(
            "{study}", "{feature_set}", "{window}", "{nsig}", "{run}", "{method}"
        ),
    log:
        "logs/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/{method}/train_classifier.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/{method}/train_classifier.tsv"
    conda:
        ENV
    threads: resource(config, "train_classifier", "threads")
    resources:
        mem_mb=resource(config, "train_classifier", "mem_mb"),
        runtime=resource(config, "train_classifier", "runtime"),
        gpu=resource(config, "train_classifier", "gpu"),
    params:
        classifier=lambda w: config[w.study]["classifier"],
        sampling=lambda w: {
            k: config[w.study]["flow"][k] for k in ("n_samples", "sample_val_fraction")
        },
        seed=lambda w: run_seed(
            config[w.study]["seed"],
            f"classifier-{w.method}",
            paths.analysis_label(config, w.study, w.feature_set, w.window),
            w.nsig,
            w.run,
        ),
        code=source_hash("classifier_study"),
    script:
        "../scripts/train_classifier.py"


rule evaluate:
    input:
        sic=lambda w: [
            r["path"] for r in paths.score_files(config, w.study, w.feature_set, w.window, "sic")
        ],
        sculpting=lambda w: [
            r["path"]
            for r in paths.score_files(config, w.study, w.feature_set, w.window, "sculpting")
        ],
    output:
        metrics=paths.METRICS,
        summary=paths.METRICS_SUMMARY,
        sic=paths.SIC_CURVES,
        sculpting=paths.SCULPTING_CURVES,
        mjj=paths.MJJ_SELECTION,
    log:
        "logs/{study}/{feature_set}/sr{window}/evaluate.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/evaluate.tsv"
    conda:
        ENV
    threads: resource(config, "evaluate", "threads")
    resources:
        mem_mb=resource(config, "evaluate", "mem_mb"),
        runtime=resource(config, "evaluate", "runtime"),
    params:
        sic_files=lambda w: paths.score_files(config, w.study, w.feature_set, w.window, "sic"),
        sculpting_files=lambda w: paths.score_files(
            config, w.study, w.feature_set, w.window, "sculpting"
        ),
        evaluation=lambda w: config[w.study]["evaluation"],
        seed=lambda w: run_seed(
            config[w.study]["seed"],
            "evaluate",
            paths.analysis_label(config, w.study, w.feature_set, w.window),
            0,
            0,
        ),
        code=source_hash("evaluation"),
    script:
        "../scripts/evaluate.py"


rule evaluation_figures:
    input:
        sic=paths.SIC_CURVES,
        sculpting=paths.SCULPTING_CURVES,
        mjj=paths.MJJ_SELECTION,
    output:
        sic_png=report(
            paths.FEATURE_SET_FIGURE.replace("{name}.{ext}", "sic.png"),
            caption="../report/sic.rst",
            category="Dijet: {feature_set}",
            labels={"study": "{study}", "figure": "SIC"},
        ),
        sic_pdf=paths.FEATURE_SET_FIGURE.replace("{name}.{ext}", "sic.pdf"),
        sculpting_chi2_png=report(
            paths.FEATURE_SET_FIGURE.replace("{name}.{ext}", "sculpting_chi2.png"),
            caption="../report/sculpting_chi2.rst",
            category="Dijet: {feature_set}",
            labels={"study": "{study}", "figure": "sculpting chi2/ndof"},
        ),
        sculpting_chi2_pdf=paths.FEATURE_SET_FIGURE.replace("{name}.{ext}", "sculpting_chi2.pdf"),
        mjj_selection_png=report(
            paths.FEATURE_SET_FIGURE.replace("{name}.{ext}", "mjj_selection.png"),
            caption="../report/mjj_selection.rst",
            category="Dijet: {feature_set}",
            labels={"study": "{study}", "figure": "mJJ after the cut"},
        ),
        mjj_selection_pdf=paths.FEATURE_SET_FIGURE.replace("{name}.{ext}", "mjj_selection.pdf"),
    log:
        "logs/{study}/{feature_set}/sr{window}/evaluation_figures.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/evaluation_figures.tsv"
    conda:
        ENV
    threads: resource(config, "evaluation_figures", "threads")
    resources:
        mem_mb=resource(config, "evaluation_figures", "mem_mb"),
        runtime=resource(config, "evaluation_figures", "runtime"),
    params:
        signal_region=lambda w: paths.parse_window(w.window),
        efficiency=lambda w: config[w.study]["evaluation"]["selection_efficiency"],
        code=source_hash("evaluation_figures"),
    script:
        "../scripts/evaluation_figures.py"
