"""The paper's Figs. 6-8 panels for one feature set, drawn from the evaluation tables.

- ``sic``: median SIC vs εB with the 68% band over runs (signal-injected trainings);
  the supervised classifier dashed, a random cut (SIC = √εB) dotted.
- ``sculpting_chi2``: median χ²/ndof vs selection efficiency with the 68% band over the
  background-only trainings, and the band of random subsets of the same efficiency.
- ``mjj_selection``: normalized mJJ before and after the cut for the first background-only run.
- ``runs``: each run's sculpting and SIC against the flow diagnostic that may set it (the run
  table, :mod:`resonant_ad.stages.runs`), with the rank correlation and its interval.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_csv
from resonant_ad.core.plotting import COLORS, new_figure, save_figure, shade_region
from resonant_ad.stages.methods import METHODS

#: drawing order; methods not listed (new entries of METHODS) come after, in table order
ORDER = ("cathode", "lacathode", "idealized", "cwola", "supervised")


def _methods(present: Sequence[str]) -> list[str]:
    names = [m for m in ORDER if m in present]
    return names + [m for m in METHODS if m in present and m not in names]


def _style(method: str) -> dict[str, Any]:
    return {
        "color": COLORS.get(method, "k"),
        "ls": "--" if not METHODS[method].weakly_supervised else "-",
        "label": METHODS[method].label,
    }


def _median_band(ax, d: pd.DataFrame, x: str, method: str, **kwargs: Any) -> None:
    """One method's median line and its 16-84% band over runs (columns median, q16, q84)."""
    style = _style(method)
    ax.plot(d[x], d["median"], **style, **kwargs)
    ax.fill_between(d[x], d["q16"], d["q84"], color=style["color"], alpha=0.2, lw=0)


def signal_injection(table: pd.DataFrame) -> int:
    """The largest injection in ``table``: the one the SIC figure shows."""
    return int(table["injection"].max())


def background_injection(table: pd.DataFrame) -> int:
    """The smallest injection (0 when present): the trainings the sculpting figures show."""
    return int(table["injection"].min())


def plot_sic(sic: pd.DataFrame, title: str, outputs: Sequence[str | os.PathLike[str]]) -> None:
    """SIC vs εB, median and 68% band over runs, at the largest injection."""
    inj = signal_injection(sic)
    fig, ax = new_figure(figsize=(5.2, 4))
    for meth in _methods(sic["method"].unique()):
        _median_band(ax, sic[(sic["method"] == meth) & (sic["injection"] == inj)], "eps_b", meth)
    grid = np.logspace(-5, 0, 100)
    ax.plot(grid, np.sqrt(grid), ":", color="k", label="random cut")
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    ax.set_ylim(bottom=0)
    ax.set_xlabel(r"background efficiency $\epsilon_B$ (SR)")
    ax.set_ylabel(r"SIC = $\epsilon_S/\sqrt{\epsilon_B}$")
    ax.set_title(f"{title}: $N_{{sig}}$ = {inj} injected", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, *outputs)


def plot_sculpting(
    sculpting: pd.DataFrame, title: str, outputs: Sequence[str | os.PathLike[str]]
) -> None:
    """χ²/ndof vs selection efficiency (background-only trainings) with the random band."""
    inj = background_injection(sculpting)
    d_inj = sculpting[sculpting["injection"] == inj]
    fig, ax = new_figure(figsize=(5.2, 4))
    ref = d_inj[d_inj["method"] == "random"]
    ax.fill_between(
        ref["efficiency"],
        ref["q16"],
        ref["q84"],
        color=COLORS["reference"],
        alpha=0.6,
        lw=0,
        label="random subsets (68%)",
    )
    for meth in _methods([m for m in d_inj["method"].unique() if m != "random"]):
        _median_band(ax, d_inj[d_inj["method"] == meth], "efficiency", meth, marker=".")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.invert_xaxis()
    ax.set_xlabel(r"selection efficiency $\epsilon_{sel}$ (SR)")
    ax.set_ylabel(r"$\chi^2/n_{dof}$ of $m_{JJ}$ after vs before")
    ax.set_title(f"{title}: trained on $N_{{sig}}$ = {inj}", fontsize=10)
    ax.legend(fontsize=8)
    save_figure(fig, *outputs)


