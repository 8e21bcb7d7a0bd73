"""Train the bump hunt's cross-fitted flows of a group of runs: each on the SB data outside
the folds it maps."""

from resonant_ad.pipeline.smk import group_files, script_run
from resonant_ad.stages.mapping import train_cross_flows

outputs = [
    [{"model": o[f"model{g}"], "history": o[f"history{g}"]} for g in range(snakemake.params.flows)]
    for o in group_files(snakemake)[2]
]
script_run(
    snakemake,
    train_cross_flows,
    {p: getattr(snakemake.input, p) for p in ("sb_train", "sb_val", "sb_test")},
    outputs,
    snakemake.params.flow,
    snakemake.params.seeds,
    snakemake.params.folds,
    snakemake.params.fold_seed,
    mass=snakemake.params.mass,
)
