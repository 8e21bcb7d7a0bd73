"""What moves the trainings' numbers on a CPU: the thread count (``bench threads``) and the
CPU code path (``bench code-paths``, with the flow's training speed on each). Beside the
models, two float32 products alone show whether MKL's own sums moved.

Each setting trains small versions of the package's CPU models in its own process (the code
path must be set before the libraries start; this process's environment is left as it is:
torch.compile reads it), and every model's outputs are compared with the first setting's.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch


def setting_outputs(threads: int, out: str, events: int = 20_000, rate_steps: int = 0) -> None:
    """One setting's child of :func:`compare` (its code path is this process's environment):
    train small versions of the package's CPU models on ``events`` with ``threads`` torch
    and OpenMP threads, and save their outputs to ``out``; with
    ``rate_steps`` also the events/s of the lean MAF's training step at batch 256 over 3
    timed runs of that many steps (``out``'s JSON twin)."""
    from threadpoolctl import threadpool_limits

    from resonant_ad.bench.cpu import flow_training_throughput
    from resonant_ad.core.classifier import NeuralClassifierEnsemble
    from resonant_ad.core.flow import ConditionalFlow
    from resonant_ad.core.hgb import HGBEnsemble
    from resonant_ad.pipeline.smk import code_path_summary

    torch.set_num_threads(threads)
    rng = np.random.default_rng(0)
    X, m = rng.normal(size=(events, 5)), 3.5 + 0.3 * rng.random(events)
    y = (rng.random(events) < 0.5).astype(float)
    X[y == 1] += 0.3
    fit, val = slice(0, events * 4 // 5), slice(events * 4 // 5, None)
    outputs = {}
    for arch in ("maf", "rqs"):
        kw = {"blocks": 4, "hidden": 64, "epochs": 2, "seed": 1, "progress": False}
        flow = ConditionalFlow(arch, device="cpu", **kw)
        flow.fit(X[fit], m[fit], X[val], m[val])
        outputs[f"flow {arch}: latents"] = flow.transform(X[val], m[val])
    kw = {"hidden_layers": [64, 64, 64], "epochs": 3, "n_best_epochs": 2, "seed": 2}
    nn = NeuralClassifierEnsemble(device="cpu", **kw)
    outputs["NN classifier: scores"] = nn.fit(X[fit], y[fit], X[val], y[val]).predict_proba(X[val])
    with threadpool_limits(limits=threads, user_api="openmp"):
        hgb = HGBEnsemble(n_members=2, max_iter=60, seed=4).fit(X[fit], y[fit], X[val], y[val])
        outputs["HGB ensemble: scores"] = hgb.predict_member_proba(X[val])
    # MKL's products alone: a wide layer's forward and weight gradient, and a narrow output
    # layer's forward (10 columns, the MAF's; MKL picks other kernels for it outside its
    # reproducible mode)
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(256, 128, generator=g), torch.randn(128, 128, generator=g)
    narrow = torch.randn(256, 64, generator=g) @ torch.randn(64, 10, generator=g)
    outputs["MKL products"] = np.concatenate(
        [(a.T @ (a @ b)).numpy().ravel(), narrow.numpy().ravel()]
    )
    print(f"{threads} thread(s): {code_path_summary()}", flush=True)
    np.savez(out, **outputs)
    if rate_steps:
        steps = {"steps": rate_steps, "warmup": min(60, rate_steps)}
        speed = flow_training_throughput("lean", "cpu", threads, **steps)
        Path(out).with_suffix(".json").write_text(json.dumps(speed))


def compare(
    settings: Sequence[tuple[str, int, Mapping[str, str]]], events: int, rate_steps: int = 0
) -> tuple[list[dict[str, np.ndarray]], list[dict[str, float] | None]]:
    """Each ``(label, threads, environment)`` of ``settings`` in its own process: every
    model's outputs and (with ``rate_steps``) the flow step's speed, in the settings' order."""
    outs, speeds = [], []
    with tempfile.TemporaryDirectory() as work:
        for k, (label, n, env) in enumerate(settings):
            path, start = str(Path(work) / f"{k}.npz"), time.perf_counter()
            cmd = [sys.executable, "-m", "resonant_ad.bench", "_setting", str(n), path]
            rate = ["--rate-steps", str(rate_steps)] if rate_steps else []
            subprocess.run([*cmd, str(events), *rate], check=True, env=env)
            print(f"  {label}: trained in {time.perf_counter() - start:.0f} s", flush=True)
            with np.load(path) as saved:
                outs.append({key: saved[key] for key in saved.files})
            speed = Path(path).with_suffix(".json")
            speeds.append(json.loads(speed.read_text()) if rate_steps else None)
    return outs, speeds


def _differences(first: dict[str, np.ndarray], other: dict[str, np.ndarray]) -> dict[str, float]:
    """Each model's largest absolute difference between two settings' outputs."""
    return {name: float(np.max(np.abs(a - other[name]))) for name, a in first.items()}


def bench_threads(threads: list[int], events: int = 20_000) -> pd.DataFrame:
    """Whether each model trains to the same numbers with the first count in ``threads`` as
    with each other, on the workflow's default CPU code path (``cpu_code_path: avx2``)."""
    from resonant_ad.pipeline.smk import child_environment

    env = child_environment("avx2")
    outs, _ = compare([(f"{n} thread(s)", n, env) for n in threads], events)
    rows = [
        {
            "model": name,
            "threads": f"{threads[0]} vs {n}",
            "identical": diff == 0,
            "max_abs_diff": diff,
        }
        for n, other in zip(threads[1:], outs[1:], strict=True)
        for name, diff in _differences(outs[0], other).items()
    ]
    return pd.DataFrame(rows)


def bench_code_paths(paths: Sequence[str], events: int = 20_000, steps: int = 200) -> pd.DataFrame:
    """Each ``cpu_code_path`` at 1 thread: the flow's training events/s (``steps`` timed
    steps, 3 times), MKL's branch, and each model's largest difference from the first path's
    numbers (0: the same numbers)."""
    from resonant_ad.pipeline.smk import child_environment

    settings = [(p, 1, child_environment(p)) for p in paths]
    outs, speeds = compare(settings, events, rate_steps=steps)
    rows = []
    for (path, _, env), out, speed in zip(settings, outs, speeds, strict=True):
        row = {"code_path": path, "MKL_CBWR": env.get("MKL_CBWR", "unset")}
        row["flow_step_events_per_s"] = speed["events_per_s"] if speed else float("nan")
        diffs = _differences(outs[0], out)
        rows.append(row | {f"{name} (max diff vs {paths[0]})": d for name, d in diffs.items()})
    return pd.DataFrame(rows)
