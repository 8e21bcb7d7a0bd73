"""The optimizer-step loop shared by the flows and the classifiers: members, no syncs, graphs.

A model here holds R *members* (the runs of one analysis: same architecture and data, own
seeds) and a loss function maps per-member batch indices (R, b) to per-member mean losses
(R,). :class:`EpochRunner` runs the steps of one epoch over per-member permutations:

- the summed loss is backpropagated, so each member gets its own gradient (members share no
  parameter) and Adam, elementwise, updates each as if it trained alone;
- losses are accumulated on the device and read once per epoch by the caller, so no step
  waits for the host;
- on CUDA the whole step (gather, forward, backward, Adam) can be captured once as a CUDA
  graph and replayed on static index buffers (:func:`use_graphs`): a step is hundreds of
  small kernels, and replaying them removes the launch overhead that dominates at the
  paper's batch sizes. The last, shorter batch of an epoch gets its own graph, so every
  event is used every epoch, as the reference code's ``DataLoader`` (``drop_last=False``).

This is the only module with CUDA-specific code; on the CPU the same loop runs eagerly.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from resonant_ad.core.io import atomic_path

log = logging.getLogger(__name__)

#: values of the ``graphs`` setting: ``auto`` captures on CUDA, ``True`` (YAML ``on``)
#: always (an error without CUDA), ``False`` (``off``) never
GRAPH_MODES = ("auto", True, False)


def use_graphs(mode: str | bool, device: torch.device, capturable: bool = True) -> bool:
    """Whether to capture training steps as CUDA graphs (``mode``: auto, on/True, off/False).

    ``capturable`` is false for models whose step cannot be captured (data-dependent shapes,
    host synchronisation): ``auto`` then runs eagerly, ``on`` is an error.
    """
    mode = {"on": True, "off": False}.get(mode, mode) if isinstance(mode, str) else mode
    if mode not in GRAPH_MODES:
        raise ValueError(f"graphs must be auto, on or off, got {mode!r}")
    if mode is False:
        return False
    if device.type != "cuda" or not capturable:
        if mode is True:
            why = "needs a CUDA device" if device.type != "cuda" else "cannot capture this model"
            raise ValueError(f"graphs: on {why} (device {device})")
        return False
    return True


class Adam:
    """Adam with L2 weight decay (PyTorch's defaults), one fused kernel per step.

    It calls the kernel ``torch.optim.Adam(fused=True)`` calls, with the same state (moments
    zero at start, a float32 step count on the parameters' device), so the numbers are the same
    bit for bit; but without ``torch.optim.Optimizer``, whose first use imports
    ``torch._dynamo`` (~1.1 s of every training job's start on a slow CPU). The step count
    lives on the device, so a step can be captured in a CUDA graph.
    """

    #: PyTorch's defaults, which the flows and classifiers train with
    BETAS, EPS = (0.9, 0.999), 1e-8

    def __init__(
        self, params: Sequence[torch.nn.Parameter], lr: float, weight_decay: float = 0.0
    ) -> None:
        self.params = list(params)
        kinds = {(p.device, p.dtype) for p in self.params}
        if len(kinds) > 1 or any(not p.dtype.is_floating_point for p in self.params):
            raise ValueError(f"Adam needs floating parameters on one device, got {kinds}")
        self.lr, self.weight_decay = float(lr), float(weight_decay)
        #: per parameter: exp_avg, exp_avg_sq and step (created at its first gradient)
        self.state: dict[torch.nn.Parameter, dict[str, torch.Tensor]] = {}

    def zero_grad(self) -> None:
        """Drop the gradients (set to None: the next backward pass writes fresh ones)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One Adam update of every parameter that has a gradient."""
        params = [p for p in self.params if p.grad is not None]
        if not params:
            return
        for p in params:
            if p not in self.state:
                self.state[p] = {
                    "step": torch.zeros((), dtype=torch.float32, device=p.device),
                    "exp_avg": torch.zeros_like(p, memory_format=torch.preserve_format),
                    "exp_avg_sq": torch.zeros_like(p, memory_format=torch.preserve_format),
                }
        states = [self.state[p] for p in params]
        steps = [st["step"] for st in states]
        torch._foreach_add_(steps, 1)
        torch._fused_adam_(
            params,
            [p.grad for p in params],
            [st["exp_avg"] for st in states],
            [st["exp_avg_sq"] for st in states],
            [],
            steps,
            amsgrad=False,
            lr=self.lr,
            beta1=self.BETAS[0],
            beta2=self.BETAS[1],
            weight_decay=self.weight_decay,
            eps=self.EPS,
            maximize=False,
        )


def permutations(
    generators: Sequence[torch.Generator], n: int, device: torch.device
) -> torch.Tensor:
    """One random permutation of n events per member (CPU generators: the same on any device)."""
    return torch.stack([torch.randperm(n, generator=g) for g in generators]).to(device)


class EpochRunner:
    """The optimizer steps of an epoch for R members, eager or replayed from CUDA graphs.

    ``loss_fn(idx)`` returns the per-member mean loss (R,) of the events ``idx`` (R, b);
    batches shorter than ``min_batch`` are skipped (batch norm needs two events). With
    ``compiled`` the loss (forward and backward) runs through ``torch.compile``: the same
    maths in fused kernels, equal to eager within float rounding (one compilation per batch
    size, tens of seconds on a CPU).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        loss_fn: Callable[[torch.Tensor], torch.Tensor],
        optimizer: Adam,
        n_events: int,
        batch_size: int,
        members: int,
        device: torch.device,
        graphs: bool = False,
        min_batch: int = 1,
        compiled: bool = False,
    ) -> None:
        # compiled: torch.compile (inductor) fuses the loss's elementwise work into fewer,
        # larger kernels; with graphs, the CUDA graph then replays those fused kernels
        if compiled:
            loss_fn = torch.compile(loss_fn, dynamic=False)
        self.model, self.loss_fn, self.opt = model, loss_fn, optimizer
        self.n, self.batch, self.members = int(n_events), int(batch_size), int(members)
        self.device, self.graphs, self.min_batch = device, graphs, int(min_batch)
        self.total = torch.zeros(members, device=device)
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor]] = {}
        self._saved: tuple[Checkpoint | None, list, list] = (None, [], [])

    def batches(self) -> list[tuple[int, int]]:
        """(start, size) of every batch of an epoch that is trained on."""
        out = []
        for start in range(0, self.n, self.batch):
            size = min(self.batch, self.n - start)
            if size >= self.min_batch:
                out.append((start, size))
        return out

    def _step(self, idx: torch.Tensor) -> None:
        loss = self.loss_fn(idx)
        self.opt.zero_grad()
        loss.sum().backward()
        self.opt.step()
        self.total += loss.detach() * idx.shape[1]

    def epoch(self, perms: torch.Tensor) -> torch.Tensor:
        """Train one epoch over ``perms`` (R, n); the summed losses (R,) stay on the device."""
        self.model.train()
        self.total.zero_()
        if self.graphs and not self._graphs:
            self._capture(perms)
        for start, size in self.batches():
            idx = perms[:, start : start + size]
            if self.graphs:
                graph, static = self._graphs[size]
                static.copy_(idx)
                graph.replay()
            else:
                self._step(idx)
        return self.total

    def prepare(self) -> None:
        """Remember the parameters, buffers and Adam state at the start (call before the
        first epoch, after a :class:`Checkpoint` has restored a resumed training)."""
        with torch.no_grad():
            tensors = list(self.model.parameters()) + list(self.model.buffers())
            self._initial = [(t, t.detach().clone()) for t in tensors]
            self._initial_opt = {
                p: {k: v.detach().clone() for k, v in st.items()}
                for p, st in self.opt.state.items()
            }

    def resume(
        self,
        saved: Checkpoint | None,
        generators: Sequence[torch.Generator],
        selections: Sequence[Any],
    ) -> int:
        """Restore a killed training from ``saved`` (if any; a training's shuffling
        ``generators`` and epoch ``selections`` with it), then :meth:`prepare`: the number of
        epochs already done. :meth:`end_epoch` and :meth:`finish` then keep and drop it."""
        self._saved = (saved, list(generators), list(selections))
        done = saved.restore(self.model, self.opt, generators, selections) if saved else 0
        self.prepare()
        return done

    def end_epoch(self, epochs: int) -> None:
        """Checkpoint the training after ``epochs`` epochs (at the checkpoint's interval;
        nothing without one)."""
        saved, generators, selections = self._saved
        if saved:
            saved.save(epochs, self.model, self.opt, generators, selections)

    def finish(self) -> None:
        """Delete the checkpoint: the training is over and its outputs come next."""
        saved, _, _ = self._saved
        if saved:
            saved.remove()

    def _capture(self, perms: torch.Tensor) -> None:
        """Capture one graph per batch size, after warm-up steps whose effect is undone.

        Warm-up steps (on a side stream, as CUDA graphs require) create Adam's state and the
        library workspaces; then parameters and buffers are restored in place and Adam's
        moments and step count reset to their zero start, so the first replayed step is the
        first step of training (or of the resumed training), as in eager mode.
        """
        if not hasattr(self, "_initial"):
            raise RuntimeError("call prepare() before the first epoch")
        sizes = sorted({size for _, size in self.batches()}, reverse=True)
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for size in sizes:
                for _ in range(3):
                    self._step(perms[:, :size])
        torch.cuda.current_stream(self.device).wait_stream(side)
        with torch.no_grad():
            for target, value in self._initial:
                target.copy_(value)
            for p, state in self.opt.state.items():
                start = self._initial_opt.get(p, {})
                for k, v in state.items():
                    if k in start:
                        v.copy_(start[k])
                    elif torch.is_tensor(v):
                        v.zero_()
        for size in sizes:
            static = perms[:, :size].clone()
            graph = torch.cuda.CUDAGraph()
            self.opt.zero_grad()
            with torch.cuda.graph(graph):
                self._step(static)
            self._graphs[size] = (graph, static)
        self.total.zero_()
        log.info("captured CUDA graphs of the training step for batch sizes %s", sizes)


