"""CATHODE: sample synthetic SR background from each run's flow (masses from the SR KDE)."""

from resonant_ad.pipeline.smk import group_files, run_each, script_run
from resonant_ad.stages.flows import sample_sr

runs, models, outputs = group_files(snakemake)
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
