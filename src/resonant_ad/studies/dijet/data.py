"""LHCO R&D dijet data: derived features, signal injection, SR/SB split and feature sets.

Conventions of the CATHODE / LaCATHODE reference code: jets are ordered by mass (J1 is the
lighter jet), masses are in TeV, τ21 = τ2 / (τ1 + 1e-5), and the SR is a strict window in mJJ.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.download import verify
from resonant_ad.core.io import read_parquet, write_json, write_parquet
from resonant_ad.core.regions import in_window, split_labels
from resonant_ad.core.seeding import rng
from resonant_ad.stages.parts import SPLIT_PARTS
from resonant_ad.studies.dijet.surrogate import COLUMNS, HDF_KEY

log = logging.getLogger(__name__)

#: columns of a prepared table (masses in TeV)
PREPARED = ["mjj", "mj1", "delta_mj", "tau21_j1", "tau21_j2", "delta_r", "label"]


def read_raw(path: str | os.PathLike[str], require_label: bool = True) -> pd.DataFrame:
    """Read an LHCO features HDF5 file (key ``df``), naming a missing key or column."""
    try:
        df = pd.read_hdf(path, key=HDF_KEY)
    except KeyError as exc:
        raise KeyError(f"{path}: no table under HDF5 key {HDF_KEY!r}") from exc
    needed = COLUMNS if require_label else COLUMNS[:-1]
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise KeyError(f"{path}: missing column(s) {missing}; has {list(df.columns)}")
    if "label" not in df.columns:
        df = df.assign(label=0.0)
    return df


def _jet(df: pd.DataFrame, j: int) -> dict[str, np.ndarray]:
    return {
        c: df[f"{c}j{j}"].to_numpy(dtype=np.float64)
        for c in ("px", "py", "pz", "m", "tau1", "tau2")
    }


def derive_features(raw: pd.DataFrame) -> pd.DataFrame:
    """The analysis columns :data:`PREPARED` from the raw jet columns (GeV in, TeV out).

    mJJ is the invariant mass of the two massive jets; J1 is the lighter jet;
    ΔmJ = m(heavier) − m(lighter); τ21 per jet in that order; ΔR from pseudorapidity and φ.
    """
    j1, j2 = _jet(raw, 1), _jet(raw, 2)
    e = sum(np.sqrt(j["px"] ** 2 + j["py"] ** 2 + j["pz"] ** 2 + j["m"] ** 2) for j in (j1, j2))
    p2 = sum((j1[k] + j2[k]) ** 2 for k in ("px", "py", "pz"))
    mjj = np.sqrt(np.maximum(e**2 - p2, 0.0))

    def eta_phi(j: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        pt = np.hypot(j["px"], j["py"])
        return np.arcsinh(j["pz"] / pt), np.arctan2(j["py"], j["px"])

    (eta1, phi1), (eta2, phi2) = eta_phi(j1), eta_phi(j2)
    dphi = np.mod(phi1 - phi2 + np.pi, 2 * np.pi) - np.pi
    tau21 = [j["tau2"] / (j["tau1"] + 1e-5) for j in (j1, j2)]
    first_lighter = j1["m"] <= j2["m"]
    return pd.DataFrame(
        {
            "mjj": mjj / 1000.0,
            "mj1": np.where(first_lighter, j1["m"], j2["m"]) / 1000.0,
            "delta_mj": np.abs(j1["m"] - j2["m"]) / 1000.0,
            "tau21_j1": np.where(first_lighter, tau21[0], tau21[1]),
            "tau21_j2": np.where(first_lighter, tau21[1], tau21[0]),
            "delta_r": np.hypot(eta1 - eta2, dphi),
            "label": raw["label"].to_numpy(dtype=np.float64),
        }
    )


def _require_finite(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Raise naming ``path``, the number of events and the columns holding NaN/inf."""
    finite = np.isfinite(df.to_numpy(dtype=float))
    bad = ~finite.all(axis=1)
    if bad.any():
        cols = [c for c, ok in zip(df.columns, finite.all(axis=0), strict=True) if not ok]
        raise ValueError(f"{path}: {int(bad.sum())} events with NaN/inf in {cols}")


