"""Each run's flow diagnostics beside its methods' metrics, and their correlations over runs."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.stages.runs import write_run_table

script_run(
    snakemake,
    write_run_table,
    snakemake.input.metrics,
    snakemake.params.flows,
    dict(snakemake.output.items()),
    snakemake.params.seed,
)
