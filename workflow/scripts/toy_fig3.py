"""Toy Fig. 3: the m distribution with the SR."""

from resonant_ad.studies.toy.figures import plot_m_distribution
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake, plot_m_distribution, snakemake.input.data, snakemake.output, snakemake.params.toy
)
