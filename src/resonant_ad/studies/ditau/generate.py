"""The offline di-τ generator: per-process objects (τ pairs, jets, b-jets, leptons, MET).

Not a Monte Carlo: each process has a visible-mass law, a di-τ system pT scale, extra objects
and MET noise chosen to give the paper's shapes; events then go through the same selection
and features as Delphes files (:mod:`~resonant_ad.studies.ditau.data`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import write_parquet
from resonant_ad.core.seeding import derive_seed, rng
from resonant_ad.studies.ditau.data import (
    N_OBJECTS,
    OBJECT_TYPES,
    SIGNALS,
    boost,
    massless_p4,
    objects_frame,
)

log = logging.getLogger(__name__)


# -- offline generator -------------------------------------------------------------------------
#: per process: m_vis model, di-τ system pT scale, extra objects (count law, pT law), MET noise
_PROCESSES: dict[str, dict[str, Any]] = {
    # falling m_vis: offset + exponential (GeV); recoil against the extra jets
    "drell_yan": {"mvis": ("exp", 80.0, 50.0), "sys_pt": 15.0, "met_noise": 10.0},
    "ttbar": {"mvis": ("exp", 70.0, 80.0), "sys_pt": 60.0, "met_noise": 35.0},
    # 250 GeV di-τ resonance: m_vis = 250 GeV × visible fraction
    "ttphi": {"mvis": ("res", 250.0, 0.84, 0.07), "sys_pt": 90.0, "met_noise": 35.0},
    "tprime": {"mvis": ("res", 250.0, 0.84, 0.07), "sys_pt": 300.0, "met_noise": 40.0},
    "xyh": {"mvis": ("res", 250.0, 0.84, 0.07), "sys_pt": 0.0, "met_noise": 10.0},
}
#: X → Y H momentum of Y in the X rest frame (m_X = 800, m_Y = 250, m_H = 400 GeV)
_XYH_P = np.sqrt((800.0**2 - 650.0**2) * (800.0**2 - 150.0**2)) / (2 * 800.0)


def _extra_objects(process: str, n: int, g: np.random.Generator) -> list[tuple[np.ndarray, ...]]:
    """Extra activity per process: a list of (present, type, pT, η, φ) arrays, one per slot."""
    slots: list[tuple[np.ndarray, ...]] = []

    def add(prob: np.ndarray, kind: np.ndarray | int, pt0: float, scale: float, eta_w: float):
        eta = np.clip(g.normal(0.0, eta_w, n), -4.7, 4.7)
        kind_arr = np.broadcast_to(np.asarray(kind, dtype=np.int8), (n,)).copy()
        pt = pt0 + g.exponential(scale, n)
        slots.append((prob, kind_arr, pt, eta, g.uniform(-np.pi, np.pi, n)))

    def jets(counts: np.ndarray, pt0: float, scale: float, bfrac: float = 0.0, k0: int = 0):
        for k in range(int(counts.max(initial=0))):
            kind = np.where(g.random(n) < bfrac, OBJECT_TYPES["bjet"], OBJECT_TYPES["jet"])
            add(counts > k, kind, pt0, scale, 1.6)

    def leptons(prob: float) -> None:
        kind = np.where(g.random(n) < 0.5, OBJECT_TYPES["electron"], OBJECT_TYPES["muon"])
        add(g.random(n) < prob, kind, 15.0, 25.0, 1.1)

    if process == "drell_yan":
        jets(np.minimum(g.poisson(0.7, n), 3), 30.0, 25.0)
    elif process == "ttbar":
        jets(np.full(n, 2), 30.0, 60.0, bfrac=0.7)
        jets(np.minimum(g.poisson(0.8, n), 3), 30.0, 30.0)
        leptons(0.25)
    elif process == "ttphi":
        jets(np.full(n, 2), 40.0, 70.0, bfrac=0.7)
        jets(g.integers(2, 5, n), 30.0, 50.0)
        leptons(0.3)
    elif process == "tprime":
        jets(np.full(n, 2), 80.0, 150.0, bfrac=0.7)
        jets(g.integers(4, 7, n), 60.0, 150.0)
        leptons(0.2)
    elif process == "xyh":
        jets(np.minimum(g.poisson(0.5, n), 2), 30.0, 30.0)
    else:
        raise ValueError(f"unknown process {process!r}; known: {sorted(_PROCESSES)}")
    add(g.random(n) < 0.1, OBJECT_TYPES["photon"], 10.0, 20.0, 1.1)
    return slots


def _visible_mass(spec: tuple, n: int, g: np.random.Generator) -> np.ndarray:
    if spec[0] == "exp":
        return spec[1] + g.exponential(spec[2], n)
    mass, frac, width = spec[1:]
    return mass * np.clip(g.normal(frac, width, n), 0.45, 0.98)


def generate_process(process: str, n: int, seed: int) -> pd.DataFrame:
    """``n`` events of one generator process as an object table (seeded by name).

    Two massless τ-jets from a di-τ system of the process's visible mass (falling for the
    backgrounds; 250 GeV × a visible fraction ≈ 0.84 for the signals), decaying isotropically
    in its rest frame and boosted to the lab; extra jets, b-jets, leptons and photons per
    process (tt̄Φ: tops' b-jets and jets; T'T̄': hard extra jets; X → YH: Y recoiling against an
    invisible H, so large MET); MET from the τ neutrinos plus Gaussian noise (and the H).
    """
    cfg = _PROCESSES.get(process)
    if cfg is None:
        raise ValueError(f"unknown process {process!r}; known: {sorted(_PROCESSES)}")
    g = rng(seed, "ditau-generate", process)
    mvis = _visible_mass(cfg["mvis"], n, g)
    extras = _extra_objects(process, n, g)
    ex_px = sum(np.where(s[0], s[2] * np.cos(s[4]), 0.0) for s in extras)
    ex_py = sum(np.where(s[0], s[2] * np.sin(s[4]), 0.0) for s in extras)
    if process == "drell_yan":  # the di-τ system recoils against the jets
        sys_px = -ex_px + g.normal(0, cfg["sys_pt"], n)
        sys_py = -ex_py + g.normal(0, cfg["sys_pt"], n)
    elif process == "xyh":  # Y recoils against the invisible H
        sin_t = np.sqrt(1.0 - g.uniform(-1, 1, n) ** 2)
        phi = g.uniform(-np.pi, np.pi, n)
        sys_px, sys_py = _XYH_P * sin_t * np.cos(phi), _XYH_P * sin_t * np.sin(phi)
    else:
        pt = g.rayleigh(cfg["sys_pt"], n)
        phi = g.uniform(-np.pi, np.pi, n)
        sys_px, sys_py = pt * np.cos(phi), pt * np.sin(phi)
    sys_y = g.normal(0.0, 1.0, n)
    mt = np.sqrt(mvis**2 + sys_px**2 + sys_py**2)
    system = np.stack([mt * np.cosh(sys_y), sys_px, sys_py, mt * np.sinh(sys_y)], axis=1)
    cos_t, phi_t = g.uniform(-1, 1, n), g.uniform(-np.pi, np.pi, n)
    sin_t = np.sqrt(1 - cos_t**2)
    half = mvis / 2
    direction = np.stack([sin_t * np.cos(phi_t), sin_t * np.sin(phi_t), cos_t], axis=1)
    beta = system[:, 1:] / system[:, :1]
    taus = [
        boost(np.concatenate([half[:, None], sign * half[:, None] * direction], axis=1), beta)
        for sign in (1.0, -1.0)
    ]
    # objects: τ-jets first (pT order), then extras in type order, truncated to 15
    objs_type = np.zeros((n, N_OBJECTS), dtype=np.int8)
    objs_p4 = np.zeros((n, N_OBJECTS, 4))
    pt_tau = np.stack([np.hypot(t[:, 1], t[:, 2]) for t in taus], axis=1)
    lead = np.argmax(pt_tau, axis=1)
    tau_p4 = np.stack(taus, axis=1)
    rows = np.arange(n)
    objs_type[:, :2] = OBJECT_TYPES["tau"]
    objs_p4[:, 0], objs_p4[:, 1] = tau_p4[rows, lead], tau_p4[rows, 1 - lead]
    ex_types = np.stack([np.where(s[0], s[1], 0) for s in extras], axis=1)
    ex_p4 = np.stack([massless_p4(s[2], s[3], s[4]) for s in extras], axis=1)
    ex_pt = np.where(ex_types > 0, np.stack([s[2] for s in extras], axis=1), -1.0)
    group = np.where(ex_types == OBJECT_TYPES["bjet"], OBJECT_TYPES["jet"], ex_types)
    order = np.lexsort((-ex_pt, np.where(ex_types > 0, group, 99)), axis=1)
    ex_types = np.take_along_axis(ex_types, order, axis=1)[:, : N_OBJECTS - 2]
    ex_p4 = np.take_along_axis(ex_p4, order[..., None], axis=1)[:, : N_OBJECTS - 2]
    k = ex_types.shape[1]
    objs_type[:, 2 : 2 + k] = ex_types
    objs_p4[:, 2 : 2 + k] = np.where((ex_types > 0)[..., None], ex_p4, 0.0)
    # invisible momentum: the τ neutrinos (a fraction of each τ's pT), W neutrinos or
    # resolution (Gaussian), and for X → YH the invisible H recoiling against Y
    frac = g.uniform(0.0, 0.6, (n, 2))
    met_x = (frac * tau_p4[..., 1]).sum(axis=1) + g.normal(0, cfg["met_noise"], n)
    met_y = (frac * tau_p4[..., 2]).sum(axis=1) + g.normal(0, cfg["met_noise"], n)
    if process == "xyh":
        met_x, met_y = met_x - sys_px, met_y - sys_py
    return objects_frame(
        process,
        int(process in SIGNALS),
        objs_type,
        objs_p4,
        np.hypot(met_x, met_y),
        np.arctan2(met_y, met_x),
    )


def generate_objects(counts: Mapping[str, int], seed: int) -> pd.DataFrame:
    """The object table of every process in ``counts`` (process → number of events)."""
    frames = [generate_process(p, int(n), derive_seed(seed, p)) for p, n in counts.items()]
    return pd.concat(frames, ignore_index=True)


def write_generated(counts: Mapping[str, int], seed: int, out: str) -> None:
    """Generate the offline di-τ sample and write its object table."""
    table = generate_objects(counts, seed)
    write_parquet(table, out)
    log.info("generated %s", table["process"].value_counts().to_dict())
