"""An LHCO R&D–like dijet surrogate built from (simplified) physics, with the real file's schema.

Background (QCD dijets): the parton-level dijet mass falls as m^-k; at fixed mass the angular
variable χ = exp(2|y*|) is flat, as for QCD t-channel scattering, and pT = m / (2 cosh y*),
so the 1.2 TeV jet-pT trigger shapes the low-mass turn-on; the dijet system gets a
longitudinal boost; the jets are back to back in φ up to radiation, the second one softer.
Jet masses are log-normal and grow slowly with pT (∝ pT^0.3), and N-subjettiness ratios are
one-prong-like (τ21 ≈ 0.7) and fall slowly with m/pT, so the jet features correlate with mJJ
through pT, weakly, as the LaCATHODE paper reports for the real LHCO features.

Signal: Z'(3.5 TeV) → X(500 GeV) Y(100 GeV), a two-body decay in the Z' frame boosted by the
Z' rapidity and a small ISR recoil; jets get a 7% pT and 8% mass resolution, 20% of them a
low-mass tail (decay products lost from the jet), and broad two-prong substructure
(τ21 ≈ 0.45), so that signal and QCD overlap in every feature as in the real sample.

mJJ, η and φ are then computed from these four-vectors by the same code as for real data, so
every derived feature (and the ΔR–mJJ correlation) follows from the kinematics. Columns and
units (GeV) are those of ``events_anomalydetection_v2.features.h5`` (pandas HDF, key ``df``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .io import atomic_path
from .seeding import rng

log = logging.getLogger(__name__)

JET_COLUMNS = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
#: the column order of the LHCO R&D features file
COLUMNS = [f"{c}j{j}" for j in (1, 2) for c in JET_COLUMNS] + ["label"]
HDF_KEY = "df"

TRIGGER_PT = 1200.0  # GeV, leading large-R jet
QCD_LOG_MASS_WIDTH = 0.75  # σ of log(jet mass) in QCD: its tail reaches the X mass
SIGNAL_TAU21 = 0.45  # mean τ21 of two-prong signal jets
SIGNAL_MASS_LOSS = 0.3  # fraction of signal jets with part of their decay products lost
MAX_ETA = 2.5


def _substructure(g: np.random.Generator, m: np.ndarray, pt: np.ndarray, prongs: int) -> np.ndarray:
    """(τ1, τ2, τ3) for jets of mass ``m`` and ``pt``: one-prong (QCD) or two-prong (signal)."""
    n = m.size
    rel = m / pt
    tau1 = rel * g.uniform(0.8, 1.6, n)
    if prongs == 1:
        mean21 = np.clip(0.70 - 0.6 * (rel - 0.08), 0.35, 0.85)
        tau21 = g.beta(12 * mean21, 12 * (1 - mean21))
        tau32 = g.beta(15 * 0.78, 15 * 0.22, n)
    else:  # broad: signal jets whose second prong is soft or out of the cone look QCD-like
        tau21 = g.beta(6 * SIGNAL_TAU21, 6 * (1 - SIGNAL_TAU21), n)
        tau32 = g.beta(12 * 0.70, 12 * 0.30, n)
    tau2 = tau21 * tau1
    return np.stack([tau1, tau2, tau32 * tau2], axis=1)


# Kinematics are arrays of shape (n, 2) — one column per jet — for pt, eta, phi and m (GeV).
Kinematics = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def qcd_kinematics(
    g: np.random.Generator,
    n: int,
    mass_power: float = 8.0,
    m_range: tuple[float, float] = (2200.0, 14000.0),
) -> Kinematics:
    """``n`` generated QCD dijet candidates (before acceptance).

    The parton-level dijet mass falls as m^-k (truncated to ``m_range``, GeV); at fixed
    mass, χ = exp(2|y*|) is flat (QCD t-channel), and pT = m / (2 cosh y*), so the 1.2 TeV
    pT trigger removes large-angle events at low mass: the turn-on of the mJJ spectrum.
    """
    lo, hi = m_range
    a, b = lo ** (1.0 - mass_power), hi ** (1.0 - mass_power)
    m_parton = (a + g.random(n) * (b - a)) ** (1.0 / (1.0 - mass_power))  # inverse CDF of m^-k
    ystar = 0.5 * np.log(g.uniform(1.0, 16.0, n)) * g.choice([-1.0, 1.0], n)
    yboost = g.normal(0.0, 0.5, n)
    pt1 = m_parton / (2.0 * np.cosh(ystar))
    pt2 = pt1 * (1.0 - np.abs(g.normal(0.0, 0.06, n)))  # radiation makes the second jet softer
    phi1 = g.uniform(-np.pi, np.pi, n)
    pt = np.column_stack([pt1, pt2])
    eta = np.column_stack([yboost + ystar, yboost - ystar])
    phi = np.column_stack([phi1, phi1 + np.pi + g.normal(0.0, 0.1, n)])
    # jet mass: log-normal around 90 GeV, growing only as pT^0.3, so that the jet features
    # keep the weak (percent-level) mJJ correlation the LaCATHODE paper reports for real LHCO
    log_mass = g.normal(0.0, QCD_LOG_MASS_WIDTH, (n, 2))
    m = np.maximum(90.0 * (pt / 1300.0) ** 0.3 * np.exp(log_mass), 5.0)
    return pt, eta, phi, m


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-vectors ``p`` (E, px, py, pz) by velocity ``beta`` (per row)."""
    b2 = np.sum(beta**2, axis=1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[:, 1:], axis=1)
    coef = np.where(b2 > 0, (gamma - 1.0) * bp / np.where(b2 > 0, b2, 1.0), 0.0) + gamma * p[:, 0]
    return np.column_stack([gamma * (p[:, 0] + bp), p[:, 1:] + coef[:, None] * beta])


