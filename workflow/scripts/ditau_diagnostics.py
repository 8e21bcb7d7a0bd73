"""The di-tau background model's diagnostics: real vs synthetic per feature, the features a
classifier uses, and where the no-signal classifiers select."""

from resonant_ad.pipeline.patterns import DITAU_DIAGNOSTIC_TABLES
from resonant_ad.pipeline.smk import script_run
from resonant_ad.stages.parts import DITAU_BACKGROUND_PARTS, DITAU_SR_PARTS
from resonant_ad.studies.ditau.diagnostics import write_diagnostics

script_run(
    snakemake,
    write_diagnostics,
    [snakemake.input[k] for k in DITAU_BACKGROUND_PARTS if k not in DITAU_SR_PARTS],
    [snakemake.input[k] for k in DITAU_SR_PARTS],
    snakemake.input.sr_test,
    snakemake.input.samples,
    {k.removeprefix("scores_"): v for k, v in snakemake.input.items() if k.startswith("scores_")},
    {k: snakemake.output[k] for k in DITAU_DIAGNOSTIC_TABLES},
    [v for k, v in snakemake.output.items() if k.startswith("figure_")],
    snakemake.params.efficiency,
    snakemake.params.seed,
)
