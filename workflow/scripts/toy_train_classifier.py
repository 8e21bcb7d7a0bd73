"""Train one toy classifier (c, space, run) in the SR and score the test events."""

from resonant_ad.studies.toy.analysis import train_toy_run
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    train_toy_run,
    snakemake.input.data,
    snakemake.output.scores,
    snakemake.output.model,
    snakemake.output.history,
    c=snakemake.wildcards.c,
    space=snakemake.wildcards.space,
    run=int(snakemake.wildcards.run),
    params=snakemake.params.toy,
)
