"""Figures of the di-τ study, drawn from its tables (the event-level paper's Figs. 1, 3, 4, 5).

- ``fig1_mvis``: unit-area m_vis of each process after the selection, SR shaded;
- ``fig3_synthetic``: SR background vs synthetic background, every feature (first repeat);
- ``fig4_sic``: SIC vs εB per injection panel, mean ± standard deviation over repeats;
- ``fig5_significance``: σ × SIC(εB = 1 %) vs injected σ per signal, the 5σ line and the
  no-selection diagonal.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv, read_parquet
from resonant_ad.core.plotting import COLORS, density_step, new_figure, save_figure, shade_region
from resonant_ad.stages.flows import feature_columns
from resonant_ad.studies.ditau.study import MASS

#: signal and background colours
PROCESS_COLORS = {
    "drell_yan": "#7f7f7f",
    "ttbar": "#bcbd22",
    "ttphi": "#d62728",
    "tprime": "#1f77b4",
    "xyh": "#2ca02c",
}
LABELS = {
    "drell_yan": r"Drell–Yan $\tau\tau$",
    "ttbar": r"$t\bar{t}$",
    "ttphi": r"$t\bar{t}\Phi$",
    "tprime": r"$T'\bar{T}'$",
    "xyh": r"$X\to YH$",
}
#: panels of Fig. 4 (the paper's injections); others configured are drawn when these are absent
FIG4_PANELS = (0.5, 0.75, 1.0, 2.0)


def _color(name: str, i: int) -> str:
    return PROCESS_COLORS.get(name, f"C{i}")


def plot_mvis(
    events: pd.DataFrame, signal_region: Sequence[float], outputs: Sequence[str | os.PathLike[str]]
) -> None:
    """Fig. 1: unit-area m_vis of every process after the selection."""
    fig, ax = new_figure(figsize=(5.2, 4))
    shade_region(ax, signal_region)
    hi = float(np.quantile(events[MASS], 0.995))
    edges = np.linspace(float(events[MASS].min()), hi, 61)
    for i, (proc, d) in enumerate(events.groupby("process", sort=True)):
        density_step(
            ax, d[MASS], edges, color=_color(str(proc), i), label=LABELS.get(str(proc), str(proc))
        )
    ax.set_xlabel(r"$m_{vis}(\tau\tau)$ [GeV]")
    ax.set_ylabel("normalized density [1/GeV]")
    ax.legend(fontsize=8)
    save_figure(fig, *outputs)


def plot_synthetic(
    real: pd.DataFrame, synthetic: pd.DataFrame, outputs: Sequence[str | os.PathLike[str]]
) -> None:
    """Fig. 3: every feature of the SR background and of the synthetic background."""
    cols = [*feature_columns(real), MASS]
    ncols = 4
    nrows = int(np.ceil(len(cols) / ncols))
    fig, axes = new_figure(nrows, ncols, figsize=(3.0 * ncols, 2.3 * nrows))
    axes = np.atleast_1d(axes).ravel()
    for ax, col in zip(axes, cols, strict=False):
        lo, hi = np.quantile(np.r_[real[col], synthetic[col]], [0.001, 0.995])
        edges = np.linspace(lo, hi, 41)
        density_step(ax, real[col], edges, color="k", label="SR data")
        density_step(ax, synthetic[col], edges, color=COLORS["cathode"], label="synthetic")
        ax.set_xlabel(col)
        ax.set_yscale("log")
    for ax in axes[len(cols) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=7)
    save_figure(fig, *outputs)


def _panels(injections: Sequence[float]) -> list[float]:
    chosen = [s for s in FIG4_PANELS if any(np.isclose(s, injections))]
    return chosen or sorted(injections)[-4:]


def plot_sic(sic: pd.DataFrame, outputs: Sequence[str | os.PathLike[str]]) -> None:
    """Fig. 4: SIC vs εB per injection, mean ± standard deviation over repeats, per signal."""
    panels = _panels(sorted(sic["injection"].unique()))
    ncols = min(2, len(panels))
    nrows = int(np.ceil(len(panels) / ncols))
    fig, axes = new_figure(nrows, ncols, figsize=(4.6 * ncols, 3.6 * nrows), squeeze=False)
    axes = axes.ravel()
    for ax, sigma in zip(axes, panels, strict=False):
        d = sic[np.isclose(sic["injection"], sigma)]
        for i, (sig, ds) in enumerate(d.groupby("signal", sort=True)):
            wide = ds.pivot(index="eps_b", columns="repeat", values="sic")
            mean, std = wide.mean(axis=1), wide.std(axis=1).fillna(0.0)
            ok = wide.notna().sum(axis=1) >= max(1, wide.shape[1] // 2 + wide.shape[1] % 2)
            x = wide.index.to_numpy()[ok]
            color = _color(str(sig), i)
            ax.plot(x, mean[ok], color=color, label=LABELS.get(str(sig), str(sig)))
            ax.fill_between(x, (mean - std)[ok], (mean + std)[ok], color=color, alpha=0.2, lw=0)
        grid = np.logspace(-4, 0, 100)
        ax.plot(grid, np.sqrt(grid), ":", color="k", label="random cut")
        ax.set_xscale("log")
        ax.set_xlim(1e-3, 1)
        ax.set_ylim(bottom=0)
        ax.set_title(rf"injection {sigma:g}$\sigma$", fontsize=10)
        ax.set_xlabel(r"background efficiency $\epsilon_B$")
        ax.set_ylabel(r"SIC = $\epsilon_S/\sqrt{\epsilon_B}$")
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    axes[0].legend(fontsize=8)
    save_figure(fig, *outputs)


def plot_significance(
    summary: pd.DataFrame,
    efficiency: float,
    outputs: Sequence[str | os.PathLike[str]],
    calibration: pd.DataFrame | None = None,
) -> None:
    """Fig. 5: significance after the cut at εB = ``efficiency`` vs the injected σ.

    With an injection-0 run, a dash-dotted line per signal draws σ × (its SIC without signal): what
    the background model and chance alone give; only the excess over it is found signal. With
    the ``calibration`` table, a dotted line per signal draws σ × the largest no-signal SIC of the
    reference (true background): what chance alone gives.
    """
    fig, ax = new_figure(figsize=(5.2, 4))
    top = float(summary["injection"].max())
    x = np.array([0.0, top * 1.1])
    for i, (sig, d) in enumerate(summary.groupby("signal", sort=True)):
        color = _color(str(sig), i)
        ax.errorbar(
            d["injection"],
            d["significance_mean"],
            yerr=d["significance_std"].fillna(0.0),
            marker="o",
            capsize=3,
            color=color,
            label=LABELS.get(str(sig), str(sig)),
        )
        none = d.loc[d["injection"] == 0, "sic_at_eff_mean"]
        if len(none):
            ax.plot(x, x * float(none.iloc[0]), "-.", color=color, lw=1, alpha=0.7)
        if calibration is not None:
            ref = calibration.loc[calibration["signal"] == sig, "reference_sic_max"]
            if len(ref):
                ax.plot(x, x * float(ref.iloc[0]), ":", color=color, lw=1.5, alpha=0.7)
    if (summary["injection"] == 0).any():
        ax.plot([], [], "-.", color="grey", lw=1, label="σ × SIC without signal")
    if calibration is not None:
        ax.plot([], [], ":", color="grey", lw=1.5, label="the same, true background (max)")
    ax.plot(x, x, ":", color="k", label="no anomaly selection")
    ax.axhline(5.0, color="k", ls="--", lw=1, label=r"5$\sigma$")
    ax.set_xlabel(r"injected $S/\sqrt{B}$ (SR, before selection)")
    ax.set_ylabel(rf"$S/\sqrt{{B}}$ after the $\epsilon_B$ = {efficiency:g} cut")
    ax.set_xlim(0, top * 1.1)
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    save_figure(fig, *outputs)


def ditau_figures(
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    signal_region: Sequence[float],
    efficiency: float,
) -> None:
    """Draw the four figures (``outputs``: ``{name}_{ext}`` → path)."""

    def paths(name: str) -> list[str]:
        return [outputs[k] for k in outputs if k.startswith(name + "_")]

    plot_mvis(read_parquet(inputs["events"]), signal_region, paths("fig1_mvis"))
    samples = read_parquet(inputs["samples"])
    plot_synthetic(
        read_parquet(inputs["sr_test"]),
        samples[samples["split"] == "test"],
        paths("fig3_synthetic"),
    )
    plot_sic(read_csv(inputs["sic"]), paths("fig4_sic"))
    calibration = read_csv(inputs["calibration"]) if "calibration" in inputs else None
    plot_significance(
        read_csv(inputs["summary"]), efficiency, paths("fig5_significance"), calibration
    )
