"""Exploration: representations of the di-τ background model, measured with the probe.

Not part of the workflow: it patches :class:`~resonant_ad.core.flow.ConditionalFlow` for one
run of ``python -m resonant_ad.studies.ditau.probe`` (same protocol, same arguments) and
reproduces the two variants of docs/ditau.md ("tried and not adopted"):

- ``--variant multiplicity``: the flow conditioned on (m_vis, n), n the number of physical
  objects among the ten ρ (above 1.1 × the event's smallest); p(n | m_vis) a logistic
  regression in (z, z²) of the standardized mass fitted on the SB and sampled at each drawn
  mass; each ρ standardized separately for its physical and its padded events;
- ``--variant dr-over-m``: ΔR(τ, τ) / m_vis instead of ΔR before the preprocessing;
- ``--variant both``;
- ``--variant quantile``: each feature mapped through its SB training CDF onto N(0, 1) after
  the usual preprocessing (now the flow setting ``quantile_knots``: the same as ``--set
  quantile_knots=1001``);
- ``--variant log-mass``: the flow conditioned on log m_vis; ``quantile-log-mass``: both;
- ``--reweight`` (with any variant, or ``--variant none``): the flow's samples refined by its
  SB density ratio (the probe's ``--density-ratio 10``, the workflow's ``ditau.density_ratio``).

    python notebooks/ditau_probe_variants.py --variant both --repeats 1

after ``snakemake --cores 2`` (it reads ``results/ditau/split``). One JSON line, as the probe.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

import resonant_ad.core.flow as flow_module
from resonant_ad.core.device import select_device
from resonant_ad.core.rqs import NflowsRQS
from resonant_ad.studies.ditau import probe

Flow = flow_module.ConditionalFlow
N_RHO = 10  # the ρ columns come first in the feature table
DELTA_R = 12  # rho0…rho9, met, ht, delta_r_tautau
LOW, HIGH = 2, 10  # the multiplicities the context one-hot covers
GROUPS = HIGH - LOW + 1


def multiplicity_group(X: np.ndarray) -> np.ndarray:
    """0 … GROUPS−1: physical objects among the ρ (padded ones share the smallest value)."""
    rho = X[:, :N_RHO]
    n = (rho > 1.1 * rho.min(axis=1, keepdims=True)).sum(axis=1)
    return np.clip(n, LOW, HIGH) - LOW


def patch_multiplicity() -> None:
    """Condition the flow on (m, n) and standardize each ρ per physical/padded group."""
    state: dict = {}

    def mass_features(m: np.ndarray) -> np.ndarray:
        z = (m - state["m0"]) / state["s0"]
        return np.column_stack([z, z**2])

    def build_model(architecture: str, features: int, **kw: object) -> torch.nn.Module:
        keys = ("blocks", "hidden", "bins", "tail_bound", "made_blocks", "residual_blocks")
        return NflowsRQS(features, context=1 + GROUPS, **{k: kw[k] for k in keys})

    def cond(self: Flow, m: np.ndarray) -> np.ndarray:
        m = np.asarray(m, dtype=np.float64)
        onehot = np.eye(GROUPS)[m[:, 1].astype(int)]
        return np.column_stack([(m[:, 0] - state["m0"]) / state["s0"], onehot])

    def regroup(self: Flow, y: np.ndarray, m: np.ndarray, inverse: bool = False) -> np.ndarray:
        physical = np.arange(N_RHO)[None, :] < (np.asarray(m)[:, 1].astype(int) + LOW)[:, None]
        if "groups" not in state:  # the first call is the training set's
            mu, sd = np.zeros((2, N_RHO)), np.ones((2, N_RHO))
            for g in (0, 1):
                for k in range(N_RHO):
                    v = y[physical[:, k] == bool(g), k]
                    if len(v) > 10:
                        mu[g, k], sd[g, k] = v.mean(), v.std() + 1e-6
            state["groups"] = (mu, sd)
        mu, sd = state["groups"]
        g = physical.astype(int)
        shift = np.where(g == 1, mu[1], mu[0])
        scale = np.where(g == 1, sd[1], sd[0])
        y = y.copy()
        y[:, :N_RHO] = y[:, :N_RHO] * scale + shift if inverse else (y[:, :N_RHO] - shift) / scale
        return y

    def tensors(self: Flow, X: np.ndarray, m: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        dev = select_device(self.device)
        y = regroup(self, self.scaler_.transform(X), m)
        c = torch.as_tensor(self._cond(m), dtype=torch.float32, device=dev)
        return torch.as_tensor(y, dtype=torch.float32, device=dev), c

    @torch.no_grad()
    def inverse_transform(self: Flow, Z: np.ndarray, m: np.ndarray) -> np.ndarray:
        dev = select_device(self.device)
        z = torch.as_tensor(np.asarray(Z), dtype=torch.float32, device=dev)
        c = torch.as_tensor(self._cond(m), dtype=torch.float32, device=dev)
        self.model_.eval()
        parts = [self.model_.inverse(z[s], c[s]).cpu().numpy() for s in self._chunks(len(z), dev)]
        return self.scaler_.inverse_transform(regroup(self, np.concatenate(parts), m, True))

    fit, sample_latent = Flow.fit, Flow.sample_latent

    def fit_with_groups(
        self: Flow, X: np.ndarray, m: np.ndarray, X_val: np.ndarray, m_val: np.ndarray
    ) -> Flow:
        state["m0"], state["s0"] = float(np.mean(m)), float(np.std(m))
        masses = np.r_[m, m_val]
        labels = np.r_[multiplicity_group(X), multiplicity_group(X_val)]
        state["p_n"] = LogisticRegression(max_iter=2000).fit(mass_features(masses), labels)
        return fit(
            self,
            X,
            np.column_stack([m, multiplicity_group(X)]),
            X_val,
            np.column_stack([m_val, multiplicity_group(X_val)]),
        )

    def with_groups(m: np.ndarray) -> np.ndarray:
        """(m, n): n drawn from p(n | m), seeded by the masses (a function of the data)."""
        m = np.asarray(m, dtype=np.float64)
        if m.ndim == 2:
            return m
        p = state["p_n"].predict_proba(mass_features(m))
        u = np.random.default_rng(int(abs(m.sum()) * 1000) % 2**32).random(len(m))[:, None]
        n = np.minimum((u > np.cumsum(p, axis=1)).sum(axis=1), GROUPS - 1)
        return np.column_stack([m, n])

    sample = Flow.sample

    def sample_with_groups(
        self: Flow, Z: np.ndarray, m: np.ndarray, states: np.ndarray
    ) -> np.ndarray:
        return sample_latent(self, Z, with_groups(m), states)

    def sample_one_each(self: Flow, m: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
        return sample(self, with_groups(m), seed)

    flow_module.build_model = build_model
    Flow._cond, Flow._tensors, Flow.inverse_transform = cond, tensors, inverse_transform
    Flow.fit, Flow.sample_latent = fit_with_groups, sample_with_groups
    Flow.sample = sample_one_each


def patch_dr_over_m() -> None:
    """Model ΔR / m_vis (its lower edge then does not move with the mass); ΔR on the way out."""
    fit, sample_latent = Flow.fit, Flow.sample_latent

    def fit_scaled(
        self: Flow, X: np.ndarray, m: np.ndarray, X_val: np.ndarray, m_val: np.ndarray
    ) -> Flow:
        X, X_val = X.copy(), X_val.copy()
        X[:, DELTA_R] /= m
        X_val[:, DELTA_R] /= m_val
        return fit(self, X, m, X_val, m_val)

    def to_delta_r(x: np.ndarray, m: np.ndarray) -> np.ndarray:
        """ΔR / m_vis back to ΔR (m: the masses, or (m, n) under the multiplicity variant)."""
        mass = np.asarray(m)
        x[:, DELTA_R] *= mass[:, 0] if mass.ndim == 2 else mass
        return x

    def sample_scaled(self: Flow, Z: np.ndarray, m: np.ndarray, states: np.ndarray) -> np.ndarray:
        return to_delta_r(sample_latent(self, Z, m, states), m)

    sample = Flow.sample

    def sample_one_each(self: Flow, m: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
        x, n_out = sample(self, m, seed)
        return to_delta_r(x, m), n_out

    Flow.fit, Flow.sample_latent, Flow.sample = fit_scaled, sample_scaled, sample_one_each


def patch_log_mass() -> None:
    """Condition the flow on the standardized log m_vis instead of m_vis: the SB's sparse
    high-mass tail is compressed, and shares that fall exponentially with the mass become
    linear in the context the flow interpolates across the SR."""
    fit = Flow.fit

    def fit_log(self: Flow, X: np.ndarray, m: np.ndarray, X_val: np.ndarray, m_val: np.ndarray):
        log_m = np.log(np.asarray(m, dtype=np.float64))
        self.log_m_ = (float(log_m.mean()), float(log_m.std()))
        return fit(self, X, m, X_val, m_val)

    def cond(self: Flow, m: np.ndarray) -> np.ndarray:
        mean, std = self.log_m_
        return ((np.log(np.asarray(m, dtype=np.float64)) - mean) / std)[:, None]

    Flow.fit, Flow._cond = fit_log, cond


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--variant",
        choices=(
            "none",
            "multiplicity",
            "dr-over-m",
            "both",
            "quantile",
            "log-mass",
            "quantile-log-mass",
        ),
        required=True,
    )
    parser.add_argument("--reweight", action="store_true", help="SB density-ratio refinement")
    args, rest = parser.parse_known_args(argv)
    if args.reweight:  # the package's ditau.density_ratio, 10 proposals per kept draw
        rest += ["--density-ratio", "10"]
    if args.variant.startswith("quantile"):  # the package's flow setting quantile_knots
        rest += ["--set", "quantile_knots=1001"]
    if args.variant.endswith("log-mass"):
        patch_log_mass()
    if args.variant in ("multiplicity", "both"):
        patch_multiplicity()  # first: its fit adds the n column the ΔR scaling passes on
    if args.variant in ("dr-over-m", "both"):
        patch_dr_over_m()
    return probe.main(rest)


if __name__ == "__main__":
    sys.exit(main())
