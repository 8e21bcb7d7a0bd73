"""Toy χ²/ndof summary figure."""

from resonant_ad.studies.toy.figures import plot_sculpting_summary
from resonant_ad.workflow.smk import script_run

script_run(snakemake, plot_sculpting_summary, snakemake.input.summary, snakemake.output)
