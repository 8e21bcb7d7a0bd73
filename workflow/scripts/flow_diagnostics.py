"""Latent-space checks and the real-vs-synthetic AUC of each run's flow."""

from resonant_ad.pipeline.smk import group_files, run_each, script_run
from resonant_ad.stages.checks import flow_diagnostics

runs, inputs, outputs = group_files(snakemake)
data = {k.removeprefix("data_"): v for k, v in snakemake.input.items() if k.startswith("data_")}
script_run(
    snakemake,
    run_each,
    flow_diagnostics,
    [
        (
            f"run {run}",
            (
                inputs[i]["model"],
                {
                    k.removeprefix("latent_"): v
                    for k, v in inputs[i].items()
                    if k.startswith("latent_")
                },
                data,
                inputs[i]["samples"],
                outputs[i]["table"],
                outputs[i]["summary"],
                [outputs[i]["png"], outputs[i]["pdf"]],
                snakemake.params.seeds[i],
                snakemake.params.signal_region,
                snakemake.params.feature_set,
            ),
        )
        for i, run in enumerate(runs)
    ],
)
