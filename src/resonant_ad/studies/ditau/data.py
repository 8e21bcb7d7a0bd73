"""Di-τ + X events (the event-level paper): object tables, Delphes reading, the offline
generator, the event selection of its Sec. IV and the phase-space simplex features.

**Object table** (one row per event, the interface between reading/generating and the
selection): ``process`` (name), ``label`` (1 = signal process), ``met``, ``met_phi`` and,
for ``i < 15``, ``obj{i}_type`` (:data:`OBJECT_TYPES`; 0 = no object) and the four-vector
``obj{i}_e/px/py/pz`` in GeV. Objects are τ-tagged jets first, then the other jets,
electrons, muons and photons, each group in decreasing pT (the authors' flattening).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import read_parquet, write_csv, write_parquet
from resonant_ad.core.regions import in_window
from resonant_ad.core.seeding import rng

log = logging.getLogger(__name__)

N_OBJECTS = 15
#: object type codes of the object table
OBJECT_TYPES = {"none": 0, "tau": 1, "jet": 2, "bjet": 3, "electron": 4, "muon": 5, "photon": 6}
KINEMATICS = ("e", "px", "py", "pz")
#: the processes of the offline generator: two backgrounds and three signals
BACKGROUNDS = ("drell_yan", "ttbar")
SIGNALS = ("ttphi", "tprime", "xyh")
#: the padding four-vector (E, px, py, pz) of the paper, GeV
PADDING = (0.1, 0.1, 0.0, 0.0)


def object_columns(n_objects: int = N_OBJECTS) -> list[str]:
    """Column names of the objects of an object table, object by object."""
    return [f"obj{i}_{k}" for i in range(n_objects) for k in ("type", *KINEMATICS)]


def objects_frame(
    process: str,
    label: int,
    types: np.ndarray,
    p4: np.ndarray,
    met: np.ndarray,
    met_phi: np.ndarray,
) -> pd.DataFrame:
    """An object table from padded arrays: ``types`` (n, 15), ``p4`` (n, 15, 4) as E, px, py, pz."""
    n, k = types.shape
    if k != N_OBJECTS or p4.shape != (n, N_OBJECTS, 4):
        raise ValueError(f"need ({n}, {N_OBJECTS}) types and ({n}, {N_OBJECTS}, 4) four-vectors")
    cols: dict[str, Any] = {
        "process": np.full(n, process, dtype=object),
        "label": np.full(n, label, dtype=np.int8),
        "met": met.astype(np.float32),
        "met_phi": met_phi.astype(np.float32),
    }
    for i in range(N_OBJECTS):
        cols[f"obj{i}_type"] = types[:, i].astype(np.int8)
        for j, kname in enumerate(KINEMATICS):
            cols[f"obj{i}_{kname}"] = p4[:, i, j].astype(np.float32)
    df = pd.DataFrame(cols)
    df["process"] = df["process"].astype("string")
    return df


def object_arrays(df: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """(types (n, 15), four-vectors (n, 15, 4)) of an object table, naming missing columns."""
    missing = [c for c in object_columns() if c not in df.columns]
    if missing:
        more = "…" if len(missing) > 5 else ""
        raise KeyError(f"object table lacks column(s) {missing[:5]}{more}")
    types = np.stack([df[f"obj{i}_type"].to_numpy() for i in range(N_OBJECTS)], axis=1)
    p4 = np.stack(
        [
            np.stack([df[f"obj{i}_{k}"].to_numpy(np.float64) for k in KINEMATICS], axis=1)
            for i in range(N_OBJECTS)
        ],
        axis=1,
    )
    return types.astype(np.int8), p4


# -- kinematics ------------------------------------------------------------------------------
def massless_p4(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """(E, px, py, pz) of massless objects, stacked on the last axis."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([pt * np.cosh(eta), px, py, pz], axis=-1)


