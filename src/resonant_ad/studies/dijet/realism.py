"""How close a dijet study's data is to the real LHCO R&D signal region: the realism check.

The reference (package data in ``reference/`` beside this module, see its README)
summarises the real SR events of the CATHODE paper's release per class: quantiles, means and
standard deviations of every feature, their pairwise Pearson correlations, and the QCD
feature means in four mJJ slices.
:func:`compare` puts a study's prepared SR events (surrogate or downloaded) next to them:

- per class and feature, the KS distance at the reference quantiles, max_k |F(q_k) − p_k|
  with F the study's empirical CDF (the exact KS distance is at least this), and each
  quantile's difference;
- per class and pair, the correlation difference;
- per mJJ slice and feature, the pull of the QCD mean, (mean − ref) / √(σ²/n_ref + σ²/n).

Each row is flagged against its target (:data:`TARGETS`): the surrogate was calibrated to
meet all of them on ≥ 100k events per class, so a flag on a surrogate means the generator
changed, and on real data it measures how far the files are from the reference's events.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv, read_parquet, write_csv
from resonant_ad.core.regions import in_window

log = logging.getLogger(__name__)

#: the reference files: package data, installed with the package (see its README.md)
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
MARGINALS = "lhco_rnd_sr_marginals.csv"
CORRELATIONS = "lhco_rnd_sr_correlations.csv"
SLICES = "lhco_rnd_sr_background_vs_mjj.csv"
#: the three reference files, as the ``realism_check`` rule's inputs
REFERENCE_FILES = tuple(str(REFERENCE_DIR / f) for f in (MARGINALS, CORRELATIONS, SLICES))
FEATURES = ("mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2")
QUANTILES = {"q01": 0.01, "q05": 0.05, "q10": 0.10, "q25": 0.25, "q50": 0.50}
QUANTILES |= {"q75": 0.75, "q90": 0.90, "q95": 0.95, "q99": 0.99}
CLASSES = {"background": 0, "signal": 1}
#: targets per check: KS distance, |correlation difference|, |pull| of a slice mean
TARGETS = {"ks": 0.05, "correlation": 0.05, "slice_pull": 3.0}


def load_reference(directory: str | os.PathLike[str] = REFERENCE_DIR) -> dict[str, pd.DataFrame]:
    """The three reference tables (marginals, correlations, slices)."""
    d = Path(directory)
    return {
        "marginals": read_csv(d / MARGINALS),
        "correlations": read_csv(d / CORRELATIONS),
        "slices": read_csv(d / SLICES),
    }


def ks_at_quantiles(
    values: np.ndarray, quantiles: Sequence[float], probs: Sequence[float]
) -> float:
    """max_k |F(q_k) − p_k|: the KS distance between ``values`` and a CDF known at (q_k, p_k)."""
    v = np.sort(np.asarray(values, dtype=float))
    if v.size == 0:
        return float("nan")
    F = np.searchsorted(v, np.asarray(quantiles, dtype=float), side="right") / v.size
    return float(np.max(np.abs(F - np.asarray(probs, dtype=float))))


def marginal_rows(
    events: Mapping[str, pd.DataFrame], marginals: pd.DataFrame
) -> list[dict[str, object]]:
    """One row per class and feature: KS at the quantiles, quantile and moment differences."""
    rows = []
    for cls, df in events.items():
        for feature in FEATURES:
            ref = marginals[(marginals["class"] == cls) & (marginals["feature"] == feature)]
            if ref.empty or df.empty:
                continue
            r = ref.iloc[0]
            values = df[feature].to_numpy(dtype=float)
            q_ref = r[list(QUANTILES)].to_numpy(dtype=float)
            q_own = np.quantile(values, list(QUANTILES.values()))
            row = {
                "check": "marginal",
                "class": cls,
                "feature": feature,
                "n": len(values),
                "n_reference": int(r["n"]),
                "value": ks_at_quantiles(values, q_ref, list(QUANTILES.values())),
                "target": TARGETS["ks"],
                "mean_diff": float(values.mean() - r["mean"]),
                "std_diff": float(values.std() - r["std"]),
            }
            row |= {
                f"{k}_diff": float(a - b) for k, a, b in zip(QUANTILES, q_own, q_ref, strict=True)
            }
            rows.append(row)
    return rows


def correlation_rows(
    events: Mapping[str, pd.DataFrame], correlations: pd.DataFrame
) -> list[dict[str, object]]:
    """One row per class and feature pair: the study's Pearson correlation minus the reference."""
    rows = []
    for _, r in correlations.iterrows():
        df = events.get(r["class"])
        if df is None or len(df) < 3:
            continue
        own = float(np.corrcoef(df[r["feature_a"]], df[r["feature_b"]])[0, 1])
        rows.append(
            {
                "check": "correlation",
                "class": r["class"],
                "feature": f"{r['feature_a']}:{r['feature_b']}",
                "n": len(df),
                "value": own - float(r["pearson"]),
                "target": TARGETS["correlation"],
                "own": own,
                "reference": float(r["pearson"]),
            }
        )
    return rows


