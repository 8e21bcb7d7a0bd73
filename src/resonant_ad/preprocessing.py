"""Invertible preprocessing for the flow: min-max to (0, 1) with a margin, logit, standardization.

Optionally, chosen positive features are first replaced by their logarithm (``log_features``):
features spanning orders of magnitude (the di-τ simplex coordinates, from ~1e-5 for padded
objects to ~1) otherwise have their small values squeezed into a sliver of the logit range.

Fitted on sideband training data only, persisted with the model and used in both directions.
The margin keeps values slightly beyond the fitted range (SR data, other splits) finite; the
number of values beyond the fitted range is reported, never silently dropped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

_CLIP = 1e-7


@dataclass
class LogitScaler:
    """x → u = margin + (1 − 2·margin)(x − min)/(max − min) → logit(u) → (· − mean)/std."""

    margin: float = 0.02
    log_features: tuple[int, ...] = ()
    min_: np.ndarray = field(default=None, repr=False)
    max_: np.ndarray = field(default=None, repr=False)
    mean_: np.ndarray = field(default=None, repr=False)
    std_: np.ndarray = field(default=None, repr=False)

    def fit(self, X: np.ndarray) -> LogitScaler:
        """Learn min/max and the logit-space mean/std from ``X`` (SB training data)."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) < 2 or not np.all(np.isfinite(X)):
            raise ValueError(f"need a finite (n >= 2, d) array to fit, got shape {X.shape}")
        if not 0 <= self.margin < 0.5:
            raise ValueError(f"margin must be in [0, 0.5), got {self.margin}")
        self.log_features = tuple(int(i) for i in self.log_features)
        for i in self.log_features:
            if not 0 <= i < X.shape[1] or np.any(X[:, i] <= 0):
                raise ValueError(f"log feature {i} must exist and be positive in the fit data")
        X = self._log(X)
        self.min_, self.max_ = X.min(axis=0), X.max(axis=0)
        if np.any(self.max_ <= self.min_):
            raise ValueError("a feature is constant in the fit data")
        self.mean_ = np.zeros(X.shape[1])
        self.std_ = np.ones(X.shape[1])
        y = self._standardize(X)
        self.mean_, self.std_ = y.mean(axis=0), y.std(axis=0)
        return self

    def _log(self, X: np.ndarray) -> np.ndarray:
        """Log of the ``log_features`` (values ≤ 0, never seen in fitting, are floored)."""
        if not self.log_features:
            return X
        X = X.copy()
        idx = list(self.log_features)
        X[:, idx] = np.log(np.maximum(X[:, idx], 1e-300))
        return X

    def _standardize(self, X: np.ndarray) -> np.ndarray:
        u = np.clip(self._u(X), _CLIP, 1 - _CLIP)
        return (np.log(u) - np.log1p(-u) - self.mean_) / self.std_

    def _u(self, X: np.ndarray) -> np.ndarray:
        return self.margin + (1 - 2 * self.margin) * (X - self.min_) / (self.max_ - self.min_)

    def out_of_range(self, X: np.ndarray) -> np.ndarray:
        """Per event: does any feature lie outside the fitted [min, max]?"""
        X = self._log(np.asarray(X, dtype=np.float64))
        return np.any((X < self.min_) | (X > self.max_), axis=1)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Physical → standardized logit space (values beyond the margin are clipped)."""
        return self._standardize(self._log(np.asarray(X, dtype=np.float64)))

    def inverse_transform(self, Y: np.ndarray) -> np.ndarray:
        """Standardized logit space → physical."""
        u = 1.0 / (1.0 + np.exp(-(np.asarray(Y, dtype=np.float64) * self.std_ + self.mean_)))
        X = self.min_ + (u - self.margin) / (1 - 2 * self.margin) * (self.max_ - self.min_)
        if self.log_features:
            idx = list(self.log_features)
            X[:, idx] = np.exp(X[:, idx])
        return X

    def log_abs_det_jacobian(self, X: np.ndarray) -> np.ndarray:
        """log |d transform / dx| per event (to turn a density in y into one in x)."""
        X = np.asarray(X, dtype=np.float64)
        L = self._log(X)
        u = np.clip(self._u(L), _CLIP, 1 - _CLIP)
        scale = (1 - 2 * self.margin) / (self.max_ - self.min_)
        out = np.sum(np.log(scale) - np.log(u) - np.log1p(-u) - np.log(self.std_), axis=1)
        return out - L[:, list(self.log_features)].sum(axis=1)  # d log x / dx = 1/x

    def state(self) -> dict[str, object]:
        """Everything needed to rebuild the scaler (saved with the model)."""
        return {
            "margin": self.margin,
            "log_features": list(self.log_features),
            "min": self.min_,
            "max": self.max_,
            "mean": self.mean_,
            "std": self.std_,
        }

    @classmethod
    def from_state(cls, state: dict[str, object]) -> LogitScaler:
        """Rebuild a fitted scaler from :meth:`state`."""
        return cls(
            margin=float(state["margin"]),
            log_features=tuple(state.get("log_features", ())),
            min_=np.asarray(state["min"]),
            max_=np.asarray(state["max"]),
            mean_=np.asarray(state["mean"]),
            std_=np.asarray(state["std"]),
        )
