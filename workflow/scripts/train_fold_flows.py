"""Train the bump hunt's cross-fitted flows of a group of runs: per fold, on the SB data
outside it."""

from resonant_ad.pipeline.smk import group_files, script_run
from resonant_ad.stages.mapping import train_fold_flows

k = int(snakemake.params.folds)
outputs = [
    [{"model": o[f"model{f}"], "history": o[f"history{f}"]} for f in range(k)]
    for o in group_files(snakemake)[2]
]
script_run(
    snakemake,
    train_fold_flows,
    {p: getattr(snakemake.input, p) for p in ("sb_train", "sb_val", "sb_test")},
    outputs,
    snakemake.params.flow,
    snakemake.params.seeds,
    snakemake.params.fold_seed,
    mass=snakemake.params.mass,
)
