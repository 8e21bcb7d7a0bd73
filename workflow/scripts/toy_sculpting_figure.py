"""Toy Figs. 4 and 5: features and m after the cut, per (c, space) panel."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.toy.figures import plot_sculpting_grid

script_run(
    snakemake,
    plot_sculpting_grid,
    snakemake.params.panels,
    snakemake.input.table,
    snakemake.output,
    snakemake.params.toy,
)
