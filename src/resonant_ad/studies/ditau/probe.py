"""Try a variant of the di-τ background model on a finished run's split, outside the DAG.

``python -m resonant_ad.studies.ditau.probe --set tail_bound=16 --set epochs=60`` trains the
SB flow of ``config/config.yaml``'s ``ditau.flow`` with the overrides (or loads ``--model``),
draws the synthetic SR background as the workflow does (3 kernel draws per SR data event),
and prints, as one JSON line: the flow's training (epochs, best validation NLL, seconds), the
real-vs-synthetic AUC (the workflow's protocol) and the object multiplicities in the SR and
in the held-out SB validation part (a flow that fails only in the SR interpolates badly in
the mass) and, per signal, the AUC and SIC at εB = 1 %
of no-signal classifiers (SR background against synthetic background, HGB ensembles) on the
run's test sets. Read them against what a perfect background model gives on the same data
(``--idealized-seed`` below, the workflow's ``calibration.csv``), not against AUC 0.5 and
SIC 1: a random cut has SIC √εB = 0.1, and chance moves both far (docs/ditau.md).
It reads the split of a run of the default DAG (``--results``, default ``results/ditau``).

``--fit-sr-seed N`` asks whether the flow fails to fit or to interpolate: it trains the
flow instead on fresh surrogate background *in the SR* (the config's background counts ×
``--fit-sr-scale``, generated with seed N and selected as the run's events, so independent
of the events the classifiers see), 70 % to train and 30 % to validate, and measures it as
above. Nothing is then interpolated: what the no-signal classifiers still find is a fit
failure.

``--flows K`` trains K flows (seeds ``--seed`` … ``--seed`` + K − 1) and samples their
mixture (:func:`~resonant_ad.core.flow.flow_mixture`); ``--model`` given K times loads K.

``--density-ratio P`` refines the flow as the workflow's ``ditau.density_ratio`` does: a
classifier of the SB data against flow samples gives w = p_data/p_flow, and each SR kernel
keeps its draws from P × as many, chosen with probability ∝ w.

``--idealized-seed N`` trains no flow: the synthetic class is fresh *true* SR background
(generated as above), as many events per split as the flow would draw. This is the perfect
background model, as the workflow's reference (:mod:`resonant_ad.studies.ditau.reference`):
its no-signal AUC and SIC are what the data's fluctuations and the classifier give by chance.
``--idealized-data-seed M`` replaces the run's SR data by fresh background of seed M as well
(same sizes): another realization of the data, to see how far that chance moves with it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from resonant_ad.core.flow import ConditionalFlow, estimator_params, flow_mixture
from resonant_ad.core.hgb import HGBEnsemble
from resonant_ad.stages.checks import real_vs_synthetic, real_vs_synthetic_auc
from resonant_ad.stages.flows import feature_columns, fit_density_ratio
from resonant_ad.studies.ditau.diagnostics import multiplicity
from resonant_ad.studies.ditau.evaluation import run_metrics
from resonant_ad.studies.ditau.reference import reference_samples, sr_background
from resonant_ad.studies.ditau.study import MASS, repeat_samples, weak_classes

PARTS = ("sb_train", "sb_val", "sr_train", "sr_val", "sr_test")


def fresh_sr_background(
    ditau: dict, seed: int, scale: float = 3.0
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(train, val): new surrogate background events in the SR, 70/30, for a flow fitted
    where it is evaluated. ``ditau``: the config's di-τ section (counts, selection, window)."""
    sr = sr_background(ditau, seed, scale)
    n_train = int(0.7 * len(sr))
    return sr.iloc[:n_train], sr.iloc[n_train:]


