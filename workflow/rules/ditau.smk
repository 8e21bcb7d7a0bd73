# The di-tau + X study (event-level paper): generate or read Delphes → select and build
# features → split → SB flow → per-repeat synthetic SR background → per (signal, σ, repeat)
# classifier → SIC and significance after the cut → Figs. 1, 3, 4, 5.
rule ditau_generate:
    """The offline di-τ + X object table (backgrounds and three signals)."""
    output:
        patterns.DITAU_OBJECTS,
    log:
        "logs/ditau/generate.log",
    benchmark:
        "benchmarks/ditau/generate.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_generate", "threads")
    resources:
        **rule_resources(config, "ditau_generate"),
    params:
        surrogate=lambda w: config["ditau"]["data"]["surrogate"],
        code=code_hash("studies.ditau.data"),
    script:
        "../scripts/ditau_generate.py"


rule ditau_prepare:
    """The di-τ selection and the event-level features (simplex coordinates, MET, HT, ΔR)."""
    input:
        lambda w: targets.ditau_raw_inputs(config["ditau"]),
    output:
        events=patterns.DITAU_EVENTS,
        cutflow=patterns.DITAU_CUTFLOW,
    log:
        "logs/ditau/prepare.log",
    benchmark:
        "benchmarks/ditau/prepare.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_prepare", "threads")
    resources:
        **rule_resources(config, "ditau_prepare"),
    params:
        selection=lambda w: config["ditau"]["selection"],
        features=lambda w: config["ditau"]["features"],
        seed=lambda w: config["ditau"]["seed"],
        sources=lambda w: {
            spec["filename"]: {"process": spec["process"], "label": spec["label"]}
            for spec in config["ditau"]["data"].get("files", {}).values()
        },
        code=code_hash("studies.ditau.data"),
    script:
        "../scripts/ditau_prepare.py"


rule ditau_split:
    """Background-only SB for the flow, SR train/val/test, per-signal test sets and pools."""
    input:
        events=patterns.DITAU_EVENTS,
    output:
        **targets.ditau_split_parts(),
        **{
            f"signal_{k}": v
            for k, v in targets.ditau_signals(config.get("ditau", {"signals": []})).items()
        },
        summary=patterns.DITAU_SPLIT_SUMMARY,
    log:
        "logs/ditau/split.log",
    benchmark:
        "benchmarks/ditau/split.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_split", "threads")
    resources:
        **rule_resources(config, "ditau_split"),
    params:
        split=lambda w: {
            "seed": config["ditau"]["seed"],
            "signal_region": config["ditau"]["signal_region"],
            "signals": config["ditau"]["signals"],
            "split": config["ditau"]["split"],
        },
        code=code_hash("studies.ditau.study"),
    script:
        "../scripts/ditau_split.py"


rule ditau_train_flow:
    """The RQ-spline flow p(x | m_vis) on the background-only sidebands (one, or the mixture
    of ``flow_ensemble`` trainings)."""
    input:
        sb_train=patterns.fill(patterns.DITAU_SPLIT_PART, part="sb_train"),
        sb_val=patterns.fill(patterns.DITAU_SPLIT_PART, part="sb_val"),
    output:
        model_0=patterns.DITAU_FLOW_MODEL,
        history_0=patterns.DITAU_FLOW_HISTORY,
        png_0=report(
            patterns.fill(patterns.DITAU_FLOW_LOSS, ext="png"),
            caption="../report/ditau_flow_loss.rst",
            category="Di-tau",
        ),
        pdf_0=patterns.fill(patterns.DITAU_FLOW_LOSS, ext="pdf"),
    log:
        "logs/ditau/train_flow.log",
    benchmark:
        "benchmarks/ditau/train_flow.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_train_flow", "threads")
    resources:
        # on a CPU the flows of an ensemble train one after the other: runtime × flow_ensemble
        **rule_resources(
            config,
            "ditau_train_flow",
            config.get("ditau", {}).get("flow_ensemble", 1),
        ),
    params:
        flow=lambda w: flow_training_slice(config, "ditau"),
        seeds=lambda w: ditau_flow_seeds(config["ditau"]),
        runs=[0],
        mass="mvis",
        mixture=True,
        code=code_hash("stages.flows"),
    script:
        "../scripts/train_flow.py"


