"""The conditional density estimator p(x | m) of CATHODE / LaCATHODE, scikit-learn style.

``ConditionalFlow.fit(X, m, X_val, m_val)`` fits the preprocessing on the training data
(sideband training events), trains the flow with Adam, evaluates the validation loss after
every epoch, keeps the best epochs and stops early after ``patience`` epochs without
improvement. ``transform`` maps events to the latent space (LaCATHODE), ``sample`` draws
events for given masses (CATHODE), ``log_prob`` gives the density in physical units.

Architectures: ``"maf"`` — the CATHODE reference (15 × MADE(128, 128) + batch norm +
reverse permutation, :mod:`resonant_ad.maf`); ``"rqs"`` — nflows' rational-quadratic spline
autoregressive flow of the di-τ paper (6 layers, hidden 512, 24 bins, tail bound 6).
"""

from __future__ import annotations

import copy
import inspect
import logging
import os
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from .device import select_device
from .io import atomic_path
from .maf import MAF
from .preprocessing import LogitScaler

log = logging.getLogger(__name__)


class NflowsRQS(nn.Module):
    """nflows' masked piecewise rational-quadratic autoregressive flow, with :class:`MAF`'s API."""

    def __init__(
        self,
        features: int,
        context: int = 1,
        blocks: int = 6,
        hidden: int = 512,
        bins: int = 24,
        tail_bound: float = 6.0,
    ) -> None:
        super().__init__()
        from nflows.distributions.normal import StandardNormal
        from nflows.flows.base import Flow
        from nflows.transforms.autoregressive import (
            MaskedPiecewiseRationalQuadraticAutoregressiveTransform as RQS,
        )
        from nflows.transforms.base import CompositeTransform
        from nflows.transforms.permutations import ReversePermutation

        layers: list[nn.Module] = []
        for _ in range(blocks):
            layers += [
                RQS(
                    features,
                    hidden,
                    context_features=context,
                    num_bins=bins,
                    tails="linear",
                    tail_bound=tail_bound,
                    num_blocks=2,
                    use_residual_blocks=False,
                ),
                ReversePermutation(features),
            ]
        self.flow = Flow(CompositeTransform(layers), StandardNormal([features]))

    def transform(self, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.flow._transform(x, context=c)

    def log_prob(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.flow.log_prob(x, context=c)

    @torch.no_grad()
    def inverse(self, z: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.flow._transform.inverse(z, context=c)[0]

    def set_batchnorm_statistics(self, x: torch.Tensor, c: torch.Tensor) -> None:
        """No batch norm in this architecture."""


ARCHITECTURES = ("maf", "rqs")
ARCH_KEYS = ("blocks", "hidden", "bins", "tail_bound")


def estimator_params(section: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a config ``flow`` section that are :class:`ConditionalFlow` hyperparameters.

    The section also holds stage settings (runs, sampling); the seed comes from the run.
    """
    accepted = set(inspect.signature(ConditionalFlow.__init__).parameters) - {
        "self",
        "seed",
        "progress",
    }
    return {k: v for k, v in section.items() if k in accepted}


def model_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    """The architecture hyperparameters among a flow's parameters."""
    return {k: params[k] for k in ARCH_KEYS if k in params}


def build_model(architecture: str, features: int, **kwargs: Any) -> nn.Module:
    """The flow network for ``architecture`` ("maf" or "rqs")."""
    if architecture == "maf":
        return MAF(
            features, context=1, blocks=kwargs.get("blocks", 15), hidden=kwargs.get("hidden", 128)
        )
    if architecture == "rqs":
        return NflowsRQS(
            features,
            context=1,
            blocks=kwargs.get("blocks", 6),
            hidden=kwargs.get("hidden", 512),
            bins=kwargs.get("bins", 24),
            tail_bound=kwargs.get("tail_bound", 6.0),
        )
    raise ValueError(f"flow architecture must be 'maf' or 'rqs', got {architecture!r}")


class ConditionalFlow:
    """Conditional normalizing flow p(x | m) with invertible preprocessing (see module doc)."""

    def __init__(
        self,
        architecture: str = "maf",
        blocks: int = 15,
        hidden: int = 128,
        bins: int = 24,
        tail_bound: float = 6.0,
        learning_rate: float = 1e-4,
        weight_decay: float = 1e-6,
        batch_size: int = 256,
        epochs: int = 100,
        patience: int = 10,
        n_best_epochs: int = 1,
        margin: float = 0.02,
        log_features: tuple[int, ...] | list[int] = (),
        simplex_features: tuple[int, ...] | list[int] = (),
        recompute_batchnorm: bool = True,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
    ) -> None:
        self.params = {
            "architecture": architecture,
            "blocks": int(blocks),
            "hidden": int(hidden),
            "bins": int(bins),
            "tail_bound": float(tail_bound),
            "learning_rate": float(learning_rate),
            "weight_decay": float(weight_decay),
            "batch_size": int(batch_size),
            "epochs": int(epochs),
            "patience": int(patience),
            "n_best_epochs": int(n_best_epochs),
            "margin": float(margin),
            "log_features": [int(i) for i in log_features],
            "simplex_features": [int(i) for i in simplex_features],
            "recompute_batchnorm": bool(recompute_batchnorm),
            "seed": int(seed),
            "device": device,
        }
        self.progress = progress
        if self.params["n_best_epochs"] < 1:
            raise ValueError("n_best_epochs must be >= 1")
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"flow architecture must be one of {ARCHITECTURES}, got {architecture!r}"
            )

    # -- conditioning and batching -------------------------------------------------------
    def _cond(self, m: np.ndarray) -> np.ndarray:
        return ((np.asarray(m, dtype=np.float64) - self.m_mean_) / self.m_std_)[:, None]

    def _tensors(self, X: np.ndarray, m: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        dev = select_device(self.params["device"])
        x = torch.as_tensor(self.scaler_.transform(X), dtype=torch.float32, device=dev)
        c = torch.as_tensor(self._cond(m), dtype=torch.float32, device=dev)
        return x, c

    @staticmethod
    def _chunks(n: int, size: int = 65536) -> Iterator[slice]:
        for s in range(0, n, size):
            yield slice(s, s + size)

    @torch.no_grad()
    def _mean_nll(self, model: nn.Module, x: torch.Tensor, c: torch.Tensor) -> float:
        model.eval()
        total = sum(float(-model.log_prob(x[s], c[s]).sum()) for s in self._chunks(len(x)))
        return total / len(x)

    # -- training ------------------------------------------------------------------------
    def fit(
        self, X: np.ndarray, m: np.ndarray, X_val: np.ndarray, m_val: np.ndarray
    ) -> ConditionalFlow:
        """Fit preprocessing and flow on (X, m); select epochs on (X_val, m_val)."""
        p = self.params
        X, X_val = np.asarray(X, dtype=np.float64), np.asarray(X_val, dtype=np.float64)
        for name, a in (("training", X), ("validation", X_val)):
            if not np.all(np.isfinite(a)):
                raise ValueError(f"{name} features contain NaN or inf")
        self.scaler_ = LogitScaler(
            margin=p["margin"],
            log_features=p["log_features"],
            simplex_features=p["simplex_features"],
        ).fit(X)
        self.m_mean_, self.m_std_ = float(np.mean(m)), float(np.std(m))
        self.n_features_ = X.shape[1]
        x, c = self._tensors(X, m)
        xv, cv = self._tensors(X_val, m_val)
        n_val_out = int(self.scaler_.out_of_range(X_val).sum())
        if n_val_out:
            log.info("%d validation events lie outside the training range (clipped)", n_val_out)

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(p["seed"])
            model = build_model(p["architecture"], X.shape[1], **model_kwargs(p)).to(x.device)
        shuffle = torch.Generator().manual_seed(p["seed"] + 1)
        opt = torch.optim.Adam(
            model.parameters(), lr=p["learning_rate"], weight_decay=p["weight_decay"], fused=True
        )
        states: list[tuple[float, int, dict]] = []  # (val loss, epoch, state) of the best epochs
        train_losses, val_losses = [], []
        best, since_best = np.inf, 0
        bar = tqdm(
            range(p["epochs"]), desc="flow epochs", disable=not self.progress, mininterval=10
        )
        for epoch in bar:
            model.train()
            perm = torch.randperm(len(x), generator=shuffle).to(x.device)
            total = 0.0
            for s in range(0, len(x), p["batch_size"]):
                idx = perm[s : s + p["batch_size"]]
                if len(idx) < 2:  # batch norm needs two events
                    continue
                loss = -model.log_prob(x[idx], c[idx]).mean()
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(idx)
            if p["recompute_batchnorm"]:
                model.set_batchnorm_statistics(x, c)
            train_losses.append(total / len(x))
            val_losses.append(self._mean_nll(model, xv, cv))
            states.append((val_losses[-1], epoch, copy.deepcopy(model.state_dict())))
            states = sorted(states, key=lambda t: (t[0], t[1]))[: p["n_best_epochs"]]
            if val_losses[-1] < best:
                best, since_best = val_losses[-1], 0
            else:
                since_best += 1
            log.info(
                "epoch %3d  train nll %.4f  val nll %.4f",
                epoch + 1,
                train_losses[-1],
                val_losses[-1],
            )
            bar.set_postfix(val=f"{val_losses[-1]:.4f}")
            if not np.isfinite(val_losses[-1]):
                raise FloatingPointError(
                    f"validation loss is {val_losses[-1]} at epoch {epoch + 1}"
                )
            if since_best >= p["patience"]:
                log.info("early stop: no improvement for %d epochs", p["patience"])
                break
        self.model_ = model
        self.states_ = [s for _, _, s in states]
        self.best_epochs_ = [e for _, e, _ in states]
        self.model_.load_state_dict(self.states_[0])
        self.model_.eval()
        self.history_ = pd.DataFrame(
            {
                "epoch": np.arange(1, len(train_losses) + 1),
                "train_nll": train_losses,
                "val_nll": val_losses,
                "selected": np.isin(np.arange(len(train_losses)), self.best_epochs_),
            }
        )
        log.info("selected epoch(s) %s", [e + 1 for e in self.best_epochs_])
        return self

    # -- using the fitted flow -----------------------------------------------------------
    @torch.no_grad()
    def transform(self, X: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Latent z = f(preprocess(x); m) with the best epoch, in batches."""
        x, c = self._tensors(X, m)
        self.model_.eval()
        out = [self.model_.transform(x[s], c[s])[0].cpu().numpy() for s in self._chunks(len(x))]
        return np.concatenate(out) if out else np.empty((0, self.n_features_))

    @torch.no_grad()
    def inverse_transform(self, Z: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Physical x for latent ``Z`` at masses ``m`` (best epoch)."""
        dev = select_device(self.params["device"])
        z = torch.as_tensor(np.asarray(Z), dtype=torch.float32, device=dev)
        c = torch.as_tensor(self._cond(m), dtype=torch.float32, device=dev)
        self.model_.eval()
        out = [self.model_.inverse(z[s], c[s]).cpu().numpy() for s in self._chunks(len(z))]
        if not out:
            return np.empty((0, self.n_features_))
        return self.scaler_.inverse_transform(np.concatenate(out))

    @torch.no_grad()
    def log_prob(self, X: np.ndarray, m: np.ndarray) -> np.ndarray:
        """log p(x | m) in physical units (flow density times the preprocessing Jacobian)."""
        x, c = self._tensors(X, m)
        self.model_.eval()
        lp = np.concatenate(
            [self.model_.log_prob(x[s], c[s]).cpu().numpy() for s in self._chunks(len(x))]
        )
        return lp + self.scaler_.log_abs_det_jacobian(X)

    @torch.no_grad()
    def sample(self, m: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
        """(x, n outside the training range): one event per mass in ``m``.

        With several best epochs kept, each draws an equal share of the events (the CATHODE
        sampling ensemble). Events beyond the fitted range are kept and counted.
        """
        gen = torch.Generator().manual_seed(int(seed))
        m = np.asarray(m, dtype=np.float64)
        shares = np.array_split(np.arange(len(m)), len(self.states_))
        out = np.empty((len(m), self.n_features_))
        for state, idx in zip(self.states_, shares, strict=True):
            self.model_.load_state_dict(state)
            self.model_.eval()
            z = torch.randn(len(idx), self.n_features_, generator=gen).numpy()
            out[idx] = self.inverse_transform(z, m[idx])
        self.model_.load_state_dict(self.states_[0])
        return out, int(self.scaler_.out_of_range(out).sum())

    # -- persistence ---------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> None:
        """Save hyperparameters, preprocessing and the kept states (atomic write)."""
        payload = {
            "params": self.params,
            "scaler": self.scaler_.state(),
            "m_mean": self.m_mean_,
            "m_std": self.m_std_,
            "n_features": self.n_features_,
            "states": self.states_,
            "best_epochs": self.best_epochs_,
        }
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | None = None) -> ConditionalFlow:
        """Rebuild a fitted flow saved with :meth:`save`."""
        payload = torch.load(path, map_location="cpu", weights_only=False)
        params = dict(payload["params"])
        if device is not None:
            params["device"] = device
        obj = cls(**params, progress=False)
        obj.scaler_ = LogitScaler.from_state(payload["scaler"])
        obj.m_mean_, obj.m_std_ = payload["m_mean"], payload["m_std"]
        obj.n_features_ = payload["n_features"]
        obj.states_, obj.best_epochs_ = payload["states"], payload["best_epochs"]
        obj.model_ = build_model(
            params["architecture"], obj.n_features_, **model_kwargs(params)
        ).to(select_device(params["device"]))
        obj.model_.load_state_dict(obj.states_[0])
        obj.model_.eval()
        return obj


class MassKDE:
    """Gaussian KDE of the SR mass in logit space (CATHODE's model of p(m) inside the SR).

    m is min-max scaled to (0, 1) with the SR window as bounds, logit-transformed, and modelled
    by a Gaussian kernel whose width is ``bandwidth`` × the standard deviation of the
    transformed values (scipy's ``gaussian_kde`` convention); samples map back into the window.
    """

    def __init__(self, window: tuple[float, float], bandwidth: float = 0.01) -> None:
        self.lo, self.hi = (float(v) for v in window)
        self.bandwidth = float(bandwidth)

    def _to_logit(self, m: np.ndarray) -> np.ndarray:
        u = np.clip(
            (np.asarray(m, dtype=np.float64) - self.lo) / (self.hi - self.lo), 1e-7, 1 - 1e-7
        )
        return np.log(u) - np.log1p(-u)

    def fit(self, m: np.ndarray) -> MassKDE:
        """Fit to SR masses (all must lie inside the window)."""
        m = np.asarray(m, dtype=np.float64)
        if m.size < 2 or np.any((m <= self.lo) | (m >= self.hi)):
            raise ValueError(f"MassKDE needs >= 2 masses inside ({self.lo}, {self.hi})")
        self.values_ = self._to_logit(m)
        self.sigma_ = self.bandwidth * self.values_.std()
        return self

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` masses drawn from the KDE."""
        y = rng.choice(self.values_, size=n) + rng.normal(0.0, self.sigma_, size=n)
        return self.lo + (self.hi - self.lo) / (1.0 + np.exp(-y))
