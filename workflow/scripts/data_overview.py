"""Data overview figure and feature–mJJ correlation table of a dijet study."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.figures import plot_data_overview

script_run(
    snakemake,
    plot_data_overview,
    snakemake.input.events,
    [snakemake.output.png, snakemake.output.pdf],
    snakemake.output.correlations,
    snakemake.params.feature_sets,
    snakemake.params.signal_region,
)
