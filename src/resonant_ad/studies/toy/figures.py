"""Toy study figures: Figs. 3, 4 and 5 of the LaCATHODE paper and a χ²/n_dof summary."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv, read_parquet
from resonant_ad.core.plotting import COLORS, new_figure, save_figure, shade_region
from resonant_ad.core.regions import in_window
from resonant_ad.studies.toy.analysis import select_run
from resonant_ad.studies.toy.data import features


def plot_m_distribution(
    data: str | os.PathLike[str], outputs: Sequence[str], params: Mapping[str, Any]
) -> None:
    """Fig. 3: the uniform m distribution of the "data" set with the SR shaded."""
    m = read_parquet(data, ["set", "m"]).query("set == 'data'")["m"].to_numpy()
    fig, ax = new_figure(figsize=(5, 3.5))
    lo, hi = params["m_range"]
    ax.hist(m, bins=100, range=(lo, hi), histtype="step", color="k", label='"data"')
    shade_region(ax, params["signal_region"])
    ax.set_xlabel("m")
    ax.set_ylabel("events / bin")
    ax.set_title(f"Toy model: m ~ U[{lo:g}, {hi:g}]")
    ax.set_ylim(0, None)
    ax.legend(loc="lower center")
    save_figure(fig, *outputs)


def _feature_panel(ax, df: pd.DataFrame, space: str, c: float, params: Mapping[str, Any]) -> None:
    """Distribution of the first classifier input in the SR and at both ends of the SB."""
    data = df[df["set"] == "data"]
    m = data["m"].to_numpy()
    f = features(data, space, c)[:, 0]
    window = params["signal_region"]
    lo, hi = (float(v) for v in params["m_range"])
    slices = [
        (f"SB: m < {lo + 1:g}", m < lo + 1, "#9467bd"),
        ("SR", in_window(m, window), "k"),
        (f"SB: m > {hi - 1:g}", m > hi - 1, "#ff7f0e"),
    ]
    for label, mask, color in slices:
        ax.hist(
            f[mask], bins=60, range=(-5, 5), density=True, histtype="step", color=color, label=label
        )
    name = "x_1" if space == "x" else "z_1 = x_1 - c\\,m"
    ax.set_xlabel(f"${name}$")
    ax.set_ylabel("normalized")
    ax.set_title(f"{space} space, c = {c:g}")
    ax.legend(loc="upper right", fontsize=8)


def _selected_m_panel(
    ax, score_paths: Sequence[str], params: Mapping[str, Any], chi2: Sequence[float], title: str
) -> None:
    """m of the events passing the 1%-in-SR cut, one line per run, against the flat expectation."""
    lo, hi = params["m_range"]
    bins = np.linspace(lo, hi, 41)
    eff = float(params["selection_efficiency"])
    fractions, n_all = [], 0
    for i, path in enumerate(score_paths):
        scores = read_parquet(path, ["m", "score", "in_sr"])
        selected = select_run(scores, eff)
        n_all = len(scores)
        fractions.append(selected.mean())
        m_sel = scores["m"].to_numpy()[selected]
        ax.hist(m_sel, bins=bins, histtype="step", label=f"run {i}: χ²/ndof = {chi2[i]:.1f}")
    # χ² compares shapes: the reference is flat at the fraction actually selected overall,
    # which differs from the nominal SR efficiency by the SR quantile's statistical error.
    mean_fraction = float(np.mean(fractions))
    ax.axhline(
        mean_fraction * n_all / (len(bins) - 1),
        color="k",
        ls="--",
        lw=1,
        label=f"flat at the mean selected fraction ({100 * mean_fraction:.2f}%)",
    )
    shade_region(ax, params["signal_region"], label=None)
    ax.set_xlabel("m")
    ax.set_ylabel("selected events / bin")
    ax.set_title(title)
    ax.set_ylim(0, 1.4 * ax.get_ylim()[1])  # room for the legend above the histograms
    ax.legend(loc="upper left", fontsize=8, ncol=2)


def plot_sculpting_grid(
    panels: Sequence[Mapping[str, Any]],
    table: str | os.PathLike[str],
    outputs: Sequence[str],
    params: Mapping[str, Any],
) -> None:
    """Figs. 4 and 5: per row, the feature distributions (left) and m after the cut (right).

    ``panels`` has one entry per row: ``c``, ``space``, ``data`` (dataset path) and
    ``scores`` (the runs' score paths, in run order).
    """
    chi2 = read_csv(table)
    fig, axes = new_figure(len(panels), 2, figsize=(10, 3.6 * len(panels)), squeeze=False)
    for row, panel in zip(axes, panels, strict=True):
        c, space = float(panel["c"]), panel["space"]
        df = read_parquet(panel["data"])
        _feature_panel(row[0], df, space, c, params)
        values = chi2[(chi2["c"] == c) & (chi2["space"] == space)].sort_values("run")["chi2_ndof"]
        _selected_m_panel(
            row[1],
            panel["scores"],
            params,
            list(values),
            f"after R({space}) cut keeping {100 * float(params['selection_efficiency']):g}% of SR",
        )
    save_figure(fig, *outputs)


def plot_sculpting_summary(table: str | os.PathLike[str], outputs: Sequence[str]) -> None:
    """χ²/n_dof of every run per (c, space), against the random-subset band."""
    summary = read_csv(table)
    fig, ax = new_figure(figsize=(5.5, 3.5))
    labels = [f"c={c:g}, {s}" for c, s in zip(summary["c"], summary["space"], strict=True)]
    pos = np.arange(len(summary))
    ax.fill_between(
        [-0.5, len(pos) - 0.5],
        summary["random_q16"].min(),
        summary["random_q84"].max(),
        color=COLORS["reference"],
        alpha=0.6,
        label="random subsets (16–84%)",
    )
    colors = [COLORS[s] for s in summary["space"]]
    ax.scatter(pos, summary["median"], c=colors, zorder=3, label="median over runs")
    ax.vlines(pos, summary["q16"], summary["q84"], colors=colors)
    ax.set_yscale("log")
    ax.set_xticks(pos, labels)
    ax.set_ylabel("χ²/n$_{dof}$ after the cut")
    ax.legend(loc="upper left", fontsize=8)
    save_figure(fig, *outputs)
