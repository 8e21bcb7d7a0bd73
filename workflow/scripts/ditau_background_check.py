"""Real vs synthetic SR background AUC of one repeat (the paper's background-model check)."""

from resonant_ad.studies.ditau.study import write_background_check
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    write_background_check,
    [snakemake.input[k] for k in ("sr_train", "sr_val", "sr_test")],
    snakemake.input.samples,
    snakemake.output[0],
    snakemake.params.seed,
)
