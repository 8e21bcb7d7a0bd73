"""Raw LHCO HDF5 files → prepared parquet tables (mJJ, jet features, label; TeV)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.dijet.data import prepare

script_run(
    snakemake,
    prepare,
    snakemake.input.features,
    snakemake.input.extra,
    snakemake.output.events,
    snakemake.output.extra,
    verify_checksums=snakemake.params.verify,
    extra_region=snakemake.params.signal_region,
)
