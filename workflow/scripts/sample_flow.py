"""CATHODE: sample synthetic SR background from each run's flow (masses from the SR KDE)."""

from resonant_ad.stages.flows import sample_sr
from resonant_ad.workflow.files import per_run
from resonant_ad.workflow.smk import run_each, script_run

runs = snakemake.params.runs
models = per_run(dict(snakemake.input.items()), runs)
outputs = per_run(dict(snakemake.output.items()), runs)
script_run(
    snakemake,
    run_each,
    sample_sr,
    [
        (
            f"run {run}",
            (
                models[i]["model"],
                snakemake.input.sr_train,
                outputs[i]["samples"],
                outputs[i]["summary"],
                snakemake.params.flow,
                snakemake.params.signal_region,
                snakemake.params.seeds[i],
            ),
        )
        for i, run in enumerate(runs)
    ],
)
