"""The prepared SR events of a dijet study against the real LHCO R&D SR: table and figure."""

from pathlib import Path

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.realism import write_realism_check

script_run(
    snakemake,
    write_realism_check,
    snakemake.input.events,
    snakemake.input.extra,
    {"table": snakemake.output.table, "png": snakemake.output.png, "pdf": snakemake.output.pdf},
    snakemake.params.signal_region,
    snakemake.params.title,
    Path(snakemake.input.reference[0]).parent,
)
