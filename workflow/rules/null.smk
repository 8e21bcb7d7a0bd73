# The background-only null test over independent surrogate datasets (resonant_ad.studies.dijet.null).
# Each dataset is a study of its own, <study>_null<seed> (workflow.config.null_datasets), that
# the usual rules generate, split, train and score; null_run reads its scores, null_summary
# joins the datasets of a feature set into a table, a per-method summary and a figure, and
# null_calibrated reads the analysis's own bump hunts against that summary.
# Not part of `all`: `snakemake --cores N null_study` builds every surrogate feature set, or
# name one: results/<study>/null/<feature_set>/null.csv.


rule null_study:
    """Every null-study table and figure of the generated dijet studies (not in `all`)."""
    input:
        targets.null_targets(config),


rule null_run:
    """One independent dataset without signal: each run's and method's signal AUC and
    bump-hunt Z, and the controls' Z (no cut, random cuts)."""
    input:
        unpack(lambda w: files.null_run_inputs(config, w.study, w.feature_set, w.data_seed)),
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
        window=lambda w: config[null_dataset_name(w.study, w.data_seed)]["signal_region"],
        bumphunt=lambda w: null_bumphunt_settings(config, w.study, w.feature_set, w.data_seed),
        seed=lambda w: derive_seed(
            config[null_dataset_name(w.study, w.data_seed)]["seed"], "null-controls"
        ),
        code=code_hash("studies.dijet.null"),
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
            patterns.fill(patterns.NULL_FIGURE, ext="png"),
            caption="../report/null_auc.rst",
            category="Null study",
        ),
        pdf=patterns.fill(patterns.NULL_FIGURE, ext="pdf"),
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
        title=lambda w: null_title(config, w.study, w.feature_set),
        code=code_hash("studies.dijet.null"),
    script:
        "../scripts/null_summary.py"


rule null_calibrated:
    """The analysis's bump hunts (nominal window) read against the null study of its
    feature set: each method's Z beside its null mean and spread, and calibrated by them."""
    input:
        bumphunts=lambda w: patterns.BUMPHUNT_SUMMARY.format(
            study=w.study,
            feature_set=w.feature_set,
            window=files.nominal_window(config, w.study),
        ),
        null=patterns.NULL_SUMMARY,
        table=patterns.NULL_TABLE,
    output:
        patterns.NULL_CALIBRATED,
    log:
        "logs/{study}/null/{feature_set}/null_calibrated.log",
    benchmark:
        "benchmarks/{study}/null/{feature_set}/null_calibrated.tsv"
    conda:
        ENV
    threads: resource(config, "null_calibrated", "threads")
    resources:
        **rule_resources(config, "null_calibrated"),
    params:
        code=code_hash("studies.dijet.null"),
    script:
        "../scripts/null_calibrated.py"