def plot_mjj_selection(
    hists: pd.DataFrame,
    title: str,
    signal_region: Sequence[float],
    efficiency: float,
    outputs: Sequence[str | os.PathLike[str]],
) -> None:
    """Unit-area mJJ of the test background before and after the cut, first run."""
    inj = background_injection(hists)
    d_inj = hists[hists["injection"] == inj]
    fig, ax = new_figure(figsize=(5.2, 4))
    shade_region(ax, signal_region)
    before = d_inj[(d_inj["stage"] == "before")].drop_duplicates(["low", "high"])
    edges = np.r_[before["low"].to_numpy(), before["high"].to_numpy()[-1]]
    ax.stairs(before["density"], edges, color="k", lw=2, label="before selection")
    for meth in _methods(d_inj["method"].unique()):
        d = d_inj[(d_inj["method"] == meth) & (d_inj["stage"] == "after")]
        style = _style(meth)
        ax.stairs(d["density"], edges, color=style["color"], ls=style["ls"], label=style["label"])
    ax.set_yscale("log")
    ax.set_xlabel(r"$m_{JJ}$ [TeV]")
    ax.set_ylabel(r"normalized density [1/TeV]")
    ax.set_title(
        f"{title}: {efficiency:.0%} most anomalous, run 0, $N_{{sig}}$ = {inj}", fontsize=10
    )
    ax.legend(fontsize=8)
    save_figure(fig, *outputs)


def evaluation_figures(
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    feature_set: str,
    signal_region: Sequence[float],
    efficiency: float,
) -> None:
    """Draw the four figures of one feature set (``outputs``: ``{name}_{ext}`` → path)."""

    def paths(name: str) -> list[str]:
        return [outputs[k] for k in outputs if k.startswith(name + "_")]

    title = f"{feature_set} features"
    plot_sic(read_csv(inputs["sic"]), title, paths("sic"))
    plot_sculpting(read_csv(inputs["sculpting"]), title, paths("sculpting_chi2"))
    plot_mjj_selection(
        read_csv(inputs["mjj"]), title, signal_region, efficiency, paths("mjj_selection")
    )
    plot_runs(read_csv(inputs["runs"]), read_csv(inputs["correlations"]), paths("runs"))


class RunPanel(NamedTuple):
    """One panel of the run figure: a method metric of the run table against a flow
    diagnostic."""

    metric: str
    diagnostic: str
    xlabel: str
    ylabel: str
    #: for a metric spanning decades (χ²/ndof): a log axis, and under it a linear zoom on
    #: y ≤ ``zoom``, where the runs that do not sculpt differ (points above: triangles at its top)
    zoom: float | None
    needs_signal: bool


#: the run figure's panels: LaCATHODE's sculpting and, with signal, its SIC against the cut
#: learnt on the flow's true SR background latents (the flow's SR departure from N(0, 1)),
#: every SIC against how dense the flow's background is where the signal sits
#: (docs/measurements.md)
RUN_PANELS = (
    RunPanel("chi2_ndof_at_1pct", "normal_cut_sr_over_sb_sides",
             "true-background latent cut: SR over SB bands", r"$\chi^2/n_{dof}$ at 1%",
             zoom=3.0, needs_signal=False),
    RunPanel("sic_at_1e-3", "normal_cut_sr_over_sb_sides",
             "true-background latent cut: SR over SB bands",
             r"SIC at $\epsilon_B = 10^{-3}$", zoom=None, needs_signal=True),
    RunPanel("sic_at_1e-3", "synthetic_over_real_at_signal",
             "flow samples over true background, at the signal",
             r"SIC at $\epsilon_B = 10^{-3}$", zoom=None, needs_signal=True),
)  # fmt: skip


