"""The flow stage: train on SB data, sample in the SR (its maps of events:
:mod:`resonant_ad.stages.mapping`).

Files in, files out, one function per workflow rule; the mass column (``mjj`` for dijets,
``mvis`` for di-τ) is a parameter. Feature columns are every column of a split part but
the mass, ``label`` and bookkeeping columns (:data:`NON_FEATURES`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.flow import ConditionalFlow, estimator_params, fit_members, flow_mixture
from resonant_ad.core.io import read_parquet, write_csv, write_json, write_parquet
from resonant_ad.core.kde import MassKDE
from resonant_ad.core.seeding import derive_seed, rng
from resonant_ad.core.training import checkpoint_path
from resonant_ad.stats.density_ratio import DensityRatio, top_k_by_weight

log = logging.getLogger(__name__)

#: columns of the workflow's tables that are not features: the dijet and the di-τ mass, the
#: truth label, and bookkeeping (sample split, di-τ process and signal role, whether a mapped
#: event lies inside the flow's fitted range, the data mass a synthetic event's kernel is
#: centred on)
NON_FEATURES = ("mjj", "mvis", "label", "split", "process", "role", "in_range", "kde_center")


def feature_columns(df: pd.DataFrame) -> list[str]:
    """The feature columns of a table (split part, latent part, samples): all the others."""
    return [c for c in df.columns if c not in NON_FEATURES]


def train_flow(
    sb_train: str,
    sb_val: str,
    model_out: str,
    history_out: str,
    figure_outputs: Sequence[str],
    flow_params: Mapping[str, Any],
    seed: int,
    mass: str = "mjj",
) -> None:
    """One run of :func:`train_flows`: its model, history and loss figure."""
    outputs = {"model": model_out, "history": history_out, "figures": list(figure_outputs)}
    train_flows(sb_train, sb_val, [outputs], flow_params, [seed], mass)


def train_flows(
    sb_train: str,
    sb_val: str,
    outputs: Sequence[Mapping[str, Any]],
    flow_params: Mapping[str, Any],
    seeds: Sequence[int],
    mass: str = "mjj",
    mixture: bool = False,
) -> None:
    """Fit p(x | m) on SB training data for every seed, select epochs on SB validation data.

    The runs (one per seed) train together as the members of one model
    (:func:`resonant_ad.core.flow.fit_members`); each writes its own ``outputs`` entry:
    ``model``, ``history`` and ``figures`` (the loss curve, one path per format). ``mass``
    names the conditioning column (``mjj`` for dijets, ``mvis`` for di-τ). With ``mixture``
    the flows of all seeds are one model, their mixture (:func:`flow_mixture`), written to
    the one ``outputs`` entry, its history holding every seed's losses (column ``seed``).
    """
    train, val = read_parquet(sb_train), read_parquet(sb_val)
    # the checkpoint lies beside the first run's model
    flows = fit_flows(train, val, flow_params, seeds, checkpoint_path(outputs[0]["model"]), mass)
    histories = [f.history_ for f in flows]
    if mixture:
        histories = [pd.concat([f.history_.assign(seed=f.seed) for f in flows], ignore_index=True)]
        flows = [flow_mixture(flows)]
    for flow, history, out in zip(flows, histories, outputs, strict=True):
        flow.save(out["model"])
        write_csv(history, out["history"])
        plot_loss(history, out["figures"])


def fit_flows(
    train: pd.DataFrame,
    val: pd.DataFrame,
    flow_params: Mapping[str, Any],
    seeds: Sequence[int],
    checkpoint: str | None,
    mass: str = "mjj",
) -> list[ConditionalFlow]:
    """One flow per seed on the ``train`` events (epochs selected on ``val``), trained
    together as the members of one model; ``flow_params`` name features by column."""
    cols = feature_columns(train)
    params = estimator_params(flow_params)
    for key in ("log_features", "simplex_features"):
        unknown = [c for c in params.get(key, []) if c not in cols]
        if unknown:
            raise KeyError(f"flow.{key} names {unknown}, not among the features {cols}")
        params[key] = [cols.index(c) for c in params.get(key, [])]
    log.info(
        "flow on %d SB train / %d SB val events, features %s, seeds %s",
        len(train),
        len(val),
        cols,
        list(seeds),
    )
    return fit_members(
        [ConditionalFlow(**params, seed=seed) for seed in seeds],
        train[cols].to_numpy(),
        train[mass].to_numpy(),
        val[cols].to_numpy(),
        val[mass].to_numpy(),
        checkpoint=checkpoint,
    )


def plot_loss(history: pd.DataFrame, outputs: Sequence[str]) -> None:
    """Train and validation loss per epoch, with the selected epochs marked (per ``seed``
    where the history holds several flows)."""
    # matplotlib loads here: the sampling, mapping and classifier jobs that import this
    # module for its other functions do not pay for it
    from resonant_ad.core.plotting import new_figure, save_figure

    fig, ax = new_figure(figsize=(5, 3.5))
    groups = history.groupby("seed", sort=False) if "seed" in history else [(None, history)]
    for k, (seed, h) in enumerate(groups):
        tag = "" if seed is None else f" (training {k + 1})"
        ax.plot(h["epoch"], h["train_nll"], f"C{k}--", label=f"SB train{tag}")
        ax.plot(h["epoch"], h["val_nll"], f"C{k}-", label=f"SB validation{tag}")
    best = history[history["selected"]]
    ax.scatter(best["epoch"], best["val_nll"], color="k", zorder=3, label="selected epoch")
    ax.set_xlabel("epoch")
    ax.set_ylabel("mean negative log-likelihood")
    ax.legend()
    save_figure(fig, *outputs)


def synthetic_frame(
    flow: ConditionalFlow,
    sr_masses: np.ndarray,
    n: int,
    cols: Sequence[str],
    signal_region: Sequence[float],
    bandwidth: float,
    g: np.random.Generator,
    latent_seed: int,
    mass: str = "mjj",
) -> tuple[pd.DataFrame, int]:
    """CATHODE's synthetic SR background: ``(n events, n beyond the flow's training range)``.

    m (column ``mass``) is drawn with ``g`` from the mass KDE fitted to ``sr_masses``, the
    features ``cols`` from the flow at m (latent draws seeded by ``latent_seed``); non-finite
    samples are an error. The dijet and the di-τ samples are both drawn here.
    """
    kde = MassKDE(tuple(signal_region), float(bandwidth)).fit(np.asarray(sr_masses))
    m = kde.sample(int(n), g)
    x, n_out = flow.sample(m, seed=latent_seed)
    bad = ~np.isfinite(x).all(axis=1)
    if bad.any():
        raise FloatingPointError(f"{int(bad.sum())} flow samples are NaN/inf")
    out = pd.DataFrame(x, columns=list(cols))
    out[mass] = m
    return out, n_out


def event_rng(seed: int, mass: float, *stream: int) -> np.random.Generator:
    """The generator of one data event's kernel draws: seeded by ``seed`` and the bits of its
    ``mass`` (and a ``stream`` number), so that its draws never depend on the other events."""
    return np.random.default_rng([int(seed), int(np.float64(mass).view(np.uint64)), *stream])


def kernel_samples(
    flow: ConditionalFlow,
    masses: np.ndarray,
    cols: Sequence[str],
    per_event: float,
    signal_region: Sequence[float],
    bandwidth: float,
    seed: int,
    mass: str = "mjj",
) -> pd.DataFrame:
    """Synthetic background from the mass KDE of the data ``masses``, drawn event by event.

    The KDE of the data is a sum of one Gaussian kernel per data event (in the logit space of
    :class:`~resonant_ad.core.flow.MassKDE`); a stratified sample of it takes ``per_event``
    draws from each kernel (its integer part, plus one with the probability of its fraction),
    and the features from the flow at each drawn mass. Each event's draws (count, mass,
    latent point, epoch state) come from a generator seeded by ``seed`` and the event's mass
    alone, so the synthetic set is a function of the data masses only: no label is read, the
    order of the events does not matter, and the draws of the events of a part of the data
    can be computed once and reused. ``kde_center`` holds the data mass of each draw's kernel;
    ``cols`` names the features. Non-finite samples are an error.
    """
    masses = np.asarray(masses, dtype=np.float64)
    whole, frac = int(np.floor(per_event)), float(per_event) - np.floor(per_event)
    d, n_states = flow.n_features_, len(flow.states_)
    centers, ys, zs, states = [], [], [], []
    for m_i in masses:
        g = event_rng(seed, m_i)
        k = whole + int(g.random() < frac)
        centers.append(np.full(k, m_i))
        ys.append(g.normal(0.0, 1.0, k))
        zs.append(g.standard_normal((k, d)))
        states.append(g.integers(n_states, size=k))
    center = np.concatenate(centers) if centers else np.empty(0)
    if len(center) == 0:
        return pd.DataFrame({c: np.empty(0) for c in (*cols, mass, "kde_center")})
    kde = MassKDE(tuple(signal_region), float(bandwidth)).fit(masses)
    m = kde.kernel_draw(center, np.concatenate(ys))
    x = flow.sample_latent(np.concatenate(zs), m, np.concatenate(states))
    if not np.isfinite(x).all():
        raise FloatingPointError(f"{int((~np.isfinite(x).all(axis=1)).sum())} samples NaN/inf")
    out = pd.DataFrame(x, columns=list(cols))
    out[mass] = m
    out["kde_center"] = center
    return out


def resampled_kernel_samples(
    flow: ConditionalFlow,
    ratio: DensityRatio,
    proposals: int,
    masses: np.ndarray,
    cols: Sequence[str],
    per_event: float,
    signal_region: Sequence[float],
    bandwidth: float,
    seed: int,
    mass: str = "mjj",
) -> pd.DataFrame:
    """:func:`kernel_samples` refined by a density ratio (importance resampling).

    Each event's kernel proposes ``proposals`` × ⌈``per_event``⌉ draws and keeps
    ``per_event`` of them (its integer part, plus one with the probability of its fraction),
    chosen without replacement with probability ∝ w(x, m) (:func:`top_k_by_weight`): the
    synthetic set follows p_flow · w and stays unweighted. The choice is seeded by ``seed``
    and the event's mass, as its draws are, so an event's draws are the same wherever they
    are computed. ``ratio`` takes the ``cols`` and then the mass."""
    masses = np.asarray(masses, dtype=np.float64)
    n_prop = int(np.ceil(per_event)) * int(proposals)
    draws = kernel_samples(flow, masses, cols, n_prop, signal_region, bandwidth, seed, mass)
    if len(draws) == 0:
        return draws
    whole, frac = int(np.floor(per_event)), float(per_event) - np.floor(per_event)
    keep, noise = np.empty(len(masses), dtype=int), np.empty((len(masses), n_prop))
    for i, m_i in enumerate(masses):
        g = event_rng(seed, m_i, 1)
        keep[i] = whole + int(g.random() < frac)
        noise[i] = g.gumbel(size=n_prop)
    w = ratio.weights(draws[[*cols, mass]].to_numpy()).reshape(len(masses), n_prop)
    return draws[top_k_by_weight(w, keep, noise).ravel()].reset_index(drop=True)


def fit_density_ratio(
    flow: ConditionalFlow,
    sb: pd.DataFrame,
    cols: Sequence[str],
    params: Mapping[str, Any],
    seed: int,
    mass: str = "mjj",
) -> DensityRatio:
    """The flow's residual mismodelling where data are known: a :class:`DensityRatio` of the
    SB events ``sb`` against ``params["model_per_real"]`` × as many flow samples at their
    masses, on ``cols`` and the mass (``params``: model_per_real, clip)."""
    m = np.repeat(sb[mass].to_numpy(np.float64), int(params["model_per_real"]))
    fake = np.column_stack([flow.sample(m, derive_seed(seed, "ratio-samples"))[0], m])
    real = sb[[*cols, mass]].to_numpy(np.float64)
    return DensityRatio(clip=params["clip"], seed=seed).fit(real, fake)


def write_density_ratio(
    model: str,
    sb_parts: Sequence[str],
    ratio_out: str,
    summary_out: str,
    params: Mapping[str, Any],
    seed: int,
    mass: str = "mjj",
) -> None:
    """Fit :func:`fit_density_ratio` on the SB parts (train and val) and save it, with a
    summary: trees, held-out AUC of SB data against the flow, the weights' spread."""
    flow = ConditionalFlow.load(model)
    sb = pd.concat([read_parquet(p) for p in sb_parts], ignore_index=True)
    cols = feature_columns(sb)
    ratio = fit_density_ratio(flow, sb, cols, params, seed, mass)
    w = ratio.weights(sb[[*cols, mass]].to_numpy())
    ratio.save(ratio_out)
    summary = {
        "trees": int(ratio.classifier_.n_iter_),
        "sb_real_vs_flow_auc": ratio.validation_auc_,
        "weight_quantiles_on_sb_data": dict(
            zip(
                ("1%", "50%", "99%"),
                np.quantile(w, [0.01, 0.5, 0.99]).round(3).tolist(),
                strict=True,
            )
        ),
        "clipped_fraction": float(np.isin(w, ratio.clip).mean()),
        "n_sb_events": len(sb),
    }
    write_json(summary, summary_out)
    log.info("density ratio: %s", summary)


