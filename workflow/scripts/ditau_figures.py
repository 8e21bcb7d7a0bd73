"""The di-tau figures: m_vis per process, synthetic vs real, SIC (Fig. 4), significance (Fig. 5)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.ditau.figures import ditau_figures

script_run(
    snakemake,
    ditau_figures,
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.params.signal_region,
    snakemake.params.efficiency,
)
