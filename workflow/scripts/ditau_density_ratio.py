"""The di-τ flow's SB density ratio (SB data against flow samples), saved with a summary."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.stages.flows import write_density_ratio

script_run(
    snakemake,
    write_density_ratio,
    snakemake.input.model,
    [snakemake.input.sb_train, snakemake.input.sb_val],
    snakemake.output.ratio,
    snakemake.output.summary,
    snakemake.params.ratio,
    snakemake.params.seed,
    snakemake.params.mass,
)
