"""Weakly supervised classifiers: a torch MLP whose prediction is an ensemble of its best epochs.

This is the classifier of the LaCATHODE toy (3×64, Adam 1e-3, BCE, batch 128, mean of the
5 lowest-validation-loss epochs) and of CATHODE (same net, 100 epochs, 10 best epochs,
balanced class weights): one estimator, configured by its hyperparameters.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from .device import select_device
from .io import atomic_path

log = logging.getLogger(__name__)


def select_best_epochs(val_losses: Sequence[float], k: int) -> np.ndarray:
    """Indices (0-based, ascending) of the ``k`` epochs with the lowest validation loss.

    Ties are broken by the earlier epoch; non-finite losses are never selected.
    """
    losses = np.asarray(val_losses, dtype=float)
    if not 1 <= k <= losses.size:
        raise ValueError(f"cannot pick {k} best epochs out of {losses.size}")
    finite = np.isfinite(losses)
    if finite.sum() < k:
        raise ValueError(f"only {finite.sum()} of {losses.size} epochs have a finite val loss")
    order = np.argsort(np.where(finite, losses, np.inf), kind="stable")
    return np.sort(order[:k])


def balanced_weights(y: np.ndarray) -> np.ndarray:
    """Per-event weights n / (2 n_class): both classes carry equal total weight."""
    y = np.asarray(y)
    n = y.size
    n1 = float((y == 1).sum())
    n0 = float(n - n1)
    if n0 == 0 or n1 == 0:
        raise ValueError(f"both classes are needed, got {int(n0)} of class 0 and {int(n1)} of 1")
    return np.where(y == 1, n / (2 * n1), n / (2 * n0))


def check_xy(X: np.ndarray, y: np.ndarray, name: str) -> None:
    """A classifier's inputs must be a finite (n, d) array with one label per row."""
    if X.ndim != 2 or len(X) != len(y):
        raise ValueError(f"{name}: X must be (n, d) with n = len(y), got {X.shape}, {y.shape}")
    if not np.all(np.isfinite(X)):
        raise ValueError(f"{name}: X contains NaN or inf")


def build_mlp(n_features: int, hidden_layers: Sequence[int]) -> nn.Sequential:
    """A ReLU MLP with one logit output (the sigmoid is applied in the loss / prediction)."""
    layers: list[nn.Module] = []
    width = n_features
    for h in hidden_layers:
        layers += [nn.Linear(width, int(h)), nn.ReLU()]
        width = int(h)
    layers.append(nn.Linear(width, 1))
    return nn.Sequential(*layers)