def slice_rows(
    background: pd.DataFrame, slices: pd.DataFrame, marginals: pd.DataFrame
) -> list[dict[str, object]]:
    """One row per mJJ slice and jet feature: the pull of the QCD mean against the reference."""
    rows = []
    stds = marginals[marginals["class"] == "background"].set_index("feature")["std"]
    m = background["mjj"].to_numpy()
    for _, r in slices.iterrows():
        part = background[(m > r["mjj_lo"]) & (m < r["mjj_hi"])]
        for feature in FEATURES[1:]:
            if part.empty:
                continue
            mean = float(part[feature].mean())
            err = float(stds[feature]) * np.sqrt(1.0 / r["n"] + 1.0 / len(part))
            rows.append(
                {
                    "check": "slice_mean",
                    "class": "background",
                    "feature": f"{feature}@{r['mjj_lo']:g}-{r['mjj_hi']:g}",
                    "n": len(part),
                    "n_reference": int(r["n"]),
                    "value": (mean - float(r[f"mean_{feature}"])) / err,
                    "target": TARGETS["slice_pull"],
                    "own": mean,
                    "reference": float(r[f"mean_{feature}"]),
                }
            )
    return rows


def sr_classes(
    events: pd.DataFrame, extra: pd.DataFrame | None, window: Sequence[float]
) -> dict[str, pd.DataFrame]:
    """SR background (the events' and the extra SR sample's) and SR signal of a study."""
    sr = events[in_window(events["mjj"].to_numpy(), window)]
    background = [sr[sr["label"] == 0]]
    if extra is not None:
        background.append(extra[in_window(extra["mjj"].to_numpy(), window)])
    return {
        "background": pd.concat(background, ignore_index=True),
        "signal": sr[sr["label"] == 1].reset_index(drop=True),
    }


def compare(
    events: Mapping[str, pd.DataFrame], reference: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Every check of :func:`marginal_rows`, :func:`correlation_rows` and :func:`slice_rows`.

    ``events`` maps class name to the study's SR events of that class. ``within_target`` is
    |value| ≤ target.
    """
    rows = marginal_rows(events, reference["marginals"])
    rows += correlation_rows(events, reference["correlations"])
    if "background" in events and not events["background"].empty:
        rows += slice_rows(events["background"], reference["slices"], reference["marginals"])
    table = pd.DataFrame(rows)
    table["within_target"] = table["value"].abs() <= table["target"]
    return table


def realism_figure(
    events: Mapping[str, pd.DataFrame], marginals: pd.DataFrame, title: str, outputs: Sequence[str]
) -> None:
    """The study's CDF of every feature per class, with the reference quantiles as points."""
    from resonant_ad.core.plotting import new_figure, save_figure

    labels = {
        "mjj": r"$m_{JJ}$ [TeV]",
        "mj1": r"$m_{J1}$ [TeV]",
        "delta_mj": r"$\Delta m_J$ [TeV]",
        "tau21_j1": r"$\tau_{21}^{J1}$",
        "tau21_j2": r"$\tau_{21}^{J2}$",
    }
    fig, axes = new_figure(len(CLASSES), len(FEATURES), figsize=(14, 5.2), squeeze=False)
    for i, cls in enumerate(CLASSES):
        df = events.get(cls, pd.DataFrame())
        for j, feature in enumerate(FEATURES):
            ax = axes[i][j]
            ref = marginals[(marginals["class"] == cls) & (marginals["feature"] == feature)]
            if not ref.empty:
                q = ref.iloc[0][list(QUANTILES)].to_numpy(dtype=float)
                ax.plot(q, list(QUANTILES.values()), "ko", ms=4, label="real R&D (quantiles)")
            if not df.empty:
                v = np.sort(df[feature].to_numpy(dtype=float))
                lo, hi = np.quantile(v, [0.001, 0.999])
                inside = (v >= lo) & (v <= hi)
                cdf = np.arange(1, v.size + 1) / v.size
                ax.plot(v[inside], cdf[inside], color="#1f77b4", label=f"this study ({len(v):,})")
                ks = ks_at_quantiles(v, q, list(QUANTILES.values())) if not ref.empty else np.nan
                ax.set_title(f"{cls}: KS at quantiles {ks:.3f}", fontsize=8)
            ax.set_xlabel(labels[feature])
            if j == 0:
                ax.set_ylabel("cumulative fraction")
                ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title, fontsize=10)
    save_figure(fig, *outputs)


def write_realism_check(
    events_path: str,
    extra_path: str,
    outputs: Mapping[str, str],
    signal_region: Sequence[float],
    title: str,
    reference_dir: str | os.PathLike[str] = REFERENCE_DIR,
) -> pd.DataFrame:
    """Compare a study's prepared SR events with the reference; write the table and figure.

    Checks outside their target are logged as warnings (and flagged in the table).
    """
    reference = load_reference(reference_dir)
    events = sr_classes(read_parquet(events_path), read_parquet(extra_path), signal_region)
    table = compare(events, reference)
    write_csv(table, outputs["table"])
    realism_figure(events, reference["marginals"], title, [outputs["png"], outputs["pdf"]])
    bad = table[~table["within_target"]]
    for _, r in bad.iterrows():
        log.warning(
            "%s %s %s: %.4g beyond the target %g",
            r["check"],
            r["class"],
            r["feature"],
            r["value"],
            r["target"],
        )
    log.info(
        "realism: %d of %d checks within target (%s)",
        int(table["within_target"].sum()),
        len(table),
        {k: len(v) for k, v in events.items()},
    )
    return table
