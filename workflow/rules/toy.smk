# The analytic toy of LaCATHODE Sec. III: generate → classifiers per (c, space, group of runs) →
# sculpting table → Figs. 3–5.
TOY_RUNS = targets.toy_runs(config["toy"])
TOY_C = [parts.format_c(c) for c in config["toy"]["correlations"]]
C_MAX = parts.format_c(max(config["toy"]["correlations"]))
TOY_FIG_PARAMS = config_slice(config, "toy", "m_range", "signal_region", "selection_efficiency")
TOY_REPORT = "Toy model (LaCATHODE Sec. III)"


rule toy_generate:
    """The analytic toy's data and sample sets for one correlation c."""
    output:
        patterns.TOY_DATA,
    log:
        "logs/toy/generate_c{c}.log",
    benchmark:
        "benchmarks/toy/generate_c{c}.tsv"
    conda:
        ENV
    threads: resource(config, "toy_generate", "threads")
    resources:
        **rule_resources(config, "toy_generate"),
    params:
        toy=config_slice(config, "toy", "n_events", "m_range", "split", "seed"),
        code=code_hash("studies.toy.data"),
    script:
        "../scripts/toy_generate.py"


# One job trains the classifiers of a group of runs (`runs_per_job`) of one (c, space), one
# after the other: the same numbers as a job per run, one process start.
for _runs in files.run_groups(int(config["toy"]["runs"]), config.get("runs_per_job", 1)):
    _label = files.runs_label(_runs)

    rule:
        """The toy classifiers of a group of runs (c, space x or z) and their scores."""
        name:
            f"toy_train_classifier_runs{_label.replace('-', '_')}"
        input:
            data=patterns.TOY_DATA,
        output:
            **files.toy_group_outputs(_runs),
        log:
            f"logs/toy/train_c{{c}}_{{space}}_runs{_label}.log",
        benchmark:
            f"benchmarks/toy/train_c{{c}}_{{space}}_runs{_label}.tsv"
        conda:
            ENV
        threads: resource(config, "toy_train_classifier", "threads")
        resources:
            **rule_resources(config, "toy_train_classifier", len(_runs)),
        params:
            toy=config_slice(config, "toy", "seed", "signal_region", "classifier"),
            runs=list(_runs),
            code=code_hash("studies.toy.analysis"),
        script:
            "../scripts/toy_train_classifier.py"


rule toy_evaluate:
    """The toy's χ²/ndof per run and its summary with the random-subset band."""
    input:
        scores=targets.toy_scores(TOY_RUNS),
    output:
        table=patterns.TOY_SCULPTING,
        summary=patterns.TOY_SCULPTING_SUMMARY,
    log:
        "logs/toy/evaluate.log",
    benchmark:
        "benchmarks/toy/evaluate.tsv"
    conda:
        ENV
    threads: resource(config, "toy_evaluate", "threads")
    resources:
        **rule_resources(config, "toy_evaluate"),
    params:
        runs=TOY_RUNS,
        toy=config_slice(
            config, "toy", "seed", "selection_efficiency", "sculpting_bins", "random_subsets"
        ),
        code=code_hash("studies.toy.analysis"),
    script:
        "../scripts/toy_evaluate.py"


rule toy_fig3:
    """The toy's Fig. 3: the m distribution of data and samples."""
    input:
        data=patterns.TOY_DATA.format(c=TOY_C[0]),
    output:
        png=report(
            targets.toy_figure("fig3_m_distribution", "png"),
            caption="../report/toy_fig3.rst",
            category=TOY_REPORT,
        ),
        pdf=targets.toy_figure("fig3_m_distribution", "pdf"),
    log:
        "logs/toy/fig3.log",
    benchmark:
        "benchmarks/toy/fig3.tsv"
    conda:
        ENV
    threads: resource(config, "toy_figures", "threads")
    resources:
        **rule_resources(config, "toy_figures"),
    params:
        toy=TOY_FIG_PARAMS,
        code=code_hash("studies.toy.figures"),
    script:
        "../scripts/toy_fig3.py"


rule toy_fig4:
    """The toy's Fig. 4: mJJ after the cut in x space."""
    input:
        data=expand(patterns.TOY_DATA, c=TOY_C),
        scores=targets.toy_scores(TOY_RUNS, space="x"),
        table=patterns.TOY_SCULPTING,
    output:
        png=report(
            targets.toy_figure("fig4_sculpting_x", "png"),
            caption="../report/toy_fig4.rst",
            category=TOY_REPORT,
        ),
        pdf=targets.toy_figure("fig4_sculpting_x", "pdf"),
    log:
        "logs/toy/fig4.log",
    benchmark:
        "benchmarks/toy/fig4.tsv"
    conda:
        ENV
    threads: resource(config, "toy_figures", "threads")
    resources:
        **rule_resources(config, "toy_figures"),
    params:
        panels=targets.toy_panels(TOY_RUNS, TOY_C, "x"),
        toy=TOY_FIG_PARAMS,
        code=code_hash("studies.toy.figures"),
    script:
        "../scripts/toy_sculpting_figure.py"


rule toy_fig5:
    """The toy's Fig. 5: mJJ after the cut in the latent space z."""
    input:
        data=patterns.TOY_DATA.format(c=C_MAX),
        scores=targets.toy_scores(TOY_RUNS, C_MAX, "z"),
        table=patterns.TOY_SCULPTING,
    output:
        png=report(
            targets.toy_figure("fig5_latent_z", "png"),
            caption="../report/toy_fig5.rst",
            category=TOY_REPORT,
        ),
        pdf=targets.toy_figure("fig5_latent_z", "pdf"),
    log:
        "logs/toy/fig5.log",
    benchmark:
        "benchmarks/toy/fig5.tsv"
    conda:
        ENV
    threads: resource(config, "toy_figures", "threads")
    resources:
        **rule_resources(config, "toy_figures"),
    params:
        panels=targets.toy_panels(TOY_RUNS, [C_MAX], "z"),
        toy=TOY_FIG_PARAMS,
        code=code_hash("studies.toy.figures"),
    script:
        "../scripts/toy_sculpting_figure.py"


rule toy_chi2_summary:
    """χ²/ndof per (c, space) with the random-subset reference."""
    input:
        summary=patterns.TOY_SCULPTING_SUMMARY,
    output:
        png=report(
            targets.toy_figure("chi2_summary", "png"),
            caption="../report/toy_chi2.rst",
            category=TOY_REPORT,
        ),
        pdf=targets.toy_figure("chi2_summary", "pdf"),
    log:
        "logs/toy/chi2_summary.log",
    benchmark:
        "benchmarks/toy/chi2_summary.tsv"
    conda:
        ENV
    threads: resource(config, "toy_figures", "threads")
    resources:
        **rule_resources(config, "toy_figures"),
    params:
        code=code_hash("studies.toy.figures"),
    script:
        "../scripts/toy_chi2_summary.py"
