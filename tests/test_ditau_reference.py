"""The di-τ no-signal reference: true background as the synthetic class, and the calibration
table that sets the flow's no-signal numbers beside it."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO

from resonant_ad.pipeline.guards import ConfigError, check_config
from resonant_ad.pipeline.patterns import DITAU_CALIBRATION
from resonant_ad.pipeline.targets import ditau_targets
from resonant_ad.studies.ditau import reference as ref

DITAU = {
    "data": {
        "source": "surrogate",
        "surrogate": {"counts": {"drell_yan": 6000, "ttbar": 4000, "xyh": 1000}},
    },
    "selection": {"tau_eta_max": 2.4, "leading_tau_pt_min": 40.0, "mvis_min": 100.0},
    "features": {"n_rho": 10, "padding_noise": 0.01, "ht_floor": 1.0},
    "signal_region": [175.0, 300.0],
    "reference": {"scale": 1.0},
}


def test_the_reference_background_is_fresh_background_inside_the_window_only():
    bg = ref.sr_background(DITAU, seed=5, scale=1.0)
    assert len(bg) > 500 and (bg["label"] == 0).all() and "process" not in bg
    assert bg["mvis"].between(175.0, 300.0, inclusive="neither").all()
    pd.testing.assert_frame_equal(bg, ref.sr_background(DITAU, seed=5, scale=1.0))  # seeded
    other = ref.sr_background(DITAU, seed=6, scale=1.0)
    assert not np.isin(bg["mvis"].to_numpy(), other["mvis"].to_numpy()).any()
    with pytest.raises(ValueError, match=re.escape("ditau.data.source = 'download'")):
        ref.sr_background({**DITAU, "data": {"source": "download"}}, seed=5, scale=1.0)


def test_reference_samples_take_as_many_true_events_per_split_as_the_flow_draws():
    fresh = pd.DataFrame({"mvis": np.arange(60.0)})
    sizes = {"train": 10, "val": 4, "test": 5}
    out = ref.reference_samples(fresh, sizes, 3.0, np.random.default_rng(1))
    assert out["split"].value_counts().to_dict() == {"train": 30, "val": 12, "test": 5}
    assert out["mvis"].is_unique  # every true event used once
    first = ref.reference_samples(fresh, sizes, 3.0)
    assert first["mvis"].tolist() == list(range(47))  # without a generator: the first ones
    with pytest.raises(ValueError, match=re.escape("47 needed; raise ditau.reference.scale")):
        ref.reference_samples(fresh.iloc[:40], sizes, 3.0)


def _scores(g: np.random.Generator, shift: dict[str, float]) -> pd.DataFrame:
    """A reference score table: background ~ U(0, 1), each signal's scores shifted."""
    pieces = [pd.DataFrame({"score": g.uniform(0, 1, 4000), "label": 0, "process": "background"})]
    for name, s in shift.items():
        pieces.append(
            pd.DataFrame({"score": g.uniform(0, 1, 2000) + s, "label": 1, "process": name})
        )
    return pd.concat(pieces, ignore_index=True)


def test_calibration_sets_the_flow_beside_the_reference_and_a_random_cut():
    g = np.random.default_rng(0)
    metrics = pd.DataFrame(
        {
            "signal": ["a", "a", "b", "b", "a"],
            "injection": [0.0, 0.0, 0.0, 0.0, 2.0],
            "repeat": [0, 1, 0, 1, 0],
            "auc": [0.9, 0.8, 0.5, 0.5, 0.99],
            "sic_at_eff": [8.0, 6.0, 0.1, 0.1, 9.0],
        }
    )
    # a: the reference points away from it (scores shifted down); b: unrelated to the score
    refs = [_scores(g, {"a": -0.5, "b": 0.0}) for _ in range(3)]
    trees = {"a": [40, 50, 60], "b": [1, 2, 3]}
    table = ref.calibration(metrics, refs, 0.01, 20, trees, [1, 1, 2]).set_index("signal")
    assert table["flow_trees_median"].tolist() == [50, 2]
    assert table["reference_trees_median"].tolist() == [1, 1]
    assert ref.calibration(metrics, refs, 0.01, 20)["flow_trees_median"].isna().all()
    assert table.loc["a", "repeats"] == 2 and table.loc["a", "flow_auc_mean"] == pytest.approx(0.85)
    assert table.loc["a", "flow_sic_mean"] == pytest.approx(7.0)  # injection 2 left out
    assert table.loc["a", "reference_auc_max"] < 0.3 and table.loc["a", "reference_sic_max"] < 0.05
    assert abs(table.loc["b", "reference_auc_mean"] - 0.5) < 0.03
    assert 0.03 < table.loc["b", "reference_sic_mean"] < 0.3  # a random cut keeps εS ≈ εB
    assert table["random_cut_sic"].tolist() == pytest.approx([0.1, 0.1])
    assert (table["reference_auc_min"] <= table["reference_auc_max"]).all()


def test_member_trees_reads_the_trainings_kept_trees(tmp_path):
    paths = []
    for i, best in enumerate(([3, 4], [5], None)):
        info = {"auc": 0.5} if best is None else {"member_best_iterations": best}
        paths.append(tmp_path / f"t{i}.json")
        paths[-1].write_text(json.dumps(info))
    assert ref.member_trees([str(p) for p in paths]) == [3, 4, 5]
    for path, signal in zip(paths, ("a", "b", "a"), strict=True):
        path.write_text(json.dumps({**json.loads(path.read_text()), "signal": signal}))
    assert ref.trees_per_signal([str(p) for p in paths]) == {"a": [3, 4], "b": [5]}


def test_the_reference_is_a_target_with_injection_0_and_a_scale_only():
    base = {"signals": ["xyh"], "injections": [0, 1.0], "repeats": 1, "reference": {"scale": 3.5}}
    assert DITAU_CALIBRATION in ditau_targets(base)
    assert DITAU_CALIBRATION not in ditau_targets({**base, "injections": [1.0]})
    assert DITAU_CALIBRATION not in ditau_targets({**base, "reference": {"scale": 0}})


def test_the_reference_needs_the_generator_and_enough_background():
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    schema = REPO / "workflow/schemas/config.schema.yaml"
    config["ditau"]["data"] = {
        "source": "download",
        "files": {
            name: {"filename": f"{name}.root", "urls": [], "process": name, "label": int(s)}
            for name, s in (("drell_yan", 0), ("ttphi", 1), ("tprime", 1), ("xyh", 1))
        },
    }
    with pytest.raises(ConfigError, match=re.escape("ditau.reference.scale = 3.5: the reference")):
        check_config(config, schema)
    config["ditau"]["reference"]["scale"] = 0
    check_config(config, schema)  # no reference: Delphes files are fine
    config = yaml.safe_load((REPO / "config/config.yaml").read_text())
    config["ditau"]["reference"]["scale"] = 2.0
    with pytest.raises(ConfigError, match=re.escape("ditau.reference.scale = 2: too little")):
        check_config(config, schema)
