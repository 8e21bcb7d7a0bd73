"""Train one method's classifier for one run and score the SIC and sculpting test sets."""

from resonant_ad.classifier_study import train_and_score
from resonant_ad.smk import script_run

script_run(
    snakemake,
    train_and_score,
    snakemake.wildcards.method,
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.params.classifier,
    snakemake.params.sampling,
    snakemake.params.seed,
)
