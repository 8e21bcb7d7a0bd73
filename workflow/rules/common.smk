# Shared set-up: config validation (defaults filled in from the schema) and the wildcard
# constraints. Helpers live in the package (resonant_ad.paths / .config / .smk).
from snakemake.utils import validate

from resonant_ad import paths
from resonant_ad.methods import METHODS
from resonant_ad.config import (
    check_dijet_study,
    coerce_strings,
    config_slice,
    load_schema,
    resource,
)
from resonant_ad.seeding import derive_seed, run_seed
from resonant_ad.smk import source_hash

# Nested `--config` values arrive as strings: re-read them where the schema wants numbers,
# then validate (which also fills in the schema's defaults).
CONFIG_SCHEMA = "../schemas/config.schema.yaml"
config.update(coerce_strings(dict(config), load_schema(workflow.source_path(CONFIG_SCHEMA))))
validate(config, CONFIG_SCHEMA)
for _study in config["studies"]:
    if _study not in config:
        raise ValueError(f"config: study {_study!r} is listed in `studies` but has no section")
    if _study in paths.DIJET_STUDIES:
        check_dijet_study(config, _study)

ENV = "../../envs/resonant-ad.yaml"


wildcard_constraints:
    c=r"[0-9]+(\.[0-9]+)?(e-?[0-9]+)?",
    space="x|z",
    run=r"[0-9]+",
    study="|".join(paths.DIJET_STUDIES),
    feature_set=r"[A-Za-z][A-Za-z0-9]*",
    nsig=r"[0-9]+",
    filename=r"[^/]+",
    part="|".join(paths.SPLIT_PARTS),
    method="|".join(METHODS),
    testset="|".join(paths.TEST_SETS),
    signal=r"[A-Za-z][A-Za-z0-9_]*",
    sigma=r"[0-9]+(\.[0-9]+)?",
    repeat=r"[0-9]+",
    window=r"[0-9.]+-[0-9.]+",
