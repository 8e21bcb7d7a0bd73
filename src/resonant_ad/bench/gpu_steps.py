"""GPU benchmark, part 1: the sizes of a run, timing helpers, and training-step throughput.

Steps of the CATHODE flow and the classifier at several batch sizes: eager, CUDA graph, and
members trained together (:func:`bench_steps`); the rest is :mod:`~resonant_ad.bench.gpu`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

SR = (3.3, 3.7)
SHIFT = 0.1


@dataclass(frozen=True)
class Scale:
    """Sizes of the benchmark: the paper's, or a tiny CPU smoke test of the same code."""

    device: str = "cuda"
    background: int = 1_000_000
    members: int = 10
    flow_budget_s: float = 150.0
    flow_alone_epochs: int = 3
    classifier_epochs: int = 100
    samples: tuple[int, int] = (200_000, 67_000)
    step_batches: tuple[tuple[int, ...], tuple[int, ...]] = ((256, 1024, 4096), (128, 1024))
    timed_steps: tuple[int, int] = (40, 200)  # eager, graph
    rqs_events: int = 83_000
    compiled_members: tuple[int, ...] = (1, 10)  # the fused (torch.compile) step rows


#: the paper's sizes (the default of a run)
PAPER = Scale()

SMOKE = Scale(
    device="cpu",
    background=20_000,
    members=2,
    flow_budget_s=5.0,
    flow_alone_epochs=1,
    classifier_epochs=2,
    samples=(3000, 1000),
    step_batches=((256,), (128,)),
    compiled_members=(),  # compiling costs ~30 s per model on a CPU: tests/test_flow.py has it
    timed_steps=(4, 4),
    rqs_events=1000,
)


def graphs_possible(scale: Scale) -> bool:
    return scale.device == "cuda"


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    sync()
    start = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - start


# -- 1. training steps -------------------------------------------------------------------------
def _flow_runner(
    members: int,
    batch: int,
    graphs: bool,
    steps: int,
    device: str,
    compiled: bool = False,
    blocks: int = 15,
):
    from resonant_ad.core.maf import MAF
    from resonant_ad.core.training import Adam, EpochRunner

    dev = torch.device(device)
    singles = []
    for r in range(members):
        torch.manual_seed(r)
        singles.append(MAF(4, blocks=blocks))
    model = MAF.stack(singles).to(dev)
    n = batch * steps
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(n, 4, generator=g).to(dev)
    c = torch.randn(n, 1, generator=g).to(dev)

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        return -model.log_prob(x[idx], c[idx]).mean(1)

    opt = Adam(model.parameters(), 1e-4, 1e-6)
    runner = EpochRunner(model, loss_fn, opt, n, batch, members, dev, graphs, 2, compiled)
    runner.prepare()
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(members)]).to(dev)
    return runner, perms, n


def _clf_runner(
    members: int, batch: int, graphs: bool, steps: int, device: str, compiled: bool = False
):
    from resonant_ad.core.classifier import MemberMLP, build_mlp
    from resonant_ad.core.training import Adam, EpochRunner

    dev = torch.device(device)
    nets = []
    for r in range(members):
        torch.manual_seed(r)
        nets.append(build_mlp(4, (64, 64, 64)))
    model = MemberMLP.stack(nets).to(dev)
    n = batch * steps
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(members, n, 4, generator=g).to(dev)
    y = (torch.rand(members, n, generator=g) < 0.3).float().to(dev)
    rows = torch.arange(members, device=dev).unsqueeze(1)

    def loss_fn(idx: torch.Tensor) -> torch.Tensor:
        logits = model(x[rows, idx])
        return torch.nn.functional.binary_cross_entropy_with_logits(
            logits, y[rows, idx], reduction="none"
        ).mean(1)

    opt = Adam(model.parameters(), 1e-3, 0.0)
    runner = EpochRunner(model, loss_fn, opt, n, batch, members, dev, graphs, 1, compiled)
    runner.prepare()
    perms = torch.stack([torch.randperm(n, generator=g) for _ in range(members)]).to(dev)
    return runner, perms, n


