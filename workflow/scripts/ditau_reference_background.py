"""True SR background for the di-tau no-signal reference (surrogate generator, another seed)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.ditau.reference import write_sr_background

script_run(
    snakemake,
    write_sr_background,
    snakemake.params.ditau,
    snakemake.params.seed,
    snakemake.output[0],
)
