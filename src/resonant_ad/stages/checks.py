"""Flow diagnostics: is the latent background N(0, 1) and independent of mJJ, and can a
classifier tell the flow's SR samples from the real SR background?"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.ensemble import HistGradientBoostingClassifier

from resonant_ad.core.flow import ConditionalFlow
from resonant_ad.core.io import read_parquet, write_csv, write_json
from resonant_ad.core.plotting import COLORS, density_step, feature_label, new_figure, save_figure
from resonant_ad.core.seeding import rng
from resonant_ad.stages.flows import feature_columns
from resonant_ad.stages.parts import DATA_PARTS, FLOW_CHECK_PARTS
from resonant_ad.stats.bands import band_efficiencies, side_bands, sides_ratio
from resonant_ad.stats.metrics import roc_auc

log = logging.getLogger(__name__)


def latent_table(
    x: np.ndarray,
    z: np.ndarray,
    mjj: np.ndarray,
    names: Sequence[str],
    region: str,
    inside: np.ndarray,
) -> list[dict]:
    """Per latent dimension: mean, std, KS vs N(0, 1), corr(z, mJJ) beside corr(x, mJJ).

    The statistics use the events inside the flow's training range (``inside``); the few
    events beyond it are extrapolated by the flow, possibly to huge |z|, and would dominate
    any mean or variance. They are counted instead: ``n_outside_range`` and, over all
    events, ``n_abs_z_gt_10``.
    """
    n_big = int((np.abs(z) > 10).any(axis=1).sum())
    x, z, mjj = x[inside], z[inside], mjj[inside]
    rows = []
    for j, name in enumerate(names):
        rows.append(
            {
                "region": region,
                "dimension": j,
                "feature": name,
                "n": len(z),
                "n_outside_range": int((~inside).sum()),
                "n_abs_z_gt_10": n_big,
                "z_mean": float(z[:, j].mean()),
                "z_std": float(z[:, j].std()),
                "ks_vs_normal": float(stats.kstest(z[:, j], "norm").statistic),
                "corr_z_mjj": float(np.corrcoef(z[:, j], mjj)[0, 1]),
                "corr_x_mjj": float(np.corrcoef(x[:, j], mjj)[0, 1]),
            }
        )
    return rows


def real_vs_synthetic_fit(
    real: np.ndarray, synthetic: np.ndarray, seed: int
) -> tuple[HistGradientBoostingClassifier, np.ndarray, np.ndarray]:
    """A gradient-boosted classifier of real (1) against synthetic (0) events, and its
    held-out half: (classifier, X_test, y_test).

    Both samples are cut to the same size, split in halves; trained on one half.
    """
    g = rng(seed, "auc")
    n = min(len(real), len(synthetic))
    real = real[g.permutation(len(real))[:n]]
    synthetic = synthetic[g.permutation(len(synthetic))[:n]]
    X = np.vstack([real, synthetic])
    y = np.r_[np.ones(n), np.zeros(n)]
    order = g.permutation(2 * n)
    train, test = order[:n], order[n:]
    clf = HistGradientBoostingClassifier(
        max_iter=200, early_stopping=True, random_state=seed % 2**31
    )
    clf.fit(X[train], y[train])
    return clf, X[test], y[test]


def real_vs_synthetic_auc(real: np.ndarray, synthetic: np.ndarray, seed: int) -> float:
    """Held-out AUC of a gradient-boosted classifier telling real from synthetic events
    (:func:`real_vs_synthetic_fit`). 0.5 means the flow's samples are indistinguishable
    from the real background."""
    clf, X, y = real_vs_synthetic_fit(real, synthetic, seed)
    return roc_auc(y, clf.predict_proba(X)[:, 1])


def latent_vs_normal_auc(z: np.ndarray, seed: int) -> float:
    """:func:`real_vs_synthetic_auc` of latent background events against as many N(0, 1)
    draws (seeded): LaCATHODE's training task, on the true background alone.

    It is 0.5 where the flow maps the background exactly to N(0, 1). The flow is fitted in
    the SB, so its SR latents usually sit further from N(0, 1): a LaCATHODE cut then keeps
    more SR than SB background, an excess over the SB fit (docs/null-study.md).
    """
    z = np.asarray(z, dtype=np.float64)
    normal = rng(seed, "latent-normal").standard_normal(z.shape)
    return real_vs_synthetic_auc(z, normal, seed)


def normal_cut_excess(
    z_train: np.ndarray,
    z_sr: np.ndarray,
    z_sb: np.ndarray,
    m_sb: np.ndarray,
    signal_region: Sequence[float],
    seed: int,
    efficiency: float = 0.1,
    subsets: Mapping[str, np.ndarray] | None = None,
) -> dict[str, float]:
    """LaCATHODE's cut learnt on the true SR background alone: what it keeps beside the SR.

    A classifier of ``z_train`` (latent SR background) against N(0, 1) draws is cut to keep
    ``efficiency`` of ``z_sr`` (other SR background); returned are the fractions of the SB
    background ``z_sb`` (masses ``m_sb``) that pass in the bands one SR width below and
    above the window, and the SR's efficiency over the larger of them
    (:func:`~resonant_ad.stats.bands.sides_ratio`). A flow whose latents are alike in SR
    and SB gives ≤ 1; above 1 is the false bump a LaCATHODE bump hunt finds on background
    alone (docs/null-study.md). ``subsets`` (name → a mask of the SB events) add the same
    ratio on each subset (``normal_cut_sr_over_sb_sides_{name}``): e.g. the flow's own SB
    training events against the events it never saw.
    """
    m_sb = np.asarray(m_sb)
    if not any(band.any() for band in side_bands(m_sb, signal_region)):
        raise ValueError(f"no SB background within one SR width of {signal_region}")
    normal = rng(seed, "normal-cut").standard_normal(np.shape(z_train))
    X = np.vstack([z_train, normal]).astype(np.float64)
    y = np.r_[np.ones(len(z_train)), np.zeros(len(normal))]
    clf = HistGradientBoostingClassifier(
        max_iter=200, early_stopping=True, random_state=seed % 2**31
    ).fit(X, y)
    threshold = np.quantile(clf.predict_proba(np.asarray(z_sr, np.float64))[:, 1], 1 - efficiency)
    passed = clf.predict_proba(np.asarray(z_sb, np.float64))[:, 1] > threshold
    out = {"normal_cut_efficiency": float(efficiency)}
    for name, mask in {"": np.ones(len(m_sb), bool), **(subsets or {})}.items():
        below, above = band_efficiencies(passed[mask], m_sb[mask], signal_region)
        tag = f"_{name}" if name else ""
        out[f"normal_cut_sb_below_efficiency{tag}"] = below
        out[f"normal_cut_sb_above_efficiency{tag}"] = above
        out[f"normal_cut_sr_over_sb_sides{tag}"] = sides_ratio(efficiency, below, above)
    return out


def synthetic_over_real_at(clf: HistGradientBoostingClassifier, X: np.ndarray) -> float | None:
    """Mean density ratio synthetic / real at the events ``X``, by a real-vs-synthetic
    classifier fitted on equal-size samples (:func:`real_vs_synthetic_fit`): (1 − p) / p with
    p = P(real | x), clipped to [1e-6, 1 − 1e-6]; None for no events."""
    if len(X) == 0:
        return None
    p = np.clip(clf.predict_proba(np.asarray(X, dtype=np.float64))[:, 1], 1e-6, 1 - 1e-6)
    return float(np.mean((1 - p) / p))


def real_vs_synthetic(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    mass: str,
    seed: int,
    signal: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The real-vs-synthetic check of both studies: its AUC on features and ``mass``.

    :func:`real_vs_synthetic_auc` of the real background events against the flow's samples,
    with the feature columns of ``real`` and the mass, so that the dijet and the di-τ AUCs
    come from one protocol and can be compared. With ``signal`` (the injected signal events
    of the SR data) also the same classifier's :func:`synthetic_over_real_at` them
    (``synthetic_over_real_at_signal``, None without signal events): a flow whose background
    is too dense where the signal sits (above 1) hides that part of the signal from CATHODE
    and LaCATHODE alike, however well it models the background elsewhere.
    """
    cols = [*feature_columns(real), mass]
    clf, X, y = real_vs_synthetic_fit(real[cols].to_numpy(), synthetic[cols].to_numpy(), seed)
    out: dict[str, Any] = {
        "real_vs_synthetic_auc": roc_auc(y, clf.predict_proba(X)[:, 1]),
        "n_events": min(len(real), len(synthetic)),
    }
    if signal is not None:
        out["synthetic_over_real_at_signal"] = synthetic_over_real_at(clf, signal[cols].to_numpy())
        out["signal_events"] = len(signal)
    return out


