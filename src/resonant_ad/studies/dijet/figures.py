"""Dijet data overview: mJJ spectrum and every feature per region, with their mJJ correlation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from resonant_ad.core.io import read_parquet, write_csv
from resonant_ad.core.plotting import (
    COLORS,
    density_step,
    feature_label,
    new_figure,
    save_figure,
    shade_region,
)
from resonant_ad.studies.dijet.data import build_features, feature_correlations


def plot_data_overview(
    events_path: str | os.PathLike[str],
    figure_outputs: Sequence[str],
    correlations_out: str | os.PathLike[str],
    feature_sets: Mapping[str, Mapping[str, Any]],
    signal_region: Sequence[float],
) -> None:
    """mJJ of background and signal, and each feature of each set in SB-low / SR / SB-high."""
    events = read_parquet(events_path)
    corr = feature_correlations(events, feature_sets)
    write_csv(corr, correlations_out)

    panels: list[tuple[str, str, Mapping[str, Any]]] = []  # (title, column, spec)
    seen: set[str] = set()
    for name, spec in feature_sets.items():
        shifted = set((spec.get("shift") or {}).get("columns", []))
        for col in spec["features"]:
            key = f"{col}+shift" if col in shifted else col
            if key not in seen:
                seen.add(key)
                panels.append((name if col in shifted else "", col, spec))
    ncols = 3
    nrows = int(np.ceil((len(panels) + 1) / ncols))
    fig, axes = new_figure(nrows, ncols, figsize=(4.2 * ncols, 3.3 * nrows), squeeze=False)
    axes = axes.ravel()

    mjj = events["mjj"].to_numpy()
    is_sig = events["label"].to_numpy() == 1
    ax = axes[0]
    bins = np.linspace(np.quantile(mjj, 0.0005), np.quantile(mjj, 0.999), 80)
    ax.hist(mjj[~is_sig], bins=bins, histtype="step", color="k", label="background")
    ax.hist(mjj[is_sig], bins=bins, histtype="step", color=COLORS["cathode"], label="signal (all)")
    shade_region(ax, signal_region)
    ax.set_yscale("log")
    ax.set_xlabel("$m_{JJ}$ [TeV]")
    ax.set_ylabel("events / bin")
    ax.legend(fontsize=8)

    lo, hi = signal_region
    regions = [
        (f"bkg, $m_{{JJ}}$ < {lo:g}", mjj < lo, "#9467bd"),
        ("bkg, SR", (mjj > lo) & (mjj < hi), "k"),
        (f"bkg, $m_{{JJ}}$ > {hi:g}", mjj > hi, "#ff7f0e"),
    ]
    table = corr.set_index(["feature_set", "feature"])["corr_with_mjj"]
    for ax, (set_name, col, spec) in zip(axes[1:], panels, strict=False):
        values = build_features(events, spec)[col].to_numpy()
        edges = np.linspace(*np.quantile(values, [0.001, 0.995]), 60)
        for label, mask, color in regions:
            density_step(ax, values[mask & ~is_sig], edges, color=color, label=label)
        density_step(ax, values[is_sig], edges, ls="--", color=COLORS["cathode"], label="signal")
        r = (
            table[(set_name or next(iter(feature_sets)), col)]
            if set_name
            else _corr_any(table, col)
        )
        ax.set_xlabel(feature_label(col, spec if set_name else None))
        ax.set_ylabel("normalized")
        ax.set_title(f"corr(bkg, $m_{{JJ}}$) = {r:+.3f}", fontsize=9)
    axes[1].legend(fontsize=7)
    for ax in axes[len(panels) + 1 :]:
        ax.set_visible(False)
    save_figure(fig, *figure_outputs)


def _corr_any(table, col: str) -> float:
    """The correlation of an unshifted feature (the same in every set that has it)."""
    return float(table.xs(col, level="feature").iloc[0])
