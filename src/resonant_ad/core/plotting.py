"""One figure style for the project (mplhep's), and saving figures as PNG and PDF atomically."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mplhep
from matplotlib.figure import Figure

from resonant_ad.core.io import atomic_path

#: mplhep's HEP style (ticks inside on all four sides, minor ticks, TeX Gyre Heros), scaled
#: from its 10 × 10 inch single-plot design to this project's multi-panel figures
STYLE = {
    **mplhep.style.ROOT,
    "figure.figsize": (6.4, 4.8),
    "figure.dpi": 110,
    "savefig.dpi": 150,
    "font.size": 10,
    "axes.linewidth": 1.0,
    "xtick.major.size": 5,
    "xtick.minor.size": 2.5,
    "ytick.major.size": 5,
    "ytick.minor.size": 2.5,
    "xtick.major.pad": 3,
    "ytick.major.pad": 3,
    "xaxis.labellocation": "center",
    "yaxis.labellocation": "center",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "grid.linestyle": "-",
    "legend.frameon": False,
    "lines.linewidth": 1.5,
    "figure.constrained_layout.use": True,
}

#: colours by role, shared by every figure
COLORS = {
    "x": "#d62728",
    "z": "#1f77b4",
    "cathode": "#d62728",
    "lacathode": "#1f77b4",
    "idealized": "#2ca02c",
    "supervised": "#7f7f7f",
    "cwola": "#9467bd",
    "decorrelated": "#ff7f0e",
    "latent_cwola": "#17becf",
    "reference": "#bbbbbb",
    "sr": "#ffdd99",
}


def new_figure(nrows: int = 1, ncols: int = 1, **kwargs) -> tuple[Figure, object]:
    """``plt.subplots`` under the project style."""
    with plt.rc_context(STYLE):
        fig, axes = plt.subplots(nrows, ncols, **kwargs)
    return fig, axes


def save_figure(fig: Figure, *paths: str | os.PathLike[str]) -> None:
    """Save ``fig`` to each path (format from the suffix), atomically, then close it.

    The layout is computed for the first format and kept for the others: constrained layout
    is most of the cost of a many-panel figure, and it does not depend on the format.
    """
    with plt.rc_context(STYLE):
        for i, path in enumerate(paths):
            fmt = os.path.splitext(os.fspath(path))[1].lstrip(".")
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=fmt)
            if i == 0:
                fig.set_layout_engine("none")
    plt.close(fig)


def density_step(ax, values, edges, **style) -> None:
    """A unit-area step histogram of ``values`` (the comparison plots' common primitive)."""
    ax.hist(values, bins=edges, density=True, histtype="step", **style)


def shade_region(ax, window, label: str | None = "signal region") -> None:
    """Shade the SR window on an axis whose x is the resonant variable."""
    ax.axvspan(window[0], window[1], color=COLORS["sr"], alpha=0.6, lw=0, label=label, zorder=0)


#: axis labels of the dijet features (TeV)
FEATURE_LABELS = {
    "mj1": "$m_{J_1}$ [TeV]",
    "delta_mj": r"$\Delta m_J$ [TeV]",
    "tau21_j1": r"$\tau_{21}^{J_1}$",
    "tau21_j2": r"$\tau_{21}^{J_2}$",
    "delta_r": r"$\Delta R(J_1, J_2)$",
}


def feature_label(col: str, spec: Mapping[str, Any] | None = None) -> str:
    """Axis label of a feature, with its unit; "+ c·mJJ" where the feature set shifts it."""
    label = FEATURE_LABELS.get(col, col)
    shift = (spec or {}).get("shift") or {}
    if col in shift.get("columns", []):
        label = f"{label.split(' [')[0]} + {shift['c']:g}·$m_{{JJ}}$ [TeV]"
    return label