def signal_kinematics(
    g: np.random.Generator, n: int, m_zprime: float = 3500.0, m_x: float = 500.0, m_y: float = 100.0
) -> Kinematics:
    """``n`` generated Z' → X Y candidates (before acceptance)."""
    big_m = m_zprime * (1.0 + 0.01 * g.standard_normal(n))
    masses = np.column_stack([m_x, m_y]) * (1.0 + 0.01 * g.standard_normal((n, 2)))
    mx, my = masses[:, 0], masses[:, 1]
    pstar = np.sqrt((big_m**2 - (mx + my) ** 2) * (big_m**2 - (mx - my) ** 2)) / (2 * big_m)
    cos_t = g.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi0 = g.uniform(-np.pi, np.pi, n)
    direction = np.column_stack([sin_t * np.cos(phi0), sin_t * np.sin(phi0), cos_t])
    # Z' lab momentum: ISR recoil in the transverse plane and a longitudinal rapidity
    pt_isr = g.exponential(80.0, n)
    phi_isr = g.uniform(-np.pi, np.pi, n)
    y_z = g.normal(0.0, 0.6, n)
    mt = np.sqrt(big_m**2 + pt_isr**2)
    beta = (
        np.column_stack([pt_isr * np.cos(phi_isr), pt_isr * np.sin(phi_isr), mt * np.sinh(y_z)])
        / (mt * np.cosh(y_z))[:, None]
    )
    pt, eta, phi = np.empty((n, 2)), np.empty((n, 2)), np.empty((n, 2))
    for j, (mass, sign) in enumerate(((mx, 1.0), (my, -1.0))):
        p_rest = np.column_stack([np.sqrt(mass**2 + pstar**2), sign * pstar[:, None] * direction])
        p_lab = _boost(p_rest, beta)
        pt_true = np.hypot(p_lab[:, 1], p_lab[:, 2])
        pt[:, j] = pt_true * (1.0 + 0.07 * g.standard_normal(n))
        eta[:, j] = np.arcsinh(p_lab[:, 3] / pt_true)
        phi[:, j] = np.arctan2(p_lab[:, 2], p_lab[:, 1])
    m = masses * (1.0 + 0.08 * g.standard_normal((n, 2)))
    # a fraction of jets lose decay products (out of the cone, hard FSR): a low-mass tail,
    # so that signal and QCD overlap as in the real sample instead of being separable
    lost = g.random((n, 2)) < SIGNAL_MASS_LOSS
    m = np.where(lost, m * g.uniform(0.25, 0.85, (n, 2)), m)
    return pt, eta, phi, np.maximum(m, 5.0)