#: seconds between two checkpoints of a training; the environment variable
#: RESONANT_AD_CHECKPOINT_S overrides it (0: after every epoch)
CHECKPOINT_S = 60.0


def checkpoint_path(output: str | os.PathLike[str]) -> Path:
    """Where a training job keeps its :class:`Checkpoint` while it runs: beside one of its
    outputs (``model.pt`` → ``model.resume.pt``), where the job's rerun finds it."""
    return Path(output).with_name(Path(output).stem + ".resume.pt")


def checkpoint_part(path: str | os.PathLike[str] | None, k: int) -> str | None:
    """The checkpoint of the k-th of a job's separate trainings: ``path`` itself for the
    first, ``path.k`` for the others (None without a path)."""
    return None if not path else f"{path}.{k}" if k else str(path)


def checkpoint_interval() -> float:
    """Seconds between two checkpoints: RESONANT_AD_CHECKPOINT_S, else :data:`CHECKPOINT_S`."""
    raw = os.environ.get("RESONANT_AD_CHECKPOINT_S", str(CHECKPOINT_S))
    try:
        return float(raw)
    except ValueError:
        raise ValueError(f"RESONANT_AD_CHECKPOINT_S={raw!r}: seconds expected") from None


def drop_temporaries(path: str | os.PathLike[str]) -> None:
    """Delete the temporaries that a write of ``path`` killed midway left (atomic_path's)."""
    path = Path(path)
    for tmp in path.parent.glob(f".{path.name}.*.part"):
        tmp.unlink(missing_ok=True)


