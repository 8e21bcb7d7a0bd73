# The conditional flow p(x | mJJ) on SB data; CATHODE sampling in the SR; LaCATHODE latents.
SPLIT_WILDCARDS = ("{study}", "{feature_set}", "{window}", "{nsig}")


# One job trains the flows of a group of runs (`runs_per_job`) as the members of one model;
# each run's model, history and loss figure keep their per-run paths.
for _study, _runs, _windows in files.training_groups(config):

    rule:
        """The flows p(x | mJJ) of a group of runs, trained together on the SB data."""
        name:
            f"train_flow_{_study}_runs{files.runs_label(_runs).replace('-', '_')}"
        input:
            sb_train=patterns.SPLIT_PART.replace("{part}", "sb_train").replace("{study}", _study),
            sb_val=patterns.SPLIT_PART.replace("{part}", "sb_val").replace("{study}", _study),
        output:
            **reported(
                files.flow_group_outputs(_study, _runs), "png", "../report/flow_loss.rst", "Flow"
            ),
        log:
            f"logs/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{files.runs_label(_runs)}/train_flow.log",
        benchmark:
            f"benchmarks/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{files.runs_label(_runs)}/train_flow.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "train_flow", "threads")
        resources:
            **rule_resources(config, "train_flow"),
        params:
            flow=flow_training_slice(config, _study),
            seeds=run_seeds(_study, "flow", _runs),
            runs=list(_runs),
            mass="mjj",
            code=source_hash("stages.flows"),
        script:
            "../scripts/train_flow.py"


rule sample_flow:
    """CATHODE: the flow's synthetic SR background of one run (masses from the SR KDE)."""
    input:
        model=patterns.FLOW_MODEL,
        sr_train=patterns.SPLIT_PART.replace("{part}", "sr_train"),
    output:
        samples=patterns.SAMPLES,
        summary=patterns.SAMPLING_SUMMARY,
    log:
        "logs/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/sample_flow.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/sample_flow.tsv"
    conda:
        ENV
    threads: resource(config, "sample_flow", "threads")
    resources:
        **rule_resources(config, "sample_flow"),
    params:
        flow=lambda w: config[w.study]["flow"],
        signal_region=lambda w: parts.parse_window(w.window),
        seed=lambda w: run_seed(
            config[w.study]["seed"],
            "sample",
            targets.analysis_label(config, w.study, w.feature_set, w.window),
            w.nsig,
            w.run,
        ),
        code=source_hash("stages.flows"),
    script:
        "../scripts/sample_flow.py"


rule to_latent:
    """LaCATHODE: every mapped part of one run in the flow's latent space."""
    input:
        **files.latent_inputs(*SPLIT_WILDCARDS),
        model=patterns.FLOW_MODEL,
    output:
        **files.latent_outputs(*SPLIT_WILDCARDS, "{run}"),
    log:
        "logs/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/to_latent.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/to_latent.tsv"
    conda:
        ENV
    threads: resource(config, "to_latent", "threads")
    resources:
        **rule_resources(config, "to_latent"),
    params:
        code=source_hash("stages.flows"),
    script:
        "../scripts/to_latent.py"


rule flow_diagnostics:
    """The latent background against N(0, 1) and the flow samples against the SR data."""
    input:
        model=patterns.FLOW_MODEL,
        samples=patterns.SAMPLES,
        latent_sb=patterns.LATENT_PART.replace("{part}", "sb_test"),
        latent_sr=patterns.LATENT_PART.replace("{part}", "sr_test"),
        data_sb=patterns.SPLIT_PART.replace("{part}", "sb_test"),
        data_sr=patterns.SPLIT_PART.replace("{part}", "sr_test"),
    output:
        table=patterns.FLOW_CHECKS,
        summary=patterns.FLOW_DIAGNOSTICS,
        png=report(
            patterns.FLOW_SR_FEATURES.replace("{ext}", "png"),
            caption="../report/flow_sr_features.rst",
            category="Flow",
        ),
        pdf=patterns.FLOW_SR_FEATURES.replace("{ext}", "pdf"),
    log:
        "logs/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/flow_diagnostics.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/flow_diagnostics.tsv"
    conda:
        ENV
    threads: resource(config, "flow_diagnostics", "threads")
    resources:
        **rule_resources(config, "flow_diagnostics"),
    params:
        seed=lambda w: run_seed(
            config[w.study]["seed"],
            "auc",
            targets.analysis_label(config, w.study, w.feature_set, w.window),
            w.nsig,
            w.run,
        ),
        feature_set=lambda w: config[w.study]["feature_sets"][w.feature_set],
        code=source_hash("stages.checks"),
    script:
        "../scripts/flow_diagnostics.py"


rule decorrelate:
    """Every part of one run moved to the SR centre, x' = f⁻¹(f(x; m); m0), and samples at m0."""
    input:
        **files.latent_inputs(*SPLIT_WILDCARDS),
        model=patterns.FLOW_MODEL,
    output:
        **files.decorrelated_outputs(*SPLIT_WILDCARDS, "{run}"),
    log:
        "logs/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/decorrelate.log",
    benchmark:
        "benchmarks/{study}/{feature_set}/sr{window}/nsig{nsig}/run{run}/decorrelate.tsv"
    conda:
        ENV
    threads: resource(config, "to_latent", "threads")
    resources:
        **rule_resources(config, "to_latent"),
    params:
        flow=lambda w: config[w.study]["flow"],
        signal_region=lambda w: parts.parse_window(w.window),
        seed=lambda w: run_seed(
            config[w.study]["seed"],
            "decorrelate",
            targets.analysis_label(config, w.study, w.feature_set, w.window),
            w.nsig,
            w.run,
        ),
        code=source_hash("stages.flows"),
    script:
        "../scripts/decorrelate.py"