def probe(
    results: str,
    flow_cfg: dict,
    window: list[float],
    signals: list[str],
    model: list[str] | None = None,
    seed: int = 11,
    members: int = 5,
    repeats: int = 2,
    fit_on: tuple[pd.DataFrame, pd.DataFrame] | None = None,
    idealized: pd.DataFrame | None = None,
    data: pd.DataFrame | None = None,
    proposals: int = 0,
    n_flows: int = 1,
) -> dict:
    """Train (or load) a flow, sample the SR, and measure it (see the module docstring).

    ``fit_on``: (train, val) events to fit the flow on instead of the run's SB parts;
    ``idealized``: true SR background to use as the synthetic class instead of any flow;
    ``data``: other SR background to replace the run's SR parts with (same sizes);
    ``proposals``: > 0 refines the flow by its SB density ratio (module docstring);
    ``n_flows``: flows of seeds ``seed`` … trained and mixed (``model``: their files)."""
    parts = {k: pd.read_parquet(Path(results, "split", f"{k}.parquet")) for k in PARTS}
    if data is not None:
        bounds = np.cumsum([0, *(len(parts[f"sr_{k}"]) for k in ("train", "val", "test"))])
        if bounds[-1] > len(data):
            raise ValueError(f"{len(data)} events replace {bounds[-1]} SR events: raise the scale")
        for k, lo, hi in zip(("train", "val", "test"), bounds[:-1], bounds[1:], strict=True):
            parts[f"sr_{k}"] = data.iloc[lo:hi].reset_index(drop=True)
    cols = feature_columns(parts["sb_train"])
    if idealized is not None:
        sizes = {k: len(parts[f"sr_{k}"]) for k in ("train", "val", "test")}
        samples = reference_samples(idealized, sizes, 3.0)
        out: dict = {"flow": "idealized (true SR background)"}
    else:
        out, samples = flow_samples(
            parts, cols, flow_cfg, window, model, seed, fit_on, proposals, n_flows
        )
    real = pd.concat([parts[f"sr_{s}"] for s in ("train", "val", "test")], ignore_index=True)
    out["real_vs_synthetic_auc"] = real_vs_synthetic(real, samples, MASS, seed)[
        "real_vs_synthetic_auc"
    ]
    top = 10
    out["objects_real"] = np.bincount(multiplicity(real), minlength=top + 1).tolist()
    out["objects_synthetic"] = np.bincount(multiplicity(samples), minlength=top + 1).tolist()
    X, y = weak_classes(parts["sr_train"], samples, "train", cols)
    X_val, y_val = weak_classes(parts["sr_val"], samples, "val", cols)
    for r in range(repeats):
        clf = HGBEnsemble(n_members=members, seed=seed + 100 + r).fit(X, y, X_val, y_val)
        for signal in signals:
            sig = pd.read_parquet(Path(results, "split", f"signal_{signal}.parquet"))
            test = pd.concat([parts["sr_test"], sig[sig["role"] == "test"]], ignore_index=True)
            scores = pd.DataFrame(
                {
                    "score": clf.predict_proba(test[cols].to_numpy())[:, 1],
                    "label": test["label"].to_numpy(),
                }
            )
            metrics, _ = run_metrics(scores, 1.0, 0.01, 20)
            out.setdefault(signal, []).append(
                {"auc": round(metrics["auc"], 3), "sic_at_1e-2": round(metrics["sic_at_eff"], 2)}
            )
        print(f"no-signal classifier {r + 1}/{repeats} done", file=sys.stderr, flush=True)
    return out


