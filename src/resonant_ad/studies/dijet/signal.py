"""The surrogate's signal: Z'(3.5 TeV) → X(500 GeV) Y(100 GeV), each → qq̄, as two jets.

See :mod:`~resonant_ad.studies.dijet.surrogate` for the picture and its calibration.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from resonant_ad.studies.dijet.jets import JET_RADIUS, QCD, JetModel, Jets, jet_substructure

CONTAINMENT_SPREAD = 0.3  # angular spread of a quark's hadrons around its direction


@dataclass(frozen=True)
class SignalModel:
    """Constants of the signal generator (:func:`signal_jets`)."""

    radiation_scale: float  # m_rad of a colour-singlet decay relative to a QCD jet
    mass_resolution: float  # relative jet-mass smearing, on top of the response
    mass_resolution_abs: float  # absolute jet-mass smearing (GeV), added in quadrature
    response_resolution: float  # width of the jet-energy response (scales pT and mass together)
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


#: calibrated to the real R&D SR signal, with the QCD constants fixed (see the surrogate)
SIGNAL = SignalModel(
    radiation_scale=0.3604,
    mass_resolution=0.05465,
    mass_resolution_abs=8.778,
    response_resolution=0.047,
    zprime_width=0.001658,
    isr_pt=6.392,
    merge_radius=1.871,
    contamination_fraction=0.2092,
    contamination_mass=148.9,
    contamination_spread=0.81,
    contamination_tau_share=0.35,
    tau21_spread=0.6661,
    tau_radiation_weight=1.628,
    tau21_two_prong=0.06084,
    tau_shape=0.9219,
)


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
        # the calorimeter's response scales the jet's whole four-momentum: pT and mass together
        response = 1.0 + model.response_resolution * g.standard_normal(n)
        pt = pt * response
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
        m = response * m
        m = m + np.hypot(model.mass_resolution * m, model.mass_resolution_abs) * g.standard_normal(
            n
        )
        out["m"][:, j] = np.maximum(m, 1.0)
        out["tau21"][:, j] = tau21
        out["pt"][:, j], out["eta"][:, j], out["phi"][:, j] = pt, eta, phi
    return Jets(**out)
