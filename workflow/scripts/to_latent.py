"""LaCATHODE: map every split part to each run's flow latent space."""

from resonant_ad.stages.flows import to_latent
from resonant_ad.stages.parts import LATENT_PARTS
from resonant_ad.workflow.files import per_run
from resonant_ad.workflow.smk import run_each, script_run

runs = snakemake.params.runs
models = per_run(dict(snakemake.input.items()), runs)
outputs = per_run(dict(snakemake.output.items()), runs)
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
