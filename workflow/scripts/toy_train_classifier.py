"""Train the toy classifiers of a group of runs (c, space) in the SR and score the test events."""

from resonant_ad.pipeline.smk import group_files, run_each, script_run
from resonant_ad.studies.toy.analysis import train_toy_run

runs, _, outputs = group_files(snakemake)
script_run(
    snakemake,
    run_each,
    train_toy_run,
    [
        (
            f"run {run}",
            (snakemake.input.data, out["scores"], out["model"], out["history"]),
            {
                "c": snakemake.wildcards.c,
                "space": snakemake.wildcards.space,
                "run": run,
                "params": snakemake.params.toy,
            },
        )
        for run, out in zip(runs, outputs, strict=True)
    ],
)
