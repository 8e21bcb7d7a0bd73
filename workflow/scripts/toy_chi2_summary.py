"""Toy χ²/ndof summary figure."""

from resonant_ad.smk import script_run
from resonant_ad.toy_figures import plot_sculpting_summary

script_run(snakemake, plot_sculpting_summary, snakemake.input.summary, snakemake.output)
