"""Latent-space checks and the real-vs-synthetic AUC of each run's flow."""

from resonant_ad.pipeline.smk import group_files, run_each, script_run
from resonant_ad.stages.checks import flow_diagnostics

runs, inputs, outputs = group_files(snakemake)
data = {
    "sb_test": snakemake.input.data_sb,
    "sr_test": snakemake.input.data_sr,
    "extra_test": snakemake.input.data_extra,
}
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
                    "sb_test": inputs[i]["latent_sb"],
                    "sr_test": inputs[i]["latent_sr"],
                    "extra_test": inputs[i]["latent_extra"],
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
