"""The GPU benchmark: training steps eager vs CUDA graph vs members, paper-scale trainings.

``python -m resonant_ad.bench gpu --out DIR`` runs, on the first CUDA device (each part
timed separately; a part that fails is recorded with its error and the others go on):

1. ``steps`` — training-step events/s of the CATHODE flow (4 features, 15 × MADE(128)) at
   batch 256, 1024 and 4096, and of the classifier (3×64 MLP) at 128 and 1024: eager, CUDA
   graph, and 10 members in one graph (events summed over members); a check that graph and
   eager steps give the same losses;
2. ``flow`` — a paper-scale flow: the surrogate with 1M QCD events generated in memory, the
   shifted feature set, SB train/val as the workflow's split (≈ 430k / 143k), the paper's
   hyperparameters (batch 256, lr 1e-4, 100 epochs, no early stop), 10 runs trained together
   until the 100 epochs end or a time budget runs out; then one run alone for a few epochs;
3. ``classifier`` — a paper-scale CATHODE classifier: SR data against 200k/67k samples of
   that flow, 100 epochs, batch 128, 10 best epochs; one alone and 10 together;
4. ``inference`` — sampling, latent mapping and decorrelation of paper-sized sets;
5. ``ditau_rqs`` — the di-τ paper's RQ-spline flow (6 layers × 6 MADE blocks × 512, 24 bins)
   epoch time;
6. ``projection`` — the full paper-scale LaCATHODE surrogate study from these numbers.

It writes ``gpu_bench.csv`` (one row per measurement), ``gpu_bench.json`` (everything, with
the device) and ``gpu_bench.png``. Needs torch with CUDA, numpy, pandas, scikit-learn,
matplotlib, mplhep (the figure, itself a recorded part) and nflows (part 5); neither
Snakemake nor PyTables.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from resonant_ad.bench.gpu_steps import PAPER, SHIFT, SR, Scale, bench_steps, graphs_possible, timed

#: the paper-scale study of ``config/lhco_surrogate_full.yaml`` (merged over the default):
#: (feature sets × injections) groups of runs, methods with a classifier, runs per group
#: (the benchmark needs no YAML reader; ``tests/test_bench.py`` checks these against it)
#: the bump hunt's two cross-fitted flows per run (LaCATHODE, x′; stages.mapping) fit 3/4 of
#: the SB data between them (each fold's SB once, in train and val 3:1) against the run's flow's
#: 1/2 (sb_train): 1.5× the run's flow's events, whatever the number of folds
PAPER_STUDY = {"groups": 3 * 2, "methods": 6, "runs": 10, "cross_flow_events": 1.5}


def paper_data(n_background: int = 1_000_000, seed: int = 1) -> dict[str, Any]:
    """The shifted feature set of a 1M-event surrogate, split as the workflow splits it."""
    from resonant_ad.core.regions import in_window, split_labels
    from resonant_ad.core.seeding import rng
    from resonant_ad.studies.dijet.data import build_features, derive_features
    from resonant_ad.studies.dijet.surrogate import generate_surrogate

    features, _ = generate_surrogate(n_background, 0, seed=seed)
    events = derive_features(features)
    spec = {
        "features": ["mj1", "delta_mj", "tau21_j1", "tau21_j2"],
        "shift": {"c": SHIFT, "columns": ["mj1", "delta_mj"]},
    }
    feats = build_features(events, spec)
    labels = split_labels(len(feats), {"train": 0.5, "val": 1 / 6, "test": 1 / 3}, rng(1, "s"))
    sr = in_window(feats["mjj"].to_numpy(), SR)
    cols = spec["features"]
    out = {}
    for region, mask in (("sr", sr), ("sb", ~sr)):
        for split in ("train", "val", "test"):
            part = feats[mask & (labels == split)]
            out[f"{region}_{split}"] = (part[cols].to_numpy(), part["mjj"].to_numpy())
    return out


def bench_flow(
    rows: list[dict[str, Any]], data: dict[str, Any], scale: Scale
) -> tuple[dict[str, Any], Any]:
    """The paper's flows, ``members`` together (100 epochs, or fewer within the time
    budget), then one alone for a few epochs."""
    from resonant_ad.core.flow import ConditionalFlow, fit_members

    X, m = data["sb_train"]
    Xv, mv = data["sb_val"]
    kw = {"progress": False, "device": scale.device}
    # the time budget caps the epochs, from the duration of a first (one-epoch) training
    probe = [ConditionalFlow(seed=s, epochs=1, **kw) for s in range(scale.members)]
    _, first = timed(lambda: fit_members(probe, X, m, Xv, mv))
    epochs = int(max(2, min(100, scale.flow_budget_s // max(first, 1e-3))))
    flows = [ConditionalFlow(seed=s, epochs=epochs, **kw) for s in range(scale.members)]
    fitted, seconds = timed(lambda: fit_members(flows, X, m, Xv, mv))
    n_epochs = max(len(f.history_) for f in fitted)
    rows.append(
        {
            "part": "flow",
            "model": "flow",
            "mode": "graph" if graphs_possible(scale) else "eager",
            "members": scale.members,
            "batch": 256,
            "events": len(X),
            "epochs": n_epochs,
            "seconds": seconds,
            "s_per_epoch": seconds / n_epochs,
            "events_per_s": len(X) * scale.members * n_epochs / seconds,
            "projected_100_epochs_s": 100 * seconds / n_epochs,
        }
    )
    print(f"flow x{scale.members}: {n_epochs} epochs in {seconds:.0f} s", flush=True)
    k = scale.flow_alone_epochs
    _, seconds1 = timed(
        lambda: fit_members([ConditionalFlow(seed=0, epochs=k, **kw)], X, m, Xv, mv)
    )
    rows.append(
        {
            "part": "flow",
            "model": "flow",
            "mode": rows[-1]["mode"],
            "members": 1,
            "batch": 256,
            "events": len(X),
            "epochs": k,
            "seconds": seconds1,
            "s_per_epoch": seconds1 / k,
            "events_per_s": len(X) * k / seconds1,
            "projected_100_epochs_s": 100 * seconds1 / k,
        }
    )
    print(f"flow alone: {k} epochs in {seconds1:.0f} s", flush=True)
    info = {
        "epochs_cap": epochs,
        "val_nll_last": [float(f.history_["val_nll"].iloc[-1]) for f in fitted],
        "best_epochs": [[int(e) + 1 for e in f.best_epochs_] for f in fitted],
        "first_epoch_s": first,
    }
    return info, fitted[0]


def bench_classifier(
    rows: list[dict[str, Any]], data: dict[str, Any], flow: Any, scale: Scale
) -> dict[str, Any]:
    """The CATHODE classifier at paper scale: SR data vs the flow's samples, 100 epochs."""
    from resonant_ad.core.classifier import NeuralClassifierEnsemble, TrainingData, fit_members
    from resonant_ad.core.kde import MassKDE

    n_train, n_val = scale.samples
    Xs, ms = data["sr_train"]
    Xsv, msv = data["sr_val"]
    kde = MassKDE(SR, 0.01).fit(np.r_[ms, msv])
    samples, _ = flow.sample(kde.sample(n_train + n_val, np.random.default_rng(3)), seed=4)
    X = np.vstack([Xs, samples[:n_train]])
    y = np.r_[np.ones(len(Xs)), np.zeros(n_train)]
    Xv = np.vstack([Xsv, samples[n_train:]])
    yv = np.r_[np.ones(len(Xsv)), np.zeros(n_val)]
    epochs = scale.classifier_epochs
    out = {}
    for n in (1, scale.members):
        clfs = [
            NeuralClassifierEnsemble(
                epochs=epochs, n_best_epochs=min(10, epochs), seed=s, device=scale.device
            )
            for s in range(n)
        ]
        fitted, seconds = timed(
            lambda c=clfs, k=n: fit_members(c, [TrainingData(X, y, Xv, yv)] * k)
        )
        rows.append(
            {
                "part": "classifier",
                "model": "classifier",
                "mode": "graph" if graphs_possible(scale) else "eager",
                "members": n,
                "batch": 128,
                "events": len(X),
                "epochs": epochs,
                "seconds": seconds,
                "s_per_epoch": seconds / epochs,
                "events_per_s": len(X) * n * epochs / seconds,
            }
        )
        out[f"members_{n}_best_epochs"] = [int(e) + 1 for e in fitted[0].best_epochs_]
        print(f"classifier x{n}: {epochs} epochs in {seconds:.0f} s", flush=True)
    return out


