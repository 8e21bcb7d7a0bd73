"""Train one method's classifiers of a group of runs and score their test sets."""

from resonant_ad.pipeline.smk import group_files, script_run
from resonant_ad.stages.classify import train_and_score_runs

_, inputs, outputs = group_files(snakemake)
script_run(
    snakemake,
    train_and_score_runs,
    snakemake.wildcards.method,
    inputs,
    outputs,
    snakemake.params.classifier,
    snakemake.params.sampling,
    snakemake.params.seeds,
    snakemake.params.signal_region,
    snakemake.params.cwola,
    snakemake.params.folds,
    snakemake.params.fold_seed,
)
