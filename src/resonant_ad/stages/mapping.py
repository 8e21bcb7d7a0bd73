"""The flow as a map of events: LaCATHODE's latent space, the decorrelated space, and the
cross-fitted flows of the bump hunt.

The decorrelated space (LaCATHODE footnote 2) uses the flow twice: x' = f⁻¹(f(x; m); m0),
every event moved to one reference mass m0 in the SR, where the flow's background is the same
for all m; its background model is the flow sampled at m0.

A flow maps the SB events it was trained on closer to N(0, 1) than events it never saw (it
fits them), and every SR event is one it never saw. A cut on the latent (or decorrelated)
space therefore keeps fewer of the flow's own SB training events than of other background,
and a bump hunt over every data event finds the SR as a local maximum on background alone
(docs/null-study.md). The bump hunt's out-of-fold scores (:mod:`resonant_ad.stages.folds`)
therefore map each fold's events with one of two cross-fitted flows per run
(:data:`~.folds.CROSS_FLOWS`): flow g maps every second fold from g (:func:`~.folds.flow_folds`)
and is fitted to the SB data of the others, so that their cost does not grow with k
(:func:`train_cross_flows`, :func:`fold_space_frames`).
No event is mapped by a flow, or scored by a classifier, that saw it; a classifier's own
training events (SR data, never fitted by a flow) are mapped by the flow of its fold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.flow import ConditionalFlow
from resonant_ad.core.io import read_parquet, write_csv, write_parquet
from resonant_ad.core.seeding import derive_seed, rng
from resonant_ad.core.training import checkpoint_path
from resonant_ad.stages.flows import feature_columns, fit_flows, sample_split
from resonant_ad.stages.folds import CROSS_FLOWS, flow_folds, fold_frames
from resonant_ad.stages.methods import FLOW_SPACES, space_draws_at_m0
from resonant_ad.stages.parts import DATA_PARTS

log = logging.getLogger(__name__)


def map_frame(
    df: pd.DataFrame,
    mapping: Callable[[np.ndarray, np.ndarray], np.ndarray],
    flow: ConditionalFlow,
    names: Callable[[list[str]], list[str]] = lambda cols: cols,
    mass: str = "mjj",
    part: str = "",
) -> pd.DataFrame:
    """``mapping(x, m)`` of one table's features, with its ``mass``, ``label`` and
    ``in_range`` columns (:func:`map_parts`); non-finite values are an error naming ``part``."""
    cols = feature_columns(df)
    x = df[cols].to_numpy()
    mapped = mapping(x, df[mass].to_numpy())
    if not np.isfinite(mapped).all():
        raise FloatingPointError(f"{part}: the mapped features hold NaN/inf")
    out = pd.DataFrame(mapped, columns=names(cols))
    out[mass] = df[mass].to_numpy()
    out["label"] = df["label"].to_numpy()
    out["in_range"] = ~flow.scaler_.out_of_range(x)
    return out


def map_parts(
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    mapping: Callable[[np.ndarray, np.ndarray], np.ndarray],
    flow: ConditionalFlow,
    names: Callable[[list[str]], list[str]] = lambda cols: cols,
    mass: str = "mjj",
) -> list[str]:
    """Write ``mapping(x, m)`` of every part, keeping the ``mass`` column and ``label``.

    Returns the input feature columns.

    ``names`` gives the output columns from the input feature columns. Each event also gets
    ``in_range``: whether its features lie inside ``flow``'s fitted range. Beyond it the
    preprocessing extrapolates (clipping past half its margin), so the mapped value is not
    the flow's model; every event is kept (all methods are tested on the same events), the
    classifier stage leaves such events out of training, and the count is logged.
    Non-finite mapped features are an error naming the part.
    """
    cols: list[str] = []
    for part, path in inputs.items():
        df = read_parquet(path)
        cols = feature_columns(df)
        out = map_frame(df, mapping, flow, names, mass, part)
        write_parquet(out, outputs[part])
        log.info(
            "%s: %d events mapped, %d beyond the flow's fitted range",
            part,
            len(out),
            int((~out["in_range"]).sum()),
        )
    return cols


def to_latent(
    model: str, inputs: Mapping[str, str], outputs: Mapping[str, str], mass: str = "mjj"
) -> None:
    """LaCATHODE: z = f(preprocess(x); m) for every event of every split part."""
    flow = ConditionalFlow.load(model)
    map_parts(inputs, outputs, flow.transform, flow, latent_names, mass)


def latent_names(cols: Sequence[str]) -> list[str]:
    """The latent columns of features ``cols``: z0, z1, …"""
    return [f"z{i}" for i in range(len(cols))]


def reference_mass(signal_region: Sequence[float]) -> float:
    """m0 of the decorrelated space: the SR centre."""
    return 0.5 * (float(signal_region[0]) + float(signal_region[1]))


def decorrelate(
    model: str,
    inputs: Mapping[str, str],
    outputs: Mapping[str, str],
    samples_out: str,
    flow_params: Mapping[str, Any],
    signal_region: Sequence[float],
    seed: int,
    mass: str = "mjj",
) -> None:
    """x' = f⁻¹(f(x; m); m0) for every event of every part, and background samples at m0.

    The samples (``n_samples``, a ``split`` column with ``sample_val_fraction`` marked
    ``val``) are the decorrelated method's reference class, as CATHODE's SR samples are
    CATHODE's. The ``mass`` column keeps each event's own mass (where it was measured).
    """
    flow = ConditionalFlow.load(model)
    cols = map_parts(inputs, outputs, to_reference_mass(flow, signal_region), flow, mass=mass)
    write_parquet(m0_samples(flow, cols, flow_params, signal_region, seed, mass), samples_out)


def to_reference_mass(
    flow: ConditionalFlow, signal_region: Sequence[float]
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The decorrelating map x' = f⁻¹(f(x; m); m0) of ``flow``, m0 the SR centre."""
    m0 = reference_mass(signal_region)

    def to_m0(x: np.ndarray, m: np.ndarray) -> np.ndarray:
        return flow.inverse_transform(flow.transform(x, m), np.full(len(m), m0))

    return to_m0


