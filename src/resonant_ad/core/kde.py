"""CATHODE's model of the SR mass density: a Gaussian KDE in logit space."""

from __future__ import annotations

import numpy as np


class MassKDE:
    """Gaussian KDE of the SR mass in logit space (CATHODE's model of p(m) inside the SR).

    m is min-max scaled to (0, 1) with the SR window as bounds and logit-transformed; the
    kernel is a Gaussian of absolute width ``bandwidth`` in those logit units, as the
    reference code's ``sklearn.neighbors.KernelDensity(bandwidth=0.01)`` (whose bandwidth is
    the kernel's standard deviation). Samples map back into the window.
    """

    def __init__(self, window: tuple[float, float], bandwidth: float = 0.01) -> None:
        self.lo, self.hi = (float(v) for v in window)
        self.bandwidth = float(bandwidth)
        if not self.bandwidth > 0:
            raise ValueError(f"kde bandwidth must be > 0, got {bandwidth}")

    def _to_logit(self, m: np.ndarray) -> np.ndarray:
        u = np.clip(
            (np.asarray(m, dtype=np.float64) - self.lo) / (self.hi - self.lo), 1e-7, 1 - 1e-7
        )
        return np.log(u) - np.log1p(-u)

    def fit(self, m: np.ndarray) -> MassKDE:
        """Fit to SR masses (at least one; all must lie inside the window)."""
        m = np.asarray(m, dtype=np.float64)
        if m.size < 1 or np.any((m <= self.lo) | (m >= self.hi)):
            raise ValueError(f"MassKDE needs >= 1 mass inside ({self.lo}, {self.hi})")
        self.values_ = self._to_logit(m)
        self.sigma_ = self.bandwidth
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` masses drawn from the KDE."""
        y = rng.choice(self.values_, size=n) + rng.normal(0.0, self.sigma_, size=n)
        return self._from_logit(y)

    def kernel_draw(self, centers: np.ndarray, unit_normal: np.ndarray) -> np.ndarray:
        """Masses from the kernels centred on the masses ``centers``, given N(0, 1) draws."""
        return self._from_logit(self._to_logit(centers) + self.sigma_ * np.asarray(unit_normal))

    def _from_logit(self, y: np.ndarray) -> np.ndarray:
        return self.lo + (self.hi - self.lo) / (1.0 + np.exp(-y))