def bench_inference(rows: list[dict[str, Any]], data: dict[str, Any], flow: Any) -> dict[str, Any]:
    """Sampling 268k, latent mapping and decorrelation of every part on the device."""
    X = np.vstack([x for x, _ in data.values()])
    m = np.concatenate([mass for _, mass in data.values()])
    m0 = 0.5 * sum(SR)
    n_samples = min(268_000, len(m))
    tasks = {
        "sample": lambda: flow.sample(np.full(n_samples, m0), seed=1),
        "to_latent": lambda: flow.transform(X, m),
        "decorrelate": lambda: flow.inverse_transform(flow.transform(X, m), np.full(len(m), m0)),
    }
    for name, fn in tasks.items():
        _, seconds = timed(fn)
        n = n_samples if name == "sample" else len(m)
        rows.append({"part": "inference", "model": name, "events": n, "seconds": seconds})
        print(f"inference {name}: {n:,} events in {seconds:.2f} s", flush=True)
    return {}


#: the di-τ paper's flow (Appendix 2): 6 layers of 6 MADE blocks, hidden 512, 24 bins
DITAU_PAPER_FLOW = {"blocks": 6, "made_blocks": 6, "hidden": 512, "bins": 24, "tail_bound": 6.0}


def ditau_flow_epoch(
    n: int, device: str, arch: dict[str, Any] = DITAU_PAPER_FLOW, members: int = 1
) -> float:
    """Seconds of one training epoch of ``members`` di-τ RQ-spline flows (``arch``; an
    ensemble, together on a GPU) on ``n`` events of 14 features at batch 256 (lr 5e-5),
    validation pass on n/4 included."""
    from resonant_ad.core.flow import ConditionalFlow, fit_members

    g = np.random.default_rng(0)
    X = g.normal(size=(n, 14))
    m = g.uniform(100, 400, n)
    kw = {"architecture": "rqs", **arch, "learning_rate": 5e-5, "batch_size": 256}
    flows = [
        ConditionalFlow(**kw, epochs=1, progress=True, device=device, seed=s)
        for s in range(members)
    ]
    n_val = max(2, n // 4)
    return timed(lambda: fit_members(flows, X, m, X[:n_val], m[:n_val]))[1]


def bench_ditau_rqs(rows: list[dict[str, Any]], scale: Scale) -> dict[str, Any]:
    """One epoch of the di-τ paper flow (6 layers × 6 MADE blocks × 512, 24 bins), alone and
    as an ensemble of 3 (``ditau.flow_ensemble``: one model on a GPU)."""
    n = scale.rqs_events
    for members in (1, 3):
        seconds = ditau_flow_epoch(n, scale.device, members=members)
        rows.append(
            {
                "part": "ditau_rqs",
                "model": "rqs 6x(6 MADE x 512) 24 bins",
                "mode": "graph" if graphs_possible(scale) else "eager",
                "members": members,
                "batch": 256,
                "events": n,
                "epochs": 1,
                "seconds": seconds,
                "s_per_epoch": seconds,
                "events_per_s": members * n / seconds,
            }
        )
        print(f"di-tau RQS x{members}: 1 epoch of {n:,} in {seconds:.1f} s", flush=True)
    return {}


def projection(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The paper-scale LaCATHODE surrogate study on this GPU, from the measured parts.

    3 feature sets × 2 injections: 6 jobs training 10 flows together (100 epochs: the flows
    do not stop early) and 6 jobs of the bump hunt's cross-fitted flows
    (1.5× those events, as long per event), 6 × 6 method jobs training 10 classifiers together,
    sampling / latents / decorrelation per run on the GPU; the CPU stages (generation,
    evaluation, bump hunts) at the measured paper-scale seconds per job
    (docs/benchmarks.md), 14 jobs side by side on the machine's cores.
    """
    df = pd.DataFrame(rows)
    flow10 = df[(df["part"] == "flow") & (df["members"] > 1)].iloc[0]
    clf10 = df[(df["part"] == "classifier") & (df["members"] > 1)].iloc[0]
    infer = df[df["part"] == "inference"].set_index("model")["seconds"]
    flow_s = float(flow10["projected_100_epochs_s"])
    groups, methods, runs = PAPER_STUDY["groups"], PAPER_STUDY["methods"], PAPER_STUDY["runs"]
    flows_s = groups * flow_s * (1 + PAPER_STUDY["cross_flow_events"])
    gpu = flows_s + groups * methods * float(clf10["seconds"])
    gpu += groups * runs * float(infer.sum())
    cpu_jobs_s = groups * runs * methods * (8.7 + 0.2) + 60 + 6 * 5
    cpu_wall = cpu_jobs_s / 14
    total = gpu + cpu_wall
    return {
        "flow_group_100_epochs_s": flow_s,
        "flows_s": flows_s,
        "classifier_group_s": float(clf10["seconds"]),
        "gpu_s": gpu,
        "cpu_wall_s": cpu_wall,
        "total_h": total / 3600,
        "assumptions": projection.__doc__,
    }


def figure(rows: list[dict[str, Any]], path: str) -> None:
    """Events/s of the training steps per mode, members and batch."""
    from resonant_ad.core.plotting import new_figure, save_figure

    df = pd.DataFrame(rows)
    steps = df[df["part"] == "steps"]
    fig, axes = new_figure(1, 2, figsize=(10, 3.8))
    for ax, model in zip(axes, ("flow", "classifier"), strict=True):
        sub = steps[steps["model"] == model]
        for (mode, members), grp in sub.groupby(["mode", "members"]):
            ax.plot(
                grp["batch"], grp["events_per_s"], "o-", label=f"{mode}, {int(members)} member(s)"
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("training events/s (summed over members)")
        ax.set_title(f"{model} training step", fontsize=9)
        ax.legend(fontsize=7)
    save_figure(fig, path)


def run(out: str, scale: Scale = PAPER, parts: str = "all") -> dict:
    """Every part (or those in ``parts``, comma-separated); results under ``out``."""
    if scale.device == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("the GPU benchmark needs a CUDA device (or --smoke, on the CPU)")
    outdir = Path(out)
    outdir.mkdir(parents=True, exist_ok=True)
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 as on the CPU
    torch.backends.cudnn.allow_tf32 = False
    wanted = set(parts.split(",")) if parts != "all" else None
    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "device": torch.cuda.get_device_name(0) if scale.device == "cuda" else "cpu",
        "torch": torch.__version__,
        "date": time.strftime("%Y-%m-%d"),
        "scale": asdict(scale),
    }
    state: dict[str, Any] = {}

    def part(name: str, fn: Callable[[], Any]) -> None:
        if wanted is not None and name not in wanted:
            return
        start = time.perf_counter()
        try:
            report[name] = fn()
        except Exception as exc:  # record and go on: one run of a scarce machine
            report[name] = {"error": repr(exc), "traceback": traceback.format_exc()}
            print(f"{name} FAILED: {exc!r}", flush=True)
        report.setdefault("part_seconds", {})[name] = time.perf_counter() - start
        pd.DataFrame(rows).to_csv(outdir / "gpu_bench.csv", index=False)
        (outdir / "gpu_bench.json").write_text(json.dumps(report, indent=1, default=str))

    def data() -> dict[str, int]:
        state["data"], seconds = timed(lambda: paper_data(scale.background))
        print(f"data: {scale.background:,} QCD events in {seconds:.0f} s", flush=True)
        return {k: len(v[1]) for k, v in state["data"].items()} | {"seconds": seconds}

    def flow() -> dict[str, Any]:
        info, state["flow"] = bench_flow(rows, state["data"], scale)
        return info

    part("steps", lambda: bench_steps(rows, scale))
    part("data", data)
    part("flow", flow)
    part("classifier", lambda: bench_classifier(rows, state["data"], state["flow"], scale))
    part("inference", lambda: bench_inference(rows, state["data"], state["flow"]))
    part("ditau_rqs", lambda: bench_ditau_rqs(rows, scale))
    part("projection", lambda: projection(rows))
    if rows:
        part("figure", lambda: figure(rows, str(outdir / "gpu_bench.png")))
    return report
