"""SIC curves, significance after the cut and the real-vs-synthetic AUCs of the di-tau scan."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.ditau.evaluation import write_evaluation

script_run(
    snakemake,
    write_evaluation,
    snakemake.params.runs,
    list(snakemake.input.checks),
    dict(snakemake.output.items()),
    snakemake.params.evaluation,
)
