"""Weakly supervised classifiers: a torch MLP whose prediction is an ensemble of its best epochs.

This is the classifier of the LaCATHODE toy (3×64, Adam 1e-3, BCE, batch 128, mean of the
5 lowest-validation-loss epochs) and of CATHODE (same net, 100 epochs, 10 best epochs,
balanced class weights): one estimator, configured by its hyperparameters.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn import functional as F

from resonant_ad.core.device import chunk_events, chunks, select_device
from resonant_ad.core.estimator import BestEpochs, Estimator, check_members
from resonant_ad.core.training import checkpoint_part

__all__ = [
    "NeuralClassifierEnsemble",
    "TrainingData",
    "balanced_weights",
    "fit_members",
]

log = logging.getLogger(__name__)


def balanced_weights(y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
    """Per-event class factors W / (2 W_class), W the summed (sample) weights.

    Multiplied with ``sample_weight`` (ones by default: factors n / (2 n_class)), both
    classes carry equal total weight.
    """
    y = np.asarray(y)
    w = np.ones(y.size) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    if w.shape != y.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ValueError(f"sample weights must be finite, >= 0 and one per event, got {w.shape}")
    w1 = float(w[y == 1].sum())
    w0 = float(w[y != 1].sum())
    if w0 == 0 or w1 == 0:
        n1 = int((y == 1).sum())
        raise ValueError(
            f"both classes are needed, got {y.size - n1} of class 0 and {n1} of 1 "
            f"(summed weights {w0:g} and {w1:g})"
        )
    total = w0 + w1
    return np.where(y == 1, total / (2 * w1), total / (2 * w0))


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


class ClassifierEnsemble(Estimator):
    """What both classifier ensembles share: class weights and the ensemble-mean prediction.

    Subclasses fit with ``fit(X, y, X_val, y_val, sample_weight=None,
    sample_weight_val=None, checkpoint=None)`` (``checkpoint``: the file a killed training
    resumes from) and give each member's P(class 1) by ``predict_member_proba``.
    """

    class_weight: str | None

    def _weights(self, y: np.ndarray, sample_weight: np.ndarray | None = None) -> np.ndarray:
        """Per-event training weights: ``sample_weight`` (within class), balanced if asked."""
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        return w * balanced_weights(y, w) if self.class_weight == "balanced" else w

    def predict_member_proba(self, X: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Ensemble-mean probabilities, shape (n, 2) as scikit-learn's."""
        p1 = self.predict_member_proba(X).mean(axis=0)
        return np.column_stack([1.0 - p1, p1])