def flow_samples(
    parts: dict[str, pd.DataFrame],
    cols: list[str],
    flow_cfg: dict,
    window: list[float],
    model: list[str] | None,
    seed: int,
    fit_on: tuple[pd.DataFrame, pd.DataFrame] | None,
    proposals: int = 0,
    n_flows: int = 1,
) -> tuple[dict, pd.DataFrame]:
    """(the flow's training and SB check, its synthetic SR background as the workflow draws
    it): train the flow on the SB parts (or ``fit_on``), or load ``model``."""
    out: dict = {"flow": {k: v for k, v in flow_cfg.items() if not isinstance(v, list)}}
    start = time.time()
    if model:
        flow = flow_mixture([ConditionalFlow.load(path) for path in model])
    else:
        params = estimator_params(flow_cfg)
        for key in ("log_features", "simplex_features"):
            params[key] = [cols.index(c) for c in params.get(key, [])]
        sb, val = fit_on or (parts["sb_train"], parts["sb_val"])
        out["fit_events"] = [len(sb), len(val)]
        flows = [
            ConditionalFlow(**params, seed=seed + k, progress=True).fit(
                sb[cols].to_numpy(), sb[MASS].to_numpy(), val[cols].to_numpy(), val[MASS].to_numpy()
            )
            for k in range(n_flows)
        ]
        out["epochs"] = [int(f.history_["epoch"].max()) for f in flows]
        out["best_epochs"] = [f.best_epochs_ for f in flows]
        out["best_val_nll"] = [float(f.history_["val_nll"].min()) for f in flows]
        flow = flow_mixture(flows)
    out["fit_s"] = round(time.time() - start, 1)
    sampling = {
        "signal_region": window,
        "kde_bandwidth": float(flow_cfg.get("kde_bandwidth", 0.01)),
        "oversampling": 3.0,
        "proposals": proposals,
    }
    ratio = None
    if proposals:
        sb = pd.concat([parts["sb_train"], parts["sb_val"]], ignore_index=True)
        settings = {"model_per_real": 2, "clip": [0.02, 50]}
        ratio = fit_density_ratio(flow, sb, cols, settings, seed, MASS)
        out["density_ratio"] = {
            "trees": int(ratio.classifier_.n_iter_),
            "sb_real_vs_flow_auc": round(ratio.validation_auc_, 4),
        }
    samples = repeat_samples(flow, parts, cols, sampling, seed, ratio)
    top = 10
    # the same in the SB validation part (held out from the fit, at its own masses): a flow
    # that is good there and not in the SR fails to interpolate in the mass, not to fit
    sb_val = parts["sb_val"]
    sb_fake = pd.DataFrame(flow.sample(sb_val[MASS].to_numpy(), seed)[0], columns=cols)
    out["sb_real_vs_synthetic_auc"] = real_vs_synthetic_auc(
        sb_val[cols].to_numpy(), sb_fake.to_numpy(), seed
    )
    out["sb_objects_real"] = np.bincount(multiplicity(sb_val), minlength=top + 1).tolist()
    out["sb_objects_synthetic"] = np.bincount(multiplicity(sb_fake), minlength=top + 1).tolist()
    return out, samples


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", default="results/ditau", help="a run's di-tau folder")
    parser.add_argument("--config", default="config/config.yaml", help="its ditau section")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a ditau.flow value (YAML)",
    )
    parser.add_argument(
        "--model",
        action="append",
        help="a saved flow to measure instead of training one (K times: their mixture)",
    )
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--flows", type=int, default=1, help="flows trained and mixed")
    parser.add_argument(
        "--density-ratio",
        type=int,
        default=0,
        metavar="P",
        help="refine the flow by its SB density ratio, P proposals per kept draw",
    )
    parser.add_argument("--members", type=int, default=5, help="HGB members per classifier")
    parser.add_argument("--repeats", type=int, default=2, help="no-signal classifiers")
    parser.add_argument(
        "--fit-sr-seed", type=int, help="fit the flow on fresh SR background of this seed"
    )
    parser.add_argument("--fit-sr-scale", type=float, default=3.0, help="its counts × this")
    parser.add_argument(
        "--idealized-data-seed",
        type=int,
        help="with --idealized-seed: the SR data is fresh background of this seed too",
    )
    parser.add_argument(
        "--idealized-seed",
        type=int,
        help="no flow: the synthetic class is fresh true SR background of this seed",
    )
    args = parser.parse_args(argv)
    ditau = yaml.safe_load(Path(args.config).read_text())["ditau"]
    if args.model and args.flows > 1:
        parser.error("--flows trains flows: leave out --model (give it K times to mix K files)")
    fit_on = None
    if args.fit_sr_seed is not None:
        if args.model:
            parser.error("--fit-sr-seed trains a flow: leave out --model")
        fit_on = fresh_sr_background(ditau, args.fit_sr_seed, args.fit_sr_scale)
    idealized = None
    if args.idealized_seed is not None:
        if args.model or args.fit_sr_seed is not None:
            parser.error("--idealized-seed trains no flow: leave out --model and --fit-sr-seed")
        idealized = pd.concat(fresh_sr_background(ditau, args.idealized_seed, args.fit_sr_scale))
    data = None
    if args.idealized_data_seed is not None:
        if idealized is None:
            parser.error("--idealized-data-seed goes with --idealized-seed")
        data = sr_background(ditau, args.idealized_data_seed, 1.2)
    flow_cfg = dict(ditau["flow"])
    for item in args.set:
        key, _, value = item.partition("=")
        parsed = yaml.safe_load(value)
        try:  # YAML 1.1 reads "1e-3" (no dot) as a string
            parsed = float(parsed) if isinstance(parsed, str) else parsed
        except ValueError:
            pass
        flow_cfg[key] = parsed
    result = probe(
        args.results,
        flow_cfg,
        list(ditau["signal_region"]),
        list(ditau["signals"]),
        args.model,
        args.seed,
        args.members,
        args.repeats,
        fit_on,
        idealized,
        data,
        args.density_ratio,
        args.flows,
    )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
