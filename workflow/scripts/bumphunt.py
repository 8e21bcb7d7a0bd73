"""SB fit, SR prediction and local significance of one classifier run at each efficiency."""

from resonant_ad.stats.bumphunt import write_bump_hunt
from resonant_ad.workflow.smk import script_run

script_run(
    snakemake,
    write_bump_hunt,
    snakemake.input.scores,
    dict(snakemake.output.items()),
    snakemake.params.window,
    snakemake.params.bumphunt,
    snakemake.params.labels,
)
