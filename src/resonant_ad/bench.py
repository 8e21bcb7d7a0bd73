"""Benchmarks of the heavy stages, against what the hardware allows.

- ``python -m resonant_ad.bench flow``: events/s and peak memory of flow training steps
  (CATHODE architecture, 4 features) for the lean MAF and nflows' classes, CPU 1/2 threads
  and CUDA when present.
- ``python -m resonant_ad.bench stages``: the dijet chain stage by stage (generation,
  prepare, injection, split, one flow epoch, sampling, latent mapping, decorrelation, one
  classifier epoch, evaluation, bump hunt), each in its own process with the functions the
  workflow rules call, at the default config's scale or ``--background N``: seconds,
  events/s and the stage's peak memory.
- ``python -m resonant_ad.bench rules DIR``: the Snakemake ``benchmark:`` files under DIR
  summed per rule (jobs, median and total seconds, peak RSS).
- ``python -m resonant_ad.bench gpu --out DIR``: on a CUDA device, training steps eager vs
  CUDA graph vs members, paper-scale flow and classifier trainings, the di-τ paper flow and
  the projected paper-scale study (:mod:`resonant_ad.bench_gpu`).

Each writes its table to ``--csv`` and a bar chart to ``--figure`` when given.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

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
        rates.append(steps * batch * members / (time.perf_counter() - start))
    peak = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else _peak_rss_mb()
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


# -- the dijet chain, stage by stage ---------------------------------------------------------
STAGES = (
    "generate",
    "prepare",
    "inject",
    "split",
    "flow_epoch",
    "sample",
    "to_latent",
    "decorrelate",
    "classifier_epoch",
    "evaluate",
    "bumphunt",
)


def default_study(config_path: str = "config/config.yaml", background: int | None = None):
    """The default config's ``lhco_surrogate`` section with schema defaults, optionally rescaled.

    ``background`` rescales the generated events, the extra SR sample, its split and the
    flow samples by ``background / n_background``; trainings run one epoch.
    """
    from .config import load_study

    study = load_study(config_path, "lhco_surrogate")
    sur = study["data"]["surrogate"]
    if background is not None:
        f = background / sur["n_background"]
        sur["n_background"] = int(background)
        sur["n_signal"] = max(2000, int(sur["n_signal"] * f))
        sur["n_extra_sr"] = int(sur["n_extra_sr"] * f)
        study["extra_split"] = {k: max(100, int(v * f)) for k, v in study["extra_split"].items()}
        study["flow"]["n_samples"] = max(1000, int(study["flow"]["n_samples"] * f))
    study["flow"].update(epochs=1, n_best_epochs=1)
    study["classifier"]["nn"].update(epochs=1, n_best_epochs=1)
    return study


def _stage(name: str, work: Path) -> int:
    """Run one stage on the files of the previous ones in ``work``; return events processed."""
    from . import bumphunt, classifier_study, evaluation, flow_study, lhco_data, lhco_surrogate
    from .paths import LATENT_PARTS, SPLIT_PARTS
    from .smk import logged

    study = json.loads((work / "study.json").read_text())
    sur = study["data"]["surrogate"]
    window = study["signal_region"]
    nsig = study["injections"][0]
    parts = {p: str(work / f"split_{p}.parquet") for p in SPLIT_PARTS}
    latent = {p: str(work / f"latent_{p}.parquet") for p in LATENT_PARTS}
    moved = {p: str(work / f"xp_{p}.parquet") for p in LATENT_PARTS}
    scores = {k: str(work / f"scores_{k}.parquet") for k in ("sic", "sculpting", "data")}

    def rows(*paths: str) -> int:
        import pyarrow.parquet as pq

        return sum(pq.read_metadata(p).num_rows for p in paths)

    # stage → (the rule's call, the number of events it processed)
    steps: dict[str, tuple[Callable[[], object], Callable[[], int]]] = {
        "generate": (
            lambda: lhco_surrogate.write_surrogate(work / "f.h5", work / "e.h5", sur, window),
            lambda: sur["n_background"] + sur["n_signal"] + sur["n_extra_sr"],
        ),
        "prepare": (
            lambda: lhco_data.prepare(
                work / "f.h5",
                work / "e.h5",
                work / "ev.parquet",
                work / "x.parquet",
                extra_region=window,
            ),
            lambda: rows(str(work / "ev.parquet"), str(work / "x.parquet")),
        ),
        "inject": (
            lambda: lhco_data.write_injection(
                work / "ev.parquet",
                work / "data.parquet",
                work / "unused.parquet",
                work / "inj.json",
                nsig,
                study,
            ),
            lambda: rows(str(work / "ev.parquet")),
        ),
        "split": (
            lambda: lhco_data.write_split(
                work / "data.parquet",
                work / "unused.parquet",
                work / "x.parquet",
                parts,
                study["feature_sets"]["shifted"],
                study,
                nsig,
            ),
            lambda: rows(*parts.values()),
        ),
        "flow_epoch": (
            lambda: flow_study.train_flow(
                parts["sb_train"],
                parts["sb_val"],
                str(work / "flow.pt"),
                str(work / "flow.csv"),
                [str(work / "loss.png")],
                study["flow"],
                seed=1,
            ),
            lambda: rows(parts["sb_train"]),
        ),
        "sample": (
            lambda: flow_study.sample_sr(
                str(work / "flow.pt"),
                parts["sr_train"],
                str(work / "samples.parquet"),
                str(work / "sampling.json"),
                study["flow"],
                window,
                seed=2,
            ),
            lambda: study["flow"]["n_samples"],
        ),
        "to_latent": (
            lambda: flow_study.to_latent(
                str(work / "flow.pt"), {p: parts[p] for p in latent}, latent
            ),
            lambda: rows(*latent.values()),
        ),
        "decorrelate": (
            lambda: flow_study.decorrelate(
                str(work / "flow.pt"),
                {p: parts[p] for p in moved},
                moved,
                str(work / "xp_samples.parquet"),
                study["flow"],
                window,
                seed=3,
            ),
            lambda: rows(*moved.values()) + study["flow"]["n_samples"],
        ),
        "classifier_epoch": (
            lambda: classifier_study.train_and_score(
                "cathode",
                {**parts, "samples": str(work / "samples.parquet")},
                {**scores, "history": str(work / "h.csv"), "summary": str(work / "t.json")},
                study["classifier"],
                study["flow"],
                seed=4,
            ),
            lambda: rows(parts["sr_train"], parts["sr_val"], str(work / "samples.parquet")),
        ),
        "evaluate": (
            lambda: evaluation.write_evaluation(
                [{"method": "cathode", "injection": nsig, "run": 0, "path": scores["sic"]}],
                [{"method": "cathode", "injection": nsig, "run": 0, "path": scores["sculpting"]}],
                {k: str(work / f"eval_{k}.csv") for k in ("metrics", "summary", "sic")}
                | {k: str(work / f"eval_{k}.csv") for k in ("sculpting", "mjj")},
                study["evaluation"],
                seed=5,
            ),
            lambda: rows(scores["sic"], scores["sculpting"]),
        ),
        "bumphunt": (
            lambda: bumphunt.write_bump_hunt(
                scores["data"],
                {"results": str(work / "bh.csv"), "bins": str(work / "bh_bins.csv")},
                window,
                study["bumphunt"],
                {"method": "cathode"},
            ),
            lambda: rows(scores["data"]),
        ),
    }
    call, count = steps[name]
    with logged(str(work / f"{name}.log"), threads=1):
        call()
    return count()


def bench_stages(background: int | None, keep: str | None = None) -> pd.DataFrame:
    """Every stage of :data:`STAGES` in its own process: seconds, events/s, peak RSS (MB)."""
    study = default_study(background=background)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-stages-", dir=keep) as tmp:
        work = Path(tmp)
        (work / "study.json").write_text(json.dumps(study))
        for name in STAGES:
            out = work / f"{name}.json"
            cmd = [sys.executable, "-m", "resonant_ad.bench", "_stage", name, str(work)]
            subprocess.run(cmd, check=True, env=dict(os.environ, OMP_NUM_THREADS="1"))
            rec = json.loads(out.read_text())
            rec["events_per_s"] = rec["events"] / rec["seconds"]
            rows.append({"stage": name, **rec})
            print(
                f"{name:>17}: {rec['seconds']:7.1f} s  {rec['events_per_s']:>10,.0f} ev/s  "
                f"{rec['peak_rss_mb']:7.0f} MB",
                flush=True,
            )
    table = pd.DataFrame(rows)
    table.insert(1, "n_background", study["data"]["surrogate"]["n_background"])
    return table


def _run_stage(name: str, work: str) -> None:
    """Child process: time one stage and write its record next to the stage files."""
    from . import bumphunt, classifier_study, evaluation, flow_study, lhco_data  # noqa: F401

    start = time.perf_counter()  # imports (~2 s of torch, pandas, sklearn) not counted
    events = _stage(name, Path(work))
    record = {
        "events": int(events),
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": _peak_rss_mb(),
    }
    (Path(work) / f"{name}.json").write_text(json.dumps(record))


# -- Snakemake benchmark files per rule -------------------------------------------------------
#: wildcard values in benchmark file names (``split_shifted_sr3.3-3.7_nsig0``, ``train_c0_x_run0``)
RULE_SUFFIX = re.compile(r"_(?:c[0-9]|nsig[0-9]|sr[0-9]|run[0-9]|[A-Za-z][A-Za-z0-9]*_sr[0-9]).*$")


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


def _figure(table: pd.DataFrame, label: str, value: str, memory: str, path: str) -> None:
    """Two horizontal bar panels: ``value`` and ``memory`` per ``label``."""
    from .plotting import new_figure, save_figure

    fig, (ax1, ax2) = new_figure(1, 2, figsize=(10, 0.35 * len(table) + 1.5), sharey=True)
    ax1.barh(table[label], table[value], color="#1f77b4")
    ax1.set_xscale("log")
    ax1.set_xlabel(value.replace("_", " "))
    ax1.invert_yaxis()
    ax2.barh(table[label], table[memory], color="#7f7f7f")
    ax2.set_xlabel(memory.replace("_", " "))
    save_figure(fig, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m resonant_ad.bench", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    flow = sub.add_parser("flow", help="flow training throughput, lean MAF vs nflows")
    flow.add_argument("--batch", type=int, nargs="+", default=[256, 1024])
    stages = sub.add_parser("stages", help="the dijet chain stage by stage")
    stages.add_argument("--background", type=int, help="QCD events (default: the config's)")
    rules = sub.add_parser("rules", help="Snakemake benchmark files summed per rule")
    rules.add_argument("directory", nargs="?", default="benchmarks")
    gpu = sub.add_parser("gpu", help="CUDA: steps eager/graph/members, paper-scale trainings")
    gpu.add_argument("--out", default="benchmarks/gpu", help="folder for the CSV, JSON, figure")
    gpu.add_argument("--members", type=int, default=10, help="runs trained together")
    gpu.add_argument("--flow-budget", type=float, default=150.0, help="seconds for the flow")
    gpu.add_argument("--parts", default="all", help="comma-separated parts (default: all)")
    gpu.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (a test)")
    child = sub.add_parser("_stage")
    child.add_argument("name", choices=STAGES)
    child.add_argument("work")
    for p in (flow, stages, rules):
        p.add_argument("--csv", help="also write the table here")
        p.add_argument("--figure", help="also draw it here (png/pdf)")
    args = parser.parse_args(argv)
    if args.command == "_stage":
        _run_stage(args.name, args.work)
        return 0
    if args.command == "gpu":
        import logging
        from dataclasses import replace

        from .bench_gpu import SMOKE, Scale, run

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
        scale = SMOKE if args.smoke else replace(Scale(), members=args.members)
        if not args.smoke:
            scale = replace(scale, flow_budget_s=args.flow_budget)
        run(args.out, scale, args.parts)
        return 0
    pd.set_option("display.width", 140)
    if args.command == "flow":
        table = bench_flow(args.batch)
        plot = ("implementation", "events_per_s", "peak_mem_mb")
    elif args.command == "stages":
        table = bench_stages(args.background)
        plot = ("stage", "events_per_s", "peak_rss_mb")
    else:
        table = bench_rules(args.directory)
        plot = ("label", "total_s", "max_rss_mb")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.1f}"))
    if args.csv:
        table.to_csv(args.csv, index=False)
    if args.figure:
        labels = table.copy()
        if args.command == "rules":
            labels["label"] = labels["study"] + ": " + labels["rule"]
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
        _figure(labels, *plot, args.figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
