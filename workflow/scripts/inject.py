"""Inject n_sig signal events into the background (the `nsig` wildcard)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.data import write_injection

script_run(
    snakemake,
    write_injection,
    snakemake.input.events,
    snakemake.output.data,
    snakemake.output.unused,
    snakemake.output.summary,
    int(snakemake.wildcards.nsig),
    snakemake.params.study,
)
