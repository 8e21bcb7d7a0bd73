"""Raw LHCO HDF5 files → prepared parquet tables (mJJ, jet features, label; TeV)."""

from resonant_ad.studies.dijet.data import prepare
from resonant_ad.workflow.smk import script_run

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
