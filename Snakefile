# Resonant anomaly detection: CATHODE / LaCATHODE enhanced bump hunts, reproducibly.
# Run from the repository root:  snakemake --cores all   (see README.md)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/toy.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/flow.smk"
include: "workflow/rules/classifier.smk"
include: "workflow/rules/bumphunt.smk"
include: "workflow/rules/ditau.smk"
include: "workflow/rules/null.smk"


rule all:
    """Every study listed in `studies` (config/config.yaml)."""
    default_target: True
    input:
        targets.all_targets(config),
