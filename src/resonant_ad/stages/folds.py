"""Out-of-fold scores of the whole data set, for the bump hunt (k-fold cross-training).

A search scores every event with a classifier that did not see it, as the CWoLa hunting
searches do: the data of each region (every part of the split, SR and SB) is dealt into k
folds; the classifier of fold f trains on the data outside fold f, in the roles its method
gives the data (class 1 = SR data; CWoLa's class 0 = SB data), and scores fold f. The other
sources (flow samples, N(0, 1) draws, the extra SR background) are not data and are never
scored, so every fold uses them as the method's usual training does.

A method whose inputs pass through the flow (LaCATHODE's latents, the decorrelated x′) would
still see the SB events the run's flow was fitted to; with ``bumphunt.cross_flows`` each fold
reads the data in the space of one of two cross-fitted flows (:func:`flow_folds`), fitted to
the SB data outside the folds it maps (:mod:`resonant_ad.stages.mapping`), and
:func:`out_of_fold_scores` takes one set of sources per fold.

The fold classifiers' scores are on different scales, so the bump hunt cuts each fold at its
own threshold (:func:`resonant_ad.stats.bumphunt.selection_histograms`). The SIC and
sculpting evaluations keep the usual training and its labelled test sets
(:mod:`resonant_ad.stages.classify`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from resonant_ad.core.seeding import rng

#: the data's parts per region, in the roles (train, val, test) of the usual training
DATA_REGIONS = {"sr": ("sr_train", "sr_val", "sr_test"), "sb": ("sb_train", "sb_val", "sb_test")}


#: the cross-fitted flows of the bump hunt (:mod:`resonant_ad.stages.mapping`): fold f's events
#: are mapped by flow ``f % CROSS_FLOWS``, fitted to the SB data outside all of its folds
CROSS_FLOWS = 2


def flow_folds(k: int, flow: int) -> list[int]:
    """The folds (of ``k``) whose events cross-fitted flow ``flow`` maps: every
    :data:`CROSS_FLOWS`-th one from ``flow``; the flow is fitted to the SB data of the others."""
    return list(range(flow, k, CROSS_FLOWS))


def fold_ids(n: int, k: int, seed: int, part: str) -> np.ndarray:
    """The fold (0 … k − 1) of each of the ``n`` events of ``part``: a seeded permutation
    dealt in turn, so that fold sizes differ by at most one event (and are the same in every
    run, which lets the runs' fold classifiers train together)."""
    ids = np.empty(n, dtype=np.int64)
    ids[rng(seed, "folds", part).permutation(n)] = np.arange(n) % k
    return ids


def region_data(frames: Mapping[str, pd.DataFrame], region: str, k: int, seed: int) -> pd.DataFrame:
    """Every data event of ``region`` (``sr`` or ``sb``), its parts in order, with its fold."""
    return pd.concat(
        [
            frames[part].assign(fold=fold_ids(len(frames[part]), k, seed, part))
            for part in DATA_REGIONS[region]
        ],
        ignore_index=True,
    )


def fold_frames(
    frames: Mapping[str, pd.DataFrame],
    k: int,
    fold: int | Sequence[int],
    seed: int,
    regions: Sequence[str] = tuple(DATA_REGIONS),
) -> dict[str, pd.DataFrame]:
    """The sources of fold ``fold``'s training: each region's (of ``regions``) train and val
    parts replaced by its data outside the fold (or outside every fold of a list), dealt at
    random into train and val in the proportion of the split's own train and val parts;
    every other source unchanged."""
    folds = [fold] if isinstance(fold, int) else list(fold)
    stream = folds[0] if len(folds) == 1 else tuple(folds)  # one fold: its number, as before
    out = dict(frames)
    for region in regions:
        train, val, _ = DATA_REGIONS[region]
        rest = region_data(frames, region, k, seed)
        rest = rest[~rest["fold"].isin(folds)].drop(columns="fold").reset_index(drop=True)
        share = len(frames[val]) / max(len(frames[train]) + len(frames[val]), 1)
        order = rng(seed, "fold-val", region, stream).permutation(len(rest))
        is_val = np.zeros(len(rest), dtype=bool)
        is_val[order[: round(share * len(rest))]] = True
        out[train] = rest[~is_val].reset_index(drop=True)
        out[val] = rest[is_val].reset_index(drop=True)
    return out


def out_of_fold_scores(
    frames: Mapping[str, pd.DataFrame] | Sequence[Mapping[str, pd.DataFrame]],
    predictors: Sequence[Callable[[np.ndarray], np.ndarray]],
    cols: Sequence[str],
    seed: int,
) -> pd.DataFrame:
    """Every data event scored by the predictor of its fold (k = ``len(predictors)``): the
    bump hunt's table (``score``, ``mjj``, ``sr``, ``label``, ``fold``), SR then SB.

    ``frames`` is one set of sources, or one per fold: the events of fold f are then read
    from the f-th (the same events in the same order, in the space of fold f's own flow).
    """
    k = len(predictors)
    per_fold = [frames] * k if isinstance(frames, Mapping) else list(frames)
    if len(per_fold) != k:
        raise ValueError(f"{len(per_fold)} sets of frames for {k} fold predictors")
    tables = []
    for region in DATA_REGIONS:
        # each distinct set of sources is read once (the folds of one flow share theirs)
        tables_of: dict[int, pd.DataFrame] = {}
        for sources in per_fold:
            if id(sources) not in tables_of:
                tables_of[id(sources)] = region_data(sources, region, k, seed)
        data = tables_of[id(per_fold[0])]
        folds = data["fold"].to_numpy()
        score = np.full(len(data), np.nan)
        for f, predict in enumerate(predictors):
            chosen = folds == f
            if chosen.any():
                own = tables_of[id(per_fold[f])]
                score[chosen] = predict(own.loc[chosen, list(cols)].to_numpy(np.float64))
        tables.append(
            pd.DataFrame(
                {
                    "score": score,
                    "mjj": data["mjj"].to_numpy(),
                    "sr": region == "sr",
                    "label": data["label"].to_numpy().astype(np.int8),
                    "fold": folds.astype(np.int8),
                }
            )
        )
    return pd.concat(tables, ignore_index=True)
