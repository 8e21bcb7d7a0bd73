"""LaCATHODE: map every split part to each run's flow latent space."""

from resonant_ad.pipeline.smk import group_files, run_each, script_run
from resonant_ad.stages.mapping import to_latent
from resonant_ad.stages.parts import LATENT_PARTS

runs, models, outputs = group_files(snakemake)
parts = {part: getattr(snakemake.input, part) for part in LATENT_PARTS}
script_run(
    snakemake,
    run_each,
    to_latent,
    [
        (f"run {run}", (models[i]["model"], parts, {p: outputs[i][p] for p in LATENT_PARTS}))
        for i, run in enumerate(runs)
    ],
)
