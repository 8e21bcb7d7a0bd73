"""Train the conditional flow of one run on the SB data of one split."""

from resonant_ad.flow_study import train_flow
from resonant_ad.smk import script_run

script_run(
    snakemake,
    train_flow,
    snakemake.input.sb_train,
    snakemake.input.sb_val,
    snakemake.output.model,
    snakemake.output.history,
    [snakemake.output.png, snakemake.output.pdf],
    snakemake.params.flow,
    snakemake.params.seed,
    mass=snakemake.params.mass,
)
