"""Null study: the per-dataset tables joined, summarized per method, and drawn."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.null import write_null_summary

script_run(
    snakemake,
    write_null_summary,
    list(snakemake.input),
    dict(snakemake.output.items()),
    snakemake.params.title,
)
