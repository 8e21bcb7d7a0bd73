"""Bump-hunt figures and tables of an analysis and of the SR window scan."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import write_csv
from resonant_ad.core.plotting import COLORS, new_figure, save_figure, shade_region
from resonant_ad.core.seeding import derive_seed
from resonant_ad.stages.methods import display_label
from resonant_ad.stages.parts import parse_window
from resonant_ad.stats.bumphunt import collect, global_significance
from resonant_ad.stats.trials import global_from_toys, pseudo_scans_max_z

log = logging.getLogger(__name__)


def draw_fit(ax, res_ax, bins: pd.DataFrame, row: pd.Series, window: Sequence[float]) -> None:
    """Selected mJJ spectrum, SB fit and SR prediction (``ax``) and the pulls (``res_ax``).

    A cut too tight for a fit (too few filled SB bins: the bump hunt reports no prediction)
    shows the selected spectrum and says so, instead of NaN numbers.
    """
    centres = 0.5 * (bins["low"] + bins["high"]).to_numpy()
    count, fit = bins["count"].to_numpy(), bins["fit"].to_numpy()
    sr = bins["sr"].to_numpy(dtype=bool)
    fitted = bool(np.isfinite(row["sr_predicted"]))
    shade_region(ax, window)
    ax.errorbar(centres, count, yerr=np.sqrt(count), fmt="o", ms=2.5, color="k", label="data")
    if fitted:
        n_params = row.get("n_params", float("nan"))
        fit_label = "SB fit" if pd.isna(n_params) else f"SB fit, {int(n_params)} parameters"
        ax.step(bins["low"], fit, where="post", color=COLORS["z"], label=fit_label)
        ax.step(
            bins["low"].to_numpy()[sr],
            fit[sr],
            where="post",
            color=COLORS["x"],
            label=f"SR prediction {row['sr_predicted']:.0f} ± {row['sr_predicted_err']:.0f}",
        )
    if bins["signal"].sum() > 0:
        ax.step(bins["low"], bins["signal"], where="post", color="#999999", ls=":", label="signal")
    ax.set_yscale("log")
    top = max(float(np.nanmax(count)), 1.0)
    ax.set_ylim(0.3, 3 * top)  # below one event the fit's tail says nothing
    head = f"ε = {row['efficiency']:g}: N_SR = {row['n_sr']:.0f}"
    if fitted:
        ax.set_title(
            f"{head}, Z = {row['z_local']:.1f}\nSB χ²/ndof = {row['sb_chi2']:.0f}/"
            f"{row['sb_ndof']:.0f} (p = {row['sb_p_value']:.2g})",
            fontsize=8,
        )
    else:
        filled = int(np.count_nonzero(count[~sr]))
        why = f"no SB fit: {filled} filled SB bin{'s' * (filled != 1)}"
        ax.set_title(f"{head}, N_SB = {row['n_sb']:.0f}\n{why}", fontsize=8)
    ax.legend(fontsize=6)
    shade_region(res_ax, window, label=None)
    if fitted:
        pull = (count - fit) / np.sqrt(np.maximum(fit, 1e-9))
        width = (bins["high"] - bins["low"]).to_numpy()
        res_ax.bar(centres, pull, width=width, color="#777777")
    else:
        res_ax.text(0.5, 0.5, "no fit", transform=res_ax.transAxes, ha="center", va="center")
    res_ax.axhline(0, color="k", lw=0.8)


def fits_figure(
    results: pd.DataFrame,
    bins: pd.DataFrame,
    window: Sequence[float],
    title: str,
    outputs: Sequence[str],
) -> None:
    """A grid of bump hunts: a row per method, a column per selection efficiency."""
    methods = list(dict.fromkeys(results["method"]))
    effs = sorted(results["efficiency"].unique(), reverse=True)
    fig, axes = new_figure(
        2 * len(methods),
        len(effs),
        figsize=(3.8 * len(effs), 3.6 * len(methods)),
        squeeze=False,
        gridspec_kw={"height_ratios": [3, 1] * len(methods)},
    )
    for i, meth in enumerate(methods):
        for k, eff in enumerate(effs):
            ax, res_ax = axes[2 * i, k], axes[2 * i + 1, k]
            row = results[(results["method"] == meth) & (results["efficiency"] == eff)].iloc[0]
            b = bins[(bins["method"] == meth) & (bins["efficiency"] == eff)]
            draw_fit(ax, res_ax, b, row, window)
            res_ax.sharex(ax)
            if k == 0:
                ax.set_ylabel(f"{display_label(meth)}\nselected events / bin")
                res_ax.set_ylabel("pull")
            if i == len(methods) - 1:
                res_ax.set_xlabel(r"$m_{JJ}$ [TeV]")
    fig.suptitle(title)
    save_figure(fig, *outputs)


def runs_and_median(ax, runs: pd.DataFrame, x: str, y: str, method: str, **style: Any) -> None:
    """Each run's ``y`` vs ``x`` as points, their median as a line, in ``method``'s colour."""
    color = COLORS.get(method, "k")
    med = runs.groupby(x)[y].median()
    ax.plot(med.index, med.values, marker="o", color=color, **style)
    ax.scatter(runs[x], runs[y], s=8, color=color, alpha=0.5)


def significance_figure(summary: pd.DataFrame, title: str, outputs: Sequence[str]) -> None:
    """Local significance and SB fit quality (χ²/ndof) vs ε: runs as points, medians as lines."""
    fig, (ax_z, ax_q) = new_figure(1, 2, figsize=(10, 4))
    for (meth, inj), g in summary.groupby(["method", "injection"], sort=False):
        style = {"ls": "-" if inj > 0 else "--", "label": f"{display_label(meth)}, {inj} injected"}
        runs_and_median(ax_z, g, "efficiency", "z_local", meth, **style)
        runs_and_median(ax_q, g, "efficiency", "sb_chi2_ndof", meth, **style)
    for ax in (ax_z, ax_q):
        ax.set_xscale("log")
        ax.set_xlabel("SR selection efficiency ε")
    ax_z.axhline(0, color="k", lw=0.8)
    ax_z.set_ylabel("local significance Z of the SR excess")
    ax_q.axhline(1, color="k", lw=0.8)
    ax_q.set_ylabel("SB fit χ²/ndof (Poisson deviance)")
    ax_q.set_yscale("log")
    ax_z.legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, *outputs)


def write_summary(
    records: Sequence[Mapping[str, Any]],
    outputs: Mapping[str, str],
    title: str,
) -> None:
    """An analysis's bump-hunt table (``outputs['table']``) and significance figure."""
    summary = collect(records)
    write_csv(summary, outputs["table"])
    significance_figure(summary, title, [outputs["png"], outputs["pdf"]])
    log.info(
        "median local significance and SB fit quality:\n%s",
        summary.groupby(["method", "injection", "efficiency"])[["z_local", "sb_chi2_ndof"]]
        .median()
        .to_string(),
    )


