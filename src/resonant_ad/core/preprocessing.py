"""Invertible preprocessing for the flow: min-max to (0, 1) with a margin, logit, standardization.

Optionally, chosen positive features are first replaced by their logarithm (``log_features``):
features spanning orders of magnitude (the di-τ simplex coordinates, from ~1e-5 for padded
objects to ~1) otherwise have their small values squeezed into a sliver of the logit range.

A group of positive features whose sum stays below 1 (``simplex_features``: the first n of the
di-τ simplex coordinates ρ, which with the rest of the event's ρ sum to exactly 1) can instead
be mapped by the additive log-ratio y_i = log ρ_i − log(1 − Σ_j ρ_j), a bijection onto ℝⁿ
whose inverse ρ_i = e^{y_i} / (1 + Σ_j e^{y_j}) lands on the simplex by construction. Modelled
in plain (or log) coordinates, a flow smears Σ ρ ≈ 1 − O(1e-4) into a band a classifier
separates from the real events at once; in log-ratio coordinates the constraint is exact.

With ``quantile_knots`` = K > 0 each standardized feature is then mapped through its
fitted CDF onto N(0, 1) (piecewise linear between K quantiles, then the normal quantile
function): a narrow spike that holds most events (the padded ρ) fills the bulk of its axis,
and rare values far out in the standardized units (the ρ of a 7th or 8th object, 5-20
standard deviations of the spike away) sit at their own quantile, inside the spline's tail
bound, where the flow can generate them.

Fitted on sideband training data only, persisted with the model and used in both directions.
The margin keeps values slightly beyond the fitted range (SR data, other splits) finite and
unchanged: its outer half holds values up to ~1% of the range beyond, mapped as they are;
values further out are clipped to its middle (u = margin/2), so that the flow never sees an
input far outside its training domain (there the affine steps of a MAF compound block by
block, to 1e37 or inf for a 100-epoch dijet flow). The number of values beyond the fitted
range is reported, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_CLIP = 1e-7  # the clip of u without a margin (margin 0)
_FLOOR = 1e-300  # log argument floor for values never seen in fitting


def _floored_log(a: np.ndarray) -> np.ndarray:
    """log(max(a, _FLOOR)): finite for the zero or negative values of unseen data."""
    return np.log(np.maximum(a, _FLOOR))


@dataclass
class LogitScaler:
    """x → u = margin + (1 − 2·margin)(x − min)/(max − min) → logit(u) → (· − mean)/std."""

    margin: float = 0.02
    log_features: tuple[int, ...] = ()
    simplex_features: tuple[int, ...] = ()
    quantile_knots: int = 0
    min_: np.ndarray = field(default=None, repr=False)
    max_: np.ndarray = field(default=None, repr=False)
    mean_: np.ndarray = field(default=None, repr=False)
    std_: np.ndarray = field(default=None, repr=False)
    knots_: np.ndarray | None = field(default=None, repr=False)
    edge_: float = 0.0

    def fit(self, X: np.ndarray) -> LogitScaler:
        """Learn min/max and the logit-space mean/std from ``X`` (SB training data)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) < 2 or not np.all(np.isfinite(X)):
            raise ValueError(f"need a finite (n >= 2, d) array to fit, got shape {X.shape}")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5), got {self.margin}")
        self.log_features = tuple(int(i) for i in self.log_features)
        self.simplex_features = tuple(int(i) for i in self.simplex_features)
        both = set(self.log_features) & set(self.simplex_features)
        if both:
            raise ValueError(f"features {sorted(both)} are both log and simplex features")
        for kind, idx in (("log", self.log_features), ("simplex", self.simplex_features)):
            for i in idx:
                if not 0 <= i < X.shape[1] or np.any(X[:, i] <= 0):
                    raise ValueError(
                        f"{kind} feature {i} must exist and be positive in the fit data"
                    )
        if self.simplex_features:
            total = X[:, list(self.simplex_features)].sum(axis=1)
            if np.any(total >= 1):
                raise ValueError(
                    f"simplex features {list(self.simplex_features)} sum to >= 1 in "
                    f"{int((total >= 1).sum())} fit events (max {total.max():.6g}); they must "
                    "be part of a composition that sums to 1"
                )
        X = self._log(X)
        self.min_, self.max_ = X.min(axis=0), X.max(axis=0)
        if np.any(self.max_ <= self.min_):
            raise ValueError("a feature is constant in the fit data")
        self.mean_ = np.zeros(X.shape[1])
        self.std_ = np.ones(X.shape[1])
        y = self._standardize(X)
        self.mean_, self.std_ = y.mean(axis=0), y.std(axis=0)
        self.knots_ = None
        if self.quantile_knots:
            k = int(self.quantile_knots)
            if k < 3:
                raise ValueError(f"quantile_knots must be 0 (off) or >= 3, got {k}")
            q = np.quantile((y - self.mean_) / self.std_, self._levels(k), axis=0)
            # strictly increasing, so that a spike's tied quantiles stay invertible
            self.knots_ = q + 1e-9 * np.arange(k)[:, None]
            self.edge_ = 0.5 / len(X)
        return self

    @staticmethod
    def _levels(k: int) -> np.ndarray:
        return np.linspace(0.0, 1.0, k)

    def _to_normal(self, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(standardized → N(0, 1) through the fitted CDF, log |dz/dy| per value)."""
        from scipy import special

        levels = self._levels(len(self.knots_))
        z, log_d = np.empty_like(Y), np.empty_like(Y)
        for j in range(Y.shape[1]):
            knots = self.knots_[:, j]
            u = np.clip(np.interp(Y[:, j], knots, levels), self.edge_, 1 - self.edge_)
            z[:, j] = special.ndtri(u)
            seg = np.clip(np.searchsorted(knots, Y[:, j]) - 1, 0, len(knots) - 2)
            slope = (levels[seg + 1] - levels[seg]) / (knots[seg + 1] - knots[seg])
            log_d[:, j] = np.log(slope) + 0.5 * z[:, j] ** 2 + 0.5 * np.log(2 * np.pi)
        return z, log_d

    def _from_normal(self, Z: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_to_normal`."""
        from scipy import special

        levels = self._levels(len(self.knots_))
        u = special.ndtr(Z)
        return np.column_stack(
            [np.interp(u[:, j], levels, self.knots_[:, j]) for j in range(Z.shape[1])]
        )

    def _log_space(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(X with the log of the ``log_features`` and the log-ratio of the ``simplex_features``,
        log |d of that map / dx| per event).

        Values ≤ 0 and a simplex remainder 1 − Σρ ≤ 0, never seen in fitting, are floored.
        The Jacobian of the log-ratio is J_ij = δ_ij/ρ_i + 1/r, r = 1 − Σρ: det J = 1/(r·Πρ_i).
        """
        log_x = _floored_log(X[:, list(self.log_features)])
        rho = X[:, list(self.simplex_features)]
        log_rho = _floored_log(rho)
        log_rest = _floored_log(1.0 - rho.sum(axis=1, keepdims=True))
        L = X.copy()
        L[:, list(self.log_features)] = log_x
        L[:, list(self.simplex_features)] = log_rho - log_rest
        return L, -log_x.sum(axis=1) - log_rho.sum(axis=1) - log_rest[:, 0]

    def _log(self, X: np.ndarray) -> np.ndarray:
        """X in the space the min-max/logit steps act on (see :meth:`_log_space`)."""
        return self._log_space(X)[0]

    def _exp(self, L: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`_log` (in place on a fresh array)."""
        if self.log_features:
            idx = list(self.log_features)
            L[:, idx] = np.exp(L[:, idx])
        if self.simplex_features:
            idx = list(self.simplex_features)
            # softmax with a zeroth component fixed at 0, computed stably
            top = np.maximum(L[:, idx].max(axis=1, keepdims=True), 0.0)
            e = np.exp(L[:, idx] - top)
            L[:, idx] = e / (np.exp(-top) + e.sum(axis=1, keepdims=True))
        return L

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        u = self._clipped_u(X)
        return (np.log(u) - np.log1p(-u) - self.mean_) / self.std_

    def _u(self, X: np.ndarray) -> np.ndarray:
        return self.margin + (1 - 2 * self.margin) * (X - self.min_) / (self.max_ - self.min_)

    def _clipped_u(self, X: np.ndarray) -> np.ndarray:
        """u of ``X``, clipped to [margin/2, 1 − margin/2]: events far beyond the fitted range
        (out_of_range) sit just beyond it, where the flow's map stays finite."""
        edge = max(self.margin / 2, _CLIP)
        return np.clip(self._u(X), edge, 1 - edge)

    def out_of_range(self, X: np.ndarray) -> np.ndarray:
        """Per event: does any feature lie outside the fitted [min, max]?"""
        X = self._log(np.asarray(X, dtype=np.float64))
        return np.any((X < self.min_) | (X > self.max_), axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Physical → standardized logit space (values beyond half the margin are clipped), then
        N(0, 1) through the fitted CDF with ``quantile_knots``."""
        y = self._standardize(self._log(np.asarray(X, dtype=np.float64)))
        return y if self.knots_ is None else self._to_normal(y)[0]

    def inverse_transform(self, Y: np.ndarray) -> np.ndarray:
        """Standardized logit space (or its N(0, 1) map) → physical."""
        Y = np.asarray(Y, dtype=np.float64)
        if self.knots_ is not None:
            Y = self._from_normal(Y)
        u = 1.0 / (1.0 + np.exp(-(Y * self.std_ + self.mean_)))
        X = self.min_ + (u - self.margin) / (1 - 2 * self.margin) * (self.max_ - self.min_)
        return self._exp(X)

    def log_abs_det_jacobian(self, X: np.ndarray) -> np.ndarray:
        """log |d transform / dx| per event (to turn a density in y into one in x)."""
        L, log_det = self._log_space(np.asarray(X, dtype=np.float64))
        u = self._clipped_u(L)
        scale = (1 - 2 * self.margin) / (self.max_ - self.min_)
        out = np.sum(np.log(scale) - np.log(u) - np.log1p(-u) - np.log(self.std_), axis=1)
        if self.knots_ is not None:
            y = (np.log(u) - np.log1p(-u) - self.mean_) / self.std_
            out = out + self._to_normal(y)[1].sum(axis=1)
        return out + log_det

    def state(self) -> dict[str, object]:
        """Everything needed to rebuild the scaler (saved with the model)."""
        return {
            "margin": self.margin,
            "log_features": list(self.log_features),
            "simplex_features": list(self.simplex_features),
            "min": self.min_,
            "max": self.max_,
            "mean": self.mean_,
            "std": self.std_,
            "quantile_knots": int(self.quantile_knots),
            "knots": self.knots_,
            "edge": self.edge_,
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> LogitScaler:
        """Rebuild a fitted scaler from :meth:`state`."""
        return cls(
            margin=float(state["margin"]),
            log_features=tuple(state.get("log_features", ())),
            simplex_features=tuple(state.get("simplex_features", ())),
            min_=np.asarray(state["min"]),
            max_=np.asarray(state["max"]),
            mean_=np.asarray(state["mean"]),
            std_=np.asarray(state["std"]),
            quantile_knots=int(state.get("quantile_knots", 0)),
            knots_=None if state.get("knots") is None else np.asarray(state["knots"]),
            edge_=float(state.get("edge", 0.0)),
        )