def m0_samples(
    flow: ConditionalFlow,
    cols: Sequence[str],
    flow_params: Mapping[str, Any],
    signal_region: Sequence[float],
    seed: int,
    mass: str = "mjj",
) -> pd.DataFrame:
    """The decorrelated method's reference class: ``n_samples`` flow draws at m0, with a
    ``split`` column (``sample_val_fraction`` of them ``val``)."""
    m0 = reference_mass(signal_region)
    n = int(flow_params["n_samples"])
    x, n_out = flow.sample(np.full(n, m0), seed=derive_seed(seed, "m0-samples"))
    if not np.isfinite(x).all():
        raise FloatingPointError("flow samples at m0 hold NaN/inf")
    samples = pd.DataFrame(x, columns=list(cols))
    samples[mass] = m0
    samples["split"] = sample_split(n, flow_params["sample_val_fraction"], rng(seed, "m0-split"))
    log.info("%d samples at m0 = %g (%d beyond the training range)", n, m0, n_out)
    return samples


def space_map(
    flow: ConditionalFlow, space: str, signal_region: Sequence[float]
) -> tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], Callable[[list[str]], list[str]]]:
    """``flow``'s map into a method's ``space`` (``z``: latent, ``xp``: decorrelated) and the
    names of the mapped columns."""
    if space == "z":
        return flow.transform, latent_names
    if space == "xp":
        return to_reference_mass(flow, signal_region), lambda cols: cols
    raise ValueError(f"space {space!r} is not a flow's map (z or xp)")


