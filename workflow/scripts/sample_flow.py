"""CATHODE: sample synthetic SR background from the flow (masses from the SR KDE)."""

from resonant_ad.stages.flows import sample_sr
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    sample_sr,
    snakemake.input.model,
    snakemake.input.sr_train,
    snakemake.output.samples,
    snakemake.output.summary,
    snakemake.params.flow,
    snakemake.params.signal_region,
    snakemake.params.seed,
)
