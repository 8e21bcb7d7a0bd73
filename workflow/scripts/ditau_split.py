"""Split the selected di-tau events: SB flow train/val, SR train/val/test, signal test/pool."""

from resonant_ad.pipeline.smk import script_run
from resonant_ad.studies.ditau.study import write_split

parts = {
    k: v for k, v in snakemake.output.items() if not k.startswith("signal_") and k != "summary"
}
signals = {k[len("signal_") :]: v for k, v in snakemake.output.items() if k.startswith("signal_")}
script_run(
    snakemake,
    write_split,
    snakemake.input.events,
    parts,
    signals,
    snakemake.output.summary,
    snakemake.params.split,
)