def prepare(
    features_raw: str | os.PathLike[str],
    extra_raw: str | os.PathLike[str],
    events_out: str | os.PathLike[str],
    extra_out: str | os.PathLike[str],
    verify_checksums: bool = False,
    extra_region: Sequence[float] | None = None,
) -> None:
    """Raw HDF5 files → parquet tables of :data:`PREPARED` (events, and the extra SR background).

    With ``verify_checksums`` the inputs are checked against their ``.md5`` sidecars first
    (written by the download), so a file corrupted after its download is caught here. The
    extra background is cut to ``extra_region`` (TeV, the nominal SR): the real file is SR-only
    by construction, but another input (or a wider one) must not bring events from elsewhere
    into the idealized AD's reference; the number removed is logged.
    """
    for path in (features_raw, extra_raw):
        if verify_checksums:
            verify(path)
    tables = []
    for path, require_label in ((features_raw, True), (extra_raw, False)):
        raw = read_raw(path, require_label=require_label)
        _require_finite(raw, path)  # names the raw columns at fault
        derived = derive_features(raw)
        _require_finite(derived, path)  # e.g. a negative mass² from inconsistent momenta
        tables.append(derived)
    events, extra = tables
    if extra_region is not None:
        inside = in_window(extra["mjj"].to_numpy(), extra_region)
        if not inside.all():
            log.warning(
                "%s: %d of %d extra background events lie outside the SR %s and are dropped",
                extra_raw,
                int((~inside).sum()),
                len(extra),
                list(extra_region),
            )
        extra = extra[inside].reset_index(drop=True)
    write_parquet(events, events_out)
    write_parquet(extra, extra_out)
    log.info("prepared %d events and %d extra SR background events", len(events), len(extra))


