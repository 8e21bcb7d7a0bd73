"""Train the toy classifiers of a group of runs (c, space) in the SR and score the test events."""

from resonant_ad.studies.toy.analysis import train_toy_run
from resonant_ad.workflow.files import per_run
from resonant_ad.workflow.smk import run_each, script_run

runs = snakemake.params.runs
outputs = per_run(dict(snakemake.output.items()), runs)
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
