"""Latent-space checks and the real-vs-synthetic AUC of one flow run."""

from resonant_ad.stages.checks import flow_diagnostics
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    flow_diagnostics,
    snakemake.input.model,
    {"sb_test": snakemake.input.latent_sb, "sr_test": snakemake.input.latent_sr},
    {"sb_test": snakemake.input.data_sb, "sr_test": snakemake.input.data_sr},
    snakemake.input.samples,
    snakemake.output.table,
    snakemake.output.summary,
    [snakemake.output.png, snakemake.output.pdf],
    snakemake.params.seed,
    snakemake.params.feature_set,
)
