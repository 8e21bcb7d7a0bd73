"""Null study: one dataset's signal AUC and bump-hunt Z per method and its controls' Z."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.null import write_null_run

files = dict(snakemake.input.items())
script_run(
    snakemake,
    write_null_run,
    int(snakemake.wildcards.data_seed),
    snakemake.wildcards.feature_set,
    {k.removeprefix("scores_"): v for k, v in files.items() if k.startswith("scores_")},
    {k.removeprefix("summary_"): v for k, v in files.items() if k.startswith("summary_")},
    {k.removeprefix("bumphunt_"): v for k, v in files.items() if k.startswith("bumphunt_")},
    snakemake.output[0],
    files["data_scores"],
    snakemake.params.window,
    snakemake.params.bumphunt,
    snakemake.params.seed,
    files["flow_diagnostics"],
)
