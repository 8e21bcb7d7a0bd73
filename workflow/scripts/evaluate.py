"""SIC, sculpting χ²/ndof and the metric tables of one feature set."""

from resonant_ad.stages.evaluate import write_evaluation
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    write_evaluation,
    snakemake.params.sic_files,
    snakemake.params.sculpting_files,
    dict(snakemake.output.items()),
    snakemake.params.evaluation,
    snakemake.params.seed,
)
