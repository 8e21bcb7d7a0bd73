# Dijet data (LHCO R&D or its surrogate): download or generate → prepare → inject → split.


rule download:
    """Fetch one raw file by URL into resources/, md5-verified, renamed only when complete."""
    output:
        patterns.DOWNLOAD,
    log:
        "logs/{study}/download_{filename}.log",
    benchmark:
        "benchmarks/{study}/download_{filename}.tsv"
    wildcard_constraints:
        study="|".join(patterns.DOWNLOAD_STUDIES),
    conda:
        ENV
    threads: resource(config, "download", "threads")
    resources:
        **rule_resources(config, "download"),
    params:
        spec=lambda w: targets.download_spec(config, w.study, w.filename),
        # not code_hash: a download's bytes do not depend on the CPU code path
        code=source_hash("core.download"),
    script:
        "../scripts/download.py"


rule generate_surrogate:
    """The offline LHCO R&D-like surrogate (calibrated to the real SR) in the real file layout."""
    output:
        features=patterns.SURROGATE_FEATURES,
        extra=patterns.SURROGATE_EXTRA,
    log:
        "logs/{study}/generate_surrogate.log",
    benchmark:
        "benchmarks/{study}/generate_surrogate.tsv"
    conda:
        ENV
    threads: resource(config, "generate_surrogate", "threads")
    resources:
        **rule_resources(config, "generate_surrogate"),
    params:
        surrogate=lambda w: config[w.study]["data"]["surrogate"],
        signal_region=lambda w: config[w.study]["signal_region"],
        code=code_hash("studies.dijet.surrogate"),
    script:
        "../scripts/generate_surrogate.py"


rule prepare:
    """Raw jet columns → the analysis features (mJJ, mJ1, ΔmJ, τ21, ΔR) in parquet."""
    input:
        unpack(lambda w: targets.raw_inputs(config, w.study)),
    output:
        events=patterns.PREPARED_EVENTS,
        extra=patterns.PREPARED_EXTRA,
    log:
        "logs/{study}/prepare.log",
    benchmark:
        "benchmarks/{study}/prepare.tsv"
    conda:
        ENV
    threads: resource(config, "prepare", "threads")
    resources:
        **rule_resources(config, "prepare"),
    params:
        verify=lambda w: config[w.study]["data"]["source"] == "download",
        signal_region=lambda w: config[w.study]["signal_region"],
        code=code_hash("studies.dijet.data"),
    script:
        "../scripts/prepare.py"


rule inject:
    """All background plus n injected signal events; S/B and S/√B in the SR."""
    input:
        events=patterns.PREPARED_EVENTS,
    output:
        data=patterns.INJECTED_DATA,
        unused=patterns.UNUSED_SIGNAL,
        summary=patterns.INJECTION_SUMMARY,
    log:
        "logs/{study}/inject_nsig{nsig}.log",
    benchmark:
        "benchmarks/{study}/inject_nsig{nsig}.tsv"
    conda:
        ENV
    threads: resource(config, "inject", "threads")
    resources:
        **rule_resources(config, "inject"),
    params:
        study=lambda w: config_slice(config, w.study, "seed", "signal_region"),
        code=code_hash("studies.dijet.data"),
    script:
        "../scripts/inject.py"


rule split:
    """SR/SB × train/val/test, the extra SR background and the unused SR signal, per feature set."""
    input:
        data=patterns.INJECTED_DATA,
        unused=patterns.UNUSED_SIGNAL,
        extra=patterns.PREPARED_EXTRA,
    output:
        **files.split_outputs("{study}", "{feature_set}", "{window}", "{nsig}"),
    log:
        "logs/{study}/split_{feature_set}_sr{window}_nsig{nsig}.log",
    benchmark:
        "benchmarks/{study}/split_{feature_set}_sr{window}_nsig{nsig}.tsv"
    conda:
        ENV
    threads: resource(config, "split", "threads")
    resources:
        **rule_resources(config, "split"),
    params:
        spec=lambda w: config[w.study]["feature_sets"][w.feature_set],
        study=lambda w: {
            **config_slice(config, w.study, "seed", "split", "extra_split"),
            "signal_region": parts.parse_window(w.window),
            "extra_region": config[w.study]["signal_region"],
        },
        code=code_hash("studies.dijet.data"),
    script:
        "../scripts/split.py"


rule data_overview:
    """Features per region and their correlation with mJJ."""
    input:
        events=patterns.PREPARED_EVENTS,
    output:
        png=report(
            patterns.fill(patterns.DATA_OVERVIEW, ext="png"),
            caption="../report/data_overview.rst",
            category="Dijet data",
        ),
        pdf=patterns.fill(patterns.DATA_OVERVIEW, ext="pdf"),
        correlations=patterns.FEATURE_CORRELATIONS,
    log:
        "logs/{study}/data_overview.log",
    benchmark:
        "benchmarks/{study}/data_overview.tsv"
    conda:
        ENV
    threads: resource(config, "data_overview", "threads")
    resources:
        **rule_resources(config, "data_overview"),
    params:
        feature_sets=lambda w: config[w.study]["feature_sets"],
        signal_region=lambda w: config[w.study]["signal_region"],
        code=code_hash("studies.dijet.figures"),
    script:
        "../scripts/data_overview.py"


rule realism_check:
    """Compare the prepared SR events with the real LHCO R&D SR (the package's reference data)."""
    input:
        events=patterns.PREPARED_EVENTS,
        extra=patterns.PREPARED_EXTRA,
        reference=REFERENCE_FILES,
    output:
        table=patterns.REALISM_TABLE,
        png=report(
            patterns.fill(patterns.REALISM_FIGURE, ext="png"),
            caption="../report/realism.rst",
            category="Dijet data",
        ),
        pdf=patterns.fill(patterns.REALISM_FIGURE, ext="pdf"),
    log:
        "logs/{study}/realism_check.log",
    benchmark:
        "benchmarks/{study}/realism_check.tsv"
    conda:
        ENV
    threads: resource(config, "realism_check", "threads")
    resources:
        **rule_resources(config, "realism_check"),
    params:
        signal_region=lambda w: config[w.study]["signal_region"],
        title=lambda w: f"{w.study}: prepared SR events against the real LHCO R&D SR",
        code=code_hash("studies.dijet.realism"),
    script:
        "../scripts/realism_check.py"
