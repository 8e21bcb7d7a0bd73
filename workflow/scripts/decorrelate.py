"""x' = f⁻¹(f(x; m); m0) of each run for the parts the decorrelated method reads, and
samples at m0."""

from resonant_ad.pipeline.smk import group_files, run_each, script_run
from resonant_ad.stages.mapping import decorrelate
from resonant_ad.stages.parts import LATENT_PARTS

runs, models, outputs = group_files(snakemake)
parts = {part: getattr(snakemake.input, part) for part in LATENT_PARTS}
script_run(
    snakemake,
    run_each,
    decorrelate,
    [
        (
            f"run {run}",
            (
                models[i]["model"],
                parts,
                {p: outputs[i][p] for p in LATENT_PARTS},
                outputs[i]["samples_m0"],
                snakemake.params.flow,
                snakemake.params.signal_region,
                snakemake.params.seeds[i],
            ),
        )
        for i, run in enumerate(runs)
    ],
)
