"""A density ratio w(x) = p_real(x) / p_model(x) from a classifier, and importance resampling.

A generative background model (the di-τ flow) mismodels what its training data show it
(multiplicity corners, tails). A gradient-boosted classifier of real events against the
model's events, where both are known (the sidebands), learns that residue: with the two
classes balanced by weights its odds p/(1 − p) estimate the ratio. Resampling the model's
events with probabilities ∝ w (:func:`top_k_by_weight`) refines the model without leaving
weights in the sample, so every consumer of the synthetic set stays unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from resonant_ad.core.estimator import Estimator

log = logging.getLogger(__name__)


class DensityRatio(Estimator):
    """w(x) = p_real / p_model from a HistGradientBoosting classifier of real vs model events.

    ``fit(real, model)`` holds out ``validation_fraction`` of each class (seeded) for early
    stopping (``n_iter_no_change`` iterations without a lower weighted log-loss; the model
    is kept at its best iteration) and for ``validation_auc_``, the held-out AUC of real
    against model events: 0.5 means the model is already indistinguishable. Weights are the
    classifier's odds, clipped to ``clip`` so that no few events dominate a resampling.
    """

    def __init__(
        self,
        max_iter: int = 1000,
        learning_rate: float = 0.05,
        min_samples_leaf: int = 40,
        n_iter_no_change: int = 20,
        validation_fraction: float = 0.25,
        clip: Sequence[float] = (0.02, 50.0),
        seed: int = 0,
    ) -> None:
        lo, hi = (float(c) for c in clip)
        if not 0.0 < lo < 1.0 < hi:
            raise ValueError(f"clip must be [low, high] with 0 < low < 1 < high, got {clip}")
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
        self.max_iter = int(max_iter)
        self.learning_rate = float(learning_rate)
        self.min_samples_leaf = int(min_samples_leaf)
        self.n_iter_no_change = int(n_iter_no_change)
        self.validation_fraction = float(validation_fraction)
        self.clip = [lo, hi]
        self.seed = int(seed)

    def fit(self, real: np.ndarray, model: np.ndarray) -> DensityRatio:
        """Learn w from ``real`` and ``model`` events (rows; the same columns in both)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        from resonant_ad.core.hgb import member_split
        from resonant_ad.core.seeding import derive_seed, rng
        from resonant_ad.stats.metrics import roc_auc

        real, model = np.asarray(real, np.float64), np.asarray(model, np.float64)
        if real.ndim != 2 or model.ndim != 2 or real.shape[1] != model.shape[1]:
            raise ValueError(f"real {real.shape} and model {model.shape}: need (n, d) both")
        X, y = np.vstack([real, model]), np.r_[np.ones(len(real)), np.zeros(len(model))]
        train, val = member_split(y, self.validation_fraction, rng(self.seed, "ratio-split"))
        balance = np.where(y == 1, 1.0, len(real) / len(model))  # equal class totals
        clf = HistGradientBoostingClassifier(
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            min_samples_leaf=self.min_samples_leaf,
            early_stopping=True,
            scoring="loss",
            n_iter_no_change=self.n_iter_no_change,
            random_state=derive_seed(self.seed, "ratio") % 2**31,
        )
        clf.fit(
            X[train],
            y[train],
            sample_weight=balance[train],
            X_val=X[val],
            y_val=y[val],
            sample_weight_val=balance[val],
        )
        best = max(1, int(np.argmax(clf.validation_score_)))  # roll back to the best iteration
        if best < clf.n_iter_:
            clf.set_params(max_iter=best, early_stopping=False, warm_start=False)
            clf.fit(X[train], y[train], sample_weight=balance[train])
        self.classifier_, self.n_features_ = clf, real.shape[1]
        self.validation_auc_ = roc_auc(y[val], clf.predict_proba(X[val])[:, 1])
        log.info(
            "density ratio: %d trees, held-out AUC real vs model %.4f",
            clf.n_iter_,
            self.validation_auc_,
        )
        return self

    def weights(self, X: np.ndarray) -> np.ndarray:
        """w(x) of each row of ``X``, clipped to ``clip``."""
        self.check_fitted()
        X = np.asarray(X, np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise ValueError(f"density ratio of {self.n_features_} columns given {X.shape}")
        p = self.classifier_.predict_proba(X)[:, 1]
        with np.errstate(divide="ignore"):
            return np.clip(p / (1.0 - p), *self.clip)

    # -- persistence (Estimator.save / load) -----------------------------------------
    def _fitted_state(self) -> dict[str, Any]:
        return {
            "classifier": self.classifier_,
            "n_features": self.n_features_,
            "validation_auc": self.validation_auc_,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.classifier_ = state["classifier"]
        self.n_features_ = int(state["n_features"])
        self.validation_auc_ = float(state["validation_auc"])


def top_k_by_weight(weights: np.ndarray, keep: np.ndarray, gumbel: np.ndarray) -> np.ndarray:
    """Mask of the rows each group keeps: sampling without replacement with probability ∝ w.

    ``weights`` and ``gumbel`` (standard Gumbel noise) have shape (groups, proposals);
    group i keeps its ``keep[i]`` proposals of largest log w + noise (the Gumbel top-k
    trick: an exact weighted draw without replacement, vectorised).
    """
    weights, gumbel = np.asarray(weights, np.float64), np.asarray(gumbel, np.float64)
    keep = np.asarray(keep, dtype=int)
    if weights.shape != gumbel.shape or weights.ndim != 2 or len(keep) != len(weights):
        raise ValueError(f"weights {weights.shape}, noise {gumbel.shape}, keep {keep.shape}")
    if (keep > weights.shape[1]).any() or (keep < 0).any():
        raise ValueError(f"cannot keep {keep.max()} of {weights.shape[1]} proposals")
    key = np.log(weights) + gumbel
    order = np.argsort(-key, axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.broadcast_to(np.arange(key.shape[1]), key.shape), axis=1)
    return rank < keep[:, None]
