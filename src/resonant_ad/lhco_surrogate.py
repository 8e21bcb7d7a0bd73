"""An LHCO R&D–like dijet surrogate from simplified physics, calibrated to the real SR.

Every event is generated as two jets with four-vectors and N-subjettiness; the analysis
features (mJJ, mJ1, ΔmJ, τ21, ΔR) are then computed from them by the same code as for the
real files (:func:`resonant_ad.lhco_data.derive_features`). Columns and units (GeV) are
those of ``events_anomalydetection_v2.features.h5`` (pandas HDF, key ``df``).

**Kinematics.** QCD: the parton-level dijet mass falls as m^-8; at fixed mass χ = exp(2|y*|)
is flat (t-channel scattering) and pT = m / (2 cosh y*), so the 1.2 TeV jet-pT trigger
makes the low-mass turn-on; the system gets a longitudinal boost, the jets are back to back
up to radiation. Signal: Z'(3.5 TeV) → X(500 GeV) Y(100 GeV), a two-body decay boosted by
the Z' rapidity and an ISR recoil, each of X and Y decaying to two massless quarks
isotropically in its rest frame.

**Jets** (:func:`jet_substructure`). A jet's mass adds in quadrature a *hard* part, from a
two-prong structure, and a *radiation* part from soft and collinear emissions:
m² = m_hard² + m_rad². m_rad is log-normal with a median growing as pT^0.33 (this is where
the features' mJJ dependence comes from, in the SR and on into the sidebands). A QCD jet has
a hard splitting with probability 1/2: momentum fraction z uniform above z_min, angle θ
between θ_min and the jet radius, m_hard = pT θ √(z(1−z)). A signal jet is built around its
harder quark: the share of the softer quark's hadrons inside the jet falls from 1 to 0 as
ΔR(q, q̄) crosses an effective radius (±0.3, their spread), and the jet's hard mass and
momentum follow (a lost prong takes mass and pT with it, which is why the signal's jet masses
correlate with mJJ); a contained decay radiates as a colour singlet (less), a quark that lost
its partner as a QCD jet. Initial-state and underlying-event radiation caught by a signal jet
adds mass, momentum and some τ2. N-subjettiness follows the same geometry: with two prongs at
z and θ, τ1 grows with √(z/(1−z))·m_hard and τ2 with the radiation, so QCD's τ21 runs from
~0.16 for a clean symmetric two-prong jet to ~0.62 for a radiation-only one, with a
logit-normal spread: the one-/two-prong mixture of QCD and its mass–τ21 anticorrelation, and
the signal's two-prong τ21 (with its own constants: a singlet's radiation stays between its
prongs), come out of one rule. Detector resolution smears the jet pT and mass.

**Calibration.** The constants of :data:`QCD` and :data:`SIGNAL` were fitted
(:mod:`resonant_ad.surrogate_calibration`: Nelder–Mead on ≥ 80k SR events per class, common
random numbers) to the reference statistics of the real R&D SR in ``resources/reference``
(:mod:`resonant_ad.realism`): every SR marginal within KS distance 0.05 of the reference
quantiles, every pairwise correlation within ±0.05, the QCD means in four mJJ slices within
3 standard errors. QCD meets all of them; the signal meets all but three correlations, which
this picture does not reach together with the rest: corr(mJ1, ΔmJ) is −0.35 against −0.44
(the Y jet's mass tail is a little short and the two jet masses a little more correlated
than in the real sample), corr(ΔmJ, τ21 J2) −0.37 against −0.32 and corr(mJJ, ΔmJ) 0.10
against 0.16. The fit sets the handful of constants of this physical picture; it does not
reweight events, so what the reference does not constrain (the sidebands, ΔR) follows from
the kinematics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

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
MAX_ETA = 2.5
JET_RADIUS = 1.0  # anti-kT R of the LHCO R&D large-radius jets
CONTAINMENT_SPREAD = 0.3  # angular spread of a quark's hadrons around its direction


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


@dataclass(frozen=True)
class SignalModel:
    """Constants of the signal generator (:func:`signal_jets`)."""

    radiation_scale: float  # m_rad of a colour-singlet decay relative to a QCD jet
    mass_resolution: float  # relative jet-mass smearing
    mass_resolution_abs: float  # absolute jet-mass smearing (GeV), added in quadrature
    pt_resolution: float  # relative jet-pT smearing
    zprime_width: float  # relative width of the Z' mass
    isr_pt: float  # mean of the exponential ISR recoil (GeV)
    merge_radius: float  # ΔR(q, q̄) below which both quarks land in one jet (effective)
    contamination_fraction: float  # jets that catch initial-state or underlying radiation
    contamination_mass: float  # median mass it adds (in quadrature), GeV
    contamination_spread: float  # σ of its log
    contamination_tau_share: float  # the share of its mass that counts as radiation in τ21
    tau21_spread: float  # σ of the logit-normal τ21 spread of a contained decay
    tau_radiation_weight: float  # :attr:`JetModel.tau_radiation_weight` of a colour singlet
    tau21_two_prong: float  # :attr:`JetModel.tau21_two_prong` of a resolved decay
    tau_shape: float  # :attr:`JetModel.tau_shape` of a resolved decay


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

#: calibrated to the real R&D SR signal, with :data:`QCD` fixed
SIGNAL = SignalModel(
    radiation_scale=0.3695,
    mass_resolution=0.06893,
    mass_resolution_abs=8.469,
    pt_resolution=0.04154,
    zprime_width=0.001246,
    isr_pt=5.98,
    merge_radius=1.517,
    contamination_fraction=0.2087,
    contamination_mass=217.2,
    contamination_spread=0.8199,
    contamination_tau_share=0.5009,
    tau21_spread=0.7057,
    tau_radiation_weight=1.544,
    tau21_two_prong=0.06668,
    tau_shape=0.9174,
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


def _boost(p: np.ndarray, beta: np.ndarray) -> np.ndarray:
    """Lorentz-boost four-vectors ``p`` (E, px, py, pz) by velocity ``beta`` (per row)."""
    b2 = np.sum(beta**2, axis=1)
    gamma = 1.0 / np.sqrt(1.0 - b2)
    bp = np.sum(beta * p[:, 1:], axis=1)
    coef = np.where(b2 > 0, (gamma - 1.0) * bp / np.where(b2 > 0, b2, 1.0), 0.0) + gamma * p[:, 0]
    return np.column_stack([gamma * (p[:, 0] + bp), p[:, 1:] + coef[:, None] * beta])


def _isotropic(g: np.random.Generator, n: int) -> np.ndarray:
    """``n`` unit vectors, uniform on the sphere."""
    cos_t = g.uniform(-1.0, 1.0, n)
    sin_t = np.sqrt(1.0 - cos_t**2)
    phi = g.uniform(-np.pi, np.pi, n)
    return np.column_stack([sin_t * np.cos(phi), sin_t * np.sin(phi), cos_t])


def _pt_eta_phi(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    pt = np.hypot(p[:, 1], p[:, 2])
    return pt, np.arcsinh(p[:, 3] / pt), np.arctan2(p[:, 2], p[:, 1])


def _delta_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, eta_a, phi_a = _pt_eta_phi(a)
    _, eta_b, phi_b = _pt_eta_phi(b)
    dphi = np.mod(phi_a - phi_b + np.pi, 2 * np.pi) - np.pi
    return np.hypot(eta_a - eta_b, dphi)


def signal_jets(
    g: np.random.Generator,
    n: int,
    m_zprime: float = 3500.0,
    m_x: float = 500.0,
    m_y: float = 100.0,
    model: SignalModel = SIGNAL,
    qcd: JetModel = QCD,
) -> Jets:
    """``n`` generated Z' → X Y → (qq̄)(qq̄) candidates (before acceptance); jet 0 is X's."""
    big_m = m_zprime * (1.0 + model.zprime_width * g.standard_normal(n))
    masses = np.column_stack([m_x, m_y]) * (1.0 + 0.01 * g.standard_normal((n, 2)))
    mx, my = masses[:, 0], masses[:, 1]
    pstar = np.sqrt((big_m**2 - (mx + my) ** 2) * (big_m**2 - (mx - my) ** 2)) / (2 * big_m)
    direction = _isotropic(g, n)
    # Z' lab momentum: ISR recoil in the transverse plane and a longitudinal rapidity
    pt_isr = g.exponential(model.isr_pt, n)
    phi_isr = g.uniform(-np.pi, np.pi, n)
    y_z = g.normal(0.0, 0.6, n)
    mt = np.sqrt(big_m**2 + pt_isr**2)
    beta = (
        np.column_stack([pt_isr * np.cos(phi_isr), pt_isr * np.sin(phi_isr), mt * np.sinh(y_z)])
        / (mt * np.cosh(y_z))[:, None]
    )
    out = {k: np.empty((n, 2)) for k in ("pt", "eta", "phi", "m", "tau21")}
    for j, (mass, sign) in enumerate(((mx, 1.0), (my, -1.0))):
        p_rest = np.column_stack([np.sqrt(mass**2 + pstar**2), sign * pstar[:, None] * direction])
        p_res = _boost(p_rest, beta)
        # the two quarks, isotropic in the resonance's rest frame
        d = _isotropic(g, n) * (mass / 2.0)[:, None]
        q1 = _boost(np.column_stack([mass / 2.0, d]), p_res[:, 1:] / p_res[:, :1])
        q2 = _boost(np.column_stack([mass / 2.0, -d]), p_res[:, 1:] / p_res[:, :1])
        first_harder = (q1[:, 0] >= q2[:, 0])[:, None]
        hard, soft = np.where(first_harder, q1, q2), np.where(first_harder, q2, q1)
        # the share of the softer quark's hadrons inside the jet around the harder one: all
        # within merge_radius − δ of it, none beyond merge_radius + δ (δ: their spread)
        inside = np.clip(
            (model.merge_radius + CONTAINMENT_SPREAD - _delta_r(hard, soft))
            / (2 * CONTAINMENT_SPREAD),
            0.0,
            1.0,
        )
        jet = hard + inside[:, None] * soft
        pt, eta, phi = _pt_eta_phi(jet)
        # massless quarks: (p_h + φ p_s)² = φ m², and the soft prong's share of the jet
        hard_mass = np.sqrt(inside) * mass
        soft_share = inside * soft[:, 0] / (hard[:, 0] + inside * soft[:, 0])
        # radiation from outside the decay (ISR, underlying event) caught by the jet: extra
        # mass m_c, extra radiation for τ21, and the momentum it carries: an object at angle
        # θ from the jet adds m_c² ≈ 2 p_J p_c (1 − cos θ), so p_c/p_J = m_c²/(2 p_J² (1 − cos θ))
        caught = g.random(n) < model.contamination_fraction
        m_extra = np.where(
            caught,
            model.contamination_mass * np.exp(model.contamination_spread * g.standard_normal(n)),
            0.0,
        )
        angle = JET_RADIUS * np.sqrt(g.uniform(0.04, 1.0, n))  # uniform over the cone's area
        pt = pt * (1.0 + m_extra**2 / (2.0 * pt**2 * (1.0 - np.cos(angle))))
        pt = pt * (1.0 + model.pt_resolution * g.standard_normal(n))
        # a contained decay radiates as a colour singlet (less, and between its prongs); a
        # quark that lost its partner radiates as a QCD jet
        scale = model.radiation_scale + (1.0 - model.radiation_scale) * (1.0 - inside)
        jet_model = replace(
            qcd,
            tau21_spread=model.tau21_spread,
            tau_radiation_weight=model.tau_radiation_weight,
            tau21_two_prong=model.tau21_two_prong,
            tau_shape=model.tau_shape,
        )
        m, tau21 = jet_substructure(
            g, pt, hard_mass, soft_share, scale, jet_model, m_extra, model.contamination_tau_share
        )
        m = m + np.hypot(model.mass_resolution * m, model.mass_resolution_abs) * g.standard_normal(
            n
        )
        out["m"][:, j] = np.maximum(m, 1.0)
        out["tau21"][:, j] = tau21
        out["pt"][:, j], out["eta"][:, j], out["phi"][:, j] = pt, eta, phi
    return Jets(**out)


def kinematic_mjj(jets: Jets) -> np.ndarray:
    """Dijet invariant mass (GeV) of massive jets."""
    px, py = jets.pt * np.cos(jets.phi), jets.pt * np.sin(jets.phi)
    pz = jets.pt * np.sinh(jets.eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + jets.m**2)
    s = e.sum(1) ** 2 - px.sum(1) ** 2 - py.sum(1) ** 2 - pz.sum(1) ** 2
    return np.sqrt(np.maximum(s, 0.0))


def _in_acceptance(jets: Jets) -> np.ndarray:
    """The trigger (leading jet pT > 1.2 TeV) and |η| < 2.5 for both jets."""
    return (jets.pt.max(axis=1) > TRIGGER_PT) & np.all(np.abs(jets.eta) < MAX_ETA, axis=1)


def _subjettiness(g: np.random.Generator, jets: Jets) -> list[np.ndarray]:
    """(τ1, τ2, τ3) per jet from τ21: τ1 ~ m/pT, τ32 one-prong-like; τ2/(τ1 + 1e-5) = τ21."""
    out = []
    for j in range(2):
        tau1 = jets.m[:, j] / jets.pt[:, j] * g.uniform(0.8, 1.6, len(jets.pt))
        tau2 = jets.tau21[:, j] * (tau1 + 1e-5)  # the reference's τ21 = τ2 / (τ1 + 1e-5)
        tau32 = g.beta(15 * 0.78, 15 * 0.22, len(jets.pt))
        out.append(np.stack([tau1, tau2, tau32 * tau2], axis=1))
    return out


def _accepted(
    g: np.random.Generator,
    n: int,
    generator: Callable[[np.random.Generator, int], Jets],
    mjj_window: tuple[float, float] | None = None,
) -> np.ndarray:
    """``n`` accepted events (rows in the :data:`COLUMNS` layout, without label).

    Candidates are drawn in batches sized from the acceptance measured so far (capped at 2M
    to bound memory) and cut on their jets. ``mjj_window`` (GeV) adds a cut on the dijet
    mass of the massive jets.
    """
    if n == 0:
        return np.empty((0, len(COLUMNS) - 1))
    kept: list[Jets] = []
    have, tried, efficiency = 0, 0, 0.5
    while have < n:
        size = int(min(2_000_000, max(10_000, 1.2 * (n - have) / efficiency)))
        jets = generator(g, size)
        keep = _in_acceptance(jets)
        if mjj_window is not None:
            mjj = kinematic_mjj(jets)
            keep &= (mjj > mjj_window[0]) & (mjj < mjj_window[1])
        kept.append(jets.take(keep))
        have += int(keep.sum())
        tried += size
        efficiency = max(have / tried, 1e-4)
    jets = Jets(*(np.concatenate([k[i] for k in kept])[:n] for i in range(5)))
    order = np.argsort(-jets.pt, axis=1)  # j1 = the leading-pT jet
    jets = Jets(*(np.take_along_axis(a, order, axis=1) for a in jets))
    taus = _subjettiness(g, jets)
    columns = []
    for j in range(2):
        pt, eta, phi = jets.pt[:, j], jets.eta[:, j], jets.phi[:, j]
        columns += [
            pt * np.cos(phi),
            pt * np.sin(phi),
            pt * np.sinh(eta),
            jets.m[:, j],
            *taus[j].T,
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
    bkg = _accepted(rng(seed, "lhco-surrogate", "qcd"), n_background, qcd_jets)
    sig = _accepted(rng(seed, "lhco-surrogate", "signal"), n_signal, signal_jets)
    rows = np.concatenate([bkg, sig])
    labels = np.r_[np.zeros(len(bkg)), np.ones(len(sig))]
    order = rng(seed, "lhco-surrogate", "shuffle").permutation(len(rows))
    features = pd.DataFrame(rows[order], columns=COLUMNS[:-1])
    features["label"] = labels[order]
    # The very generator of the main background, conditioned on the reconstructed mJJ only:
    # heavy jets lift mJJ above the parton mass, so a cut on the parton mass would lose them.
    extra = _accepted(
        rng(seed, "lhco-surrogate", "qcd-extra-sr"), n_extra_sr, qcd_jets, extra_sr_window
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
