"""Null study: one dataset's signal AUC and bump-hunt Z per run and method, and its controls' Z."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.null import write_null_run

script_run(
    snakemake,
    write_null_run,
    int(snakemake.wildcards.data_seed),
    snakemake.wildcards.feature_set,
    dict(snakemake.input.items()),
    snakemake.output[0],
    snakemake.params.window,
    snakemake.params.bumphunt,
    snakemake.params.seed,
)