class NeuralClassifierEnsemble(ClassifierEnsemble):
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
        graphs: str | bool = "auto",
        seed: int = 0,
        device: str = "auto",
    ) -> None:
        self.hidden_layers = tuple(int(h) for h in hidden_layers)
        self.graphs = graphs
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

    # -- helpers -----------------------------------------------------------------------
    def _tensor(self, a: np.ndarray, dev: torch.device) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a, dtype=np.float32), device=dev)

    def _scale(self, X: np.ndarray) -> np.ndarray:
        return (np.asarray(X, dtype=np.float64) - self.mean_) / self.scale_

    # -- training ----------------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        y: np.ndarray,
        X_val: np.ndarray,
        y_val: np.ndarray,
        sample_weight: np.ndarray | None = None,
        sample_weight_val: np.ndarray | None = None,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> NeuralClassifierEnsemble:
        """Train for ``epochs`` epochs, keep every epoch's state, ensemble the best ones.

        ``sample_weight`` (``_val``) weight events within their class (e.g. CWoLa's two
        sidebands); with ``class_weight="balanced"`` the classes are then balanced on top.
        ``checkpoint``: where a training killed midway resumes from (:func:`fit_members`).
        """
        data = TrainingData(X, y, X_val, y_val, sample_weight, sample_weight_val)
        fit_members([self], [data], checkpoint)
        return self

    # -- prediction --------------------------------------------------------------------
    @torch.inference_mode()
    def predict_member_proba(self, X: np.ndarray) -> np.ndarray:
        """P(class 1) from each ensemble member, shape (n_members, n)."""
        self.check_fitted()
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_features_:
            raise ValueError(f"X must have shape (n, {self.n_features_}), got {X.shape}")
        dev = select_device(self.device)
        model = build_mlp(self.n_features_, self.hidden_layers).to(dev).eval()
        xt = self._tensor(self._scale(X), dev)
        out = np.empty((len(self.states_), len(xt)), dtype=np.float64)
        for i, state in enumerate(self.states_):
            model.load_state_dict(state)
            for sl in chunks(len(xt), chunk_events(dev)):
                out[i, sl] = torch.sigmoid(model(xt[sl]).squeeze(1)).double().cpu().numpy()
        return out

    # -- persistence (Estimator.save / load) -----------------------------------------
    def _fitted_state(self) -> dict[str, Any]:
        return {
            "mean": self.mean_,
            "scale": self.scale_,
            "n_features": self.n_features_,
            "best_epochs": self.best_epochs_,
            "states": self.states_,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.mean_, self.scale_ = state["mean"], state["scale"]
        self.n_features_ = state["n_features"]
        self.best_epochs_ = state["best_epochs"]
        self.states_ = state["states"]


@dataclass
class TrainingData:
    """One classifier's training and validation arrays (weights optional, within class)."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    w: np.ndarray | None = None
    w_val: np.ndarray | None = None


class MemberMLP(nn.Module):
    """R ReLU MLPs of one architecture as one module: weights (R, out, in), batched products.

    :meth:`stack` builds it from :func:`build_mlp` networks (each with its own seed's
    initialization); :meth:`member_state` gives member r back as a :func:`build_mlp` state.
    Inputs are (R, n, d); with one member the products are plain ``addmm``.
    """

    def __init__(self, widths: Sequence[int], members: int) -> None:
        super().__init__()
        self.members = members
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.zeros(members, o, i)) for i, o in pairwise(widths)]
        )
        self.biases = nn.ParameterList([nn.Parameter(torch.zeros(members, o)) for o in widths[1:]])

    @classmethod
    def stack(cls, nets: Sequence[nn.Sequential]) -> MemberMLP:
        """The members ``nets`` (from :func:`build_mlp`), in order."""
        linears = [[m for m in net if isinstance(m, nn.Linear)] for net in nets]
        widths = [linears[0][0].in_features] + [x.out_features for x in linears[0]]
        out = cls(widths, len(nets))
        with torch.no_grad():
            for k in range(len(widths) - 1):
                out.weights[k].copy_(torch.stack([row[k].weight for row in linears]))
                out.biases[k].copy_(torch.stack([row[k].bias for row in linears]))
        return out.to(linears[0][0].weight.device)

    def member_state(self, r: int) -> dict[str, torch.Tensor]:
        """Member ``r`` as the state dict of a :func:`build_mlp` network (copies)."""
        state = {}
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            state[f"{2 * k}.weight"] = w[r].detach().clone()
            state[f"{2 * k}.bias"] = b[r].detach().clone()
        return state

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (R, n) of inputs (R, n, d)."""
        single = self.members == 1
        h = x[0] if single else x
        last = len(self.weights) - 1
        for k, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            if single:
                h = torch.addmm(b[0], h, w[0].t())
            else:
                h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if k < last:
                h = F.relu(h)
        h = h.squeeze(-1)
        return h.unsqueeze(0) if single else h


def fit_members(
    classifiers: Sequence[NeuralClassifierEnsemble],
    data: Sequence[TrainingData],
    checkpoint: str | os.PathLike[str] | None = None,
) -> list[NeuralClassifierEnsemble]:
    """Fit ``classifiers`` (same hyperparameters, own seeds), each on its ``data``, together.

    Classifiers whose training and validation sets have the same sizes train as the members
    of one :class:`MemberMLP` (resonant_ad.core.training: no host sync inside an epoch, CUDA-graph
    steps where available); each keeps exactly its own seed's initialization, shuffling,
    standardization and best epochs, so the result is that of fitting each alone, up to
    floating-point rounding. Differently sized sets train in separate groups. With
    ``checkpoint`` (a file name; the groups add ``.1``, ``.2``, …) a training killed midway
    resumes from its last saved epoch (:class:`~resonant_ad.core.training.Checkpoint`).
    """
    classifiers, data = list(classifiers), list(data)
    check_members(classifiers)
    groups: dict[tuple[int, int], list[int]] = {}
    for i, d in enumerate(data):
        check_xy(np.asarray(d.X), np.asarray(d.y), "training set")
        check_xy(np.asarray(d.X_val), np.asarray(d.y_val), "validation set")
        groups.setdefault((len(d.X), len(d.X_val)), []).append(i)
    for g, idx in enumerate(groups.values()):
        path = checkpoint_part(checkpoint, g)
        _fit_group([classifiers[i] for i in idx], [data[i] for i in idx], path)
    return classifiers


def _fit_group(
    classifiers: list[NeuralClassifierEnsemble],
    data: list[TrainingData],
    checkpoint: str | None = None,
) -> None:
    """:func:`fit_members` for classifiers with equally sized data sets."""
    from resonant_ad.core.training import Adam, Checkpoint, EpochRunner, permutations, use_graphs

    lead = classifiers[0]
    dev = select_device(lead.device)
    members = len(classifiers)

    def tensors(split: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        xs, ys, ws = [], [], []
        for clf, d in zip(classifiers, data, strict=True):
            X, y, w = (d.X, d.y, d.w) if split == "train" else (d.X_val, d.y_val, d.w_val)
            xs.append(clf._scale(X))
            ys.append(np.asarray(y, dtype=np.float32))
            ws.append(clf._weights(np.asarray(y), w))
        return tuple(lead._tensor(np.stack(a), dev) for a in (xs, ys, ws))

    for clf, d in zip(classifiers, data, strict=True):
        X = np.asarray(d.X)
        clf.mean_ = X.mean(axis=0)
        clf.scale_ = X.std(axis=0)
        clf.scale_[clf.scale_ == 0] = 1.0
        clf.n_features_ = X.shape[1]
    xt, yt, wt = tensors("train")
    xv, yv, wv = tensors("val")
    nets = []
    for clf in classifiers:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(clf.seed)
            nets.append(build_mlp(xt.shape[-1], lead.hidden_layers))
    model = MemberMLP.stack(nets).to(dev)
    graphs = use_graphs(lead.graphs, dev)
    opt = Adam(model.parameters(), lead.learning_rate, lead.weight_decay)
    shuffles = [torch.Generator().manual_seed(clf.seed + 1) for clf in classifiers]
    rows = torch.arange(members, device=dev).unsqueeze(1)

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        logits = model(xt[rows, idx])
        losses = F.binary_cross_entropy_with_logits(
            logits, yt[rows, idx], weight=wt[rows, idx], reduction="none"
        )
        return losses.mean(1)

    @torch.no_grad()
    def val_loss() -> torch.Tensor:
        losses = [
            F.binary_cross_entropy_with_logits(
                model(xv[:, sl]), yv[:, sl], weight=wv[:, sl], reduction="none"
            )
            for sl in chunks(xv.shape[1], chunk_events(dev, members))
        ]  # one sum over all events: the loss does not depend on the chunk size
        return torch.cat(losses, 1).sum(1) / xv.shape[1]

    n = xt.shape[1]
    runner = EpochRunner(model, loss_fn, opt, n, lead.batch_size, members, dev, graphs)
    best = [BestEpochs(clf.n_best_epochs) for clf in classifiers]
    parts = (a for d in data for a in (d.X, d.y, d.X_val, d.y_val, d.w, d.w_val))
    arrays = [a if a is None else np.asarray(a) for a in parts]
    saved = Checkpoint.of(checkpoint, classifiers, dev, *arrays)
    done = runner.resume(saved, shuffles, best)
    for epoch in range(done, lead.epochs):
        total = runner.epoch(permutations(shuffles, n, dev))
        val = val_loss()
        train, val = (total / n).cpu().numpy(), val.cpu().numpy()  # one sync per epoch
        for r, sel in enumerate(best):
            sel.update(epoch, train[r], val[r], model.member_state(r))
        runner.end_epoch(epoch + 1)
        log.info(
            "epoch %3d/%d  train loss %s  val loss %s",
            epoch + 1,
            lead.epochs,
            np.array2string(train, precision=5),
            np.array2string(val, precision=5),
        )
    for clf, sel in zip(classifiers, best, strict=True):
        kept = sel.selected("epoch")
        clf.best_epochs_ = np.array([e for e, _ in kept], dtype=int)
        clf.states_ = [state for _, state in kept]
        clf.history_ = pd.DataFrame(
            {
                "epoch": np.arange(1, clf.epochs + 1),
                "train_loss": sel.train,
                "val_loss": sel.val,
                "in_ensemble": np.isin(np.arange(clf.epochs), clf.best_epochs_),
            }
        )
        log.info("seed %d: ensemble of epochs %s", clf.seed, (clf.best_epochs_ + 1).tolist())
    runner.finish()
