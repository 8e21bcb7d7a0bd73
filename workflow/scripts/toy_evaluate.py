"""χ²/ndof sculpting table of the toy runs."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.toy.analysis import write_sculpting

runs = [
    (*run, path) for run, path in zip(snakemake.params.runs, snakemake.input.scores, strict=True)
]
script_run(
    snakemake,
    write_sculpting,
    runs,
    snakemake.output.table,
    snakemake.output.summary,
    snakemake.params.toy,
)
