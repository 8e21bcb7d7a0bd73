"""Toy χ²/ndof summary figure."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.toy.figures import plot_sculpting_summary

script_run(snakemake, plot_sculpting_summary, snakemake.input.summary, snakemake.output)
