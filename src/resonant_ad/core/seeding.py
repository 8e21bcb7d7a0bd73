"""Seeds: every random draw in the project is derived from one config seed plus a name.

Deriving child seeds by hashing stable names (not by Python's salted ``hash``) means the
same config gives the same numbers in every process, and independent streams never collide.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_to_int(name: object) -> int:
    """Map a name (any value with a stable ``str``) to a 32-bit integer, stably across runs."""
    return int.from_bytes(hashlib.sha256(str(name).encode()).digest()[:4], "little")


def derive_seed(base_seed: int, *names: object) -> int:
    """A 32-bit seed for the stream called ``names`` under ``base_seed``.

    >>> derive_seed(1, "toy", "data") == derive_seed(1, "toy", "data")
    True
    """
    if int(base_seed) < 0:
        raise ValueError(f"seed must be non-negative, got {base_seed}")
    seq = np.random.SeedSequence([int(base_seed), *(_name_to_int(n) for n in names)])
    return int(seq.generate_state(1, dtype=np.uint32)[0])


def rng(base_seed: int, *names: object) -> np.random.Generator:
    """A numpy Generator for the stream ``names`` under ``base_seed``."""
    return np.random.default_rng(derive_seed(base_seed, *names))


def run_seed(study_seed: int, stage: str, feature_set: str, nsig: int | str, run: int | str) -> int:
    """The seed of one stage (flow, classifier, …) of one run of a dijet study."""
    return derive_seed(study_seed, stage, feature_set, int(nsig), int(run))
