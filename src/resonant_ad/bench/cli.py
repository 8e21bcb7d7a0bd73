"""Benchmarks of the heavy stages, against what the hardware allows.

- ``python -m resonant_ad.bench flow``: events/s and peak memory of flow training steps
  (CATHODE architecture, 4 features) for the lean MAF and nflows' classes, CPU 1/2 threads
  and CUDA when present.
- ``python -m resonant_ad.bench chunks``: events/s of the flow's passes over many events
  (latent map, inverse, batch-norm statistics) by chunk size on the CPU, 1 and 3 members,
  and whether every size gives the same numbers bit for bit.
- ``python -m resonant_ad.bench stages``: the dijet chain stage by stage (generation,
  prepare, injection, split, one flow epoch, sampling, latent mapping, decorrelation, one
  classifier epoch, evaluation, bump hunt), each in its own process with the functions the
  workflow rules call, at the default config's scale or ``--background N``: seconds,
  events/s and the stage's peak memory.
- ``python -m resonant_ad.bench rules DIR``: the Snakemake ``benchmark:`` files under DIR
  summed per rule (jobs, median and total seconds, peak RSS).
- ``python -m resonant_ad.bench dag [CONFIG ...]``: seconds of ``snakemake -n`` (reading the
  Snakefile and planning the DAG) with the default config and each CONFIG file.
- ``python -m resonant_ad.bench ditau-flow``: seconds per training epoch of the di-τ paper's
  flow (6 layers × 6 MADE blocks × 512) and of the default's CPU-sized flow on 83k events.
- ``python -m resonant_ad.bench ditau-sample``: events per second of the default di-τ flow's
  inverse (sampling), nflows' against the package's per-feature passes.
- ``python -m resonant_ad.bench threads``: whether the flows (MAF, RQ spline), the NN
  classifier and the HGB ensemble train to the same numbers with 1 and 2 threads, each in
  its own process on the workflow's AVX2 code path (about a minute).
- ``python -m resonant_ad.bench code-paths``: each ``cpu_code_path`` (avx2, portable,
  native) in its own process at 1 thread: the flow's training events/s and whether the
  same models train to the avx2 path's numbers (about two minutes).
- ``python -m resonant_ad.bench hgb``: seconds of one di-τ HGB ensemble training (10 and 50
  members) on a finished run's no-signal training set.
- ``python -m resonant_ad.bench step-choice --out FILE``: the flow's training step as a run
  takes it (a CUDA graph on a GPU) against the fused one (``flow.compiled``), 10 members at
  batch 256, and whether the fused one pays (JSON; workflow/gpu/run.sh asks it).
- ``python -m resonant_ad.bench gpu --out DIR``: on a CUDA device, training steps eager vs
  CUDA graph vs members, paper-scale flow and classifier trainings, the di-τ paper flow and
  the projected paper-scale study (:mod:`resonant_ad.bench.gpu`).

Each writes its table to ``--csv`` and (but ``dag``) a bar chart to ``--figure`` when given.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from resonant_ad.bench.chain import STAGES, bench_stages, run_stage
from resonant_ad.bench.cpu import (
    bench_chunks,
    bench_dag,
    bench_ditau_flows,
    bench_ditau_sampling,
    bench_flow,
    bench_hgb,
    bench_rules,
    figure_table,
)
from resonant_ad.bench.numerics import bench_code_paths, bench_threads, setting_outputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resonant_ad.bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    flow = sub.add_parser("flow", help="flow training throughput, lean MAF vs nflows")
    flow.add_argument("--batch", type=int, nargs="+", default=[256, 1024])
    chunks = sub.add_parser("chunks", help="the flow's no-grad passes by chunk size (CPU)")
    chunks.add_argument("--events", type=int, default=100_000)
    chunks.add_argument("--members", type=int, nargs="+", default=[1, 3])
    chunks.add_argument("--sizes", type=int, nargs="+", help="chunk sizes (default: 4)")
    stages = sub.add_parser("stages", help="the dijet chain stage by stage")
    stages.add_argument("--background", type=int, help="QCD events (default: the config's)")
    rules = sub.add_parser("rules", help="Snakemake benchmark files summed per rule")
    rules.add_argument("directory", nargs="?", default="benchmarks")
    dag = sub.add_parser("dag", help="seconds of snakemake -n: the Snakefile and the DAG")
    dag.add_argument("configs", nargs="*", help="config files besides the default")
    dag.add_argument("--repeats", type=int, default=3)
    dag.add_argument("--workdir", default=".", help="the workflow's root (default: here)")
    dag.add_argument("--csv", help="also write the table here")
    dtf = sub.add_parser("ditau-flow", help="one epoch of the di-tau paper flow on the CPU")
    dtf.add_argument("--events", type=int, default=83_000, help="SB training events (paper)")
    dts = sub.add_parser("ditau-sample", help="the di-tau flow's inverse, nflows' and ours")
    dts.add_argument("--events", type=int, default=30_000, help="events sampled")
    hgb = sub.add_parser("hgb", help="one di-tau HGB ensemble training per member count")
    hgb.add_argument("--members", type=int, nargs="+", default=[10, 50])
    hgb.add_argument("--results", default="results/ditau", help="a finished run's di-tau folder")
    gpu = sub.add_parser("gpu", help="CUDA: steps eager/graph/members, paper-scale trainings")
    gpu.add_argument("--out", default="benchmarks/gpu", help="folder for the CSV, JSON, figure")
    gpu.add_argument("--members", type=int, default=10, help="runs trained together")
    gpu.add_argument("--flow-budget", type=float, default=150.0, help="seconds for the flow")
    gpu.add_argument("--parts", default="all", help="comma-separated parts (default: all)")
    gpu.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (a test)")
    choice = sub.add_parser("step-choice", help="the flow's step vs the fused one: which pays")
    choice.add_argument("--out", help="also write the JSON here")
    choice.add_argument("--device", help="default: cuda where there is CUDA, else cpu")
    choice.add_argument("--members", type=int, default=10)
    choice.add_argument("--batch", type=int, default=256)
    choice.add_argument("--steps", type=int, default=200, help="timed steps of each")
    choice.add_argument("--blocks", type=int, default=15, help="MADE blocks (paper: 15)")
    choice.add_argument("--min-gain", type=float, default=1.25, help="speed-up to choose it")
    threads = sub.add_parser("threads", help="trainings with 1 and 2 threads: the same numbers?")
    threads.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    threads.add_argument("--events", type=int, default=20_000, help="training + validation")
    threads.add_argument("--csv", help="also write the table here")
    paths = sub.add_parser("code-paths", help="each cpu_code_path: speed and the same numbers?")
    paths.add_argument("--paths", nargs="+", default=["avx2", "portable", "native"])
    paths.add_argument("--events", type=int, default=20_000, help="training + validation")
    paths.add_argument("--steps", type=int, default=200, help="timed flow steps, 3 times")
    paths.add_argument("--csv", help="also write the table here")
    child_setting = sub.add_parser("_setting")
    child_setting.add_argument("threads", type=int)
    child_setting.add_argument("out")
    child_setting.add_argument("events", type=int)
    child_setting.add_argument("--rate-steps", type=int, default=0)
    child = sub.add_parser("_stage")
    child.add_argument("name", choices=STAGES)
    child.add_argument("work")
    for p in (flow, chunks, stages, rules, dtf, dts, hgb):
        p.add_argument("--csv", help="also write the table here")
        p.add_argument("--figure", help="also draw it here (png/pdf)")
    args = parser.parse_args(argv)
    if args.command == "_stage":
        run_stage(args.name, args.work)
        return 0
    if args.command == "_setting":
        setting_outputs(args.threads, args.out, args.events, args.rate_steps)
        return 0
    if args.command in ("threads", "code-paths"):
        if args.command == "threads":
            table = bench_threads(args.threads, args.events)
        else:
            table = bench_code_paths(args.paths, args.events, args.steps)
        print(table.to_string(index=False))
        if args.csv:
            table.to_csv(args.csv, index=False)
        return 0
    if args.command == "step-choice":
        import json

        import torch

        from resonant_ad.bench.gpu_steps import flow_step_choice

        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
        kw = {k: getattr(args, k) for k in ("members", "batch", "steps", "blocks", "min_gain")}
        result = flow_step_choice(device, **kw)
        text = json.dumps(result, indent=1)
        print(text)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + "\n")
        return 0
    if args.command == "gpu":
        import logging
        from dataclasses import replace

        from resonant_ad.bench.gpu import run
        from resonant_ad.bench.gpu_steps import SMOKE, Scale

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        members = {"members": args.members, "compiled_members": (1, args.members)}
        scale = SMOKE if args.smoke else replace(Scale(), **members)
        if not args.smoke:
            scale = replace(scale, flow_budget_s=args.flow_budget)
        run(args.out, scale, args.parts)
        return 0
    pd.set_option("display.width", 140)
    if args.command == "flow":
        table = bench_flow(args.batch)
        plot = ("implementation", "events_per_s", "peak_mem_mb")
    elif args.command == "chunks":
        table = bench_chunks(args.events, args.members, args.sizes)
        plot = ("label", "events_per_s", "peak_mem_mb")
    elif args.command == "ditau-flow":
        table = bench_ditau_flows(args.events)
        plot = ("flow", "events_per_s", "peak_rss_mb")
    elif args.command == "ditau-sample":
        table = bench_ditau_sampling(args.events)
        plot = ("inverse", "events_per_s", "peak_rss_mb")
    elif args.command == "hgb":
        table = bench_hgb(args.members, args.results)
        plot = ("members", "s_per_training", "peak_rss_mb")
    elif args.command == "stages":
        table = bench_stages(args.background)
        plot = ("stage", "events_per_s", "peak_rss_mb")
    elif args.command == "dag":
        table = bench_dag(["", *args.configs], args.repeats, args.workdir)
        plot = None  # no memory column to draw
    else:
        table = bench_rules(args.directory)
        plot = ("label", "total_s", "max_rss_mb")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    if args.csv:
        table.to_csv(args.csv, index=False)
    if plot and args.figure:
        labels = table.copy()
        if args.command == "rules":
            labels["label"] = labels["study"] + ": " + labels["rule"]
        if args.command == "chunks":
            labels["label"] = (
                labels["stage"] + " x" + labels["members"].astype(str) + " chunk "
            ) + labels["chunk"].astype(str)
        if args.command == "flow":
            labels["implementation"] = (
                labels["implementation"]
                + " x"
                + labels["members"].astype(str)
                + " "
                + labels["device"]
                + " "
                + labels["threads"].astype(str)
                + "t b"
                + labels["batch"].astype(str)
            )
        figure_table(labels, *plot, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
