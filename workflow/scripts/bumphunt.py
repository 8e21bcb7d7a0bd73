"""SB fit, SR prediction and local significance of each classifier run of a group (every
method) at each efficiency."""

from resonant_ad.pipeline.smk import group_files, run_each, script_run
from resonant_ad.stats.bumphunt import write_bump_hunt

runs, inputs, outputs = group_files(snakemake)
methods = snakemake.params.methods
script_run(
    snakemake,
    run_each,
    write_bump_hunt,
    [
        (
            f"run {run}, {method}",
            (
                inputs[i][f"scores_{method}"],
                {key: outputs[i][f"{key}_{method}"] for key in ("results", "bins")},
                snakemake.params.window,
                snakemake.params.bumphunt,
                {
                    "method": method,
                    "injection": int(snakemake.wildcards.nsig),
                    "run": run,
                    "window": snakemake.wildcards.window,
                },
            ),
        )
        for i, run in enumerate(runs)
        for method in methods
    ],
)
