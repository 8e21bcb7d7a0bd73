"""Null study: one independent surrogate dataset without signal, every configured method."""

from resonant_ad.null_study import write_null_run
from resonant_ad.smk import script_run

script_run(
    snakemake,
    write_null_run,
    snakemake.params.study,
    snakemake.wildcards.feature_set,
    int(snakemake.wildcards.data_seed),
    snakemake.params.methods,
    snakemake.output[0],
)