def write_fits(
    records: Sequence[Mapping[str, Any]],
    outputs: Sequence[str],
    window: Sequence[float],
    title: str,
) -> None:
    """The fits figure of ``records`` (one run of one injection, a row per method)."""
    fits_figure(collect(records), collect(records, "bins"), window, title, outputs)


def scan_figure(
    scan: pd.DataFrame, signal_region: Sequence[float], title: str, outputs: Sequence[str]
) -> None:
    """Local significance vs SR window centre, a panel per efficiency, a line per method; the
    legend gives each method's global Z over the whole scan, from pseudo-scans and Šidák's
    bound (medians over runs)."""
    effs = sorted(scan["efficiency"].unique(), reverse=True)
    fig, axes = new_figure(1, len(effs), figsize=(4 * len(effs), 3.8), squeeze=False)
    for ax, eff in zip(axes[0], effs, strict=True):
        shade_region(ax, signal_region, label="nominal SR (signal injected)")
        sub = scan[scan["efficiency"] == eff]
        for meth, g in sub.groupby("method", sort=False):
            per_run = g.groupby("run")[["z_global", "z_global_sidak"]].first().median()
            label = (
                f"{display_label(meth)} (global Z {per_run['z_global']:.1f}, "
                f"Šidák {per_run['z_global_sidak']:.1f})"
            )
            runs_and_median(ax, g, "centre", "z_local", meth, label=label)
        ax.axhline(0, color="k", lw=0.8)
        ax.set_title(f"ε = {eff:g}")
        ax.set_xlabel(r"SR window centre [TeV]")
        ax.set_ylabel("local significance Z")
        ax.legend(fontsize=7)
    fig.suptitle(title)
    save_figure(fig, *outputs)


