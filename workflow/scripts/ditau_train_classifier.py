"""Inject one signal at each strength of a group of repeats, train SR data vs synthetic
background, score the test set."""

from resonant_ad.core.training import checkpoint_path
from resonant_ad.pipeline.smk import optional_input, run_each, script_run
from resonant_ad.stages.parts import DITAU_SR_PARTS
from resonant_ad.studies.ditau.study import train_and_score

parts = {k: snakemake.input[k] for k in DITAU_SR_PARTS}
trainings = list(snakemake.params.trainings)
resume = [str(checkpoint_path(snakemake.output[f"summary_{i}"])) for i in range(len(trainings))]
script_run(
    snakemake,
    run_each,
    train_and_score,
    [
        (
            f"sigma {t['sigma']}, repeat {t['repeat']}",
            (
                parts,
                snakemake.input.signal,
                snakemake.input[f"samples_{t['repeat']}"],
                snakemake.input.split,
                snakemake.input.model,
                snakemake.output[f"scores_{i}"],
                snakemake.output[f"summary_{i}"],
                snakemake.wildcards.signal,
                float(t["sigma"]),
                snakemake.params.classifier,
                snakemake.params.sampling,
                t["seed"],
                t["sampling_seed"],
                optional_input(snakemake, "ratio"),
                resume[i],
            ),
        )
        for i, t in enumerate(trainings)
    ],
    resume,
)
