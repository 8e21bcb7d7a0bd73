"""QCD jets of the surrogate: a hard splitting and radiation, from which mass and τ21 follow.

See :mod:`~resonant_ad.studies.dijet.surrogate` for the picture and its calibration;
:func:`jet_substructure` is also what a signal jet's substructure is built with.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

JET_RADIUS = 1.0  # anti-kT R of the LHCO R&D large-radius jets


@dataclass(frozen=True)
class JetModel:
    """Constants of :func:`jet_substructure` (GeV); see the module docstring."""

    radiation_mass: float  # median m_rad at pT = 1.5 TeV
    radiation_pt_power: float  # m_rad ∝ pT^power
    radiation_spread: float  # σ of log m_rad
    hard_fraction: float  # probability of a hard QCD splitting
    z_min: float  # the softer prong's smallest momentum fraction
    theta_min: float  # the smallest splitting angle (the largest is the jet radius)
    theta_shape: float  # log θ = log θ_min (1 − u^shape), u uniform
    tau_radiation_weight: float  # weight of m_rad against √(z/(1−z)) m_hard in τ21
    tau21_two_prong: float  # τ21 of a radiation-free two-prong jet
    tau21_one_prong: float  # τ21 of a radiation-only jet
    tau_shape: float  # sharpness of the transition between the two
    tau21_spread: float  # σ of the logit-normal spread of τ21


#: calibrated to the real R&D SR QCD (see the module docstring)
QCD = JetModel(
    radiation_mass=104.40,
    radiation_pt_power=0.3281,
    radiation_spread=0.5033,
    hard_fraction=0.5001,
    z_min=0.05805,
    theta_min=0.03491,
    theta_shape=0.4221,
    tau_radiation_weight=2.142,
    tau21_two_prong=0.1577,
    tau21_one_prong=0.6204,
    tau_shape=1.895,
    tau21_spread=0.6750,
)


class Jets(NamedTuple):
    """Per-event arrays of shape (n, 2), one column per jet (GeV)."""

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    m: np.ndarray
    tau21: np.ndarray

    def take(self, mask: np.ndarray) -> Jets:
        """The events where ``mask`` holds."""
        return Jets(*(a[mask] for a in self))


def _logit(p: np.ndarray) -> np.ndarray:
    return np.log(p) - np.log1p(-p)


def jet_substructure(
    g: np.random.Generator,
    pt: np.ndarray,
    hard_mass: np.ndarray | None = None,
    soft_fraction: np.ndarray | None = None,
    radiation_scale: np.ndarray | float = 1.0,
    model: JetModel = QCD,
    extra_radiation: np.ndarray | float = 0.0,
    extra_tau_share: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(mass, τ21) of jets of transverse momentum ``pt`` (any shape).

    ``hard_mass`` and ``soft_fraction`` give a resonance's two-prong structure (signal);
    without them the hard part is QCD's: a splitting with probability ``hard_fraction``.
    ``radiation_scale`` multiplies the radiation mass (colour-singlet decays radiate less);
    ``extra_radiation`` (GeV) adds the mass of radiation from outside the jet's own shower
    (initial-state, underlying event) in quadrature. That radiation lies at wide angle, where
    a second N-subjettiness axis takes part of it up: only ``extra_tau_share`` of its mass
    counts as radiation for τ21.
    """
    shape = np.shape(pt)
    m_rad = (
        model.radiation_mass
        * (pt / 1500.0) ** model.radiation_pt_power
        * np.exp(model.radiation_spread * g.standard_normal(shape))
        * radiation_scale
    )

    if hard_mass is None:
        split = g.random(shape) < model.hard_fraction
        z = model.z_min + (0.5 - model.z_min) * g.random(shape)
        theta = np.exp(np.log(model.theta_min) * (1.0 - g.random(shape) ** model.theta_shape))
        theta = theta * JET_RADIUS
        hard_mass = np.where(split, pt * theta * np.sqrt(z * (1.0 - z)), 0.0)
        soft_fraction = np.where(split, z, 0.5)
    mass = np.sqrt(hard_mass**2 + m_rad**2 + np.square(extra_radiation))
    prongs = np.sqrt(soft_fraction / (1.0 - soft_fraction)) * hard_mass
    radiation = model.tau_radiation_weight * np.hypot(m_rad, extra_tau_share * extra_radiation)
    k = model.tau_shape
    one_prong = radiation**k / (prongs**k + radiation**k)
    mean = model.tau21_two_prong + (model.tau21_one_prong - model.tau21_two_prong) * one_prong
    tau21 = 1.0 / (1.0 + np.exp(-(_logit(mean) + model.tau21_spread * g.standard_normal(shape))))
    return mass, tau21


def qcd_jets(
    g: np.random.Generator,
    n: int,
    mass_power: float = 8.0,
    m_range: tuple[float, float] = (2200.0, 14000.0),
    model: JetModel = QCD,
) -> Jets:
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
    m, tau21 = jet_substructure(g, pt, model=model)
    return Jets(pt, eta, phi, m, tau21)


def kinematic_mjj(jets: Jets) -> np.ndarray:
    """Dijet invariant mass (GeV) of massive jets."""
    px, py = jets.pt * np.cos(jets.phi), jets.pt * np.sin(jets.phi)
    pz = jets.pt * np.sinh(jets.eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + jets.m**2)
    s = e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2
    return np.sqrt(np.maximum(s, 0.0))
