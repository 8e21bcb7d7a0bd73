"""x' = f⁻¹(f(x; m); m0) for the parts the decorrelated method reads, and samples at m0."""

from resonant_ad.stages.flows import decorrelate
from resonant_ad.stages.parts import LATENT_PARTS
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    decorrelate,
    snakemake.input.model,
    {part: getattr(snakemake.input, part) for part in LATENT_PARTS},
    {part: getattr(snakemake.output, part) for part in LATENT_PARTS},
    snakemake.output.samples_m0,
    snakemake.params.flow,
    snakemake.params.signal_region,
    snakemake.params.seed,
)