def bench_steps(rows: list[dict[str, Any]], scale: Scale) -> dict[str, Any]:
    """Events/s of training steps, eager vs graph vs members; graph == eager check."""
    checks = {}
    graphs = graphs_possible(scale)
    modes = [("eager", 1, False, False)]
    if graphs:  # and the fused step (torch.compile) inside the graph, alone and as members
        modes += [("graph", 1, True, False), ("graph", scale.members, True, False)]
        modes += [("compiled graph", r, True, True) for r in scale.compiled_members]
    for model, make, batches in (
        ("flow", _flow_runner, scale.step_batches[0]),
        ("classifier", _clf_runner, scale.step_batches[1]),
    ):
        if graphs:  # graph and eager from the same start give the same losses
            losses = []
            for use in (False, True):
                runner, perms, n = make(2, batches[0], use, 20, scale.device)
                losses.append([(runner.epoch(perms) / n).cpu().numpy().tolist() for _ in range(2)])
            diff = np.abs(np.array(losses[0]) / np.array(losses[1]) - 1)
            checks[model] = {"eager": losses[0], "graph": losses[1], "max_rel_diff": diff.max()}
        for batch in batches:
            for mode, members, use, fused in modes:
                steps = scale.timed_steps[0] if mode == "eager" else scale.timed_steps[1]
                try:
                    runner, perms, n = make(members, batch, use, steps, scale.device, fused)
                    runner.epoch(perms)  # warm-up (compilation and capture)
                except Exception as err:  # a failed compilation is a result, not a crash
                    if not fused:
                        raise
                    checks.setdefault("compile_errors", []).append(f"{model} {batch}: {err}")
                    continue
                _, seconds = timed(lambda r=runner, p=perms: [r.epoch(p) for _ in range(3)])
                rows.append(
                    {
                        "part": "steps",
                        "model": model,
                        "mode": mode,
                        "members": members,
                        "batch": batch,
                        "events_per_s": 3 * n * members / seconds,
                        "ms_per_step": 1000 * seconds / (3 * steps),
                    }
                )
                rate, ms = rows[-1]["events_per_s"], rows[-1]["ms_per_step"]
                print(
                    f"steps {model:>10} {mode:>5} x{members:<2} batch {batch:5d}: "
                    f"{rate:12,.0f} ev/s  {ms:.3f} ms/step",
                    flush=True,
                )
    return {"graph_vs_eager": checks}


def flow_step_choice(
    device: str = "cuda",
    members: int = 10,
    batch: int = 256,
    steps: int = 200,
    blocks: int = 15,
    min_gain: float = 1.25,
) -> dict[str, Any]:
    """The CATHODE flow's training step as a run would take it (a CUDA graph where there is
    CUDA) against the fused one (``flow.compiled``), at a run's sizes: ms per step of each,
    and whether the fused one is at least ``min_gain`` times faster, enough to repay its
    compilation in a 100-epoch training. A fused step that fails to compile is reported,
    and not chosen."""
    graphs = device == "cuda"
    out: dict[str, Any] = {"device": device, "members": members, "batch": batch}
    out |= {"steps": steps, "blocks": blocks, "graphs": graphs, "min_gain": min_gain}
    for name, fused in (("step", False), ("fused", True)):
        try:
            runner, perms, _ = _flow_runner(members, batch, graphs, steps, device, fused, blocks)
            _, first = timed(lambda r=runner, p=perms: r.epoch(p))  # capture, compilation
            _, seconds = timed(lambda r=runner, p=perms: r.epoch(p))
        except Exception as err:
            if not fused:
                raise
            out["fused_error"] = f"{type(err).__name__}: {err}"[:2000]
            continue
        out[f"{name}_first_s"] = first
        out[f"{name}_ms_per_step"] = 1000 * seconds / steps
    fused_ms = out.get("fused_ms_per_step")
    out["gain"] = out["step_ms_per_step"] / fused_ms if fused_ms else None
    out["compiled"] = bool(fused_ms and out["gain"] >= min_gain)
    return out


# -- 2.-4. paper-scale trainings on the surrogate ------------------------------------------------
