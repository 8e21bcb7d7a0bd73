"""Inject one signal at one strength, train SR data vs synthetic background, score the test set."""

from resonant_ad.stages.parts import DITAU_SR_PARTS
from resonant_ad.studies.ditau.study import train_and_score
from resonant_ad.workflow.smk import script_run

parts = {k: snakemake.input[k] for k in DITAU_SR_PARTS}
script_run(
    snakemake,
    train_and_score,
    parts,
    snakemake.input.signal,
    snakemake.input.samples,
    snakemake.input.split,
    snakemake.input.model,
    snakemake.output.scores,
    snakemake.output.summary,
    snakemake.wildcards.signal,
    float(snakemake.wildcards.sigma),
    snakemake.params.classifier,
    snakemake.params.sampling,
    snakemake.params.seed,
)
