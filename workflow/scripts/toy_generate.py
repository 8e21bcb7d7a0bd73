"""Generate the toy dataset for one correlation c."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.toy.data import write_toy_dataset

script_run(
    snakemake, write_toy_dataset, snakemake.output[0], snakemake.wildcards.c, snakemake.params.toy
)
