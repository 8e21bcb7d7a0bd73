"""Gradient-boosted trees as a classifier ensemble (scikit-learn's HistGradientBoosting).

The di-τ paper's classifier, built as in tree-based weak supervision (its Ref. [46]): each
member trains on its own random train/validation split of the whole training pool, stops
early on its own validation part and keeps its best iteration, so that members differ and
their mean reduces the variance of a noisy weakly supervised fit.
"""

from __future__ import annotations

import logging
import os
from typing import Any

import numpy as np

from resonant_ad.core.classifier import ClassifierEnsemble, check_xy
from resonant_ad.core.training import Checkpoint, fingerprint

log = logging.getLogger(__name__)


def member_split(
    y: np.ndarray, validation_fraction: float, g: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) row indices: ``validation_fraction`` of each class, at random.

    Stratified by class so that every member sees both classes in both parts, whatever
    the class sizes (the class balance itself is restored by the weights).
    """
    train, val = [], []
    for cls in np.unique(y):
        rows = np.flatnonzero(y == cls)
        rows = rows[g.permutation(len(rows))]
        n_val = round(float(validation_fraction) * len(rows))
        if n_val == 0 or n_val == len(rows):
            raise ValueError(
                f"class {cls:g}: {len(rows)} events cannot be split with "
                f"validation_fraction={validation_fraction}"
            )
        val.append(rows[:n_val])
        train.append(rows[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


class HGBEnsemble(ClassifierEnsemble):
    """Mean of ``n_members`` HistGradientBoosting classifiers (the di-τ paper's classifier).

    ``fit(X, y, X_val, y_val)`` pools the two sets: member i draws its own stratified random
    split of the pool (``validation_fraction`` of each class to validation, seeded by
    ``seed`` and i), trains on one part with class-balanced weights and early-stops on the
    other (its weighted log-loss; ``n_iter_no_change`` iterations without improvement). It
    then keeps the iteration of lowest validation loss, not the last one (the roll-back of
    the authors' library): ``best_iterations_[i]`` trees. The score is the mean of the
    members' P(class 1). Members differ through their splits whatever ``max_features``.
    """

    def __init__(
        self,
        n_members: int = 50,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        n_iter_no_change: int = 10,
        max_features: float = 1.0,
        validation_fraction: float = 0.5,
        class_weight: str | None = "balanced",
        seed: int = 0,
    ) -> None:
        if n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {n_members}")
        if not 0.0 < max_features <= 1.0:
            raise ValueError(f"max_features must be in (0, 1], got {max_features}")
        if not 0.0 < validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {validation_fraction}")
        if class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")
        self.n_members = int(n_members)
        self.max_iter = int(max_iter)
        self.learning_rate = float(learning_rate)
        self.max_leaf_nodes = int(max_leaf_nodes)
        self.n_iter_no_change = int(n_iter_no_change)
        self.max_features = float(max_features)
        self.validation_fraction = float(validation_fraction)
        self.class_weight = class_weight
        self.seed = int(seed)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray,
        y_val: np.ndarray,
        sample_weight: np.ndarray | None = None,
        sample_weight_val: np.ndarray | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> HGBEnsemble:
        """Train every member on its own split of the pool (X, y) ∪ (X_val, y_val).

        With ``checkpoint`` (a file name) the members fitted so far are kept there
        (:class:`~resonant_ad.core.training.Checkpoint`, keyed by the hyperparameters,
        scikit-learn's version and the pooled data; written at its interval and once all are
        fitted) and a rerun of the same training resumes after them: each member's split and
        trees come from the seed and its index alone, so the resumed ensemble is the
        uninterrupted one. The file stays once every member is fitted, so that a group job
        killed later skips this training: its caller deletes it
        (``training.remove_checkpoint``) when its outputs are written.
        """
        import sklearn
        from sklearn.ensemble import HistGradientBoostingClassifier

        from resonant_ad.core.seeding import derive_seed, rng

        X, y = np.asarray(X), np.asarray(y)
        X_val, y_val = np.asarray(X_val), np.asarray(y_val)
        check_xy(X, y, "training set")
        check_xy(X_val, y_val, "validation set")
        pool_X, pool_y = np.vstack([X, X_val]), np.r_[y, y_val]
        pool_w = np.r_[
            np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float),
            np.ones(len(y_val))
            if sample_weight_val is None
            else np.asarray(sample_weight_val, float),
        ]
        self._weights(pool_y, pool_w)  # both classes present, valid weights: a clear error
        saved, state = None, None
        if checkpoint:
            key = fingerprint(self.get_params(), sklearn.__version__, pool_X, pool_y, pool_w)
            saved = Checkpoint(checkpoint, key)
            state = saved.read(weights_only=False)  # the trees are pickled objects
        self.members_ = list(state["members"]) if state else []
        self.best_iterations_ = [int(b) for b in state["best_iterations"]] if state else []
        if state:
            log.info("resumed from %s after member %d", checkpoint, len(self.members_))
        for i in range(len(self.members_), self.n_members):
            train, val = member_split(
                pool_y, self.validation_fraction, rng(self.seed, "hgb-member-split", i)
            )
            member = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                max_features=self.max_features,
                early_stopping=True,
                scoring="loss",
                n_iter_no_change=self.n_iter_no_change,
                random_state=derive_seed(self.seed, "hgb-member", i) % 2**31,
            )
            member.fit(
                pool_X[train],
                pool_y[train],
                sample_weight=self._weights(pool_y[train], pool_w[train]),
                X_val=pool_X[val],
                y_val=pool_y[val],
                sample_weight_val=self._weights(pool_y[val], pool_w[val]),
            )
            # validation_score_[k] = −loss after k trees (k = 0: the prior); keep ≥ 1 tree
            best = max(1, int(np.argmax(member.validation_score_)))
            self.members_.append(member)
            self.best_iterations_.append(best)
            if saved and (saved.due() or i == self.n_members - 1):
                saved.write({"members": self.members_, "best_iterations": self.best_iterations_})
        log.info(
            "HGB ensemble of %d: best iterations %s (of %s run)",
            self.n_members,
            self.best_iterations_,
            [m.n_iter_ for m in self.members_],
        )
        return self

    @staticmethod
    def _member_proba(member: Any, best: int, X: np.ndarray) -> np.ndarray:
        """P(class 1) of ``member`` after its first ``best`` trees (its rolled-back model)."""
        if best >= member.n_iter_:
            return member.predict_proba(X)[:, 1]
        for k, proba in enumerate(member.staged_predict_proba(X), start=1):
            if k == best:
                return proba[:, 1]
        raise AssertionError("unreachable: best < n_iter_")

    def predict_member_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) from each member at its best iteration, shape (n_members, n)."""
        self.check_fitted()
        X = np.asarray(X)
        return np.stack(
            [
                self._member_proba(m, b, X)
                for m, b in zip(self.members_, self.best_iterations_, strict=True)
            ]
        )

    # -- persistence (Estimator.save / load) -----------------------------------------
    def _fitted_state(self) -> dict[str, Any]:
        return {"members": self.members_, "best_iterations": self.best_iterations_}

    def _restore(self, state: dict[str, Any]) -> None:
        self.members_ = list(state["members"])
        self.best_iterations_ = [int(b) for b in state["best_iterations"]]
