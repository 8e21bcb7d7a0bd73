"""The dijet chain stage by stage, each in its own process: seconds, events/s, peak memory.

One table (:func:`_stage`) calls the same stage functions as the workflow's rules, on the
default config's surrogate study (optionally rescaled, one-epoch trainings)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from resonant_ad.bench.cpu import peak_rss_mb

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
    from resonant_ad.pipeline.config import load_study

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
    from resonant_ad.pipeline.smk import logged
    from resonant_ad.stages import classify, evaluate, flows, mapping
    from resonant_ad.stages.parts import LATENT_PARTS, SPLIT_PARTS
    from resonant_ad.stats import bumphunt
    from resonant_ad.studies.dijet import data as dijet_data
    from resonant_ad.studies.dijet import surrogate

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
            lambda: surrogate.write_surrogate(work / "f.h5", work / "e.h5", sur, window),
            lambda: sur["n_background"] + sur["n_signal"] + sur["n_extra_sr"],
        ),
        "prepare": (
            lambda: dijet_data.prepare(
                work / "f.h5",
                work / "e.h5",
                work / "ev.parquet",
                work / "x.parquet",
                extra_region=window,
            ),
            lambda: rows(str(work / "ev.parquet"), str(work / "x.parquet")),
        ),
        "inject": (
            lambda: dijet_data.write_injection(
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
            lambda: dijet_data.write_split(
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
            lambda: flows.train_flow(
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
            lambda: flows.sample_sr(
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
            lambda: mapping.to_latent(str(work / "flow.pt"), {p: parts[p] for p in latent}, latent),
            lambda: rows(*latent.values()),
        ),
        "decorrelate": (
            lambda: mapping.decorrelate(
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
            lambda: classify.train_and_score(
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
            lambda: evaluate.write_evaluation(
                [{"method": "cathode", "injection": nsig, "run": 0, "path": scores["sic"]}],
                [{"method": "cathode", "injection": nsig, "run": 0, "path": scores["sculpting"]}],
                {k: str(work / f"eval_{k}.csv") for k in ("metrics", "summary", "sic")}
                | {k: str(work / f"eval_{k}.csv") for k in ("sculpting", "sculpting_runs", "mjj")},
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


def run_stage(name: str, work: str) -> None:
    """Child process: time one stage and write its record next to the stage files."""
    from resonant_ad.studies.dijet import data as dijet_data  # noqa: F401

    start = time.perf_counter()  # imports (~2 s of torch, pandas, sklearn) not counted
    events = _stage(name, Path(work))
    record = {
        "events": int(events),
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": peak_rss_mb(),
    }
    (Path(work) / f"{name}.json").write_text(json.dumps(record))
