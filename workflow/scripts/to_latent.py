"""LaCATHODE: map every split part to the flow's latent space."""

from resonant_ad.flow_study import to_latent
from resonant_ad.paths import LATENT_PARTS
from resonant_ad.smk import script_run

script_run(
    snakemake,
    to_latent,
    snakemake.input.model,
    {part: getattr(snakemake.input, part) for part in LATENT_PARTS},
    {part: getattr(snakemake.output, part) for part in LATENT_PARTS},
)
