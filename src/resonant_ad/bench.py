"""Throughput benchmarks of the heavy stages: ``python -m resonant_ad.bench flow``.

Reports events/s and peak memory of flow training steps (CATHODE architecture, 4 features,
batch 256 by default) for the lean MAF and for the same flow built from nflows' classes, on
CPU with 1 and 2 threads and on CUDA when present. Results are printed and, with --csv,
written as a table.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import numpy as np
import pandas as pd
import torch

from .maf import MAF, build_nflows_maf


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def flow_training_throughput(
    implementation: str,
    device: str,
    threads: int,
    batch: int = 256,
    steps: int = 200,
    warmup: int = 60,
    features: int = 4,
    repeats: int = 3,
) -> dict[str, float | str | int]:
    """Events/s of full training steps (forward, backward, fused Adam) on random data.

    The machine's speed drifts (shared cores), so ``repeats`` timed runs of ``steps`` steps
    follow the warm-up; the median and the best are reported.
    """
    torch.set_num_threads(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    if implementation == "lean":
        model = MAF(features).to(dev)
        log_prob = model.log_prob
    else:
        model = build_nflows_maf(features).to(dev)

        def log_prob(x, c):
            return model.log_prob(x, context=c)

    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-4, weight_decay=1e-6, fused=True)
    x = torch.randn(batch * 8, features, device=dev)
    c = torch.randn(batch * 8, 1, device=dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def step(i: int) -> None:
        s = (i % 8) * batch
        loss = -log_prob(x[s : s + batch], c[s : s + batch]).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for i in range(warmup):
        step(i)
    rates = []
    for _ in range(repeats):
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        start = time.perf_counter()
        for i in range(steps):
            step(i)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        rates.append(steps * batch / (time.perf_counter() - start))
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else _peak_rss_mb()
    return {
        "stage": "flow_train_step",
        "implementation": implementation,
        "device": device,
        "threads": threads,
        "batch": batch,
        "events_per_s": float(np.median(rates)),
        "best_events_per_s": max(rates),
        "peak_mem_mb": peak,
    }


def bench_flow(batches: list[int]) -> pd.DataFrame:
    """The flow table: lean vs nflows, CPU 1/2 threads (and CUDA), for each batch size."""
    rows = []
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        for threads in [1, 2] if device == "cpu" else [1]:
            for batch in batches:
                for impl in ("lean", "nflows"):
                    rows.append(flow_training_throughput(impl, device, threads, batch))
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resonant_ad.bench", description=__doc__)
    parser.add_argument("stage", choices=["flow"])
    parser.add_argument("--batch", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--csv", help="also write the table here")
    args = parser.parse_args(argv)
    table = bench_flow(args.batch)
    pd.set_option("display.width", 120)
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.0f}"))
    if args.csv:
        table.to_csv(args.csv, index=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
