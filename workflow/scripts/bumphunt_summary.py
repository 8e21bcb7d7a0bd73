"""One analysis's bump-hunt table and its figure of significance and fit quality vs ε."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.bumphunt_figures import write_summary

script_run(
    snakemake,
    write_summary,
    snakemake.params.records,
    dict(snakemake.output.items()),
    snakemake.params.title,
)
