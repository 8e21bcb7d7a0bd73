"""Generate the offline di-tau sample (object table) of every configured process."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.ditau.generate import write_generated

cfg = snakemake.params.surrogate
script_run(snakemake, write_generated, cfg["counts"], cfg["seed"], snakemake.output[0])
