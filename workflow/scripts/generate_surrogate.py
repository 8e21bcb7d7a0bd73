"""Generate the LHCO-like surrogate files (features and SR-only background)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.surrogate import write_surrogate

script_run(
    snakemake,
    write_surrogate,
    snakemake.output.features,
    snakemake.output.extra,
    snakemake.params.surrogate,
    snakemake.params.signal_region,
)
