# The background-only null test over independent surrogate datasets (resonant_ad.workflow.null):
# one job per dataset seed, then a table, a per-method summary and a figure per feature set.
# Not part of `all`: `snakemake --cores N null_study` builds every surrogate feature set, or
# name one: results/<study>/null/<feature_set>/null.csv.


rule null_study:
    """Every null-study table and figure of the generated dijet studies (not in `all`)."""
    input:
        targets.null_targets(config),


rule null_run:
    """One independent surrogate dataset without signal, through every weakly supervised method."""
    output:
        patterns.NULL_RUN,
    log:
        "logs/{study}/null/{feature_set}/data{data_seed}.log",
    benchmark:
        "benchmarks/{study}/null/{feature_set}/data{data_seed}.tsv"
    conda:
        ENV
    threads: resource(config, "null_run", "threads")
    resources:
        **rule_resources(config, "null_run"),
    params:
        study=lambda w: {
            **config_slice(
                config,
                w.study,
                "data",
                "seed",
                "signal_region",
                "split",
                "extra_split",
                "flow",
                "classifier",
            ),
            "feature_sets": {w.feature_set: config[w.study]["feature_sets"][w.feature_set]},
        },
        methods=lambda w: config[w.study]["null_study"]["methods"],
        code=source_hash("workflow.null"),
    script:
        "../scripts/null_run.py"


rule null_summary:
    """The null study of one feature set: table, per-method summary and figure."""
    input:
        lambda w: [
            patterns.NULL_RUN.format(study=w.study, feature_set=w.feature_set, data_seed=s)
            for s in config[w.study]["null_study"]["data_seeds"]
        ],
    output:
        table=patterns.NULL_TABLE,
        summary=patterns.NULL_SUMMARY,
        png=report(
            patterns.NULL_FIGURE.replace("{ext}", "png"),
            caption="../report/null_auc.rst",
            category="Null study",
        ),
        pdf=patterns.NULL_FIGURE.replace("{ext}", "pdf"),
    log:
        "logs/{study}/null/{feature_set}/null_summary.log",
    benchmark:
        "benchmarks/{study}/null/{feature_set}/null_summary.tsv"
    conda:
        ENV
    threads: resource(config, "null_summary", "threads")
    resources:
        **rule_resources(config, "null_summary"),
    params:
        title=lambda w: (
            f"{w.study}, {w.feature_set}: no signal, "
            f"{len(config[w.study]['null_study']['data_seeds'])} independent datasets"
        ),
        code=source_hash("workflow.null"),
    script:
        "../scripts/null_summary.py"
