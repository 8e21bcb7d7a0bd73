"""LaCATHODE: map every split part to the flow's latent space."""

from resonant_ad.stages.flows import to_latent
from resonant_ad.stages.parts import LATENT_PARTS
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    to_latent,
    snakemake.input.model,
    {part: getattr(snakemake.input, part) for part in LATENT_PARTS},
    {part: getattr(snakemake.output, part) for part in LATENT_PARTS},
)