def boost(p4: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Boost four-vectors ``p4`` (..., 4) by velocity ``beta`` (..., 3) (rest frame → lab)."""
    b2 = np.sum(beta**2, axis=-1, keepdims=True)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p4[..., 1:], axis=-1, keepdims=True)
    g2 = np.where(b2 > 0, (gamma - 1.0) / np.where(b2 > 0, b2, 1.0), 0.0)
    p = p4[..., 1:] + g2 * bp * beta + gamma * beta * p4[..., :1]
    return np.concatenate([gamma * (p4[..., :1] + bp), p], axis=-1)


def pseudorapidity(p4: np.ndarray) -> np.ndarray:
    """η of four-vectors (..., 4); ±inf never occurs for objects with pT > 0."""
    pt = np.hypot(p4[..., 1], p4[..., 2])
    return np.arcsinh(p4[..., 3] / np.maximum(pt, 1e-12))


def invariant_mass(p4: np.ndarray) -> np.ndarray:
    """√(E² − p²) of four-vectors (..., 4), 0 where rounding makes it negative."""
    m2 = p4[..., 0] ** 2 - np.sum(p4[..., 1:] ** 2, axis=-1)
    return np.sqrt(np.maximum(m2, 0.0))


def simplex_coordinates(p4: np.ndarray) -> np.ndarray:
    """The simplex (ρ) phase-space coordinates of Cai et al. (arXiv:2405.16698), (n, N).

    Each object is taken massless, p = (|p⃗|, p⃗). A massless momentum is a rank-one
    Hermitian matrix, p·σ ≡ E·1 + p⃗·σ⃗ = [[E + p_z, p_x − i p_y], [p_x + i p_y, E − p_z]]
    = λ λ†, with the spinor λ = (√(E + p_z), (p_x + i p_y)/√(E + p_z)). The construction
    holds in the objects' centre-of-mass frame, where Σ_i λ_i λ_i† = P·σ = M·1 (M the
    objects' invariant mass): the first spinor components u_i = λ_i¹/√M then form a unit
    vector of Cᴺ, and ρ_i = |u_i|² = (E*_i + p*_z,i)/M ≥ 0 with Σ_i ρ_i = 1, a point of the
    (N−1)-simplex.

    The lab is not that frame: the partonic centre of mass moves along the beam, and the
    invisible particles (MET) give the visible objects a net pT. (The lab-frame ratio
    (E_i + p_z,i)/Σ_j(E_j + p_z,j) is invariant under the first but changes under a
    transverse boost.) The objects are therefore brought to rest in two steps that keep the
    beam as the z axis: a boost along the beam to P_z = 0, then a transverse boost to
    P_T = 0, which leaves every p_z unchanged. So ρ is exactly invariant under longitudinal
    boosts of the event and rotations about the beam (the first step absorbs them), and an
    event at rest keeps its ρ under a transverse boost (the second step undoes it). Padded
    objects, all (0.1, 0.1, 0, 0), share one value per event.
    """
    p = np.sqrt(np.sum(p4[..., 1:] ** 2, axis=-1))  # massless: E = |p⃗|
    pz = p4[..., 3]
    e_tot, pz_tot = p.sum(axis=-1, keepdims=True), pz.sum(axis=-1, keepdims=True)
    if np.any(e_tot <= np.abs(pz_tot)):
        raise ValueError("an event's objects are collinear with the beam: no rest frame")
    # 1. along the beam to P_z = 0 (rapidity Y of the system)
    y = np.arctanh(pz_tot / e_tot)
    e1 = p * np.cosh(y) - pz * np.sinh(y)
    pz1 = pz * np.cosh(y) - p * np.sinh(y)
    # 2. transverse, to P_T = 0: E* = γ (E − β⃗_T·p⃗_T); p_z is untouched
    pt_tot = p4[..., 1:3].sum(axis=-2)  # (n, 2)
    beta = pt_tot / e1.sum(axis=-1, keepdims=True)
    b2 = np.sum(beta**2, axis=-1, keepdims=True)
    if np.any(b2 >= 1):
        raise ValueError("an event's objects have no rest frame (massless system)")
    gamma = 1.0 / np.sqrt(1.0 - b2)
    e_star = gamma * (e1 - np.einsum("...k,...ik->...i", beta, p4[..., 1:3]))
    light_cone = e_star + pz1
    return light_cone / light_cone.sum(axis=-1, keepdims=True)


def delta_r(p4a: np.ndarray, p4b: np.ndarray) -> np.ndarray:
    """ΔR = √(Δη² + Δφ²) between two sets of four-vectors (..., 4)."""
    dphi = np.arctan2(p4a[..., 2], p4a[..., 1]) - np.arctan2(p4b[..., 2], p4b[..., 1])
    dphi = np.mod(dphi + np.pi, 2 * np.pi) - np.pi
    return np.hypot(pseudorapidity(p4a) - pseudorapidity(p4b), dphi)


# -- event selection and features (Sec. IV, Appendix 1) ---------------------------------------
def select_events(
    types: np.ndarray, p4: np.ndarray, selection: Mapping[str, float]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pass mask, index of τ1, index of τ2): the two leading τ-tagged jets with |η| < eta_max.

    ``selection``: ``tau_eta_max`` (2.4), ``leading_tau_pt_min`` (40 GeV), ``mvis_min``
    (100 GeV). An event passes with two such τ-jets, the leading above the pT cut and their
    visible mass above ``mvis_min``. Indices are −1 where fewer than two τ-jets qualify.
    """
    pt = np.hypot(p4[..., 1], p4[..., 2])
    good = (types == OBJECT_TYPES["tau"]) & (np.abs(pseudorapidity(p4)) < selection["tau_eta_max"])
    key = np.where(good, pt, -np.inf)
    order = np.argsort(-key, axis=1, kind="stable")
    i1, i2 = order[:, 0], order[:, 1]
    rows = np.arange(len(types))
    two = good[rows, i1] & good[rows, i2]
    mvis = invariant_mass(p4[rows, i1] + p4[rows, i2])
    passed = two & (pt[rows, i1] > selection["leading_tau_pt_min"]) & (mvis > selection["mvis_min"])
    return passed, np.where(two, i1, -1), np.where(two, i2, -1)


def event_features(
    types: np.ndarray,
    p4: np.ndarray,
    met: np.ndarray,
    i1: np.ndarray,
    i2: np.ndarray,
    features: Mapping[str, Any],
    g: np.random.Generator,
) -> pd.DataFrame:
    """m_vis and the feature vector of selected events: ρ0…ρ(k−1), MET, non-τ jet HT, ΔR(τ, τ).

    Objects are made massless, padded with (0.1, 0.1, 0, 0) to 15 and ordered by pT before the
    simplex coordinates; the padded objects' ρ get relative Gaussian noise of width
    ``padding_noise`` (the paper's ~1%, which lets the flow model them); an event without
    non-τ jets gets HT ~ U(0, ``ht_floor``) GeV instead of an exact 0 (a spike the flow
    cannot model).
    """
    n = len(types)
    rows = np.arange(n)
    mom = p4.copy()
    mom[..., 0] = np.sqrt(np.sum(mom[..., 1:] ** 2, axis=-1))  # massless
    pad = types == OBJECT_TYPES["none"]
    mom[pad] = PADDING
    pt = np.hypot(mom[..., 1], mom[..., 2])
    order = np.argsort(-pt, axis=1, kind="stable")
    mom = np.take_along_axis(mom, order[..., None], axis=1)
    pad = np.take_along_axis(pad, order, axis=1)
    rho = simplex_coordinates(mom)
    noise = float(features["padding_noise"])
    rho = np.where(pad, rho * (1.0 + noise * g.standard_normal(rho.shape)), rho)
    jets = (types == OBJECT_TYPES["jet"]) | (types == OBJECT_TYPES["bjet"])
    ht = np.sum(np.where(jets, np.hypot(p4[..., 1], p4[..., 2]), 0.0), axis=1)
    no_jets = ~jets.any(axis=1)
    ht[no_jets] = g.uniform(0.0, float(features["ht_floor"]), size=int(no_jets.sum()))
    tau1, tau2 = p4[rows, i1], p4[rows, i2]
    out = {"mvis": invariant_mass(tau1 + tau2)}
    for k in range(int(features["n_rho"])):
        out[f"rho{k}"] = rho[:, k]
    out["met"] = np.asarray(met, dtype=np.float64)
    out["ht"] = ht
    out["delta_r_tautau"] = delta_r(tau1, tau2)
    return pd.DataFrame(out)


def prepare_events(
    objects: pd.DataFrame, selection: Mapping[str, float], features: Mapping[str, Any], seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(selected events with m_vis, features, label, process; cut flow per process)."""
    types, p4 = object_arrays(objects)
    passed, i1, i2 = select_events(types, p4, selection)
    sel = objects[passed]
    table = event_features(
        types[passed],
        p4[passed],
        sel["met"].to_numpy(np.float64),
        i1[passed],
        i2[passed],
        features,
        rng(seed, "ditau-features"),
    )
    table["label"] = sel["label"].to_numpy().astype(np.int8)
    table["process"] = sel["process"].to_numpy()
    table["process"] = table["process"].astype("string")
    bad = ~np.isfinite(table.drop(columns=["process"]).to_numpy(np.float64)).all(axis=1)
    if bad.any():
        raise ValueError(f"{int(bad.sum())} selected events have NaN/inf features")
    cutflow = (
        pd.DataFrame({"process": objects["process"].to_numpy(), "selected": passed})
        .groupby("process", sort=True)["selected"]
        .agg(generated="size", selected="sum")
        .reset_index()
    )
    cutflow["efficiency"] = cutflow["selected"] / cutflow["generated"]
    return table.reset_index(drop=True), cutflow


def write_prepared(
    inputs: Sequence[str],
    events_out: str,
    cutflow_out: str,
    selection: Mapping[str, float],
    features: Mapping[str, Any],
    seed: int,
    sources: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """Object tables (parquet) or Delphes ROOT files → the selected events and the cut flow.

    ``sources`` maps a ROOT file name to its ``process`` and ``label`` (from the config).
    """
    frames = []
    for path in inputs:
        if str(path).endswith(".root"):
            spec = (sources or {}).get(os.path.basename(path))
            if spec is None:
                raise KeyError(f"{path}: no process/label configured for this ROOT file")
            frames.append(read_delphes(path, spec["process"], int(spec["label"])))
        else:
            frames.append(read_parquet(path))
    table, cutflow = prepare_events(pd.concat(frames, ignore_index=True), selection, features, seed)
    write_parquet(table, events_out)
    write_csv(cutflow, cutflow_out)
    log.info("cut flow:\n%s", cutflow.to_string(index=False))


# -- Delphes ROOT files ------------------------------------------------------------------------
#: branches read from a Delphes tree (CMS card), per collection
DELPHES_BRANCHES = {
    "Jet": ("PT", "Eta", "Phi", "Mass", "TauTag", "BTag"),
    "Electron": ("PT", "Eta", "Phi"),
    "Muon": ("PT", "Eta", "Phi"),
    "Photon": ("PT", "Eta", "Phi"),
    "MissingET": ("MET", "Phi"),
}


def read_delphes(
    path: str | os.PathLike[str], process: str, label: int, tree: str = "Delphes"
) -> pd.DataFrame:
    """A Delphes ROOT file (tree ``Delphes``, branches ``Jet.PT`` …) → an object table.

    Jets with ``TauTag`` become τ objects, the others jets (b-jets with ``BTag``); then
    electrons, muons and photons (massless); the first 15 objects are kept. A missing tree
    or branch is an error naming it and the file.
    """
    import awkward as ak
    import uproot

    with uproot.open(path) as fh:
        if tree not in fh:
            raise KeyError(f"{path}: no tree {tree!r}; has {sorted(fh.keys())}")
        t = fh[tree]
        names = [f"{c}.{f}" for c, fs in DELPHES_BRANCHES.items() for f in fs]
        arrays = {}
        for name in names:
            try:
                arrays[name] = t[name].array(library="ak")
            except (KeyError, uproot.KeyInFileError) as exc:
                raise KeyError(f"{path}: tree {tree!r} has no branch {name!r}") from exc

    def collection(prefix: str, kind: Any, mass: Any = None) -> Any:
        pt, eta, phi = (arrays[f"{prefix}.{f}"] for f in ("PT", "Eta", "Phi"))
        m = 0.0 * pt if mass is None else mass
        pz = pt * np.sinh(eta)
        return ak.zip(
            {
                "type": 0 * ak.values_astype(pt, np.int8) + kind,
                "e": np.sqrt(pt**2 + pz**2 + m**2),
                "px": pt * np.cos(phi),
                "py": pt * np.sin(phi),
                "pz": pz,
                "pt": pt,
            }
        )

    jets = collection("Jet", 0, arrays["Jet.Mass"])
    tau = arrays["Jet.TauTag"] > 0
    jet_type = ak.where(arrays["Jet.BTag"] > 0, OBJECT_TYPES["bjet"], OBJECT_TYPES["jet"])
    jets = ak.with_field(jets, ak.where(tau, OBJECT_TYPES["tau"], jet_type), "type")
    groups = [jets[tau], jets[~tau]] + [
        collection(name, OBJECT_TYPES[kind])
        for name, kind in (("Electron", "electron"), ("Muon", "muon"), ("Photon", "photon"))
    ]
    groups = [g[ak.argsort(g["pt"], axis=1, ascending=False)] for g in groups]
    objs = ak.pad_none(ak.concatenate(groups, axis=1), N_OBJECTS, clip=True)
    types = ak.to_numpy(ak.fill_none(objs["type"], 0)).astype(np.int8)
    p4 = np.stack(
        [ak.to_numpy(ak.fill_none(objs[k], 0.0)).astype(np.float64) for k in KINEMATICS], axis=-1
    )
    met = ak.to_numpy(ak.fill_none(ak.firsts(arrays["MissingET.MET"]), 0.0))
    met_phi = ak.to_numpy(ak.fill_none(ak.firsts(arrays["MissingET.Phi"]), 0.0))
    log.info("%s: %d events of %s", path, len(types), process)
    return objects_frame(process, label, types, p4, met, met_phi)


def selected_in_sr(events: pd.DataFrame, window: Sequence[float]) -> np.ndarray:
    """True for selected events inside the SR window in m_vis (strict)."""
    return in_window(events["mvis"].to_numpy(), window)