rule ditau_density_ratio:
    """The flow's mismodelling in the SB: a classifier of SB data against flow samples."""
    input:
        sb_train=patterns.fill(patterns.DITAU_SPLIT_PART, part="sb_train"),
        sb_val=patterns.fill(patterns.DITAU_SPLIT_PART, part="sb_val"),
        model=patterns.DITAU_FLOW_MODEL,
    output:
        ratio=patterns.DITAU_DENSITY_RATIO,
        summary=patterns.DITAU_DENSITY_RATIO_SUMMARY,
    log:
        "logs/ditau/density_ratio.log",
    benchmark:
        "benchmarks/ditau/density_ratio.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_density_ratio", "threads")
    resources:
        **rule_resources(config, "ditau_density_ratio"),
    params:
        ratio=lambda w: {  # not proposals: that is the samplings' setting
            k: config["ditau"]["density_ratio"][k] for k in ("model_per_real", "clip")
        },
        seed=lambda w: derive_seed(config["ditau"]["seed"], "density-ratio"),
        mass="mvis",
        code=code_hash("stages.flows"),
    script:
        "../scripts/ditau_density_ratio.py"


rule ditau_sample:
    """Synthetic SR background of one repeat: m_vis from the SR KDE, x from the flow."""
    input:
        **targets.ditau_split_parts(),
        model=patterns.DITAU_FLOW_MODEL,
        ratio=lambda w: targets.ditau_ratio_input(config["ditau"]),
    output:
        samples=patterns.DITAU_SAMPLES,
        summary=patterns.DITAU_SAMPLING,
    log:
        "logs/ditau/repeat{repeat}/sample.log",
    benchmark:
        "benchmarks/ditau/repeat{repeat}/sample.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_sample", "threads")
    resources:
        **rule_resources(config, "ditau_sample"),
    params:
        sampling=lambda w: {
            "signal_region": config["ditau"]["signal_region"],
            "kde_bandwidth": config["ditau"]["flow"]["kde_bandwidth"],
            "oversampling": config["ditau"]["oversampling"],
            "proposals": config["ditau"]["density_ratio"]["proposals"],
        },
        seed=lambda w: derive_seed(config["ditau"]["seed"], "sample", int(w.repeat)),
        code=code_hash("studies.ditau.study"),
    script:
        "../scripts/ditau_sample.py"


rule ditau_background_check:
    """AUC of a classifier separating real from synthetic SR background (the dijet protocol)."""
    input:
        **{k: targets.ditau_split_parts()[k] for k in parts.DITAU_SR_PARTS},
        samples=patterns.DITAU_SAMPLES,
    output:
        patterns.DITAU_BACKGROUND_CHECK,
    log:
        "logs/ditau/repeat{repeat}/background_check.log",
    benchmark:
        "benchmarks/ditau/repeat{repeat}/background_check.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_background_check", "threads")
    resources:
        **rule_resources(config, "ditau_background_check"),
    params:
        seed=lambda w: derive_seed(config["ditau"]["seed"], "background-check", int(w.repeat)),
        code=code_hash("studies.ditau.study"),
    script:
        "../scripts/ditau_background_check.py"


# One job per signal trains every injection of a group of repeats (`runs_per_job`), one after
# the other: each training keeps its own seed and files, the job starts once.
for _repeats in ditau_files.ditau_repeat_groups(config):
    _label = files.runs_label(_repeats)

    rule:
        """Inject one signal at each strength; SR data against synthetic background; score."""
        name:
            f"ditau_train_classifier_repeats{_label.replace('-', '_')}"
        input:
            **{k: targets.ditau_split_parts()[k] for k in parts.DITAU_SR_PARTS},
            **ditau_files.ditau_group_samples(_repeats),
            signal=patterns.DITAU_SIGNAL,
            split=patterns.DITAU_SPLIT_SUMMARY,
            model=patterns.DITAU_FLOW_MODEL,
            ratio=lambda w: targets.ditau_ratio_input(config["ditau"]),
        output:
            **ditau_files.ditau_group_outputs(config["ditau"], _repeats),
        log:
            f"logs/ditau/{{signal}}/repeats{_label}/train_classifier.log",
        benchmark:
            f"benchmarks/ditau/{{signal}}/repeats{_label}/train_classifier.tsv"
        conda:
            ENV
        threads: resource(config, "ditau_train_classifier", "threads")
        resources:
            **rule_resources(config, "ditau_train_classifier", len(_repeats)),
        params:
            classifier=classifier_slice(config["ditau"]["classifier"]),
            sampling={
                "signal_region": config["ditau"]["signal_region"],
                "kde_bandwidth": config["ditau"]["flow"]["kde_bandwidth"],
                "oversampling": config["ditau"]["oversampling"],
                "proposals": config["ditau"]["density_ratio"]["proposals"],
            },
            trainings=lambda w, repeats=_repeats: [
                {
                    "sigma": sigma,
                    "repeat": repeat,
                    "seed": derive_seed(
                        config["ditau"]["seed"], "classifier", w.signal, sigma, repeat
                    ),
                    "sampling_seed": derive_seed(config["ditau"]["seed"], "sample", repeat),
                }
                for sigma, repeat in ditau_files.ditau_group_trainings(config["ditau"], repeats)
            ],
            code=code_hash("studies.ditau.study"),
        script:
            "../scripts/ditau_train_classifier.py"


