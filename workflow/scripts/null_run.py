"""Null study: one independent surrogate dataset without signal, every configured method."""

from resonant_ad.workflow.null import write_null_run
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    write_null_run,
    snakemake.params.study,
    snakemake.wildcards.feature_set,
    int(snakemake.wildcards.data_seed),
    snakemake.params.methods,
    snakemake.output[0],
)
