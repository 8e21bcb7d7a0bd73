"""The analytic 1+2D toy of LaCATHODE Sec. III: how x–m correlations make a cut sculpt m.

m ~ U[m_lo, m_hi] and x ~ N(c·m, 1)² in two independent sets, "data" and "sample", with no
signal anywhere. A classifier trained in the SR to tell "data" from "sample" learns only
noise; cutting on it in the SB then sculpts m when c is large, because the SB x values lie
outside what the classifier saw. The perfect flow's latent space z = x − c·m (Eq. 4) is
independent of m, so a classifier there cannot sculpt.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import write_parquet
from resonant_ad.core.regions import split_labels
from resonant_ad.core.seeding import rng

log = logging.getLogger(__name__)

SETS = ("data", "sample")
SPACES = ("x", "z")
FEATURES = ("x1", "x2")


def generate_toy(
    n_events: int,
    c: float,
    m_range: Sequence[float],
    split: Mapping[str, float],
    seed: int,
) -> pd.DataFrame:
    """Both toy sets: columns ``set, split, m, x1, x2`` with ``n_events`` rows per set.

    The streams are named by set only (not by c), so the c = 0.001 and c = 0.1 datasets
    share their m and noise draws: the difference between them is c alone.
    """
    lo, hi = (float(v) for v in m_range)
    if not lo < hi:
        raise ValueError(f"toy.m_range must satisfy low < high, got {list(m_range)}")
    frames = []
    for name in SETS:
        g = rng(seed, "toy", name)
        m = g.uniform(lo, hi, size=n_events)
        x = float(c) * m[:, None] + g.standard_normal((n_events, 2))
        frames.append(
            pd.DataFrame(
                {
                    "set": name,
                    "split": split_labels(n_events, split, rng(seed, "toy-split", name)),
                    "m": m.astype(np.float32),
                    "x1": x[:, 0].astype(np.float32),
                    "x2": x[:, 1].astype(np.float32),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def features(df: pd.DataFrame, space: str, c: float) -> np.ndarray:
    """The classifier inputs: x itself, or the perfect flow's latent z = x − c·m (Eq. 4)."""
    x = df[list(FEATURES)].to_numpy(dtype=np.float64)
    if space == "x":
        return x
    if space == "z":
        return x - float(c) * df["m"].to_numpy(dtype=np.float64)[:, None]
    raise ValueError(f"space must be one of {SPACES}, got {space!r}")


def write_toy_dataset(output: str | os.PathLike[str], c: str, params: Mapping[str, Any]) -> None:
    """Generate the toy for correlation ``c`` and write it as parquet."""
    df = generate_toy(
        params["n_events"], float(c), params["m_range"], params["split"], params["seed"]
    )
    write_parquet(df, output)
    log.info("wrote %d events (c = %s) to %s", len(df), c, output)