rule ditau_evaluate:
    """SIC and significance after the 1% cut of every (signal, injection, repeat)."""
    input:
        scores=lambda w: [r["scores"] for r in targets.ditau_runs(config["ditau"])],
        summaries=lambda w: [r["summary"] for r in targets.ditau_runs(config["ditau"])],
        checks=lambda w: targets.ditau_checks(config["ditau"]),
    output:
        metrics=patterns.DITAU_METRICS,
        summary=patterns.DITAU_METRICS_SUMMARY,
        sic=patterns.DITAU_SIC_CURVES,
        checks=patterns.DITAU_CHECKS,
    log:
        "logs/ditau/evaluate.log",
    benchmark:
        "benchmarks/ditau/evaluate.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_evaluate", "threads")
    resources:
        **rule_resources(config, "ditau_evaluate"),
    params:
        runs=lambda w: targets.ditau_runs(config["ditau"]),
        evaluation=lambda w: config["ditau"]["evaluation"],
        code=code_hash("studies.ditau.evaluation"),
    script:
        "../scripts/ditau_evaluate.py"


rule ditau_reference_background:
    """True SR background for the no-signal reference: the surrogate background × scale."""
    output:
        patterns.DITAU_REFERENCE_BACKGROUND,
    log:
        "logs/ditau/reference_background.log",
    benchmark:
        "benchmarks/ditau/reference_background.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_reference", "threads")
    resources:
        **rule_resources(config, "ditau_reference"),
    params:
        ditau=lambda w: {
            k: config["ditau"][k]
            for k in ("data", "selection", "features", "signal_region", "reference")
        },
        seed=lambda w: derive_seed(config["ditau"]["seed"], "reference"),
        code=code_hash("studies.ditau.reference"),
    script:
        "../scripts/ditau_reference_background.py"


rule ditau_reference:
    """One repeat's no-signal reference: SR data against true SR background; every signal
    scored."""
    input:
        **{k: targets.ditau_split_parts()[k] for k in parts.DITAU_SR_PARTS},
        **{
            f"signal_{k}": v
            for k, v in targets.ditau_signals(config.get("ditau", {"signals": []})).items()
        },
        background=patterns.DITAU_REFERENCE_BACKGROUND,
    output:
        scores=patterns.DITAU_REFERENCE_SCORES,
        summary=patterns.DITAU_REFERENCE_TRAINING,
    log:
        "logs/ditau/repeat{repeat}/reference.log",
    benchmark:
        "benchmarks/ditau/repeat{repeat}/reference.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_reference", "threads")
    resources:
        **rule_resources(config, "ditau_reference"),
    params:
        classifier=lambda w: classifier_slice(config["ditau"]["classifier"]),
        oversampling=lambda w: config["ditau"]["oversampling"],
        seed=lambda w: derive_seed(config["ditau"]["seed"], "reference", int(w.repeat)),
        code=code_hash("studies.ditau.reference"),
    script:
        "../scripts/ditau_reference.py"


