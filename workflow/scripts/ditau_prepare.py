"""Select di-tau events (Sec. IV) and compute their features (simplex coordinates, MET, HT, dR)."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.ditau.data import write_prepared

script_run(
    snakemake,
    write_prepared,
    list(snakemake.input),
    snakemake.output.events,
    snakemake.output.cutflow,
    snakemake.params.selection,
    snakemake.params.features,
    snakemake.params.seed,
    sources=snakemake.params.sources,
)
