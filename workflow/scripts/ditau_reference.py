"""One repeat's di-tau no-signal reference: SR data against true SR background."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.stages.parts import DITAU_SR_PARTS
from resonant_ad.studies.ditau.reference import train_reference

script_run(
    snakemake,
    train_reference,
    {k: snakemake.input[k] for k in DITAU_SR_PARTS},
    snakemake.input.background,
    {k.removeprefix("signal_"): v for k, v in snakemake.input.items() if k.startswith("signal_")},
    snakemake.output.scores,
    snakemake.output.summary,
    snakemake.params.classifier,
    snakemake.params.oversampling,
    snakemake.params.seed,
)
