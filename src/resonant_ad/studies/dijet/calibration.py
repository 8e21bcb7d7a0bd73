"""How the surrogate's constants were fitted to the real LHCO R&D signal region.

``jets.QCD`` and ``signal.SIGNAL`` (modules of :mod:`resonant_ad.studies.dijet`) come from

    python -m resonant_ad.studies.dijet.calibration qcd --iterations 3000
    python -m resonant_ad.studies.dijet.calibration signal --iterations 300 --events 60000

each a Nelder–Mead minimisation, started from the constants in the modules, of

    L = 100 Σ_features KS² + 100 Σ_pairs Δcorr² (+ 0.01 Σ_slices min(pull², 100) for QCD)
        + 1000 Σ max(KS − w, 0)² + 1000 Σ max(|Δcorr| − w, 0)²      (walls, w = 0.03)
        (+ 300 (f_SR − 0.82)² for the signal)

on SR events generated with a fixed seed (common random numbers: the loss is a smooth
function of the constants up to the reference's own noise). The terms are those of
:mod:`~.realism`: the KS distance at the reference quantiles of every feature, the
difference of every pairwise correlation, and the pulls of the QCD means in four mJJ slices;
the walls start just inside the realism targets (0.05), so that a fit does not trade one
check out of its target for smaller terms elsewhere. f_SR, the fraction of accepted signal
events inside the SR, is not in the reference; 0.82 gives, with the surrogate's QCD, the
paper's S/B ≈ 0.6 % and S/√B ≈ 2.2 for 1000 injected events in 1M. The signal is fitted with
the QCD constants fixed (its lone quarks radiate as QCD jets).

History (2026-11-29): the QCD fit predates the walls (it meets every target without them).
The signal was refitted after the jet response became common to pT and mass, in three runs
of ≤ 400 iterations on 60k events; Nelder–Mead left ``contamination_tau_share`` at its
start (0.5), where the loss is flat, and a final scan on 150k events set it to 0.35, the
value with the smallest largest |Δcorr| (0.039 against 0.048 at 0.5). The command prints
the constants found and the realism table of a fresh sample.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from resonant_ad.studies.dijet import surrogate as sur
from resonant_ad.studies.dijet.data import derive_features
from resonant_ad.studies.dijet.jets import QCD, JetModel, Jets, qcd_jets
from resonant_ad.studies.dijet.realism import compare, load_reference, sr_classes
from resonant_ad.studies.dijet.signal import SIGNAL, SignalModel, signal_jets

SR = (3.3, 3.7)
#: where the loss's walls start, just inside the realism targets (KS 0.05, |Δcorr| 0.05)
WALL = 0.03
#: the share of accepted signal in the SR that gives the paper's S/B and S/√B (see above)
SIGNAL_SR_FRACTION = 0.82
#: bounds of every fitted constant (the fit works on logit-scaled values inside them)
BOUNDS: dict[str, tuple[float, float]] = {
    "radiation_mass": (5.0, 500.0),
    "radiation_pt_power": (-0.5, 1.5),
    "radiation_spread": (0.05, 2.0),
    "hard_fraction": (0.0, 1.0),
    "z_min": (0.001, 0.45),
    "theta_min": (0.005, 0.9),
    "theta_shape": (0.2, 5.0),
    "tau_radiation_weight": (0.01, 100.0),
    "tau21_two_prong": (0.01, 0.6),
    "tau21_one_prong": (0.3, 0.99),
    "tau_shape": (0.2, 5.0),
    "tau21_spread": (0.01, 2.0),
    "radiation_scale": (0.05, 1.5),
    "mass_resolution": (0.005, 0.2),
    "mass_resolution_abs": (0.5, 40.0),
    "response_resolution": (0.005, 0.2),
    "zprime_width": (0.001, 0.08),
    "isr_pt": (5.0, 400.0),
    "merge_radius": (0.6, 2.5),
    "contamination_fraction": (0.0, 0.6),
    "contamination_mass": (20.0, 600.0),
    "contamination_spread": (0.05, 1.5),
    "contamination_tau_share": (0.0, 1.0),
}


def _to_free(value: float, name: str) -> float:
    lo, hi = BOUNDS[name]
    u = np.clip((value - lo) / (hi - lo), 1e-6, 1 - 1e-6)
    return float(np.log(u) - np.log1p(-u))


def _from_free(x: float, name: str) -> float:
    lo, hi = BOUNDS[name]
    return float(lo + (hi - lo) / (1.0 + np.exp(-x)))


def sample(kind: str, qcd: JetModel, signal: SignalModel, n: int, seed: int = 11):
    """SR events of one class generated with the given constants (a fixed seed)."""
    g = np.random.default_rng(seed)
    if kind == "qcd":

        def gen(g_: np.random.Generator, k: int) -> Jets:
            return qcd_jets(g_, k, model=qcd)

        rows = sur.accepted_rows(g, n, gen, (1000.0 * SR[0], 1000.0 * SR[1]))
    else:

        def gen(g_: np.random.Generator, k: int) -> Jets:
            return signal_jets(g_, k, model=signal, qcd=qcd)

        rows = sur.accepted_rows(g, n, gen)
    df = pd.DataFrame(rows, columns=sur.COLUMNS[:-1]).assign(label=float(kind != "qcd"))
    return derive_features(df)


def loss(kind: str, table: pd.DataFrame, sr_fraction: float | None = None) -> float:
    """The calibration loss (module docstring) of one class's realism table."""
    cls = "background" if kind == "qcd" else "signal"
    rows = table[table["class"] == cls]
    ks = rows.loc[rows["check"] == "marginal", "value"].to_numpy()
    corr = rows.loc[rows["check"] == "correlation", "value"].to_numpy()
    out = 100 * np.sum(ks**2) + 100 * np.sum(corr**2)
    # walls just inside the targets (KS 0.05, |Δcorr| 0.05): a miss costs more than any gain
    out += 1000 * np.sum(np.maximum(ks - WALL, 0.0) ** 2)
    out += 1000 * np.sum(np.maximum(np.abs(corr) - WALL, 0.0) ** 2)
    pulls = rows.loc[rows["check"] == "slice_mean", "value"].to_numpy()
    out += 0.01 * np.sum(np.minimum(pulls**2, 100.0))
    if sr_fraction is not None:
        out += 300 * (sr_fraction - SIGNAL_SR_FRACTION) ** 2
    return float(out)


