"""Train one method's classifiers of a group of runs and score their test sets."""

from resonant_ad.stages.classify import train_and_score_runs
from resonant_ad.workflow.files import per_run
from resonant_ad.workflow.smk import script_run

runs = snakemake.params.runs
script_run(
    snakemake,
    train_and_score_runs,
    snakemake.wildcards.method,
    per_run(dict(snakemake.input.items()), runs),
    per_run(dict(snakemake.output.items()), runs),
    snakemake.params.classifier,
    snakemake.params.sampling,
    snakemake.params.seeds,
    snakemake.params.signal_region,
    snakemake.params.cwola,
)