class NeuralClassifierEnsemble:
    """MLP binary classifier; ``predict_proba`` averages the ``n_best_epochs`` best epochs.

    Inputs are standardized with the training set's mean and standard deviation (an
    affine map, so min-max scaling before it would change nothing). After every epoch
    the validation loss is computed and the weights are kept; at the end the states of
    the ``n_best_epochs`` epochs with the lowest validation loss form the ensemble.
    """

    def __init__(
        self,
        hidden_layers: Sequence[int] = (64, 64, 64),
        learning_rate: float = 1e-3,
        epochs: int = 50,
        batch_size: int = 128,
        n_best_epochs: int = 5,
        class_weight: str | None = "balanced",
        weight_decay: float = 0.0,
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.hidden_layers = tuple(int(h) for h in hidden_layers)
        self.learning_rate = float(learning_rate)
        self.epochs = int(epochs)
        self.batch_size = int(batch_size)
        self.n_best_epochs = int(n_best_epochs)
        self.class_weight = class_weight
        self.weight_decay = float(weight_decay)
        self.seed = int(seed)
        self.device = device
        if self.n_best_epochs > self.epochs:
            raise ValueError(f"n_best_epochs={n_best_epochs} exceeds epochs={epochs}")
        if class_weight not in (None, "balanced"):
            raise ValueError(f"class_weight must be None or 'balanced', got {class_weight!r}")

    def get_params(self) -> dict[str, Any]:
        """The hyperparameters, as passed to ``__init__``."""
        return {
            "hidden_layers": list(self.hidden_layers),
            "learning_rate": self.learning_rate,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "n_best_epochs": self.n_best_epochs,
            "class_weight": self.class_weight,
            "weight_decay": self.weight_decay,
            "seed": self.seed,
            "device": self.device,
        }

    # -- helpers -----------------------------------------------------------------------
    def _weights(self, y: np.ndarray) -> np.ndarray:
        if self.class_weight == "balanced":
            return balanced_weights(y)
        return np.ones(len(y))

    def _tensor(self, a: np.ndarray, dev: torch.device) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float32), device=dev)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    # -- training ----------------------------------------------------------------------
    def fit(
        self, X: np.ndarray, y: np.ndarray, X_val: np.ndarray, y_val: np.ndarray
    ) -> NeuralClassifierEnsemble:
        """Train for ``epochs`` epochs, keep every epoch's state, ensemble the best ones."""
        X, y = np.asarray(X), np.asarray(y)
        X_val, y_val = np.asarray(X_val), np.asarray(y_val)
        check_xy(X, y, "training set")
        check_xy(X_val, y_val, "validation set")
        dev = select_device(self.device)
        self.mean_ = X.mean(axis=0)
        self.scale_ = X.std(axis=0)
        self.scale_[self.scale_ == 0] = 1.0

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            model = build_mlp(X.shape[1], self.hidden_layers).to(dev)
        shuffle = torch.Generator().manual_seed(self.seed + 1)
        # fused Adam: one kernel per step instead of ~8 per parameter tensor (same maths).
        opt = torch.optim.Adam(
            model.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay, fused=True
        )

        xt = self._tensor(self._scale(X), dev)
        yt = self._tensor(y, dev)
        wt = self._tensor(self._weights(y), dev)
        xv = self._tensor(self._scale(X_val), dev)
        yv = self._tensor(y_val, dev)
        wv = self._tensor(self._weights(y_val), dev)

        n = len(xt)
        states, train_losses, val_losses = [], [], []
        for epoch in range(self.epochs):
            model.train()
            perm = torch.randperm(n, generator=shuffle).to(dev)
            total = 0.0
            for start in range(0, n, self.batch_size):
                idx = perm[start : start + self.batch_size]
                logits = model(xt[idx]).squeeze(1)
                loss = F.binary_cross_entropy_with_logits(logits, yt[idx], weight=wt[idx])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            train_losses.append(total / n)
            val_losses.append(self._loss(model, xv, yv, wv))
            states.append(copy.deepcopy(model.state_dict()))
            log.info(
                "epoch %3d/%d  train loss %.5f  val loss %.5f",
                epoch + 1,
                self.epochs,
                train_losses[-1],
                val_losses[-1],
            )

        self.best_epochs_ = select_best_epochs(val_losses, self.n_best_epochs)
        self.states_ = [states[i] for i in self.best_epochs_]
        self.n_features_ = X.shape[1]
        self.history_ = pd.DataFrame(
            {
                "epoch": np.arange(1, self.epochs + 1),
                "train_loss": train_losses,
                "val_loss": val_losses,
                "in_ensemble": np.isin(np.arange(self.epochs), self.best_epochs_),
            }
        )
        log.info("ensemble of epochs %s", (self.best_epochs_ + 1).tolist())
        return self

    @staticmethod
    @torch.inference_mode()
    def _loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor, w: torch.Tensor) -> float:
        model.eval()
        total = 0.0
        for start in range(0, len(x), 65536):
            sl = slice(start, start + 65536)
            logits = model(x[sl]).squeeze(1)
            total += float(
                F.binary_cross_entropy_with_logits(logits, y[sl], weight=w[sl], reduction="sum")
            )
        return total / len(x)

    # -- prediction --------------------------------------------------------------------
    @torch.inference_mode()
    def predict_member_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) from each ensemble member, shape (n_members, n)."""
        if not hasattr(self, "states_"):
            raise RuntimeError("the classifier is not fitted")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise ValueError(f"X must have shape (n, {self.n_features_}), got {X.shape}")
        dev = select_device(self.device)
        model = build_mlp(self.n_features_, self.hidden_layers).to(dev).eval()
        xt = self._tensor(self._scale(X), dev)
        out = np.empty((len(self.states_), len(xt)), dtype=np.float64)
        for i, state in enumerate(self.states_):
            model.load_state_dict(state)
            for start in range(0, len(xt), 65536):
                sl = slice(start, start + 65536)
                out[i, sl] = torch.sigmoid(model(xt[sl]).squeeze(1)).double().cpu().numpy()
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Ensemble-mean probabilities, shape (n, 2) as scikit-learn's."""
        p1 = self.predict_member_proba(X).mean(axis=0)
        return np.column_stack([1.0 - p1, p1])

    # -- persistence -------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save hyperparameters, scaler and the ensemble's states (atomic write)."""
        payload = {
            "params": self.get_params(),
            "mean": self.mean_,
            "scale": self.scale_,
            "n_features": self.n_features_,
            "best_epochs": self.best_epochs_,
            "states": self.states_,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> NeuralClassifierEnsemble:
        """Rebuild a fitted ensemble saved with :meth:`save`."""
        payload = torch.load(path, map_location="cpu", weights_only=False)
        obj = cls(**payload["params"])
        obj.mean_, obj.scale_ = payload["mean"], payload["scale"]
        obj.n_features_ = payload["n_features"]
        obj.best_epochs_ = payload["best_epochs"]
        obj.states_ = payload["states"]
        return obj


class HGBEnsemble:
    """Mean of ``n_members`` HistGradientBoosting classifiers (the di-τ paper's classifier).

    Each member draws its own random 80/20 train/validation split of the training data and
    its own seed (both from ``seed`` and the member index), uses balanced class weights, and
    stops early on its validation part. The score is the mean of the members' P(class 1).
    No separate validation set is needed; ``fit`` accepts one for interface parity with
    :class:`NeuralClassifierEnsemble` and ignores it.
    """

    def __init__(
        self,
        n_members: int = 50,
        max_iter: int = 200,
        learning_rate: float = 0.1,
        max_leaf_nodes: int = 31,
        validation_fraction: float = 0.2,
        n_iter_no_change: int = 10,
        class_weight: str | None = "balanced",
        seed: int = 0,
    ) -> None:
        if n_members < 1:
            raise ValueError(f"n_members must be >= 1, got {n_members}")
        self.n_members = int(n_members)
        self.max_iter = int(max_iter)
        self.learning_rate = float(learning_rate)
        self.max_leaf_nodes = int(max_leaf_nodes)
        self.validation_fraction = float(validation_fraction)
        self.n_iter_no_change = int(n_iter_no_change)
        self.class_weight = class_weight
        self.seed = int(seed)

    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray | None = None,
        y_val: np.ndarray | None = None,
    ) -> HGBEnsemble:
        """Train every member on its own split of (X, y)."""
        from sklearn.ensemble import HistGradientBoostingClassifier

        from .seeding import derive_seed

        X, y = np.asarray(X), np.asarray(y)
        check_xy(X, y, "training set")
        balanced_weights(y)  # both classes present, or a clear error
        self.members_ = []
        for i in range(self.n_members):
            member = HistGradientBoostingClassifier(
                max_iter=self.max_iter,
                learning_rate=self.learning_rate,
                max_leaf_nodes=self.max_leaf_nodes,
                early_stopping=True,
                validation_fraction=self.validation_fraction,
                n_iter_no_change=self.n_iter_no_change,
                class_weight=self.class_weight,
                random_state=derive_seed(self.seed, "hgb-member", i) % 2**31,
            )
            self.members_.append(member.fit(X, y))
        log.info(
            "HGB ensemble: %d members, iterations %s",
            self.n_members,
            [m.n_iter_ for m in self.members_],
        )
        return self

    def predict_member_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) from each member, shape (n_members, n)."""
        if not hasattr(self, "members_"):
            raise RuntimeError("the ensemble is not fitted")
        return np.stack([m.predict_proba(np.asarray(X))[:, 1] for m in self.members_])

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Ensemble-mean probabilities, shape (n, 2)."""
        p1 = self.predict_member_proba(X).mean(axis=0)
        return np.column_stack([1.0 - p1, p1])
