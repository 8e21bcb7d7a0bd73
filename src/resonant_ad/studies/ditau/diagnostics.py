"""What the di-τ background model gets wrong, read at a glance.

Views of the synthetic SR background of one repeat against the real SR background:

- per feature, real against synthetic: quantiles and the held-out AUC of a classifier that
  sees that feature alone (0.5: the marginal is modelled);
- the real-vs-synthetic classifier on all features, and how much its held-out AUC drops
  when one feature is shuffled (the features it uses);
- where the no-signal classifier (injection 0: SR background against synthetic background)
  puts its top ``efficiency`` of the background: the percentile of the selected events in
  each feature and their object multiplicity. A calibrated background model selects events
  like any others; a mismodelled one selects the region where data exceed the model, and a
  signal living there is "found" without being injected.

A fourth view, ``mass``: the multiplicity, and the share of two nearly empty corners where
signals live (:func:`corner_masks`), against m_vis over the SB and the SR, real and (in the
SR) synthetic. The flow learns p(x | m_vis) in the SB and interpolates it into the
SR; where a region's share changes steeply with the mass, the interpolation can fail where
the fit does not (``python -m resonant_ad.studies.ditau.probe --fit-sr-seed N`` fits the
flow in the SR itself and tells the two apart).

The object multiplicity is not a feature: it is read from the ρ (an object carries ρ above
:data:`PHYSICAL_RHO`; a padded object's ρ is ~1e-4).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_parquet, write_csv
from resonant_ad.core.seeding import rng
from resonant_ad.stages.checks import real_vs_synthetic_auc, real_vs_synthetic_fit
from resonant_ad.stages.flows import feature_columns
from resonant_ad.stats.metrics import roc_auc

log = logging.getLogger(__name__)

MASS = "mvis"
#: a ρ above this is an object's, below a padded one's
PHYSICAL_RHO = 3e-3
QUANTILES = (0.01, 0.5, 0.99)


def multiplicity(df: pd.DataFrame) -> np.ndarray:
    """Objects per event among the ρ columns (ρ above :data:`PHYSICAL_RHO`)."""
    rho = df[[c for c in df.columns if c.startswith("rho")]].to_numpy()
    return (rho > PHYSICAL_RHO).sum(axis=1)


def feature_table(real: pd.DataFrame, synthetic: pd.DataFrame, seed: int) -> pd.DataFrame:
    """Per feature (and m_vis, and the multiplicity): quantiles, 1-D AUC, importance."""
    cols = [*feature_columns(real), MASS]
    g = rng(seed, "ditau-diagnostics")
    clf, X, y = real_vs_synthetic_fit(real[cols].to_numpy(), synthetic[cols].to_numpy(), seed)
    full = roc_auc(y, clf.predict_proba(X)[:, 1])
    rows = []
    for j, col in enumerate(cols):
        shuffled = X.copy()
        shuffled[:, j] = g.permutation(shuffled[:, j])
        rows.append(
            {
                "feature": col,
                "auc_1d": real_vs_synthetic_auc(
                    real[[col]].to_numpy(), synthetic[[col]].to_numpy(), seed
                ),
                "importance": full - roc_auc(y, clf.predict_proba(shuffled)[:, 1]),
                **{f"real_q{q:g}": float(real[col].quantile(q)) for q in QUANTILES},
                **{f"synthetic_q{q:g}": float(synthetic[col].quantile(q)) for q in QUANTILES},
            }
        )
    n_real, n_syn = multiplicity(real), multiplicity(synthetic)
    rows.append(
        {
            "feature": "n_objects",
            "auc_1d": real_vs_synthetic_auc(n_real[:, None], n_syn[:, None], seed),
            "importance": np.nan,
            **{f"real_q{q:g}": float(np.quantile(n_real, q)) for q in QUANTILES},
            **{f"synthetic_q{q:g}": float(np.quantile(n_syn, q)) for q in QUANTILES},
        }
    )
    table = pd.DataFrame(rows)
    table.attrs["auc_all"] = full
    return table


def multiplicity_table(
    real: pd.DataFrame, synthetic: pd.DataFrame, selected: Mapping[str, pd.DataFrame]
) -> pd.DataFrame:
    """Fraction of events per object multiplicity: real, synthetic, and each selection."""
    sets = {"real": real, "synthetic": synthetic, **selected}
    top = int(max(multiplicity(df).max(initial=0) for df in sets.values()))
    out = pd.DataFrame({"n_objects": np.arange(top + 1)})
    for name, df in sets.items():
        counts = np.bincount(multiplicity(df), minlength=top + 1)
        out[name] = counts / max(len(df), 1)
    return out


#: the multiplicity classes of the ``mass`` view (the padded objects make the rest)
MASS_CLASSES = {"n_le6": (0, 6), "n7": (7, 7), "n8": (8, 8), "n_ge9": (9, 99)}


#: HT below this (GeV) means no jet: the no-jet floor is below 1 GeV, jets start at 30
NO_JET_HT = 10.0


def corner_masks(df: pd.DataFrame, met_cut: float) -> dict[str, np.ndarray]:
    """Two corners where the SR background is nearly empty and a signal lives: ΔR(τ, τ) < 1.5
    (boosted τ pairs: T'T̄') and no jet with MET above ``met_cut`` (X→YH). Their background
    share moves steeply with m_vis, and a smooth conditional density leaks into them or
    interpolates their share wrongly (docs/ditau.md)."""
    return {
        "dr_lt_1.5": df["delta_r_tautau"].to_numpy() < 1.5,
        "no_jet_high_met": (df["ht"].to_numpy() < NO_JET_HT) & (df["met"].to_numpy() > met_cut),
    }


def mass_table(
    background: pd.DataFrame, synthetic: pd.DataFrame, edges: Sequence[float], met_cut: float
) -> pd.DataFrame:
    """Per m_vis bin (the first and last open-ended): the real background events (SB and SR)
    and the synthetic SR ones, and each one's share per multiplicity class
    (:data:`MASS_CLASSES`) and in each corner of :func:`corner_masks` (NaN in an empty bin)."""
    rows = []
    for name, df in (("real", background), ("synthetic", synthetic)):
        n = multiplicity(df)
        corners = corner_masks(df, met_cut)
        which = np.digitize(df[MASS].to_numpy(), edges[1:-1])  # the outer bins are open
        for b in range(len(edges) - 1):
            here = which == b
            row = {"sample": name, "mvis_low": edges[b], "mvis_high": edges[b + 1]}
            row["events"] = int(here.sum())
            for key, (lo, hi) in MASS_CLASSES.items():
                inside = (n[here] >= lo) & (n[here] <= hi)
                row[key] = float(inside.mean()) if here.any() else np.nan
            for key, mask in corners.items():
                row[key] = float(mask[here].mean()) if here.any() else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def mass_edges(sb: pd.DataFrame, sr: pd.DataFrame, per_region: int = 4) -> np.ndarray:
    """m_vis bin edges with the SR's (its events' lowest and highest mass) among them:
    ``per_region`` equal-count bins below, inside and above the SR."""
    m_sb, m_sr = sb[MASS].to_numpy(), sr[MASS].to_numpy()
    lo, hi = m_sr.min(), m_sr.max()
    levels = np.linspace(0, 1, per_region + 1)
    below, above = m_sb[m_sb < lo], m_sb[m_sb > hi]
    edges = [np.quantile(m_sr, levels)]
    if below.size:  # its last edge is the SR's first
        edges.insert(0, np.quantile(below, levels)[:-1])
    if above.size:
        edges.append(np.quantile(above, levels)[1:])
    return np.unique(np.concatenate(edges))


def top_selection(
    test: pd.DataFrame, scores: pd.DataFrame, efficiency: float
) -> tuple[pd.DataFrame, dict[str, float]]:
    """(background events passing the cut at background efficiency ``efficiency``, summary).

    ``scores`` is a score file of the test set (SR test background then the signal's test
    events, as written by :func:`~resonant_ad.studies.ditau.study.train_and_score`); the
    summary holds the signal efficiency at that cut and, per feature, the median percentile
    of the selected background events within the test background (50: unselective).
    """
    bkg = scores["label"].to_numpy() == 0
    threshold = np.quantile(scores["score"].to_numpy()[bkg], 1.0 - efficiency)
    passed = scores["score"].to_numpy()[bkg] > threshold
    chosen = test.loc[passed]
    summary = {
        "efficiency_background": float(passed.mean()),
        "efficiency_signal": float((scores["score"].to_numpy()[~bkg] > threshold).mean()),
    }
    for col in [*feature_columns(test), MASS]:
        values = np.sort(test[col].to_numpy())
        rank = np.searchsorted(values, chosen[col].to_numpy()) / len(values)
        summary[f"percentile_{col}"] = float(100 * np.median(rank)) if len(rank) else np.nan
    return chosen, summary


def write_diagnostics(
    sb_parts: Sequence[str],
    sr_parts: Sequence[str],
    sr_test: str,
    samples: str,
    no_signal_scores: Mapping[str, str],
    outputs: Mapping[str, str],
    figure_outputs: Sequence[str],
    efficiency: float,
    seed: int,
) -> None:
    """Write the four views (``outputs``: features, multiplicity, selection, mass) and the
    figure.

    ``sb_parts`` and ``sr_parts``: every SB and SR background part (the real events; the SB
    for the ``mass`` view only); ``samples``: one repeat's synthetic background;
    ``no_signal_scores``: per signal, the injection-0 score file of that repeat.
    """
    real = pd.concat([read_parquet(p) for p in sr_parts], ignore_index=True)
    sb = pd.concat([read_parquet(p) for p in sb_parts], ignore_index=True)
    synthetic = read_parquet(samples)
    test = read_parquet(sr_test)
    features = feature_table(real, synthetic, seed)
    selected, rows = {}, []
    for signal, path in no_signal_scores.items():
        chosen, summary = top_selection(test, read_parquet(path), efficiency)
        selected[f"selected_{signal}"] = chosen
        rows.append({"signal": signal, **summary})
    write_csv(features, outputs["features"])
    write_csv(multiplicity_table(real, synthetic, selected), outputs["multiplicity"])
    write_csv(pd.DataFrame(rows), outputs["selection"])
    by_mass = mass_table(
        pd.concat([sb, real], ignore_index=True),
        synthetic,
        mass_edges(sb, real),
        float(real["met"].quantile(0.95)),
    )
    write_csv(by_mass, outputs["mass"])
    log.info("multiplicity and corners against m_vis:\n%s", by_mass.to_string(index=False))
    log.info("real vs synthetic, all features: AUC %.4f", features.attrs["auc_all"])
    log.info("per feature:\n%s", features.to_string(index=False))
    log.info("no-signal selections:\n%s", pd.DataFrame(rows).to_string(index=False))
    plot_diagnostics(real, synthetic, selected, features, figure_outputs)


def plot_diagnostics(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    selected: Mapping[str, pd.DataFrame],
    features: pd.DataFrame,
    outputs: Sequence[str],
) -> None:
    """Real vs synthetic per feature with the no-signal selections, the multiplicity, and
    the real-vs-synthetic classifier's feature importance."""
    from resonant_ad.core.plotting import COLORS, density_step, new_figure, save_figure

    cols = [*feature_columns(real), MASS]
    panels = len(cols) + 2
    ncols = 4
    nrows = int(np.ceil(panels / ncols))
    fig, axes = new_figure(nrows, ncols, figsize=(3.2 * ncols, 2.5 * nrows))
    axes = np.atleast_1d(axes).ravel()
    styles = ["--", ":", "-."]
    for ax, col in zip(axes, cols, strict=False):
        lo, hi = np.quantile(np.r_[real[col], synthetic[col]], [0.001, 0.999])
        edges = np.linspace(lo, hi, 41)
        density_step(ax, real[col], edges, color="k", label="SR background")
        density_step(ax, synthetic[col], edges, color=COLORS["cathode"], label="synthetic")
        for (name, df), style in zip(selected.items(), styles, strict=False):
            if len(df):  # a few dozen events: coarser bins
                density_step(ax, df[col], edges[::5], color="C3", label=name, linestyle=style)
        auc = features.loc[features["feature"] == col, "auc_1d"].iloc[0]
        ax.set_title(f"{col}: 1-D AUC {auc:.3f}", fontsize=8)
        ax.set_yscale("log")
    ax = axes[len(cols)]
    table = multiplicity_table(real, synthetic, selected)
    ax.step(table["n_objects"], table["real"], where="mid", color="k", label="SR background")
    ax.step(
        table["n_objects"],
        table["synthetic"],
        where="mid",
        color=COLORS["cathode"],
        label="synthetic",
    )
    for name, style in zip(selected, styles, strict=False):
        ax.step(
            table["n_objects"],
            table[name],
            where="mid",
            color="C3",
            linestyle=style,
            label=f"{name} (no signal)",
        )
    ax.set_yscale("log")
    ax.set_xlabel(f"objects (ρ > {PHYSICAL_RHO:g})")
    ax.legend(fontsize=6)
    ax = axes[len(cols) + 1]
    ranked = features.dropna(subset=["importance"]).sort_values("importance")
    ax.barh(ranked["feature"], ranked["importance"], color=COLORS["cathode"])
    ax.set_xlabel("AUC drop when shuffled")
    ax.set_title(f"real vs synthetic AUC {features.attrs['auc_all']:.3f}", fontsize=8)
    ax.tick_params(axis="y", labelsize=7)
    for ax in axes[panels:]:
        ax.set_visible(False)
    save_figure(fig, *outputs)
