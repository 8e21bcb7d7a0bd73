"""Synthetic SR background of one repeat from the SB flow and the SR mass KDE."""

from resonant_ad.pipeline.smk import optional_input, script_run
from resonant_ad.stages.parts import DITAU_SR_PARTS
from resonant_ad.studies.ditau.study import write_samples

parts = {k: snakemake.input[k] for k in DITAU_SR_PARTS}
script_run(
    snakemake,
    write_samples,
    snakemake.input.model,
    parts,
    snakemake.output.samples,
    snakemake.output.summary,
    snakemake.params.sampling,
    snakemake.params.seed,
    optional_input(snakemake, "ratio"),
)
