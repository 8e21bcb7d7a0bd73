"""Toy Fig. 3: the m distribution with the SR."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.toy.figures import plot_m_distribution

script_run(
    snakemake, plot_m_distribution, snakemake.input.data, snakemake.output, snakemake.params.toy
)