rule ditau_calibration:
    """The no-signal AUC and SIC of the flow beside the reference's (true background)."""
    input:
        metrics=patterns.DITAU_METRICS,
        scores=lambda w: targets.ditau_reference_scores(config["ditau"]),
        reference_trainings=lambda w: targets.ditau_reference_trainings(config["ditau"]),
        flow_trainings=lambda w: targets.ditau_null_trainings(config["ditau"]),
    output:
        patterns.DITAU_CALIBRATION,
    log:
        "logs/ditau/calibration.log",
    benchmark:
        "benchmarks/ditau/calibration.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_evaluate", "threads")
    resources:
        **rule_resources(config, "ditau_evaluate"),
    params:
        evaluation=lambda w: config["ditau"]["evaluation"],
        code=code_hash("studies.ditau.reference"),
    script:
        "../scripts/ditau_calibration.py"


rule ditau_diagnostics:
    """What the background model gets wrong: real vs synthetic per feature, the features a
    classifier uses, where the no-signal classifiers' top εB sits (repeat 0), and the
    multiplicity against m_vis over SB and SR."""
    input:
        **{k: targets.ditau_split_parts()[k] for k in parts.DITAU_BACKGROUND_PARTS},
        **{
            f"scores_{s}": patterns.DITAU_SCORES.format(
                signal=s, sigma=parts.format_c(0.0), repeat=0
            )
            for s in config.get("ditau", {"signals": []})["signals"]
        },
        samples=patterns.fill(patterns.DITAU_SAMPLES, repeat="0"),
    output:
        **targets.ditau_diagnostics(),
    log:
        "logs/ditau/diagnostics.log",
    benchmark:
        "benchmarks/ditau/diagnostics.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_evaluate", "threads")
    resources:
        **rule_resources(config, "ditau_evaluate"),
    params:
        efficiency=lambda w: config["ditau"]["evaluation"]["selection_efficiency"],
        seed=lambda w: derive_seed(config["ditau"]["seed"], "diagnostics"),
        code=code_hash("studies.ditau.diagnostics"),
    script:
        "../scripts/ditau_diagnostics.py"


rule ditau_figures:
    """The di-τ paper's Figs. 1, 3, 4, 5."""
    input:
        **(
            {"calibration": patterns.DITAU_CALIBRATION}
            if targets.ditau_has_reference(config.get("ditau", {"injections": []}))
            else {}
        ),
        events=patterns.DITAU_EVENTS,
        sr_test=patterns.fill(patterns.DITAU_SPLIT_PART, part="sr_test"),
        samples=patterns.fill(patterns.DITAU_SAMPLES, repeat="0"),
        sic=patterns.DITAU_SIC_CURVES,
        summary=patterns.DITAU_METRICS_SUMMARY,
    output:
        fig1_mvis_png=report(
            patterns.DITAU_FIGURE.format(name="fig1_mvis", ext="png"),
            caption="../report/ditau_fig1_mvis.rst",
            category="Di-tau",
        ),
        fig1_mvis_pdf=patterns.DITAU_FIGURE.format(name="fig1_mvis", ext="pdf"),
        fig3_synthetic_png=report(
            patterns.DITAU_FIGURE.format(name="fig3_synthetic", ext="png"),
            caption="../report/ditau_fig3_synthetic.rst",
            category="Di-tau",
        ),
        fig3_synthetic_pdf=patterns.DITAU_FIGURE.format(name="fig3_synthetic", ext="pdf"),
        fig4_sic_png=report(
            patterns.DITAU_FIGURE.format(name="fig4_sic", ext="png"),
            caption="../report/ditau_fig4_sic.rst",
            category="Di-tau",
        ),
        fig4_sic_pdf=patterns.DITAU_FIGURE.format(name="fig4_sic", ext="pdf"),
        fig5_significance_png=report(
            patterns.DITAU_FIGURE.format(name="fig5_significance", ext="png"),
            caption="../report/ditau_fig5_significance.rst",
            category="Di-tau",
        ),
        fig5_significance_pdf=patterns.DITAU_FIGURE.format(name="fig5_significance", ext="pdf"),
    log:
        "logs/ditau/figures.log",
    benchmark:
        "benchmarks/ditau/figures.tsv"
    conda:
        ENV
    threads: resource(config, "ditau_figures", "threads")
    resources:
        **rule_resources(config, "ditau_figures"),
    params:
        signal_region=lambda w: config["ditau"]["signal_region"],
        efficiency=lambda w: config["ditau"]["evaluation"]["selection_efficiency"],
        code=code_hash("studies.ditau.figures"),
    script:
        "../scripts/ditau_figures.py"
