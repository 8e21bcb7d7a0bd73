"""The conditional density estimator p(x | m) of CATHODE / LaCATHODE, scikit-learn style.

``ConditionalFlow.fit(X, m, X_val, m_val)`` fits the preprocessing on the training data
(sideband training events), trains the flow with Adam, evaluates the validation loss after
every epoch, keeps the best epochs and stops early after ``patience`` epochs without
improvement (by default 100, as many as the epochs: CATHODE's reference trains them all).
``transform`` maps events to the latent space (LaCATHODE), ``sample`` draws events for given
masses (CATHODE), ``log_prob`` gives the density in physical units.

Architectures: ``"maf"`` — the CATHODE reference (15 × MADE(128, 128) + batch norm +
reverse permutation, :mod:`resonant_ad.core.maf`); ``"rqs"`` — nflows' rational-quadratic spline
autoregressive flow of the di-τ paper (6 layers, hidden 512, 24 bins, tail bound 6).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm import tqdm

from resonant_ad.core.device import chunk_events, chunks, select_device
from resonant_ad.core.estimator import BestEpochs, Estimator, check_members
from resonant_ad.core.maf import MAF
from resonant_ad.core.preprocessing import LogitScaler
from resonant_ad.core.rqs import STACK_DEVICES, NflowsRQS, StackedRQS, warn_beyond_tail_bound

log = logging.getLogger(__name__)


ARCHITECTURES = ("maf", "rqs")
ARCH_KEYS = ("blocks", "hidden", "bins", "tail_bound", "made_blocks", "residual_blocks")


def estimator_params(section: Mapping[str, Any]) -> dict[str, Any]:
    """The keys of a config ``flow`` section that are :class:`ConditionalFlow` hyperparameters.

    The section also holds stage settings (runs, sampling); the seed comes from the run.
    """
    accepted = set(ConditionalFlow.param_names()) - {"seed", "progress"}
    return {k: v for k, v in section.items() if k in accepted}


def model_kwargs(flow: ConditionalFlow) -> dict[str, Any]:
    """The architecture hyperparameters of ``flow``."""
    return {k: getattr(flow, k) for k in ARCH_KEYS}


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
            made_blocks=kwargs.get("made_blocks", 2),
            residual_blocks=kwargs.get("residual_blocks", False),
        )
    raise ValueError(f"flow architecture must be 'maf' or 'rqs', got {architecture!r}")


class ConditionalFlow(Estimator):
    """Conditional normalizing flow p(x | m) with invertible preprocessing (see module doc).

    ``progress`` (a progress bar while fitting) is not part of the model; members trained
    together may differ in it and in ``seed``.
    """

    MEMBER_KEYS = ("seed", "progress")

    def __init__(
        self,
        architecture: str = "maf",
        blocks: int = 15,
        hidden: int = 128,
        bins: int = 24,
        tail_bound: float = 6.0,
        made_blocks: int = 2,
        residual_blocks: bool = False,
        learning_rate: float = 1e-4,
        weight_decay: float = 1e-6,
        batch_size: int = 256,
        epochs: int = 100,
        patience: int = 100,
        n_best_epochs: int = 1,
        margin: float = 0.02,
        log_features: tuple[int, ...] | list[int] = (),
        simplex_features: tuple[int, ...] | list[int] = (),
        quantile_knots: int = 0,
        recompute_batchnorm: bool = True,
        graphs: str | bool = "auto",
        compiled: bool = False,
        seed: int = 0,
        device: str = "auto",
        progress: bool = True,
    ) -> None:
        self.architecture = architecture
        self.blocks = int(blocks)
        self.hidden = int(hidden)
        self.bins = int(bins)
        self.tail_bound = float(tail_bound)
        self.made_blocks = int(made_blocks)
        self.residual_blocks = bool(residual_blocks)
        self.learning_rate = float(learning_rate)
        self.weight_decay = float(weight_decay)
        self.batch_size = int(batch_size)
        self.epochs = int(epochs)
        self.patience = int(patience)
        self.n_best_epochs = int(n_best_epochs)
        self.margin = float(margin)
        self.log_features = [int(i) for i in log_features]
        self.simplex_features = [int(i) for i in simplex_features]
        self.quantile_knots = int(quantile_knots)
        self.recompute_batchnorm = bool(recompute_batchnorm)
        self.graphs = graphs
        self.compiled = bool(compiled)
        self.seed = int(seed)
        self.device = device
        self.progress = progress
        if self.n_best_epochs < 1:
            raise ValueError("n_best_epochs must be >= 1")
        if self.made_blocks < 1:
            raise ValueError(f"made_blocks must be >= 1, got {made_blocks}")
        if architecture == "maf" and (self.made_blocks != 2 or self.residual_blocks):
            raise ValueError(
                "made_blocks and residual_blocks are settings of the rqs flow; the maf flow "
                "is the CATHODE reference (MADE with two hidden layers, no residual blocks)"
            )
        if architecture not in ARCHITECTURES:
            raise ValueError(
                f"flow architecture must be one of {ARCHITECTURES}, got {architecture!r}"
            )

    # -- conditioning and batching -------------------------------------------------------
    def _cond(self, m: np.ndarray) -> np.ndarray:
        """Standardized masses; a warning for those beyond the training masses, once per count
        (a job maps the same parts through the same flow several times)."""
        m = np.asarray(m, dtype=np.float64)
        if n := self.masses_beyond(m):
            said = self.__dict__.setdefault("_masses_said", set())
            say = log.info if (n, m.size) in said else log.warning
            say("%d of %d masses lie beyond the training masses: extrapolated", n, m.size)
            said.add((n, m.size))
        return ((m - self.m_mean_) / self.m_std_)[:, None]

    def masses_beyond(self, m: np.ndarray) -> int:
        """How many of ``m`` lie beyond the training masses ``m_range_`` by over 1% of its
        width (an SR at the data's edge is extrapolated); 0 for flows saved without it."""
        lo, hi = getattr(self, "m_range_", None) or (-np.inf, np.inf)
        tol = 0.01 * (hi - lo) if np.isfinite(hi - lo) else 0.0
        return int(np.count_nonzero((np.asarray(m) < lo - tol) | (np.asarray(m) > hi + tol)))

    def _tensors(self, X: np.ndarray, m: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        dev = select_device(self.device)
        x = torch.as_tensor(self.scaler_.transform(X), dtype=torch.float32, device=dev)
        c = torch.as_tensor(self._cond(m), dtype=torch.float32, device=dev)
        return x, c

    @staticmethod
    def _chunks(n: int, device: torch.device, members: int = 1) -> Iterator[slice]:
        """Slices of ``n`` events sized for ``device`` (:func:`~.device.chunk_events`)."""
        return chunks(n, chunk_events(device, members))

    # -- training ------------------------------------------------------------------------
    def fit(
        self,
        X: np.ndarray,
        m: np.ndarray,
        X_val: np.ndarray,
        m_val: np.ndarray,
        checkpoint: str | os.PathLike[str] | None = None,
    ) -> ConditionalFlow:
        """Fit preprocessing and flow on (X, m); select epochs on (X_val, m_val); resume
        from and keep a ``checkpoint`` file while training (:func:`fit_members`)."""
        fit_members([self], X, m, X_val, m_val, checkpoint)
        return self

    # -- using the fitted flow -----------------------------------------------------------
    @torch.no_grad()
    def transform(self, X: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Latent z = f(preprocess(x); m) with the best epoch, in batches."""
        x, c = self._tensors(X, m)
        self.model_.eval()
        parts = self._chunks(len(x), x.device)
        out = [self.model_.transform(x[s], c[s])[0].cpu().numpy() for s in parts]
        return np.concatenate(out) if out else np.empty((0, self.n_features_))

    @torch.no_grad()
    def inverse_transform(self, Z: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Physical x for latent ``Z`` at masses ``m`` (best epoch)."""
        dev = select_device(self.device)
        z = torch.as_tensor(np.asarray(Z), dtype=torch.float32, device=dev)
        c = torch.as_tensor(self._cond(m), dtype=torch.float32, device=dev)
        self.model_.eval()
        out = [self.model_.inverse(z[s], c[s]).cpu().numpy() for s in self._chunks(len(z), dev)]
        if not out:
            return np.empty((0, self.n_features_))
        return self.scaler_.inverse_transform(np.concatenate(out))

    @torch.no_grad()
    def log_prob(self, X: np.ndarray, m: np.ndarray) -> np.ndarray:
        """log p(x | m) in physical units (flow density times the preprocessing Jacobian)."""
        x, c = self._tensors(X, m)
        self.model_.eval()
        lp = np.concatenate(
            [self.model_.log_prob(x[s], c[s]).cpu().numpy() for s in self._chunks(len(x), x.device)]
        )
        return lp + self.scaler_.log_abs_det_jacobian(X)

    @torch.no_grad()
    def sample_latent(self, Z: np.ndarray, m: np.ndarray, states: np.ndarray) -> np.ndarray:
        """Physical x for latent points ``Z`` at masses ``m``, each with the kept epoch state
        ``states[i]`` (an index into the best epochs; CATHODE's sampling ensemble)."""
        states = np.asarray(states)
        out = np.empty((len(m), self.n_features_))
        for k, state in enumerate(self.states_):
            idx = np.flatnonzero(states == k)
            if len(idx):
                self.model_.load_state_dict(state)
                out[idx] = self.inverse_transform(np.asarray(Z)[idx], np.asarray(m)[idx])
        self.model_.load_state_dict(self.states_[0])
        return out

    @torch.no_grad()
    def sample(self, m: np.ndarray, seed: int) -> tuple[np.ndarray, int]:
        """(x, n outside the training range): one event per mass in ``m``; each kept best
        epoch draws an equal share (the CATHODE sampling ensemble). Those beyond are kept."""
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

    # -- persistence (Estimator.save / load) ---------------------------------------------
    def _fitted_state(self) -> dict[str, Any]:
        return {
            "scaler": self.scaler_.state(),
            "m_mean": self.m_mean_,
            "m_std": self.m_std_,
            "m_range": self.m_range_,
            "n_features": self.n_features_,
            "states": self.states_,
            "best_epochs": self.best_epochs_,
        }

    def _restore(self, state: dict[str, Any]) -> None:
        self.scaler_ = LogitScaler.from_state(state["scaler"])
        self.m_mean_, self.m_std_ = state["m_mean"], state["m_std"]
        self.m_range_ = state.get("m_range")
        self.n_features_ = state["n_features"]
        self.states_, self.best_epochs_ = state["states"], state["best_epochs"]
        self.model_ = build_model(self.architecture, self.n_features_, **model_kwargs(self))
        self.model_ = self.model_.to(select_device(self.device))
        self.model_.load_state_dict(self.states_[0])
        self.model_.eval()


def fit_members(
    flows: Sequence[ConditionalFlow],
    X: np.ndarray,
    m: np.ndarray,
    X_val: np.ndarray,
    m_val: np.ndarray,
    checkpoint: str | os.PathLike[str] | None = None,
) -> list[ConditionalFlow]:
    """Fit ``flows`` (same hyperparameters, own seeds) on the same data, as one model.

    The preprocessing is fitted once on (X, m); the flows train together as the members of
    one :class:`~resonant_ad.core.maf.MAF` or, on a GPU, :class:`~.rqs.StackedRQS` (batched
    products, no host sync inside an epoch, CUDA-graph steps where available; RQ splines on a
    CPU train one after the other, :data:`~.rqs.STACK_DEVICES`). Each member keeps its own
    seed's initialization, shuffling, batch-norm statistics, best epochs and early stopping:
    as if fitted alone, up to rounding. A training killed midway resumes from ``checkpoint``.
    """
    from resonant_ad.core import training

    flows = list(flows)
    check_members(flows)
    p = flows[0]
    rqs_stack = not p.residual_blocks and select_device(p.device).type in STACK_DEVICES
    if p.architecture != "maf" and len(flows) > 1 and not rqs_stack:
        part = training.checkpoint_part
        return [f.fit(X, m, X_val, m_val, part(checkpoint, k)) for k, f in enumerate(flows)]
    X, X_val = np.asarray(X, dtype=np.float64), np.asarray(X_val, dtype=np.float64)
    for name, a in (("training", X), ("validation", X_val)):
        if not np.all(np.isfinite(a)):
            raise ValueError(f"{name} features contain NaN or inf")
    scaler = LogitScaler(
        margin=p.margin,
        log_features=p.log_features,
        simplex_features=p.simplex_features,
        quantile_knots=p.quantile_knots,
    ).fit(X)
    if p.architecture == "rqs":
        warn_beyond_tail_bound(scaler.transform(X), p.tail_bound)
    lead = flows[0]
    for f in flows:
        f.scaler_ = scaler
        f.m_mean_, f.m_std_ = float(np.mean(m)), float(np.std(m))
        f.m_range_ = (float(np.min(m)), float(np.max(m)))
        f.n_features_ = X.shape[1]
    x, c = lead._tensors(X, m)
    # validation events beyond the fitted range would enter the loss through the clipped
    # preprocessing, not the flow's model: left out (as the reference code), counted
    outside = scaler.out_of_range(X_val)
    for f in flows:
        f.n_val_out_of_range_ = int(outside.sum())
    if outside.any():
        log.info(
            "%d validation events lie outside the training range: left out of the val loss",
            int(outside.sum()),
        )
    xv, cv = lead._tensors(X_val[~outside], np.asarray(m_val)[~outside])
    dev, members = x.device, len(flows)

    singles = []
    for f in flows:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(f.seed)
            singles.append(build_model(p.architecture, X.shape[1], **model_kwargs(p)))
    stack = MAF.stack if p.architecture == "maf" else StackedRQS.stack
    model = (stack(singles) if p.architecture == "maf" or members > 1 else singles[0]).to(dev)
    graphs = training.use_graphs(p.graphs, dev)
    log.info("step: %s%s", "CUDA graph" if graphs else "eager", " fused" * p.compiled)
    opt = training.Adam(model.parameters(), p.learning_rate, p.weight_decay)
    shuffles = [torch.Generator().manual_seed(f.seed + 1) for f in flows]

    if p.architecture == "maf" or members > 1:

        def loss_fn(idx: torch.Tensor) -> torch.Tensor:
            return -model.log_prob(x[idx], c[idx]).mean(1)

        @torch.no_grad()
        def val_nll() -> torch.Tensor:
            model.eval()
            lp = [
                model.log_prob(xv[s].expand(members, -1, -1), cv[s].expand(members, -1, -1))
                for s in ConditionalFlow._chunks(len(xv), dev, members)
            ]  # one sum over all events: the loss does not depend on the chunk size
            return -torch.cat(lp, 1).sum(1) / len(xv)

    else:

        def loss_fn(idx: torch.Tensor) -> torch.Tensor:
            return -model.log_prob(x[idx[0]], c[idx[0]]).mean().unsqueeze(0)

        @torch.no_grad()
        def val_nll() -> torch.Tensor:
            model.eval()
            lp = [model.log_prob(xv[s], cv[s]) for s in ConditionalFlow._chunks(len(xv), dev)]
            return (-torch.cat(lp).sum() / len(xv)).reshape(1)

    runner = training.EpochRunner(
        model, loss_fn, opt, len(x), p.batch_size, members, dev, graphs, 2, p.compiled
    )
    best = [BestEpochs(p.n_best_epochs, p.patience) for _ in flows]
    saved = training.Checkpoint.of(checkpoint, flows, dev, X, m, X_val, m_val)
    done = runner.resume(saved, shuffles, best)
    epochs = range(done, p.epochs if not all(sel.stopped for sel in best) else done)
    bar = tqdm(epochs, desc="flow epochs", disable=not lead.progress, mininterval=10)
    for epoch in bar:
        train = runner.epoch(training.permutations(shuffles, len(x), dev))
        if p.recompute_batchnorm:
            model.set_batchnorm_statistics(x, c)
        val = val_nll()
        train, val = (train / len(x)).cpu().numpy(), val.cpu().numpy()  # one sync per epoch
        for r, sel in enumerate(best):
            if sel.stopped:
                continue
            if not np.isfinite(val[r]):
                raise FloatingPointError(f"validation loss is {val[r]} at epoch {epoch + 1}")
            state = model.member_state(r) if members > 1 else copy.deepcopy(model.state_dict())
            sel.update(epoch, float(train[r]), float(val[r]), state)
        runner.end_epoch(epoch + 1)
        log.info(
            "epoch %3d  train nll %s  val nll %s",
            epoch + 1,
            np.array2string(train, precision=4),
            np.array2string(val, precision=4),
        )
        bar.set_postfix(val=f"{val.min():.4f}")
        if all(sel.stopped for sel in best):
            log.info("early stop: no improvement for %d epochs", p.patience)
            break
    for f, sel in zip(flows, best, strict=True):
        kept = sel.selected("loss")  # best first: states_[0] is the flow's model
        f.states_ = [state for _, state in kept]
        f.best_epochs_ = [e for e, _ in kept]
        f.model_ = build_model(p.architecture, X.shape[1], **model_kwargs(p)).to(dev)
        f.model_.load_state_dict(f.states_[0])
        f.model_.eval()
        f.history_ = _history(sel)
        log.info("seed %d: selected epoch(s) %s", f.seed, [e + 1 for e in f.best_epochs_])
    runner.finish()
    return flows


def _history(sel: BestEpochs) -> pd.DataFrame:
    """Loss per epoch and the selected epochs (the flow's history.csv)."""
    n, chosen = len(sel.train), [e for e, _ in sel.selected()]
    table = {"epoch": np.arange(1, n + 1), "train_nll": sel.train, "val_nll": sel.val}
    return pd.DataFrame({**table, "selected": np.isin(np.arange(n), chosen)})


def flow_mixture(flows: Sequence[ConditionalFlow]) -> ConditionalFlow:
    """One flow that samples the equal-weight mixture of ``flows`` (trainings of other seeds
    on the same data): its kept epoch states are all the members' (member 0's first).

    Where trainings mismodel the data in different directions, the mixture's density, their
    mean, errs less than each. Sampling (``sample``, ``sample_latent``) draws from every
    state in equal shares; ``transform`` and ``log_prob`` stay member 0's. The members must
    share their hyperparameters (but the seed) and preprocessing (fitted on the same data).
    """
    flows = list(flows)
    check_members(flows)
    lead = flows[0]
    for f in flows[1:]:
        own, ref = f.scaler_.state(), lead.scaler_.state()
        same = all(np.array_equal(np.asarray(own[k]), np.asarray(ref[k])) for k in ref)
        if not same or (f.m_mean_, f.m_std_) != (lead.m_mean_, lead.m_std_):
            raise ValueError(
                f"flow of seed {f.seed} was fitted on other data than seed {lead.seed}"
            )
    mix = copy.copy(lead)
    mix.states_ = [s for f in flows for s in f.states_]
    mix.best_epochs_ = [e for f in flows for e in f.best_epochs_]
    return mix
