# The conditional flow p(x | mJJ) on SB data; CATHODE sampling in the SR; LaCATHODE latents.
SPLIT_WILDCARDS = ("{study}", "{feature_set}", "{window}", "{nsig}")


# One job trains the flows of a group of runs (`runs_per_job`) as the members of one model;
# each run's model, history and loss figure keep their per-run paths.
for _study, _runs, _windows in paths.training_groups(config):

    rule:
        """The flows p(x | mJJ) of a group of runs, trained together on the SB data."""
        name:
            f"train_flow_{_study}_runs{paths.runs_label(_runs).replace('-', '_')}"
        input:
            sb_train=paths.SPLIT_PART.replace("{part}", "sb_train").replace("{study}", _study),
            sb_val=paths.SPLIT_PART.replace("{part}", "sb_val").replace("{study}", _study),
        output:
            **reported(
                paths.flow_group_outputs(_study, _runs), "png", "../report/flow_loss.rst", "Flow"
            ),
        log:
            f"logs/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{paths.runs_label(_runs)}/train_flow.log",
        benchmark:
            f"benchmarks/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{paths.runs_label(_runs)}/train_flow.tsv"
        wildcard_constraints:
            window=paths.window_pattern(_windows),
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
            code=source_hash("flow_study"),
        script:
            "../scripts/train_flow.py"


rule sample_flow:
    """CATHODE: the flow's synthetic SR background of one run (masses from the SR KDE)."""
    input:
        model=paths.FLOW_MODEL,
        sr_train=paths.SPLIT_PART.replace("{part}", "sr_train"),
    output:
        samples=paths.SAMPLES,
        summary=paths.SAMPLING_SUMMARY,
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
        signal_region=lambda w: paths.parse_window(w.window),
        seed=lambda w: run_seed(
            config[w.study]["seed"],
            "sample",
            paths.analysis_label(config, w.study, w.feature_set, w.window),
            w.nsig,
            w.run,
        ),
        code=source_hash("flow_study"),
    script:
        "../scripts/sample_flow.py"


rule to_latent:
    """LaCATHODE: every mapped part of one run in the flow's latent space."""
    input:
        **paths.latent_inputs(*SPLIT_WILDCARDS),
        model=paths.FLOW_MODEL,
    output:
        **paths.latent_outputs(*SPLIT_WILDCARDS, "{run}"),
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
        code=source_hash("flow_study"),
    script:
        "../scripts/to_latent.py"


rule flow_diagnostics:
    """The latent background against N(0, 1) and the flow samples against the SR data."""
    input:
        model=paths.FLOW_MODEL,
        samples=paths.SAMPLES,
        latent_sb=paths.LATENT_PART.replace("{part}", "sb_test"),
        latent_sr=paths.LATENT_PART.replace("{part}", "sr_test"),
        data_sb=paths.SPLIT_PART.replace("{part}", "sb_test"),
        data_sr=paths.SPLIT_PART.replace("{part}", "sr_test"),
    output:
        table=paths.FLOW_CHECKS,
        summary=paths.FLOW_DIAGNOSTICS,
        png=report(
            paths.FLOW_SR_FEATURES.replace("{ext}", "png"),
            caption="../report/flow_sr_features.rst",
            category="Flow",
        ),
        pdf=paths.FLOW_SR_FEATURES.replace("{ext}", "pdf"),
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
            paths.analysis_label(config, w.study, w.feature_set, w.window),
            w.nsig,
            w.run,
        ),
        feature_set=lambda w: config[w.study]["feature_sets"][w.feature_set],
        code=source_hash("flow_checks"),
    script:
        "../scripts/flow_diagnostics.py"


rule decorrelate:
    """Every part of one run moved to the SR centre, x' = f⁻¹(f(x; m); m0), and samples at m0."""
    input:
        **paths.latent_inputs(*SPLIT_WILDCARDS),
        model=paths.FLOW_MODEL,
    output:
        **paths.decorrelated_outputs(*SPLIT_WILDCARDS, "{run}"),
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
        signal_region=lambda w: paths.parse_window(w.window),
        seed=lambda w: run_seed(
            config[w.study]["seed"],
            "decorrelate",
            paths.analysis_label(config, w.study, w.feature_set, w.window),
            w.nsig,
            w.run,
        ),
        code=source_hash("flow_study"),
    script:
        "../scripts/decorrelate.py"
