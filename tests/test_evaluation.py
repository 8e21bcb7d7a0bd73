"""SIC, bands over runs, sculpting curves and the metric tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resonant_ad.stages.evaluate import (
    METRIC_COLUMNS,
    SIC_GRID,
    band,
    evaluate,
    sculpting_curve,
)
from resonant_ad.stats.metrics import (
    equal_population_edges,
    sic_curve,
    sic_metrics,
    sic_on_grid,
)


def test_sic_of_a_known_roc_and_the_minimum_background():
    # 1000 background with scores 0..999, 100 signal all above: any cut keeping k background
    # events keeps every signal event, so SIC = 1 / sqrt(k / 1000)
    labels = np.r_[np.zeros(1000), np.ones(100)]
    scores = np.r_[np.arange(1000.0), np.full(100, 5000.0)]
    curve = sic_curve(labels, scores, min_background=20)
    assert curve["eps_b"].min() == pytest.approx(20 / 1000)
    np.testing.assert_allclose(curve["sic"], curve["eps_s"] / np.sqrt(curve["eps_b"]))
    assert curve["sic"].max() == pytest.approx(1 / np.sqrt(0.02))
    with pytest.raises(ValueError, match="0 signal"):
        sic_curve(np.zeros(10), np.arange(10.0), 1)


def test_sic_metrics_of_a_known_roc():
    # the ROC of the test above: AUC 1, SIC(εB) = 1/√εB down to the 20-event floor
    labels = np.r_[np.zeros(1000), np.ones(100)]
    scores = np.r_[np.arange(1000.0), np.full(100, 5000.0)]
    m = sic_metrics(labels, scores, sic_curve(labels, scores, 20), (0.1, 1e-3))
    assert m.auc == 1.0 and m.max_sic == pytest.approx(1 / np.sqrt(0.02))
    assert m.sic_at[0.1] == pytest.approx(1 / np.sqrt(0.1))
    assert np.isnan(m.sic_at[1e-3])  # below the minimum background: not extrapolated


def test_sic_on_grid_interpolates_inside_and_is_nan_outside():
    curve = pd.DataFrame({"eps_b": [0.01, 0.1, 1.0], "eps_s": [0.1, 0.5, 1.0]})
    curve["sic"] = curve["eps_s"] / np.sqrt(curve["eps_b"])
    values = sic_on_grid(curve, np.array([1e-3, 0.01, np.sqrt(0.1 * 1.0), 1.0]))
    assert np.isnan(values[0])
    assert values[1] == pytest.approx(1.0)
    assert values[2] == pytest.approx((0.5 / np.sqrt(0.1) + 1.0) / 2)  # linear in log εB
    assert values[3] == pytest.approx(1.0)


def test_band_needs_half_of_the_runs():
    runs = np.array([[1.0, 2.0, np.nan], [3.0, np.nan, np.nan], [5.0, 4.0, 7.0]])
    b = band(runs)
    assert b["median"][0] == 3.0 and b["median"][1] == 3.0
    assert np.isnan(b["median"][2])  # one run of three
    assert b["q16"][0] < 3.0 < b["q84"][0]


def test_random_scores_do_not_sculpt_and_mass_correlated_scores_do():
    g = np.random.default_rng(0)
    m = g.exponential(1.0, 100_000) + 2.0
    sr = (m > 3.0) & (m < 3.4)
    edges = equal_population_edges(m, 50)
    effs = [0.02, 0.1]
    flat = sculpting_curve(g.random(m.size), m, sr, effs, edges)
    assert np.all(flat < 1.5)
    sculpting = sculpting_curve(m + g.normal(0, 0.2, m.size), m, sr, effs, edges)
    assert np.all(sculpting > 10)


def _score_files(tmp_path, methods=("cathode", "supervised"), runs=3):
    """Score tables where supervised separates signal and cathode is random."""
    g = np.random.default_rng(1)
    sic, sculpt = [], []
    for method in methods:
        for inj in (0, 100):
            for run in range(runs):
                n_b, n_s = 20_000, 1_000
                labels = np.r_[np.zeros(n_b, np.int8), np.ones(n_s, np.int8)]
                score = g.random(n_b + n_s)
                if method == "supervised":
                    score[n_b:] += 1.0
                path = tmp_path / f"{method}_{inj}_{run}_sic.parquet"
                pd.DataFrame({"score": score, "mjj": 3.5, "label": labels}).to_parquet(path)
                sic.append({"method": method, "injection": inj, "run": run, "path": str(path)})
                m = g.uniform(2.5, 5.0, 30_000)
                path = tmp_path / f"{method}_{inj}_{run}_sculpt.parquet"
                pd.DataFrame(
                    {"score": g.random(m.size), "mjj": m, "sr": (m > 3.3) & (m < 3.7)}
                ).to_parquet(path)
                sculpt.append({"method": method, "injection": inj, "run": run, "path": str(path)})
    return sic, sculpt


PARAMS = {
    "sic_min_background": 20,
    "selection_efficiency": 0.01,
    "efficiencies": [0.02, 0.05, 0.1],
    "sculpting_bins": 30,
    "random_subsets": 20,
}


def test_evaluate_tables(tmp_path):
    sic, sculpt = _score_files(tmp_path)
    out = evaluate(sic, sculpt, PARAMS, seed=1)
    metrics = out["metrics"]
    assert list(metrics.columns) == list(METRIC_COLUMNS)
    assert len(metrics) == 2 * 2 * 3
    by = metrics.set_index(["method", "injection", "run"])
    assert (by.loc["supervised", "auc"] == 1.0).all()
    assert by.loc["cathode", "auc"].between(0.45, 0.55).all()
    assert by.loc["supervised", "max_sic"].min() == pytest.approx(1 / np.sqrt(20 / 20_000))
    # εB = 1e-3 keeps 20 of 20 000 background events: just enough (the minimum is 20)
    assert by.loc["supervised", "sic_at_1e-3"].to_numpy() == pytest.approx(1 / np.sqrt(1e-3))
    stricter = evaluate(sic, sculpt, {**PARAMS, "sic_min_background": 21}, seed=1)["metrics"]
    assert stricter["sic_at_1e-3"].isna().all() and stricter["sic_at_1e-2"].notna().all()
    assert by["chi2_ndof_at_1pct"].between(0.3, 3).all()  # random cuts: no sculpting
    # the 1% cut was added to the efficiency list; the random band is there per injection
    curves = out["sculpting"]
    assert set(curves["efficiency"]) == {0.01, 0.02, 0.05, 0.1}
    ref = curves[curves["method"] == "random"]
    assert len(ref) == 2 * 4 and ref["median"].between(0.5, 1.5).all()
    # each run's χ²/ndof per ε: its 1% value is the metric table's, its median the band's
    per_run = out["sculpting_runs"]
    assert len(per_run) == 2 * 2 * 3 * 4  # methods x injections x runs x efficiencies
    at_1pct = per_run[per_run["efficiency"] == 0.01].set_index(["method", "injection", "run"])
    np.testing.assert_array_equal(
        at_1pct["chi2_ndof"].sort_index(), by["chi2_ndof_at_1pct"].sort_index()
    )
    medians = per_run.groupby(["method", "injection", "efficiency"])["chi2_ndof"].median()
    band_medians = curves[curves["method"] != "random"].set_index(
        ["method", "injection", "efficiency"]
    )["median"]
    np.testing.assert_allclose(medians.sort_index(), band_medians.sort_index())
    summary = out["summary"]
    assert {"auc_median", "auc_q16", "auc_q84", "runs"} <= set(summary.columns)
    assert (summary["runs"] == 3).all()
    sup = out["sic"][(out["sic"]["method"] == "supervised") & (out["sic"]["injection"] == 100)]
    assert len(sup) == len(SIC_GRID)
    assert np.isnan(sup["median"][sup["eps_b"] < 1e-3]).all()
    hists = out["mjj"]
    assert set(hists["stage"]) == {"before", "after"}
    after = hists[(hists["stage"] == "after") & (hists["method"] == "cathode")]
    assert after["count"].sum() > 0