def kinematic_mjj(pt: np.ndarray, eta: np.ndarray, phi: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Dijet invariant mass from per-jet (pt, eta, phi, m) arrays of shape (n, 2)."""
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    s = e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2
    return np.sqrt(np.maximum(s, 0.0))


def _in_acceptance(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The trigger (leading jet pT > 1.2 TeV) and |η| < 2.5 for both jets."""
    return (pt.max(axis=1) > TRIGGER_PT) & np.all(np.abs(eta) < MAX_ETA, axis=1)


def _accepted(
    g: np.random.Generator, n: int, kinematics, prongs: int, mjj_window=None
) -> np.ndarray:
    """``n`` accepted events (rows in the :data:`COLUMNS` layout, without label).

    Candidates are drawn in batches sized from the acceptance measured so far (capped at 2M
    to bound memory) and cut on kinematics first; substructure is sampled only for the
    events kept. ``mjj_window`` (GeV) adds a cut on the dijet mass.
    """
    if n == 0:
        return np.empty((0, len(COLUMNS) - 1))
    kept: list[Kinematics] = []
    have, tried, efficiency = 0, 0, 0.5
    while have < n:
        size = int(min(2_000_000, max(10_000, 1.2 * (n - have) / efficiency)))
        kin = kinematics(g, size)
        keep = _in_acceptance(kin[0], kin[1])
        if mjj_window is not None:
            mjj = kinematic_mjj(*kin)
            keep &= (mjj > mjj_window[0]) & (mjj < mjj_window[1])
        kept.append(tuple(a[keep] for a in kin))
        have += int(keep.sum())
        tried += size
        efficiency = max(have / tried, 1e-4)
    pt, eta, phi, m = (np.concatenate([k[i] for k in kept])[:n] for i in range(4))
    order = np.argsort(-pt, axis=1)  # j1 = the leading-pT jet
    pt, eta, phi, m = (np.take_along_axis(a, order, axis=1) for a in (pt, eta, phi, m))
    columns = []
    for j in range(2):
        taus = _substructure(g, m[:, j], pt[:, j], prongs)
        columns += [
            pt[:, j] * np.cos(phi[:, j]),
            pt[:, j] * np.sin(phi[:, j]),
            pt[:, j] * np.sinh(eta[:, j]),
            m[:, j],
            *taus.T,
        ]
    return np.column_stack(columns)


def dijet_mass(jets: np.ndarray) -> np.ndarray:
    """mJJ (same unit as the input) of rows laid out as :data:`COLUMNS` (jets massive)."""
    p1, m1, p2, m2 = jets[:, 0:3], jets[:, 3], jets[:, 7:10], jets[:, 10]
    e = np.sqrt(np.sum(p1**2, axis=1) + m1**2) + np.sqrt(np.sum(p2**2, axis=1) + m2**2)
    return np.sqrt(np.maximum(e**2 - np.sum((p1 + p2) ** 2, axis=1), 0.0))


def generate_surrogate(
    n_background: int,
    n_signal: int,
    seed: int,
    n_extra_sr: int = 0,
    extra_sr_window: tuple[float, float] = (3300.0, 3700.0),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(features, extra SR background) tables in the LHCO R&D layout (GeV, ``label``).

    The extra table holds ``n_extra_sr`` further QCD events with ``extra_sr_window[0] <
    mJJ < extra_sr_window[1]`` (GeV), like the LHCO "qcd_extra_inneronly" file.
    """
    bkg = _accepted(rng(seed, "lhco-surrogate", "qcd"), n_background, qcd_kinematics, 1)
    sig = _accepted(rng(seed, "lhco-surrogate", "signal"), n_signal, signal_kinematics, 2)
    rows = np.concatenate([bkg, sig])
    labels = np.r_[np.zeros(len(bkg)), np.ones(len(sig))]
    order = rng(seed, "lhco-surrogate", "shuffle").permutation(len(rows))
    features = pd.DataFrame(rows[order], columns=COLUMNS[:-1])
    features["label"] = labels[order]
    # The very generator of the main background, conditioned on the reconstructed mJJ only.
    # A narrower parton-mass range is not safe: heavy jets lift mJJ well above the parton
    # mass, and the ~0.07% of SR events made that way (jet masses ~1.4 TeV) would be missing,
    # an mj1 tail the idealized AD learned as "data-like" even without signal.
    extra = _accepted(
        rng(seed, "lhco-surrogate", "qcd-extra-sr"), n_extra_sr, qcd_kinematics, 1, extra_sr_window
    )
    extra_df = pd.DataFrame(extra, columns=COLUMNS[:-1])
    extra_df["label"] = 0.0
    return features, extra_df


def write_hdf(df: pd.DataFrame, path: str | os.PathLike[str]) -> None:
    """Write a table as pandas HDF5 under key ``df`` (the LHCO layout), atomically."""
    with atomic_path(path) as tmp:
        df.to_hdf(tmp, key=HDF_KEY, mode="w", format="fixed")


def write_surrogate(
    features_out: str | os.PathLike[str],
    extra_out: str | os.PathLike[str],
    params: Mapping[str, Any],
    signal_region: tuple[float, float],
) -> None:
    """Generate the surrogate (``params``: n_background, n_signal, n_extra_sr, seed) and write it.

    ``signal_region`` is in TeV (the analysis unit); the extra background is generated in it.
    """
    features, extra = generate_surrogate(
        int(params["n_background"]),
        int(params["n_signal"]),
        int(params["seed"]),
        int(params["n_extra_sr"]),
        (1000.0 * signal_region[0], 1000.0 * signal_region[1]),
    )
    write_hdf(features, features_out)
    write_hdf(extra, extra_out)
    log.info(
        "wrote %d events to %s and %d SR-only background events to %s",
        len(features),
        features_out,
        len(extra),
        extra_out,
    )
