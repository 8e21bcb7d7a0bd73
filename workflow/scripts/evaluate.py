"""SIC, sculpting χ²/ndof and the metric tables of one feature set."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.stages.evaluate import write_evaluation

script_run(
    snakemake,
    write_evaluation,
    snakemake.params.sic_files,
    snakemake.params.sculpting_files,
    dict(snakemake.output.items()),
    snakemake.params.evaluation,
    snakemake.params.seed,
)
