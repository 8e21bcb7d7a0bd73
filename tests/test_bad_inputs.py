"""Malformed inputs, one row each: a clear error naming the culprit, earlier results untouched.

Every case calls the function a workflow rule runs, with an output file that already holds an
earlier result; the call must fail with a message naming the bad file, key or value, and the
earlier result must keep its bytes (outputs are only ever replaced by a complete new file).
Config values of the wrong type or range, or that disagree with each other, are refused
before any rule runs (``tests/test_config_guards.py``); a download with the wrong checksum is
``tests/test_download.py::test_md5_mismatch_names_file_and_both_checksums_and_leaves_nothing``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from resonant_ad.stages.classify import train_and_score
from resonant_ad.stages.evaluate import write_evaluation
from resonant_ad.stages.flows import train_flow
from resonant_ad.stages.parts import SPLIT_PARTS
from resonant_ad.stats.bumphunt import write_bump_hunt
from resonant_ad.studies.dijet.data import prepare, write_split
from resonant_ad.studies.dijet.surrogate import generate_surrogate, write_hdf

EARLIER = b"an earlier, complete result\n"
FEATURES = {"features": ["mj1", "delta_mj", "tau21_j1", "tau21_j2"]}
BUMPHUNT = {
    "efficiencies": [0.1],
    "function": "dijet4",
    "bin_width": 0.1,
    "fit_range": [2.7, 6.0],
    "sqrt_s": 13.0,
}


def _raw(tmp_path: Path, corrupt: Callable[[pd.DataFrame], pd.DataFrame] | None = None):
    """Raw features and extra files in the real layout; ``corrupt`` edits the features."""
    features, extra = generate_surrogate(3000, 300, seed=2, n_extra_sr=500)
    if corrupt is not None:
        features = corrupt(features)
    paths = (tmp_path / "features.h5", tmp_path / "extra.h5")
    write_hdf(features, paths[0])
    write_hdf(extra, paths[1])
    return paths


def _prepared(tmp_path: Path) -> dict[str, Path]:
    """Prepared events, an injection of 50 signal events and the extra background."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    features, extra = _raw(tmp_path)
    out = {"events": tmp_path / "events.parquet", "extra": tmp_path / "extra.parquet"}
    prepare(features, extra, out["events"], out["extra"])
    events = pd.read_parquet(out["events"])
    sig = events[events["label"] == 1]
    data = pd.concat([events[events["label"] == 0], sig.iloc[:50]], ignore_index=True)
    out["data"], out["unused"] = tmp_path / "data.parquet", tmp_path / "unused.parquet"
    data.to_parquet(out["data"])
    sig.iloc[50:].to_parquet(out["unused"])
    return out


def _nan_in_features(tmp_path: Path) -> tuple[Callable[[], object], list[Path]]:
    def corrupt(df: pd.DataFrame) -> pd.DataFrame:
        df = df.copy()
        df.loc[df.index[7], "mj1"] = np.nan
        return df

    features, extra = _raw(tmp_path, corrupt)
    outs = [tmp_path / "events.parquet", tmp_path / "extra.parquet"]
    return lambda: prepare(features, extra, *outs), outs


def _missing_column(tmp_path: Path) -> tuple[Callable[[], object], list[Path]]:
    features, extra = _raw(tmp_path, lambda df: df.drop(columns="tau2j1"))
    outs = [tmp_path / "events.parquet", tmp_path / "extra.parquet"]
    return lambda: prepare(features, extra, *outs), outs


def _split(
    tmp_path: Path, window: list[float], extra_region: list[float] | None = None
) -> tuple[Callable[[], object], list[Path]]:
    src = _prepared(tmp_path)
    outs = {part: tmp_path / f"{part}.parquet" for part in SPLIT_PARTS}
    params = {
        "seed": 1,
        "signal_region": window,
        "extra_region": extra_region or window,
        "split": {"train": 0.5, "val": 0.2, "test": 0.3},
        "extra_split": {"train": 100, "val": 50},
    }

    def call() -> None:
        write_split(src["data"], src["unused"], src["extra"], outs, FEATURES, params, 50)

    return call, list(outs.values())


def _nan_in_flow_training(tmp_path: Path) -> tuple[Callable[[], object], list[Path]]:
    g = np.random.default_rng(0)
    train = pd.DataFrame(g.normal(size=(200, 2)), columns=["a", "b"]).assign(mjj=3.0, label=0)
    train.loc[3, "b"] = np.inf
    train.to_parquet(tmp_path / "sb_train.parquet")
    train.dropna().iloc[:50].replace(np.inf, 0.0).to_parquet(tmp_path / "sb_val.parquet")
    outs = [tmp_path / "model.pt", tmp_path / "history.csv"]
    figures = [str(tmp_path / "loss.png")]
    params = {"blocks": 1, "hidden": 4, "epochs": 1}
    return (
        lambda: train_flow(
            str(tmp_path / "sb_train.parquet"),
            str(tmp_path / "sb_val.parquet"),
            str(outs[0]),
            str(outs[1]),
            figures,
            params,
            seed=1,
        ),
        outs,
    )


