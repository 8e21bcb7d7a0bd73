"""Train the conditional flows of a group of runs (one model, its members) on the SB data."""

from resonant_ad.pipeline.smk import group_files, script_run
from resonant_ad.stages.flows import train_flows

outputs = [
    {"model": o["model"], "history": o["history"], "figures": [o["png"], o["pdf"]]}
    for o in group_files(snakemake)[2]
]
script_run(
    snakemake,
    train_flows,
    snakemake.input.sb_train,
    snakemake.input.sb_val,
    outputs,
    snakemake.params.flow,
    snakemake.params.seeds,
    mass=snakemake.params.mass,
    mixture=getattr(snakemake.params, "mixture", False),
)
