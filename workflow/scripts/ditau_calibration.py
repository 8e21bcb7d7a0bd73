"""The di-tau no-signal calibration: the flow's no-signal AUC and SIC beside the reference's."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.ditau.reference import write_calibration

script_run(
    snakemake,
    write_calibration,
    snakemake.input.metrics,
    list(snakemake.input.scores),
    snakemake.output[0],
    float(snakemake.params.evaluation["selection_efficiency"]),
    int(snakemake.params.evaluation["sic_min_background"]),
    list(snakemake.input.flow_trainings),
    list(snakemake.input.reference_trainings),
)
