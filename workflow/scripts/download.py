"""Download one dataset file (URLs and md5 from the study's config) with verification."""

from resonant_ad.core.download import download
from resonant_ad.pipeline.smk import script_run

spec = snakemake.params.spec
script_run(snakemake, download, spec["urls"], snakemake.output[0], spec.get("md5"))