def flow_diagnostics(
    model: str,
    latent: Mapping[str, str],
    data: Mapping[str, str],
    samples: str,
    table_out: str,
    summary_out: str,
    figure_outputs: Sequence[str],
    seed: int,
    signal_region: Sequence[float],
    feature_set: Mapping[str, Any] | None = None,
) -> None:
    """Latent-space checks (SB and SR test background) and real-vs-synthetic SR background.

    ``latent`` and ``data`` map each of :data:`~resonant_ad.stages.parts.FLOW_CHECK_PARTS`
    (every data part, and ``extra_test``, the extra SR background) to its latent and physical
    file; ``feature_set`` (its spec from the config) only labels the figure's axes. The table
    holds the SB and SR test background. The summary also gives :func:`latent_vs_normal_auc`
    of the SB test and of the SR test and extra background, and :func:`normal_cut_excess`
    learnt on the extra part and applied to the background of every SB data part (the bump
    hunt's events) around ``signal_region``: all of them, the flow's training part
    (``_sb_train``) and the parts it was not fitted to (``_sb_val_test``; the bump hunt's
    cross-fitted flows see each event so), and the real-vs-synthetic classifier's
    ``synthetic_over_real_at_signal`` over the SR parts' injected signal (None without it).
    """
    flow = ConditionalFlow.load(model)
    rows, inside_z, inside_m, signal = [], {}, {}, []
    for part in FLOW_CHECK_PARTS:
        x_df, z_df = read_parquet(data[part]), read_parquet(latent[part])
        bkg = (x_df["label"] == 0).to_numpy()
        cols = feature_columns(x_df)
        x = x_df[cols].to_numpy()[bkg]
        z = z_df[[f"z{i}" for i in range(len(cols))]].to_numpy()[bkg]
        inside = ~flow.scaler_.out_of_range(x)
        inside_z[part] = z[inside]
        inside_m[part] = x_df["mjj"].to_numpy()[bkg][inside]
        if part in ("sb_test", "sr_test"):  # the table: the held-out parts of the data
            region = "SB" if part == "sb_test" else "SR"
            rows += latent_table(x, z, x_df["mjj"].to_numpy()[bkg], cols, region, inside)
        if part == "sr_test":
            real = x_df[bkg]  # the real-vs-synthetic check's SR test background
        if part.startswith("sr_"):
            signal.append(x_df[~bkg])  # the injected signal of the SR data
    table = pd.DataFrame(rows)
    write_csv(table, table_out)

    synth = read_parquet(samples)
    cols = feature_columns(real)
    check = real_vs_synthetic(real, synth, "mjj", seed, signal=pd.concat(signal))
    auc = check["real_vs_synthetic_auc"]
    sb = table[table["region"] == "SB"]
    summary = {
        "real_vs_synthetic_auc": auc,
        "synthetic_over_real_at_signal": check["synthetic_over_real_at_signal"],
        "sr_signal_events": check["signal_events"],
        "sb_events_outside_training_range": int(sb["n_outside_range"].iloc[0]),
        "sb_events_abs_z_gt_10": int(sb["n_abs_z_gt_10"].iloc[0]),
        "sb_max_abs_z_mean": float(sb["z_mean"].abs().max()),
        "sb_max_abs_z_std_minus_1": float((sb["z_std"] - 1).abs().max()),
        "sb_max_abs_corr_z_mjj": float(sb["corr_z_mjj"].abs().max()),
        "sb_max_abs_corr_x_mjj": float(sb["corr_x_mjj"].abs().max()),
    }
    sr_z = np.vstack([inside_z["sr_test"], inside_z["extra_test"]])
    summary["sb_latent_vs_normal_auc"] = latent_vs_normal_auc(inside_z["sb_test"], seed)
    summary["sr_latent_vs_normal_auc"] = latent_vs_normal_auc(sr_z, seed)
    summary["sr_latent_events"] = len(sr_z)
    sb_parts = [p for p in DATA_PARTS if p.startswith("sb_")]
    part_of = np.concatenate([np.full(len(inside_m[p]), p) for p in sb_parts])
    summary |= normal_cut_excess(
        inside_z["extra_test"],
        np.vstack([inside_z[p] for p in DATA_PARTS if p.startswith("sr_")]),
        np.vstack([inside_z[p] for p in sb_parts]),
        np.concatenate([inside_m[p] for p in sb_parts]),
        signal_region,
        seed,
        subsets={"sb_train": part_of == "sb_train", "sb_val_test": part_of != "sb_train"},
    )
    write_json(summary, summary_out)
    log.info("flow diagnostics: %s\n%s", summary, table.to_string(index=False))

    fig, axes = new_figure(1, len(cols), figsize=(3.6 * len(cols), 3.2), squeeze=False)
    for ax, col in zip(axes[0], cols, strict=True):
        edges = np.linspace(*np.quantile(real[col], [0.001, 0.995]), 50)
        density_step(ax, real[col], edges, color="k", label="SR background (test)")
        density_step(ax, synth[col], edges, color=COLORS["cathode"], label="flow samples")
        ax.set_xlabel(feature_label(col, feature_set))
        ax.set_ylabel("normalized")
    axes[0][0].legend(fontsize=8)
    axes[0][0].set_title(f"real vs synthetic AUC = {auc:.3f}", fontsize=9)
    save_figure(fig, *figure_outputs)