def _method_without_its_sample(tmp_path: Path) -> tuple[Callable[[], object], list[Path]]:
    """The idealized AD in an SR scan window, where the extra background was not simulated."""
    split, parts = _split(tmp_path / "split", [3.0, 3.4], extra_region=[3.3, 3.7])
    outs = {k: tmp_path / f"out_{k}" for k in ("sic", "sculpting", "data", "history", "summary")}

    def run() -> None:
        split()  # writes empty extra parts for this window
        train_and_score(
            "idealized",
            {p.stem: str(p) for p in parts},
            {k: str(v) for k, v in outs.items()},
            {"type": "hgb", "hgb": {"n_members": 1}},
            {"n_samples": 100, "sample_val_fraction": 0.25},
            seed=1,
        )

    return run, list(outs.values())


def _sic_without_signal(tmp_path: Path) -> tuple[Callable[[], object], list[Path]]:
    g = np.random.default_rng(1)
    scores = pd.DataFrame({"score": g.uniform(size=500), "mjj": 3.5, "label": 0, "part": "x"})
    scores.to_parquet(tmp_path / "sic.parquet")
    sculpt = pd.DataFrame({"score": g.uniform(size=500), "mjj": g.uniform(3, 4, 500)})
    sculpt.assign(sr=sculpt["mjj"].between(3.3, 3.7)).to_parquet(tmp_path / "sculpt.parquet")
    rec = {"method": "cathode", "injection": 0, "run": 0}
    names = ("metrics", "summary", "sic", "sculpting", "sculpting_runs", "mjj")
    outs = {k: tmp_path / f"{k}.csv" for k in names}
    params = {
        "sic_min_background": 20,
        "selection_efficiency": 0.01,
        "efficiencies": [0.01],
        "sculpting_bins": 10,
        "random_subsets": 2,
    }
    return (
        lambda: write_evaluation(
            [{**rec, "path": tmp_path / "sic.parquet"}],
            [{**rec, "path": tmp_path / "sculpt.parquet"}],
            {k: str(v) for k, v in outs.items()},
            params,
            seed=0,
        ),
        list(outs.values()),
    )


def _bump_hunt_without_sr(tmp_path: Path) -> tuple[Callable[[], object], list[Path]]:
    g = np.random.default_rng(2)
    scores = pd.DataFrame({"score": g.uniform(size=100), "mjj": 4.5, "sr": False, "label": 0})
    scores.to_parquet(tmp_path / "scores_data.parquet")
    outs = {"results": tmp_path / "bumphunt.csv", "bins": tmp_path / "bumphunt_bins.csv"}
    return (
        lambda: write_bump_hunt(
            str(tmp_path / "scores_data.parquet"),
            {k: str(v) for k, v in outs.items()},
            [3.3, 3.7],
            BUMPHUNT,
            {"method": "cathode"},
        ),
        list(outs.values()),
    )


CASES = {
    # case: (builder, exception, message naming the culprit)
    "NaN in a raw feature": (
        _nan_in_features,
        ValueError,
        r"features\.h5: 1 events with NaN/inf in \['mj1'",
    ),
    "HDF5 file lacks a column": (_missing_column, KeyError, r"features\.h5.*tau2j1"),
    "SR window outside the data": (
        lambda p: _split(p, [20.0, 21.0]),
        ValueError,
        r"signal_region \[20\.0, 21\.0\] holds no events",
    ),
    "inf in the flow's training data": (
        _nan_in_flow_training,
        ValueError,
        "training features contain NaN or inf",
    ),
    "method needs a sample the window lacks": (
        _method_without_its_sample,
        ValueError,
        r"train classes are empty: sr_train has \d+ events, extra_train has 0",
    ),
    "SIC requested with no signal": (
        _sic_without_signal,
        ValueError,
        "SIC needs signal and background: got 0 signal",
    ),
    "bump hunt with an empty SR": (
        _bump_hunt_without_sr,
        ValueError,
        r"scores_data\.parquet: no SR",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_fails_clearly_and_keeps_earlier_results(tmp_path, case):
    builder, exc, message = CASES[case]
    call, outputs = builder(tmp_path)
    for path in outputs:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(EARLIER)
    with pytest.raises(exc, match=message):
        call()
    for path in outputs:
        assert path.read_bytes() == EARLIER, f"{path.name} was changed by a failed call"
    leftovers = [p.name for p in tmp_path.rglob("*.part")]
    assert not leftovers, leftovers