def inject(
    events: pd.DataFrame, n_signal: int, signal_region: Sequence[float], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """(data, unused signal, summary): all background plus ``n_signal`` random signal events.

    The injected events are drawn without replacement with a seed named by ``n_signal``;
    the signal not injected is returned for the SIC test set. The summary gives the counts
    and S/B, S/√B inside the SR.
    """
    is_sig = events["label"].to_numpy() == 1
    bkg, sig = events[~is_sig], events[is_sig]
    if not 0 <= n_signal <= len(sig):
        raise ValueError(f"cannot inject {n_signal} signal events: the sample has {len(sig)}")
    g = rng(seed, "inject", n_signal)
    chosen = np.zeros(len(sig), dtype=bool)
    chosen[g.choice(len(sig), size=n_signal, replace=False)] = True
    data = pd.concat([bkg, sig[chosen]], ignore_index=True)
    data = data.iloc[g.permutation(len(data))].reset_index(drop=True)
    sr = in_window(data["mjj"].to_numpy(), signal_region)
    s = int((sr & (data["label"].to_numpy() == 1)).sum())
    b = int((sr & (data["label"].to_numpy() == 0)).sum())
    summary = {
        "n_signal_injected": int(n_signal),
        "n_background": len(bkg),
        "signal_in_sr": s,
        "background_in_sr": b,
        "s_over_b_sr": s / b if b else float("nan"),
        "s_over_sqrt_b_sr": s / np.sqrt(b) if b else float("nan"),
        "signal_region": list(signal_region),
    }
    return data, sig[~chosen].reset_index(drop=True), summary


def write_injection(
    events_path: str | os.PathLike[str],
    data_out: str | os.PathLike[str],
    unused_out: str | os.PathLike[str],
    summary_out: str | os.PathLike[str],
    n_signal: int,
    params: Mapping[str, Any],
) -> None:
    """Inject ``n_signal`` events (``params``: seed, signal_region) and write the three outputs."""
    data, unused, summary = inject(
        read_parquet(events_path), n_signal, params["signal_region"], params["seed"]
    )
    write_parquet(data, data_out)
    write_parquet(unused, unused_out)
    write_json(summary, summary_out)
    log.info("injection: %s", summary)


def build_features(df: pd.DataFrame, spec: Mapping[str, Any]) -> pd.DataFrame:
    """The feature set ``spec`` (``features`` and optional ``shift``) plus ``mjj`` and ``label``.

    ``shift: {c: 0.1, columns: [mj1, delta_mj]}`` replaces each listed feature f by f + c·mJJ
    (the paper's "shifted" set, which adds a strong linear correlation with mJJ).
    """
    missing = [f for f in spec["features"] if f not in df.columns]
    if missing:
        raise KeyError(f"feature set asks for unknown column(s) {missing}; known: {PREPARED[1:-1]}")
    out = df[list(spec["features"])].copy()
    shift = spec.get("shift")
    if shift:
        for col in shift["columns"]:
            if col not in out.columns:
                raise KeyError(f"shift column {col!r} is not among the features {spec['features']}")
            out[col] = out[col] + float(shift["c"]) * df["mjj"]
    out["mjj"] = df["mjj"].to_numpy()
    out["label"] = df["label"].to_numpy()
    return out.reset_index(drop=True)


def split_study(
    data: pd.DataFrame,
    unused_signal: pd.DataFrame,
    extra: pd.DataFrame,
    spec: Mapping[str, Any],
    params: Mapping[str, Any],
    n_signal: int,
) -> dict[str, pd.DataFrame]:
    """The parts :data:`SPLIT_PARTS` in feature set ``spec``.

    ``params``: seed, signal_region, split (train/val/test fractions of the data),
    extra_split (event counts of the extra SR background for train and val; the rest is
    test), extra_region (the nominal SR, where the extra background was simulated: a
    different window, e.g. of a scan, gets empty extra parts). The data split is the same
    for every feature set and window of an injection.
    """
    window = params["signal_region"]
    labels = split_labels(len(data), params["split"], rng(params["seed"], "split", n_signal))
    sr = in_window(data["mjj"].to_numpy(), window)
    if not sr.any():
        raise ValueError(f"signal_region {list(window)} holds no events")
    feats = build_features(data, spec)
    parts = {
        f"{region}_{split}": feats[mask & (labels == split)].reset_index(drop=True)
        for region, mask in (("sr", sr), ("sb", ~sr))
        for split in ("train", "val", "test")
    }
    n_train, n_val = (int(params["extra_split"][k]) for k in ("train", "val"))
    extra_feats = build_features(extra, spec)
    extra_region = params.get("extra_region", window)
    if [float(v) for v in extra_region] != [float(v) for v in window]:
        # the extra background is simulated in the nominal SR only: none for a scan window
        log.info("window %s is not the extra sample's %s: no extra parts", window, extra_region)
        extra_feats, n_train, n_val = extra_feats.iloc[:0], 0, 0
    elif n_train + n_val > len(extra):
        raise ValueError(
            f"extra_split asks for {n_train} + {n_val} events; the extra SR sample has {len(extra)}"
        )
    order = rng(params["seed"], "split-extra").permutation(len(extra_feats))
    parts["extra_train"] = extra_feats.iloc[order[:n_train]].reset_index(drop=True)
    parts["extra_val"] = extra_feats.iloc[order[n_train : n_train + n_val]].reset_index(drop=True)
    parts["extra_test"] = extra_feats.iloc[order[n_train + n_val :]].reset_index(drop=True)
    sig = build_features(unused_signal, spec)
    sig = sig[in_window(sig["mjj"].to_numpy(), window)].reset_index(drop=True)
    sig_labels = split_labels(len(sig), params["split"], rng(params["seed"], "split-signal"))
    for split in ("train", "val", "test"):
        parts[f"signal_{split}"] = sig[sig_labels == split].reset_index(drop=True)
    return parts


def write_split(
    data_path: str | os.PathLike[str],
    unused_path: str | os.PathLike[str],
    extra_path: str | os.PathLike[str],
    outputs: Mapping[str, str],
    spec: Mapping[str, Any],
    params: Mapping[str, Any],
    n_signal: int,
) -> None:
    """Split one injection in one feature set and write every part to ``outputs[part]``."""
    parts = split_study(
        read_parquet(data_path),
        read_parquet(unused_path),
        read_parquet(extra_path),
        spec,
        params,
        n_signal,
    )
    for name in SPLIT_PARTS:
        write_parquet(parts[name], outputs[name])
    log.info("split sizes: %s", {k: len(v) for k, v in parts.items()})


def feature_correlations(
    events: pd.DataFrame, specs: Mapping[str, Mapping[str, Any]]
) -> pd.DataFrame:
    """Pearson correlation of every feature of every set with mJJ, in the background."""
    bkg = events[events["label"] == 0]
    rows = []
    for name, spec in specs.items():
        feats = build_features(bkg, spec)
        for col in spec["features"]:
            rows.append(
                {
                    "feature_set": name,
                    "feature": col,
                    "corr_with_mjj": float(np.corrcoef(feats[col], feats["mjj"])[0, 1]),
                }
            )
    return pd.DataFrame(rows)