def remove_checkpoint(path: str | os.PathLike[str]) -> None:
    """Delete the checkpoint at ``path`` and any temporary a killed write of it left."""
    Path(path).unlink(missing_ok=True)
    drop_temporaries(path)


def fingerprint(*parts: Any) -> str:
    """A digest of a training's inputs: arrays by dtype, shape and bytes, the rest by repr."""
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        if isinstance(part, np.ndarray):
            if part.dtype.hasobject:
                raise TypeError("fingerprint: an array of Python objects has no stable bytes")
            h.update(repr((part.dtype.str, part.shape)).encode())
            h.update(np.ascontiguousarray(part).data)
        else:
            h.update(repr(part).encode())
    return h.hexdigest()


class Checkpoint:
    """A training's state at the end of an epoch, on disk, so that a killed job resumes there.

    ``save`` writes model, Adam moments, the members' shuffling generators and their epoch
    selections (:class:`~resonant_ad.core.estimator.BestEpochs`) atomically, at most every
    ``interval_s`` seconds; ``restore`` reads them back only when the file's ``key`` (a
    :func:`fingerprint` of the data and settings) is this training's, so that a changed
    config or input starts afresh. Nothing random is drawn in between, so a resumed training
    ends with the numbers of an uninterrupted one (bit for bit on a CPU). ``remove`` deletes
    the file once the training's outputs are written. ``read`` and ``write`` are the keyed,
    timed file underneath, for a training of another kind (the HGB ensemble's members).
    """

    def __init__(self, path: str | os.PathLike[str], key: str, interval_s: float | None = None):
        self.path, self.key = Path(path), key
        self.interval_s = checkpoint_interval() if interval_s is None else float(interval_s)
        self._last = time.monotonic()

    @classmethod
    def of(
        cls,
        path: str | os.PathLike[str] | None,
        estimators: Sequence[Any],
        device: torch.device,
        *data: Any,
    ) -> Checkpoint | None:
        """The checkpoint at ``path`` (None without one) of training ``estimators`` together
        on ``data``: keyed by their shared hyperparameters, their seeds, the device (on a CPU
        with its thread count, which moves the sums' rounding), torch's version and the data
        (arrays; None where a part is absent)."""
        if not path:
            return None
        lead = estimators[0]
        shared = {k: v for k, v in lead.get_params().items() if k not in lead.MEMBER_KEYS}
        seeds = [e.seed for e in estimators]
        where = f"cpu, {torch.get_num_threads()} threads" if device.type == "cpu" else str(device)
        return cls(path, fingerprint(shared, seeds, where, torch.__version__, *data))

    def restore(
        self,
        model: torch.nn.Module,
        opt: Adam,
        generators: Sequence[torch.Generator],
        selections: Sequence[Any],
    ) -> int:
        """Load the saved state into these objects; the number of epochs already done (0
        without a usable checkpoint)."""
        saved = self.read()
        if saved is None:
            return 0
        device = next(model.parameters()).device
        model.load_state_dict(saved["model"])
        for p, state in zip(opt.params, saved["adam"], strict=True):
            if state is not None:
                opt.state[p] = {k: v.to(device) for k, v in state.items()}
        for g, state in zip(generators, saved["generators"], strict=True):
            g.set_state(state)
        for sel, state in zip(selections, saved["selections"], strict=True):
            state["kept"] = [
                (r, e, type(s)((k, v.to(device)) for k, v in s.items()))
                for r, e, s in state["kept"]
            ]
            sel.load_state_dict(state)
        log.info("resumed from %s after epoch %d", self.path, saved["epochs"])
        return int(saved["epochs"])

    def save(
        self,
        epochs: int,
        model: torch.nn.Module,
        opt: Adam,
        generators: Sequence[torch.Generator],
        selections: Sequence[Any],
    ) -> None:
        """Write the state after ``epochs`` epochs, if ``interval_s`` has passed since the
        last write."""
        if not self.due():
            return
        payload = {
            "epochs": int(epochs),
            "model": model.state_dict(),
            "adam": [opt.state.get(p) for p in opt.params],
            "generators": [g.get_state() for g in generators],
            "selections": [sel.state_dict() for sel in selections],
        }
        self.write(payload)

    def due(self) -> bool:
        """Whether ``interval_s`` has passed since the last write."""
        return time.monotonic() - self._last >= self.interval_s

    def read(self, weights_only: bool = True) -> dict[str, Any] | None:
        """The saved payload when the file is this training's (its ``key``), else None: no
        file, a damaged one or one of other data or settings (with a warning). A killed
        write's temporaries are dropped. ``weights_only=False`` also reads pickled objects
        (scikit-learn's trees), from the job's own file."""
        drop_temporaries(self.path)
        if not self.path.exists():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=weights_only)
        except Exception as err:  # a file of another version or a damaged one: start afresh
            log.warning("%s: unreadable checkpoint (%s), training from the start", self.path, err)
            return None
        if not isinstance(saved, dict) or saved.get("key") != self.key:
            log.warning("%s: a checkpoint of other data or settings, not resumed", self.path)
            return None
        return saved

    def write(self, payload: dict[str, Any]) -> None:
        """Write ``payload`` under this training's key, atomically (whatever the interval:
        callers ask :meth:`due` first where it matters)."""
        with atomic_path(self.path) as tmp:
            torch.save({"key": self.key, **payload}, tmp)
        self._last = time.monotonic()

    def remove(self) -> None:
        """Delete the checkpoint (and any temporary a killed write left)."""
        remove_checkpoint(self.path)
