"""The SR window scan: local and global significance per window and method, table and figure."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.bumphunt_figures import write_scan

script_run(
    snakemake,
    write_scan,
    snakemake.params.records,
    dict(snakemake.output.items()),
    snakemake.params.signal_region,
    snakemake.params.title,
    snakemake.params.bumphunt,
    snakemake.params.toys,
    snakemake.params.seed,
    snakemake.threads,
)