def plot_runs(
    table: pd.DataFrame, correlations: pd.DataFrame, outputs: Sequence[str | os.PathLike[str]]
) -> dict[tuple[int, str, str], list[str]]:
    """One panel per injection and :data:`RUN_PANELS` entry (SIC panels only with signal):
    each method's runs as points (open for a method whose training reads no flow: a control),
    labelled with Spearman's ρ over the runs, its 95% interval and permutation p-value
    (``run_correlations.csv``; none under 4 runs). Returns each panel's (injection, metric,
    diagnostic) and its legend labels."""
    corr = correlations.set_index(["injection", "method", "metric", "diagnostic"])
    methods = _methods(correlations["method"].unique())
    panels = [
        (inj, panel)
        for panel in RUN_PANELS
        for inj in sorted(table["injection"].unique())
        if inj > 0 or not panel.needs_signal
    ]
    zoomed = any(panel.zoom for _, panel in panels)
    heights = (5, 3)  # inches of a panel and of its zoom; a legend sits 0.7 in below its axes
    fig, axes = new_figure(
        nrows=1 + zoomed,
        ncols=len(panels),
        figsize=(4.6 * len(panels), heights[0] + heights[1] * zoomed),
        squeeze=False,
        gridspec_kw={"height_ratios": heights} if zoomed else None,
    )
    drawn: dict[tuple[int, str, str], list[str]] = {}
    for col, (inj, panel) in enumerate(panels):
        ax, metric, diagnostic = axes[0][col], panel.metric, panel.diagnostic
        zoom_ax = axes[1][col] if panel.zoom else None
        rows = table[table["injection"] == inj]
        labels = drawn.setdefault((int(inj), metric, diagnostic), [])
        for meth in methods:
            rho = corr.loc[(inj, meth, metric, diagnostic)]
            label = METHODS[meth].label
            if np.isfinite(rho["spearman"]):
                label += (
                    f": ρ = {rho['spearman']:+.2f}"
                    f" [{rho['spearman_lo']:+.2f}, {rho['spearman_hi']:+.2f}],"
                    f" p = {rho['spearman_p']:.2g}"
                )
            style = {"color": _style(meth)["color"], "linestyle": "none"}
            style["mfc"] = style["color"] if METHODS[meth].reads_flow() else "none"
            x, y = rows[diagnostic].to_numpy(), rows[f"{meth}_{metric}"].to_numpy()
            ax.plot(x, y, marker="o", label=label, **style)
            if zoom_ax is not None:
                above = y > panel.zoom
                zoom_ax.plot(x[~above], y[~above], marker="o", **style)
                zoom_ax.plot(x[above], np.full(above.sum(), panel.zoom), marker="^", **style)
            labels.append(label)
        ax.set_title(f"each run, $N_{{sig}}$ = {inj}", fontsize=10)
        ax.set_xlabel(panel.xlabel)
        ax.set_ylabel(panel.ylabel)
        legend_ax, height = ax, heights[0]
        if zoom_ax is not None:
            ax.set_yscale("log")
            zoom_ax.axhline(1.0, color="grey", linestyle=":", linewidth=1)  # no sculpting
            zoom_ax.set_ylim(0.0, panel.zoom * 1.05)
            zoom_ax.set_xlim(ax.get_xlim())
            zoom_ax.set_xlabel(panel.xlabel)
            zoom_ax.set_ylabel(f"{panel.ylabel}, ≤ {panel.zoom:g} (triangles: above)")
            legend_ax, height = zoom_ax, heights[1]
        elif zoomed:
            axes[1][col].set_axis_off()
        legend_ax.legend(  # below the panel: a legend inside would hide some of the runs
            *ax.get_legend_handles_labels(),
            fontsize=7,
            title="Spearman's ρ [95%], permutation p",
            title_fontsize=7,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.7 / height),
        )
    save_figure(fig, *outputs)
    return drawn
