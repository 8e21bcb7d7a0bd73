"""An LHCO R&D–like dijet surrogate from simplified physics, calibrated to the real SR.

Every event is generated as two jets with four-vectors and N-subjettiness; the analysis
features (mJJ, mJ1, ΔmJ, τ21, ΔR) are then computed from them by the same code as for the
real files (:func:`resonant_ad.studies.dijet.data.derive_features`). Columns and units (GeV) are
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
prongs), come out of one rule. The detector's jet response scales a signal jet's pT and mass
together (a jet measured high in energy is measured high in mass), which correlates both jet
masses with mJJ; the mass has its own resolution on top.

**Calibration.** The constants of :data:`~.jets.QCD` and :data:`~.signal.SIGNAL` were
fitted (:mod:`~.calibration`: Nelder–Mead on 60k–150k SR events per class, common random
numbers) to the reference statistics of the real R&D SR in ``studies/dijet/reference``
(:mod:`~.realism`): every SR marginal within KS distance 0.05 of the reference quantiles,
every pairwise correlation within ±0.05, the QCD means in four mJJ slices within 3 standard
errors. Both classes meet all of them on ≥ 100k events (the signal's largest |Δcorr| is
~0.04, mJJ–τ21 J2; its largest KS ~0.033, τ21 J1). The fit sets the handful of constants of
this physical picture; it does not reweight events, so what the reference does not
constrain (the sidebands, ΔR) follows from the kinematics.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.core.io import atomic_path
from resonant_ad.core.seeding import rng
from resonant_ad.studies.dijet.jets import Jets, kinematic_mjj, qcd_jets
from resonant_ad.studies.dijet.signal import signal_jets

log = logging.getLogger(__name__)
JET_COLUMNS = ("px", "py", "pz", "m", "tau1", "tau2", "tau3")
#: the column order of the LHCO R&D features file
COLUMNS = [f"{c}j{j}" for j in (1, 2) for c in JET_COLUMNS] + ["label"]
HDF_KEY = "df"
TRIGGER_PT = 1200.0  # GeV, leading large-R jet
MAX_ETA = 2.5


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


def accepted_rows(
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
    bkg = accepted_rows(rng(seed, "lhco-surrogate", "qcd"), n_background, qcd_jets)
    sig = accepted_rows(rng(seed, "lhco-surrogate", "signal"), n_signal, signal_jets)
    rows = np.concatenate([bkg, sig])
    labels = np.r_[np.zeros(len(bkg)), np.ones(len(sig))]
    order = rng(seed, "lhco-surrogate", "shuffle").permutation(len(rows))
    features = pd.DataFrame(rows[order], columns=COLUMNS[:-1])
    features["label"] = labels[order]
    # The very generator of the main background, conditioned on the reconstructed mJJ only:
    # heavy jets lift mJJ above the parton mass, so a cut on the parton mass would lose them.
    extra = accepted_rows(
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
