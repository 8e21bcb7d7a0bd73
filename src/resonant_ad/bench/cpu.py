"""The flow's training step (lean MAF vs nflows), its passes over many events by chunk size,
the Snakemake benchmark files per rule and the seconds Snakemake takes to plan the DAG."""

from __future__ import annotations

import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from resonant_ad.core.device import chunk_events, chunks
from resonant_ad.core.maf import MAF, build_nflows_maf
from resonant_ad.core.training import Adam


def peak_rss_mb() -> float:
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
    members: int = 1,
) -> dict[str, float | str | int]:
    """Events/s of full training steps (forward, backward, fused Adam) on random data.

    ``members`` flows of the lean MAF train as one model (here all on the same batch, which
    costs the arithmetic of distinct ones; events/s summed over members). The machine's
    speed drifts (shared cores), so ``repeats`` timed runs of ``steps`` steps follow the
    warm-up; the median and the best are reported.
    """
    torch.set_num_threads(threads)
    dev = torch.device(device)
    torch.manual_seed(0)
    if implementation == "lean":
        model = MAF.stack([MAF(features) for _ in range(members)]).to(dev)

        def log_prob(x, c):
            if members == 1:
                return model.log_prob(x, c)
            xs = x.expand(members, *x.shape)
            return model.log_prob(xs, c.expand(members, *c.shape)).sum(0)
    else:
        model = build_nflows_maf(features).to(dev)

        def log_prob(x, c):
            return model.log_prob(x, context=c)

    model.train()
    opt = Adam(model.parameters(), lr=1e-4, weight_decay=1e-6)
    x = torch.randn(batch * 8, features, device=dev)
    c = torch.randn(batch * 8, 1, device=dev)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def step(i: int) -> None:
        s = (i % 8) * batch
        loss = -log_prob(x[s : s + batch], c[s : s + batch]).mean()
        opt.zero_grad()
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
        rates.append(steps * batch * members / (time.perf_counter() - start))
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else peak_rss_mb()
    return {
        "stage": "flow_train_step",
        "implementation": implementation,
        "members": members,
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
                rows.append(flow_training_throughput("lean", device, threads, batch, members=3))
    return pd.DataFrame(rows)


def chunk_throughput(
    members: int, events: int, sizes: list[int], threads: int = 1, repeats: int = 2
) -> list[dict[str, float | str | int | bool]]:
    """Events/s of the CATHODE MAF's no-grad passes over ``events`` events on the CPU (latent
    map, inverse, batch-norm statistics) for each chunk size, and whether each size gives
    the first size's numbers bit for bit (``members`` flows stacked, events/s summed)."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model = MAF.stack([MAF(4) for _ in range(members)]).eval()
    x, c = torch.randn(events, 4), torch.randn(events, 1)
    if members > 1:
        x, c = x.expand(members, -1, -1), c.expand(members, -1, -1)
    model.set_batchnorm_statistics(x, c)
    stats = [t.clone() for t in (model.running_mean, model.running_var)]

    def batchnorm(_x: torch.Tensor, _c: torch.Tensor, size: int) -> torch.Tensor:
        model.set_batchnorm_statistics(x, c, chunk=size)
        out = torch.cat([model.running_mean, model.running_var], -1).clone()
        for buffer, saved in zip((model.running_mean, model.running_var), stats, strict=True):
            buffer.copy_(saved)
        return out

    def in_chunks(f):
        def run(xs: torch.Tensor, cs: torch.Tensor, size: int) -> torch.Tensor:
            parts = chunks(events, size)
            return torch.cat([f(xs[..., s, :], cs[..., s, :]) for s in parts], -2)

        return run

    passes = {
        "flow_forward": in_chunks(lambda a, b: model.transform(a, b)[0]),
        "flow_inverse": in_chunks(model.inverse),
        "batchnorm_statistics": batchnorm,
    }
    rows, first = [], {}
    with torch.no_grad():
        for size in sizes:
            for stage, run in passes.items():
                best = float("inf")
                for _ in range(repeats):
                    start = time.perf_counter()
                    out = run(x, c, size)
                    best = min(best, time.perf_counter() - start)
                ref = first.setdefault(stage, out)
                rows.append(
                    {
                        "stage": stage,
                        "members": members,
                        "events": events,
                        "chunk": size,
                        "default": size == chunk_events(torch.device("cpu"), members),
                        "seconds": best,
                        "events_per_s": events * members / best,
                        "same_as_first": bool(torch.equal(out, ref)),
                        "peak_mem_mb": peak_rss_mb(),
                    }
                )
    return rows


def bench_chunks(events: int, members: list[int], sizes: list[int] | None = None) -> pd.DataFrame:
    """The chunk table: 65,536 events (the GPU's chunk, the CPU's before) against the CPU's
    default (:func:`~resonant_ad.core.device.chunk_events`) and two more sizes, 1 thread."""
    rows = []
    for r in members:
        default = chunk_events(torch.device("cpu"), r)
        chosen = sizes or sorted({65536, 16384, default, 2048}, reverse=True)
        rows += chunk_throughput(r, events, chosen)
    return pd.DataFrame(rows)


# -- Snakemake benchmark files per rule -------------------------------------------------------
#: wildcard values in benchmark file names (``split_shifted_sr3.3-3.7_nsig0``, ``train_c0_x_run0``)
RULE_SUFFIX = re.compile(r"_(?:c[0-9]|nsig[0-9]|sr[0-9]|run[0-9]|[A-Za-z][A-Za-z0-9]*_sr[0-9]).*$")


def bench_ditau_flows(events: int) -> pd.DataFrame:
    """One epoch of the di-τ paper flow and of the default config's CPU-sized flow, here."""
    from resonant_ad.bench.gpu import DITAU_PAPER_FLOW, ditau_flow_epoch

    cpu_sized = {"blocks": 6, "made_blocks": 2, "hidden": 128, "bins": 12, "tail_bound": 6.0}
    rows = []
    for name, arch in (
        ("paper 6x(6 MADE x 512), 24 bins", DITAU_PAPER_FLOW),
        ("default 6x(2 MADE x 128), 12 bins", cpu_sized),
    ):
        print(f"{name}: one epoch of {events:,} events", flush=True)
        seconds = ditau_flow_epoch(events, "cpu", arch)
        rows.append(
            {
                "flow": name,
                "events": events,
                "threads": torch.get_num_threads(),
                "s_per_epoch": seconds,
                "events_per_s": events / seconds,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    return pd.DataFrame(rows)


def bench_ditau_sampling(events: int) -> pd.DataFrame:
    """Events per second of the default di-τ flow's inverse (sampling), nflows' own against
    the package's (pass i computes only feature i's output rows and spline); same outputs."""
    from resonant_ad.core.rqs import NflowsRQS

    torch.manual_seed(0)
    arch = {"blocks": 6, "made_blocks": 2, "hidden": 128, "bins": 12, "tail_bound": 6.0}
    ours, ref = NflowsRQS(14, **arch), NflowsRQS(14, **arch, graph_safe=False)
    ref.load_state_dict(ours.state_dict())
    z, c = torch.randn(events, 14), torch.randn(events, 1)
    rows, outputs = [], {}
    for name, flow in (("nflows inverse", ref), ("per-feature inverse", ours)):
        print(f"{name}: {events:,} events", flush=True)
        start = time.perf_counter()
        outputs[name] = flow.inverse(z, c)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "inverse": name,
                "events": events,
                "threads": torch.get_num_threads(),
                "seconds": seconds,
                "events_per_s": events / seconds,
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    gap = (outputs["nflows inverse"] - outputs["per-feature inverse"]).abs().max().item()
    print(f"largest difference of the outputs: {gap:.2e}", flush=True)
    return pd.DataFrame(rows)


def bench_hgb(members: list[int], results: str) -> pd.DataFrame:
    """Seconds of one di-τ training of the HGB ensemble at each size in ``members``, on a
    run's no-signal training set (its SR train/val data and repeat 0's samples)."""
    from resonant_ad.core.hgb import HGBEnsemble
    from resonant_ad.stages.flows import feature_columns
    from resonant_ad.studies.ditau.study import weak_classes

    parts = {
        k: pd.read_parquet(Path(results, "split", f"sr_{k}.parquet")) for k in ("train", "val")
    }
    samples = pd.read_parquet(Path(results, "repeat0", "samples.parquet"))
    cols = feature_columns(parts["train"])

    X, y = weak_classes(parts["train"], samples, "train", cols)
    X_val, y_val = weak_classes(parts["val"], samples, "val", cols)
    rows = []
    for n in members:
        print(f"HGB ensemble of {n} on {len(y) + len(y_val):,} events", flush=True)
        start = time.perf_counter()
        ens = HGBEnsemble(n_members=n, seed=1).fit(X, y, X_val, y_val)
        seconds = time.perf_counter() - start
        rows.append(
            {
                "members": n,
                "events": len(y) + len(y_val),
                "threads": torch.get_num_threads(),
                "s_per_training": seconds,
                "s_per_member": seconds / n,
                "median_best_iteration": float(np.median(ens.best_iterations_)),
                "peak_rss_mb": peak_rss_mb(),
            }
        )
    return pd.DataFrame(rows)


def bench_rules(directory: str) -> pd.DataFrame:
    """Jobs, median and total seconds and peak RSS per (study, rule) from ``benchmark:`` files.

    The study is the first folder under ``directory``; the rule is the file name without
    the wildcard values the workflow puts into some names (:data:`RULE_SUFFIX`).
    """
    records = []
    root = Path(directory)
    for path in sorted(root.rglob("*.tsv")):
        df = pd.read_csv(path, sep="\t")
        records.append(
            {
                "study": path.relative_to(root).parts[0],
                "rule": RULE_SUFFIX.sub("", path.stem),
                "seconds": float(df["s"].iloc[-1]),
                "max_rss_mb": float(df["max_rss"].iloc[-1]),
            }
        )
    if not records:
        raise FileNotFoundError(f"{directory}: no benchmark .tsv files")
    g = pd.DataFrame(records).groupby(["study", "rule"])
    table = pd.DataFrame(
        {
            "jobs": g.size(),
            "median_s": g["seconds"].median(),
            "total_s": g["seconds"].sum(),
            "max_rss_mb": g["max_rss_mb"].max(),
        }
    )
    return table.sort_values("total_s", ascending=False).reset_index()


def bench_dag(configs: list[str], repeats: int = 3, workdir: str = ".") -> pd.DataFrame:
    """Seconds of ``snakemake -n`` in ``workdir`` per config file ("" = the default config):
    reading the Snakefile (the rules' code hashes included) and planning the DAG, which every
    Snakemake call pays before its first job and every SLURM job pays again. Median and best
    of ``repeats``; ``jobs``: what the dry run plans (all of it in a fresh clone)."""
    records = []
    for config in configs:
        label = config or "config/config.yaml"
        cmd = [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores", "2"]
        cmd += ["--configfile", config] if config else []
        seconds, jobs = [], 0
        for i in range(repeats):
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True)
            seconds.append(time.perf_counter() - t0)
            if proc.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stdout}{proc.stderr}")
            found = re.search(r"^total\s+(\d+)", proc.stdout, re.MULTILINE)
            jobs = int(found.group(1)) if found else 0
            print(f"dag: {label} {i + 1}/{repeats}: {seconds[-1]:.2f} s", file=sys.stderr)
        records.append(
            {
                "config": label,
                "jobs": jobs,
                "median_s": float(np.median(seconds)),
                "best_s": min(seconds),
            }
        )
    return pd.DataFrame(records)


def figure_table(table: pd.DataFrame, label: str, value: str, memory: str, path: str) -> None:
    """Two horizontal bar panels: ``value`` and ``memory`` per ``label``."""
    from resonant_ad.core.plotting import new_figure, save_figure

    fig, (ax1, ax2) = new_figure(1, 2, figsize=(10, 0.35 * len(table) + 1.5), sharey=True)
    ax1.barh(table[label], table[value], color="#1f77b4")
    ax1.set_xscale("log")
    ax1.set_xlabel(value.replace("_", " "))
    ax1.invert_yaxis()
    ax2.barh(table[label], table[memory], color="#7f7f7f")
    ax2.set_xlabel(memory.replace("_", " "))
    save_figure(fig, path)
