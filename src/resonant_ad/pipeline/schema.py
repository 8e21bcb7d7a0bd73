"""The config schema as data: reading it and following its local ``$ref``s.

Both the string coercion (:mod:`resonant_ad.pipeline.config`) and the checks
(:mod:`resonant_ad.pipeline.guards`) walk the schema; this module is what they share.
"""

from __future__ import annotations

import os
from typing import Any

import yaml


def load_schema(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML/JSON schema file."""
    with open(path) as fh:
        return yaml.safe_load(fh)


def resolve_ref(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with a local ``$ref`` (``#/$defs/…``) replaced by its target, own keys kept."""
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target[part]
        return {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema
