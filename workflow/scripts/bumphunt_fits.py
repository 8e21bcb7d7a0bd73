"""The bump-hunt fits of run 0 of one injection: a row per method, a column per ε."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.bumphunt_figures import write_fits

script_run(
    snakemake,
    write_fits,
    snakemake.params.records,
    [snakemake.output.png, snakemake.output.pdf],
    snakemake.params.window,
    snakemake.params.title,
)