def sample_split(n: int, val_fraction: float, g: np.random.Generator) -> np.ndarray:
    """A shuffled ``train``/``val`` label per sample, ``round(val_fraction · n)`` of them val."""
    n_val = round(float(val_fraction) * n)
    return np.array(["train"] * (n - n_val) + ["val"] * n_val)[g.permutation(n)]


def sample_sr(
    model: str,
    sr_train: str,
    samples_out: str,
    summary_out: str,
    flow_params: Mapping[str, Any],
    signal_region: Sequence[float],
    seed: int,
    mass: str = "mjj",
) -> None:
    """CATHODE: masses from the SR mass KDE, features from the flow; a train/val column.

    ``n_samples`` events are drawn; ``sample_val_fraction`` of them are marked ``val``.
    Samples beyond the flow's training range are counted in the summary, not dropped.
    ``mass`` names the conditioning column.
    """
    flow = ConditionalFlow.load(model)
    sr = read_parquet(sr_train)
    cols = feature_columns(sr)
    n = int(flow_params["n_samples"])
    g = rng(seed, "sample")
    out, n_out = synthetic_frame(
        flow,
        sr[mass].to_numpy(),
        n,
        cols,
        signal_region,
        flow_params["kde_bandwidth"],
        g,
        derive_seed(seed, "sample-latent"),
        mass,
    )
    out["split"] = sample_split(n, flow_params["sample_val_fraction"], g)
    n_val = int((out["split"] == "val").sum())
    write_parquet(out, samples_out)
    summary = {
        "n_samples": n,
        "n_val": n_val,
        "n_outside_training_range": n_out,
        "fraction_outside_training_range": n_out / n,
        "masses_beyond_training": flow.masses_beyond(out[mass].to_numpy()),
    }
    write_json(summary, summary_out)
    log.info("sampling: %s", summary)
