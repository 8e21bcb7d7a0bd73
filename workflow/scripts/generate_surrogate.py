"""Generate the LHCO-like surrogate files (features and SR-only background)."""

from resonant_ad.studies.dijet.surrogate import write_surrogate
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    write_surrogate,
    snakemake.output.features,
    snakemake.output.extra,
    snakemake.params.surrogate,
    snakemake.params.signal_region,
)
