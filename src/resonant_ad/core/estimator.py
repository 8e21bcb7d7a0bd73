"""One estimator convention for the flow and the classifiers, in scikit-learn's style.

Hyperparameters are the ``__init__`` arguments, kept as attributes of the same name
(:meth:`Estimator.get_params` / :meth:`Estimator.set_params` read and write them); what
``fit`` learns ends in ``_``. :meth:`Estimator.save` writes the hyperparameters and the
fitted state to one file and :meth:`Estimator.load` rebuilds the estimator from it.
:class:`BestEpochs` is the one home of best-epoch ensembling (keep the states of the epochs
with the lowest validation loss; stop early after ``patience`` epochs without improvement),
used by the flow and the NN classifier alike.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Sequence
from typing import Any, Self

import numpy as np

from resonant_ad.core.io import atomic_path


class Estimator:
    """Base of :class:`~resonant_ad.core.flow.ConditionalFlow` and the classifier ensembles.

    Subclasses store every ``__init__`` argument under its own name (validated there) and
    implement :meth:`_fitted_state` / :meth:`_restore` for persistence.
    """

    #: hyperparameters in which estimators trained together (as members) may differ
    MEMBER_KEYS: tuple[str, ...] = ("seed",)

    @classmethod
    def param_names(cls) -> list[str]:
        """The hyperparameters: the names of ``__init__``'s arguments."""
        sig = inspect.signature(cls.__init__)
        kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        return [n for n, p in sig.parameters.items() if n != "self" and p.kind not in kinds]

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The hyperparameters and their values (``deep`` for scikit-learn compatibility)."""
        return {name: getattr(self, name) for name in self.param_names()}

    def set_params(self, **params: Any) -> Self:
        """Change hyperparameters (validated as in ``__init__``); returns the estimator."""
        unknown = sorted(set(params) - set(self.param_names()))
        if unknown:
            raise ValueError(f"{type(self).__name__} has no hyperparameter(s) {unknown}")
        self.__init__(**{**self.get_params(), **params})  # type: ignore[misc]
        return self

    def check_fitted(self) -> None:
        """Raise if ``fit`` has not run (no fitted attribute ending in ``_``)."""
        if not any(k.endswith("_") and not k.startswith("_") for k in vars(self)):
            raise RuntimeError(f"this {type(self).__name__} is not fitted")

    # -- persistence -------------------------------------------------------------------
    def _fitted_state(self) -> dict[str, Any]:
        raise NotImplementedError

    def _restore(self, state: dict[str, Any]) -> None:
        raise NotImplementedError

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write hyperparameters and fitted state to ``path`` (atomic: all or nothing)."""
        import torch

        self.check_fitted()
        payload = {
            "estimator": type(self).__name__,
            "params": self.get_params(),
            "state": self._fitted_state(),
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike[str], **overrides: Any) -> Self:
        """The estimator saved at ``path``; ``overrides`` replace hyperparameters (e.g. device)."""
        import torch

        payload = torch.load(path, map_location="cpu", weights_only=False)
        kind = payload.get("estimator") if isinstance(payload, dict) else None
        if kind != cls.__name__:
            raise ValueError(
                f"{path}: not a saved {cls.__name__} (holds {kind!r}; a file written by an "
                "earlier version of the package: rerun the job that wrote it)"
            )
        obj = cls(**{**payload["params"], **overrides})
        obj._restore(payload["state"])
        return obj


def check_members(estimators: Sequence[Estimator]) -> None:
    """Raise unless ``estimators`` share every hyperparameter outside ``MEMBER_KEYS``."""
    first = estimators[0].get_params()
    for est in estimators[1:]:
        differ = [
            k for k, v in est.get_params().items() if k not in est.MEMBER_KEYS and v != first[k]
        ]
        if differ:
            raise ValueError(
                f"estimators trained together must share their hyperparameters: {differ}"
            )


class BestEpochs:
    """One training's epochs: its losses, the ``n_best`` best states, its early stopping.

    An epoch's rank is its validation loss, ties going to the earlier epoch; a non-finite
    loss ranks last. With ``patience`` set, training should stop (:attr:`stopped`) after
    that many epochs without a new lowest validation loss.
    """

    def __init__(self, n_best: int, patience: int | None = None) -> None:
        if n_best < 1:
            raise ValueError(f"n_best_epochs must be >= 1, got {n_best}")
        self.n_best, self.patience = int(n_best), patience
        self.train: list[Any] = []
        self.val: list[Any] = []
        self._kept: list[tuple[float, int, Any]] = []  # (rank loss, epoch, state)
        self._best, self._since_best = np.inf, 0

    @property
    def stopped(self) -> bool:
        """Whether ``patience`` epochs have passed without improvement."""
        return self.patience is not None and self._since_best >= self.patience

    def update(self, epoch: int, train: float, val: float, state: Any = None) -> None:
        """Record epoch ``epoch`` (0-based); keep its ``state`` if it is among the best."""
        self.train.append(train)  # as given: a float32 loss stays float32 in the history
        self.val.append(val)
        rank = float(val) if np.isfinite(val) else np.inf
        self._kept = sorted([*self._kept, (rank, epoch, state)], key=lambda t: (t[0], t[1]))
        self._kept = self._kept[: self.n_best]
        if rank < self._best:
            self._best, self._since_best = rank, 0
        else:
            self._since_best += 1

    def state_dict(self) -> dict[str, Any]:
        """Everything recorded so far, for a checkpoint (:class:`~.training.Checkpoint`): plain
        floats, and whether the losses were float32 (the NN classifiers') to give them back."""
        losses = [*self.train, *self.val]
        return {
            "train": [float(v) for v in self.train],
            "val": [float(v) for v in self.val],
            "float32": any(isinstance(v, np.float32) for v in losses),
            "kept": [[float(r), int(e), s] for r, e, s in self._kept],
            "best": float(self._best),
            "since_best": int(self._since_best),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a :meth:`state_dict` (the same ``n_best`` and ``patience``)."""
        cast = np.float32 if state["float32"] else float
        self.train, self.val = [cast(v) for v in state["train"]], [cast(v) for v in state["val"]]
        self._kept = [tuple(k) for k in state["kept"]]  # type: ignore[misc]
        self._best, self._since_best = float(state["best"]), int(state["since_best"])

    def selected(self, order: str = "loss") -> list[tuple[int, Any]]:
        """(epoch, state) of the kept epochs, best first (``"loss"``) or ascending (``"epoch"``).

        Raises unless ``n_best`` epochs (or all, if fewer ran) have a finite loss.
        """
        need = min(self.n_best, len(self.val))
        finite = sum(np.isfinite(r) for r, _, _ in self._kept)
        if finite < need or not self.val:
            raise ValueError(
                f"only {finite} of {len(self.val)} epochs have a finite validation loss, "
                f"{need} are needed"
            )
        kept = [(e, s) for _, e, s in self._kept]
        return sorted(kept, key=lambda t: t[0]) if order == "epoch" else kept


def select_best_epochs(val_losses: Sequence[float], k: int) -> np.ndarray:
    """Indices (0-based, ascending) of the ``k`` epochs with the lowest validation loss.

    Ties are broken by the earlier epoch; non-finite losses are never selected.
    """
    losses = np.asarray(val_losses, dtype=float)
    if not 1 <= k <= losses.size:
        raise ValueError(f"cannot pick {k} best epochs out of {losses.size}")
    best = BestEpochs(k)
    for epoch, loss in enumerate(losses):
        best.update(epoch, np.nan, loss)
    return np.array([e for e, _ in best.selected("epoch")], dtype=int)
