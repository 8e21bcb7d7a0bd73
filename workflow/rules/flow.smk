# The conditional flow p(x | mJJ) on SB data; CATHODE sampling in the SR; LaCATHODE latents.


# One job trains the flows of a group of runs (`runs_per_job`) as the members of one model;
# each run's model, history and loss figure keep their per-run paths.
for _study, _runs, _windows in files.training_groups(config):

    rule:
        """The flows p(x | mJJ) of a group of runs, trained together on the SB data."""
        name:
            f"train_flow_{_study}_runs{files.runs_label(_runs).replace('-', '_')}"
        input:
            sb_train=patterns.fill(patterns.SPLIT_PART, part="sb_train", study=_study),
            sb_val=patterns.fill(patterns.SPLIT_PART, part="sb_val", study=_study),
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
            **rule_resources(config, "train_flow", len(_runs), members=True),
        params:
            flow=flow_training_slice(config, _study),
            seeds=run_seeds(_study, "flow", _runs),
            runs=list(_runs),
            mass="mjj",
            code=code_hash("stages.flows"),
        script:
            "../scripts/train_flow.py"


# The bump hunt's cross-fitted flows (`bumphunt.cross_flows`, for the methods in a flow's space
# with `bumphunt.folds` >= 2): two per run, each on the SB data outside the folds it maps.
for _study, _runs, _windows in files.training_groups(config):
    _n = study_cross_flows(config, _study)
    if not _n:
        continue

    rule:
        """The cross-fitted flows of a group of runs: p(x | mJJ) on the SB data outside the
        folds each maps."""
        name:
            f"train_cross_flows_{_study}_runs{files.runs_label(_runs).replace('-', '_')}"
        input:
            **{
                p: patterns.fill(patterns.SPLIT_PART, part=p, study=_study)
                for p in ("sb_train", "sb_val", "sb_test")
            },
        output:
            **files.cross_flow_group_outputs(_study, _runs, _n),
        log:
            f"logs/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{files.runs_label(_runs)}/train_cross_flows.log",
        benchmark:
            f"benchmarks/{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{files.runs_label(_runs)}/train_cross_flows.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "train_flow", "threads")
        resources:
            **rule_resources(config, "train_flow", len(_runs) * _n, members=True),
        params:
            flow=flow_training_slice(config, _study),
            seeds=run_seeds(_study, "flow", _runs),
            fold_seed=fold_seed(_study),
            folds=fold_count(_study),
            flows=_n,
            runs=list(_runs),
            mass="mjj",
            code=code_hash("stages.mapping"),
        script:
            "../scripts/train_cross_flows.py"


# The runs of a group (`runs_per_job`) share one job per feature set, injection and window in
# each stage after the training too, so that a job pays the interpreter's and torch's start
# once; every run keeps its own seed and its per-run outputs.
for _study, _runs, _windows in files.training_groups(config):
    _label = files.runs_label(_runs)
    _name = f"{_study}_runs{_label.replace('-', '_')}"
    _dir = f"{_study}/{{feature_set}}/sr{{window}}/nsig{{nsig}}/runs{_label}"
    _models = files.run_files(_study, _runs, model=patterns.FLOW_MODEL)

    rule:
        """CATHODE: each run's synthetic SR background (masses from the SR KDE)."""
        name:
            f"sample_flow_{_name}"
        input:
            **_models,
            sr_train=patterns.fill(patterns.SPLIT_PART, part="sr_train", study=_study),
        output:
            **files.run_files(
                _study, _runs, samples=patterns.SAMPLES, summary=patterns.SAMPLING_SUMMARY
            ),
        log:
            f"logs/{_dir}/sample_flow.log",
        benchmark:
            f"benchmarks/{_dir}/sample_flow.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "sample_flow", "threads")
        resources:
            **rule_resources(config, "sample_flow", len(_runs)),
        params:
            flow=flow_sampling_slice(config, _study),
            signal_region=lambda w: parts.parse_window(w.window),
            seeds=run_seeds(_study, "sample", _runs),
            runs=list(_runs),
            code=code_hash("stages.flows"),
        script:
            "../scripts/sample_flow.py"

    rule:
        """LaCATHODE: every mapped part in each run's latent space."""
        name:
            f"to_latent_{_name}"
        input:
            **files.latent_inputs(_study, "{feature_set}", "{window}", "{nsig}"),
            **_models,
        output:
            **files.run_files(_study, _runs, **files.latent_patterns()),
        log:
            f"logs/{_dir}/to_latent.log",
        benchmark:
            f"benchmarks/{_dir}/to_latent.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "to_latent", "threads")
        resources:
            **rule_resources(config, "to_latent", len(_runs)),
        params:
            runs=list(_runs),
            code=code_hash("stages.mapping"),
        script:
            "../scripts/to_latent.py"

    rule:
        """Each run's latent background against N(0, 1) and its samples against the SR data."""
        name:
            f"flow_diagnostics_{_name}"
        input:
            **_models,
            **files.run_files(
                _study,
                _runs,
                samples=patterns.SAMPLES,
                **{
                    f"latent_{p}": patterns.fill(patterns.LATENT_PART, part=p)
                    for p in parts.FLOW_CHECK_PARTS
                },
            ),
            **{
                f"data_{p}": patterns.fill(patterns.SPLIT_PART, part=p, study=_study)
                for p in parts.FLOW_CHECK_PARTS
            },
        output:
            **reported(
                files.run_files(
                    _study,
                    _runs,
                    table=patterns.FLOW_CHECKS,
                    summary=patterns.FLOW_DIAGNOSTICS,
                    png=patterns.fill(patterns.FLOW_SR_FEATURES, ext="png"),
                    pdf=patterns.fill(patterns.FLOW_SR_FEATURES, ext="pdf"),
                ),
                "png",
                "../report/flow_sr_features.rst",
                "Flow",
            ),
        log:
            f"logs/{_dir}/flow_diagnostics.log",
        benchmark:
            f"benchmarks/{_dir}/flow_diagnostics.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "flow_diagnostics", "threads")
        resources:
            **rule_resources(config, "flow_diagnostics", len(_runs)),
        params:
            seeds=run_seeds(_study, "auc", _runs),
            signal_region=lambda w: parts.parse_window(w.window),
            feature_set=lambda w, study=_study: config[study]["feature_sets"][w.feature_set],
            runs=list(_runs),
            code=code_hash("stages.checks"),
        script:
            "../scripts/flow_diagnostics.py"

    rule:
        """Every part of each run moved to the SR centre, x' = f⁻¹(f(x; m); m0), and samples
        at m0."""
        name:
            f"decorrelate_{_name}"
        input:
            **files.latent_inputs(_study, "{feature_set}", "{window}", "{nsig}"),
            **_models,
        output:
            **files.run_files(
                _study,
                _runs,
                **files.decorrelated_patterns(),
                samples_m0=patterns.DECORRELATED_SAMPLES,
            ),
        log:
            f"logs/{_dir}/decorrelate.log",
        benchmark:
            f"benchmarks/{_dir}/decorrelate.tsv"
        wildcard_constraints:
            window=files.window_pattern(_windows),
        conda:
            ENV
        threads: resource(config, "to_latent", "threads")
        resources:
            **rule_resources(config, "to_latent", len(_runs)),
        params:
            flow=flow_sampling_slice(config, _study, ("n_samples", "sample_val_fraction")),
            signal_region=lambda w: parts.parse_window(w.window),
            seeds=run_seeds(_study, "decorrelate", _runs),
            runs=list(_runs),
            code=code_hash("stages.mapping"),
        script:
            "../scripts/decorrelate.py"
