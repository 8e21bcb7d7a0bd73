"""Real vs synthetic SR background AUC of one repeat (the paper's background-model check)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.stages.parts import DITAU_SR_PARTS
from resonant_ad.studies.ditau.study import write_background_check

script_run(
    snakemake,
    write_background_check,
    [snakemake.input[k] for k in DITAU_SR_PARTS],
    snakemake.input.samples,
    snakemake.output[0],
    snakemake.params.seed,
)