def train_cross_flows(
    sb_parts: Mapping[str, str],
    outputs: Sequence[Sequence[Mapping[str, str]]],
    flow_params: Mapping[str, Any],
    seeds: Sequence[int],
    k: int,
    fold_seed: int,
    mass: str = "mjj",
) -> None:
    """The cross-fitted flows of a bump hunt with ``k`` folds: for each run (``seeds``,
    ``outputs``) and flow g of :data:`~.folds.CROSS_FLOWS`, p(x | m) on the SB data outside
    the folds g maps (:func:`~.folds.flow_folds`).

    ``sb_parts`` are the split's SB parts (train, val, test); the data outside those folds
    are dealt into train and val in the split's proportion (:func:`~.folds.fold_frames`,
    folds drawn with ``fold_seed``, as the classifiers' folds are). The runs of a flow train
    together; run r's flow g is seeded ``derive_seed(seeds[r], "fold", g)``. Each
    ``outputs[run][g]`` names its ``model`` and ``history``.
    """
    if k < 2 or any(len(o) != CROSS_FLOWS for o in outputs):
        sizes = [len(o) for o in outputs]
        raise ValueError(f"{CROSS_FLOWS} flows per run for k >= 2 folds, got {sizes} for k = {k}")
    frames = {part: read_parquet(path) for part, path in sb_parts.items()}
    for g in range(CROSS_FLOWS):
        sources = fold_frames(frames, k, flow_folds(k, g), fold_seed, regions=("sb",))
        log.info("flow %d, for folds %s of %d: runs seeded %s", g, flow_folds(k, g), k, seeds)
        flows = fit_flows(
            sources["sb_train"],
            sources["sb_val"],
            flow_params,
            [derive_seed(seed, "fold", g) for seed in seeds],
            checkpoint_path(outputs[0][g]["model"]),
            mass,
        )
        for flow, out in zip(flows, (run_outputs[g] for run_outputs in outputs), strict=True):
            flow.save(out["model"])
            write_csv(flow.history_, out["history"])


def fold_space_frames(
    model: str,
    data: Mapping[str, pd.DataFrame],
    space: str,
    signal_region: Sequence[float],
    flow_params: Mapping[str, Any] | None,
    seed: int,
    mass: str = "mjj",
) -> dict[str, pd.DataFrame]:
    """The ``data`` parts (feature space) mapped by the cross-fitted flow ``model`` into ``space``;
    for ``xp`` also ``samples``, that flow's draws at m0 (``flow_params``: ``n_samples``,
    ``sample_val_fraction``; seeded by ``seed``), the decorrelated method's reference."""
    flow = ConditionalFlow.load(model)
    mapping, names = space_map(flow, space, signal_region)
    out = {part: map_frame(df, mapping, flow, names, mass, part) for part, df in data.items()}
    if space_draws_at_m0(space):
        if not flow_params:
            raise ValueError("the decorrelated fold spaces need n_samples and a val share")
        cols = feature_columns(next(iter(data.values())))
        out["samples"] = m0_samples(flow, cols, flow_params, signal_region, seed, mass)
    return out


def fold_spaces(
    space: str,
    frames: Mapping[str, pd.DataFrame],
    run_inputs: Mapping[str, str],
    k: int,
    signal_region: Sequence[float] | None,
    flow_params: Mapping[str, Any] | None,
    seed: int,
) -> list[Mapping[str, pd.DataFrame]]:
    """The sources of each of the ``k`` fold classifiers of one run of a method in ``space``:
    ``frames`` itself, or, where ``run_inputs`` give the cross-fitted flows
    (``cross_flow{g}``) and the data in feature space (``x_{part}``), ``frames`` with the
    data parts (and x′'s samples at m0) in the space of the flow that maps fold f
    (:func:`~.folds.flow_folds`, :func:`fold_space_frames`)."""
    names = [f"cross_flow{g}" for g in range(CROSS_FLOWS)]
    models = [run_inputs[n] for n in names if n in run_inputs]
    if not models or k == 0:
        return [frames] * k
    if space not in FLOW_SPACES or len(models) != CROSS_FLOWS:
        raise ValueError(f"{len(models)} cross-fitted flows given in space {space!r}")
    if signal_region is None:
        raise ValueError("the cross-fitted flows' spaces need the signal region")
    x_data = {part: read_parquet(run_inputs[f"x_{part}"]) for part in DATA_PARTS}
    spaces = [
        {
            **frames,
            **fold_space_frames(
                model, x_data, space, signal_region, flow_params, derive_seed(seed, "fold-flow", g)
            ),
        }
        for g, model in enumerate(models)
    ]
    owner = {f: g for g in range(CROSS_FLOWS) for f in flow_folds(k, g)}
    return [spaces[owner[f]] for f in range(k)]
