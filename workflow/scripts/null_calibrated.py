"""Null study: the analysis's bump hunts read against the null (calibrated local Z)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.null import write_calibrated

script_run(
    snakemake,
    write_calibrated,
    snakemake.input.bumphunts,
    snakemake.input.null,
    snakemake.output[0],
    snakemake.input.table,
)
