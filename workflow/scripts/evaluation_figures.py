"""The SIC, sculpting and mJJ-after-the-cut figures of one feature set."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.evaluation_figures import evaluation_figures

script_run(
    snakemake,
    evaluation_figures,
    dict(snakemake.input.items()),
    dict(snakemake.output.items()),
    snakemake.wildcards.feature_set,
    snakemake.params.signal_region,
    snakemake.params.efficiency,
)
