"""SR/SB and train/val/test split of one injection in one feature set."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.stages.parts import SPLIT_PARTS
from resonant_ad.studies.dijet.data import write_split

script_run(
    snakemake,
    write_split,
    snakemake.input.data,
    snakemake.input.unused,
    snakemake.input.extra,
    {part: getattr(snakemake.output, part) for part in SPLIT_PARTS},
    snakemake.params.spec,
    snakemake.params.study,
    int(snakemake.wildcards.nsig),
)