def objective(kind: str, names: list[str], n: int) -> Callable[[np.ndarray], float]:
    """The loss as a function of the free (logit-scaled) values of ``names``."""
    reference = load_reference()

    def f(x: np.ndarray) -> float:
        values = {k: _from_free(v, k) for k, v in zip(names, x, strict=True)}
        qcd, signal = constants(kind, values)
        events = sample(kind, qcd, signal, n)
        if kind == "qcd":
            return loss(kind, compare(sr_classes(events, None, SR), reference))
        inside = events["mjj"].between(*SR, inclusive="neither")
        table = compare({"signal": events[inside]}, reference)
        return loss(kind, table, float(inside.mean()))

    return f


def constants(kind: str, values: dict[str, float]) -> tuple[JetModel, SignalModel]:
    """The module's constants with ``values`` of one class replaced."""
    if kind == "qcd":
        return dataclasses.replace(QCD, **values), SIGNAL
    return QCD, dataclasses.replace(SIGNAL, **values)


def calibrate(kind: str, iterations: int, n: int) -> dict[str, Any]:
    """Nelder–Mead from the current constants; the constants found and their loss."""
    from scipy.optimize import minimize

    model = QCD if kind == "qcd" else SIGNAL
    names = [f.name for f in dataclasses.fields(model) if f.name in BOUNDS]
    x0 = np.array([_to_free(getattr(model, k), k) for k in names])
    f = objective(kind, names, n)
    start = f(x0)
    result = minimize(
        f,
        x0,
        method="Nelder-Mead",
        options={"maxiter": iterations, "xatol": 1e-3, "fatol": 1e-5, "adaptive": True},
    )
    found = {k: _from_free(v, k) for k, v in zip(names, result.x, strict=True)}
    return {"start_loss": start, "loss": float(result.fun), "constants": found}


def main(argv: list[str] | None = None) -> int:
    """Command line: fit one class's constants and print them with a fresh realism table."""
    parser = argparse.ArgumentParser(prog="python -m resonant_ad.studies.dijet.calibration")
    parser.add_argument("kind", choices=["qcd", "signal"])
    parser.add_argument("--iterations", type=int, default=500)
    parser.add_argument("--events", type=int, default=150_000, help="SR events per evaluation")
    args = parser.parse_args(argv)
    out = calibrate(args.kind, args.iterations, args.events)
    print(f"loss {out['start_loss']:.4f} -> {out['loss']:.4f}")
    for k, v in out["constants"].items():
        print(f"    {k}={v:.4g},")
    qcd, signal = constants(args.kind, out["constants"])
    events = sample(args.kind, qcd, signal, args.events, seed=99)
    table = compare(sr_classes(events, None, SR), load_reference())
    print(table[["check", "class", "feature", "value", "within_target"]].to_string())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