def with_global_significance(
    scan: pd.DataFrame,
    bins: Mapping[tuple[str, int], Sequence[tuple[Sequence[float], pd.DataFrame]]],
    params: Mapping[str, Any],
    toys: int,
    seed: int,
    workers: int = 1,
) -> pd.DataFrame:
    """The scan table with, per method and run, the largest local Z over its windows and
    efficiencies (``z_max_scan``), the number of fitted tests (``n_trials``), the global Z
    from ``toys`` background-only pseudo-scans (``z_global``, ``p_global``, ``n_eff``,
    :mod:`resonant_ad.stats.trials`; NaN with ``toys: 0``) and Šidák's bound for independent
    tests (``z_global_sidak``, :func:`~resonant_ad.stats.bumphunt.global_significance`).
    ``bins``: (method, run) → each window with its bump hunts' ``bins`` table; ``workers``:
    processes for the pseudo-scans (the same numbers with any)."""
    keys = ["method", "run"]
    groups = list(scan.groupby(keys, sort=False))
    scans = [(bins[(meth, int(run))], derive_seed(seed, meth, run)) for (meth, run), _ in groups]
    toy_zs = pseudo_scans_max_z(scans, params, toys, workers)
    rows = []
    for ((meth, run), group), toy_z in zip(groups, toy_zs, strict=True):
        z_max, trials, z_sidak = global_significance(group["z_local"])
        found = global_from_toys(z_max, toy_z)
        rows.append(
            {"method": meth, "run": run, "z_max_scan": z_max, "n_trials": trials}
            | {k: found[k] for k in ("z_global", "p_global", "n_eff", "toys", "toys_beyond")}
            | {"z_global_sidak": z_sidak}
        )
        log.info(
            "%s run %s: largest local Z %.2f of %d tests; global Z %.2f (%d pseudo-scans, "
            "N_eff %.1f), Šidák %.2f",
            meth,
            run,
            z_max,
            trials,
            found["z_global"],
            found["toys"],
            found["n_eff"],
            z_sidak,
        )
    return scan.merge(pd.DataFrame(rows), on=keys, how="left")


def write_scan(
    records: Sequence[Mapping[str, Any]],
    outputs: Mapping[str, str],
    signal_region: Sequence[float],
    title: str,
    params: Mapping[str, Any],
    toys: int,
    seed: int,
    workers: int = 1,
) -> None:
    """The scan table (window, centre, every bump-hunt column, local and global Z) and its
    figure; ``params``, ``toys``, ``seed``: the pseudo-scans' fit settings, number and seed;
    ``workers``: processes for them."""
    frames = []
    bins: dict[tuple[str, int], list[tuple[list[float], pd.DataFrame]]] = {}
    for rec in records:
        low, high = parse_window(rec["window"])
        df = collect([rec])
        df.insert(0, "window_high", high)
        df.insert(0, "window_low", low)
        df.insert(2, "centre", 0.5 * (low + high))
        frames.append(df)
        bins.setdefault((rec["method"], int(rec["run"])), []).append(
            ([low, high], collect([rec], "bins"))
        )
    scan = pd.concat(frames, ignore_index=True)
    scan = with_global_significance(scan, bins, params, toys, seed, workers)
    write_csv(scan, outputs["table"])
    scan_figure(scan, signal_region, title, [outputs["png"], outputs["pdf"]])
    log.info(
        "scan, median Z:\n%s",
        scan.groupby(["method", "efficiency", "centre"])["z_local"].median().unstack().to_string(),
    )
