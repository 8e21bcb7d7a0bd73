"""The scan's look-elsewhere effect: pseudo-scans from the SB fits and the global Z."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from resonant_ad.stats.dijet_fit import bin_edges
from resonant_ad.stats.trials import (
    effective_trials,
    global_from_toys,
    null_calibrated_z,
    null_prediction,
    null_rank_p,
    pseudo_scan_max_z,
    pseudo_scans_max_z,
)

WINDOW = (3.3, 3.7)
PARAMS = {"function": "dijet4", "sqrt_s": 13.0}


def _bins(efficiencies, total=20000.0) -> pd.DataFrame:
    """A bump hunt's ``bins`` table whose fits are a smooth dijet-like spectrum, scaled by ε."""
    edges = bin_edges(WINDOW, (2.7, 5.0), 0.1)
    x = 0.5 * (edges[1:] + edges[:-1]) / 13.0
    shape = (1 - x) ** 8 / x**5
    return pd.concat(
        [
            pd.DataFrame(
                {
                    "efficiency": e,
                    "low": edges[:-1],
                    "high": edges[1:],
                    "fit": e * total * shape / shape.sum(),
                }
            )
            for e in efficiencies
        ],
        ignore_index=True,
    )


def test_effective_trials_recovers_the_number_of_independent_tests():
    g = np.random.default_rng(1)
    assert effective_trials(g.standard_normal((20000, 5)).max(axis=1)) == pytest.approx(5, rel=0.05)
    assert effective_trials(g.standard_normal(20000)) == pytest.approx(1, rel=0.05)


def test_one_test_is_its_own_null_and_nested_cuts_count_less_than_independent_ones():
    """One window and one cut: the pseudo-scans' Z is N(0, 1) (N_eff ≈ 1). Three nested cuts
    are correlated (they share events), so they count as fewer than three independent tests;
    a second window drawn independently adds trials."""
    one = pseudo_scan_max_z([(WINDOW, _bins([0.1]))], PARAMS, 200, 5)
    assert abs(np.nanmean(one)) < 0.2 and np.nanstd(one) == pytest.approx(1.0, abs=0.15)
    assert effective_trials(one) == pytest.approx(1.0, abs=0.3)
    nested = pseudo_scan_max_z([(WINDOW, _bins([0.1, 0.03, 0.01]))], PARAMS, 200, 5)
    n_nested = effective_trials(nested)
    assert 1.2 < n_nested < 2.8
    two = pseudo_scan_max_z([(WINDOW, _bins([0.1, 0.03, 0.01]))] * 2, PARAMS, 200, 5)
    assert effective_trials(two) > 1.4 * n_nested
    again = pseudo_scan_max_z([(WINDOW, _bins([0.1, 0.03, 0.01]))], PARAMS, 20, 5)
    np.testing.assert_array_equal(nested[:20], again)  # seeded


def test_pseudo_scans_give_the_same_numbers_in_one_process_or_several():
    """The scan job's threads are processes, a method's run whole in each: the same Z."""
    scans = [([(WINDOW, _bins([0.1, 0.03]))], seed) for seed in (5, 6, 7)]
    alone = pseudo_scans_max_z(scans, PARAMS, 12, workers=1)
    np.testing.assert_array_equal(alone[0], pseudo_scan_max_z(scans[0][0], PARAMS, 12, 5))
    for a, b in zip(alone, pseudo_scans_max_z(scans, PARAMS, 12, workers=2), strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(alone[0], alone[1])  # each scan its own seed


def test_pseudo_scans_choose_the_function_as_the_observed_fits_do():
    """With ``auto`` each pseudo-cut is fitted with the parameters the F-test picks for it:
    on a smooth spectrum that is mostly the smallest function, so the toys' Z stays N(0, 1)
    and close to the fixed-function toys drawn from the same seed."""
    auto = {**PARAMS, "function": "auto", "f_test_alpha": 0.05}
    fixed = pseudo_scan_max_z([(WINDOW, _bins([0.1]))], {**PARAMS, "function": "dijet3"}, 60, 7)
    chosen = pseudo_scan_max_z([(WINDOW, _bins([0.1]))], auto, 60, 7)
    assert abs(np.nanmean(chosen)) < 0.35 and np.nanstd(chosen) == pytest.approx(1.0, abs=0.25)
    assert np.mean(np.isclose(chosen, fixed)) > 0.8


def test_global_z_is_the_toys_fraction_where_they_reach_it_and_extrapolated_beyond():
    g = np.random.default_rng(2)
    toys = g.standard_normal((2000, 4)).max(axis=1)
    near = global_from_toys(1.5, toys)
    assert near["p_global"] == pytest.approx((toys >= 1.5).mean())
    assert near["toys_beyond"] == int((toys >= 1.5).sum()) and near["toys"] == 2000
    far = global_from_toys(5.0, toys)  # no toy reaches 5: 1 − Φ(5)^N_eff with N_eff ≈ 4
    assert far["toys_beyond"] == 0
    assert far["p_global"] == pytest.approx(1 - norm.cdf(5.0) ** far["n_eff"], rel=1e-6)
    assert 4.4 < far["z_global"] < 5.0
    assert np.isnan(global_from_toys(2.0, np.array([]))["z_global"])  # toys: 0


def _t_of(null: np.ndarray) -> tuple[float, float, float]:
    """One run per dataset: the null's mean, its predictive scale and dof."""
    n = null.size
    return null.mean(), null.std(ddof=1) * np.sqrt(1 + 1 / n), n - 1


def test_a_null_calibrated_z_is_a_new_draw_from_the_null_with_its_estimation_error():
    """Against a large null the calibrated Z is the standardized Z; a biased method reads 0
    at its null mean; a small null (Student's t) widens the tails; too small: NaN."""
    z = np.array([-2.0, 0.0, 1.0, 3.0])
    big = 1e6
    np.testing.assert_allclose(null_calibrated_z(z, 0.0, 1.0, big), z, atol=2e-4)
    np.testing.assert_allclose(null_calibrated_z(z + 1.6, 1.6, 1.0, big), z, atol=2e-4)
    np.testing.assert_allclose(null_calibrated_z(2 * z, 0.0, 2.0, big), z, atol=2e-4)
    small = null_calibrated_z(np.array([3.0]), 0.0, np.sqrt(1 + 1 / 8), 7)[0]
    assert 2.0 < small < 2.6  # t with 7 dof, scale √(1 + 1/8): p ≈ 0.012
    # the coverage that defines it: over independent nulls of 8 and a 9th draw, calibrated
    # Z beyond 2 as often as a normal's (2.3%); the plain standardized Z is beyond more often
    g = np.random.default_rng(5)
    null = g.normal(1.5, 1.2, size=(40_000, 8))
    new = g.normal(1.5, 1.2, size=40_000)
    mean, std = null.mean(axis=1), null.std(axis=1, ddof=1)
    cal = null_calibrated_z(new, mean, std * np.sqrt(1 + 1 / 8), 7)
    assert abs((cal > 2).mean() - norm.sf(2)) < 0.003
    assert ((new - mean) / std > 2).mean() > norm.sf(2) + 0.01
    prediction = null_prediction(null[0], np.arange(8))  # one run per dataset: the t of n − 1
    np.testing.assert_allclose(
        [prediction["mean"], prediction["scale"], prediction["dof"]], _t_of(null[0])
    )
    assert np.isnan(null_calibrated_z(z, 0.0, 1.0, np.nan)).all()
    assert np.isnan(null_calibrated_z(z, np.nan, 1.0, 7)).all()
    # per element, as the calibrated table reads each method's own null
    both = null_calibrated_z([3.0, 3.0, 3.0], [0.0, np.nan, 0.0], np.sqrt(1 + 1 / 8), [7, 7, 0])
    np.testing.assert_allclose(both, [small, np.nan, np.nan])


def test_runs_of_one_dataset_are_not_independent_draws_of_the_null():
    """A null of 8 datasets × 3 runs whose datasets fluctuate more than its runs: read as
    24 independent draws it calls a new run on new data beyond 2σ too often; the random-
    effects prediction (datasets and runs, Satterthwaite dof) keeps the normal's 2.3%."""
    g = np.random.default_rng(7)
    datasets = np.repeat(np.arange(8), 3)
    cal, pooled = [], []
    for _ in range(6000):
        z = 1.5 + np.repeat(g.normal(0.0, 1.0, 8), 3) + g.normal(0.0, 0.5, 24)
        new = 1.5 + g.normal(0.0, 1.0) + g.normal(0.0, 0.5)
        p = null_prediction(z, datasets)
        cal.append(null_calibrated_z(new, p["mean"], p["scale"], p["dof"]))
        pooled.append(null_calibrated_z(new, *_t_of(z)))
    assert abs((np.array(cal) > 2).mean() - norm.sf(2)) < 0.005
    assert (np.array(pooled) > 2).mean() > norm.sf(2) + 0.006
    p = null_prediction(z, datasets)
    assert p["n_datasets"] == 8 and p["fits"] == 24 and 7 <= p["dof"] < 23
    assert 0.3 < p["std_runs"] < 0.8 and p["std_datasets"] > 0.5
    # failed fits (NaN) are left out; a single dataset gives its mean and no spread
    p = null_prediction(np.r_[z[:23], np.nan], datasets)
    assert p["fits"] == 23 and np.isfinite(p["scale"])
    alone = null_prediction([1.0, 2.0], [4, 4])
    assert alone["mean"] == 1.5 and np.isnan(alone["scale"]) and alone["n_datasets"] == 1


def test_a_rank_p_value_holds_its_level_whatever_the_nulls_tails():
    """The rank of a new draw among 19 null values: p ≤ 0.05 exactly 1 time in 20 for a
    normal null and for one with a Student's t of 2 dof (long tails), where reading the new
    draw against the null's mean and spread (the t prediction) calls it beyond 3σ about 9
    times as often as it should; counts, ties and NaN as the definition says."""
    g = np.random.default_rng(11)
    for draw in (g.standard_normal, lambda size: g.standard_t(2, size)):
        values = draw(size=(20000, 20))
        null, new = values[:, :19], values[:, 19]
        p = np.array([null_rank_p(z, row)[0] for z, row in zip(new, null, strict=True)])
        assert abs((p <= 0.05).mean() - 0.05) < 0.005
    heavy = [null_calibrated_z(z, *_t_of(row)) for z, row in zip(new, null, strict=True)]
    assert (np.array(heavy) > 3).mean() > 5 * norm.sf(3)

    z = np.array([2.0, 10.0, -5.0, np.nan])
    p, z_rank, beyond = null_rank_p(z, [0.0, 1.0, 2.0, 3.0, np.nan])
    assert list(beyond[:3]) == [2, 0, 4] and beyond[3] == -1  # a tie counts as beyond
    np.testing.assert_allclose(p[:3], [3 / 5, 1 / 5, 5 / 5])
    # below every null value: the mirror of the largest Z four values can give, not −∞
    np.testing.assert_allclose(z_rank[:3], [norm.isf(3 / 5), norm.isf(1 / 5), norm.ppf(1 / 5)])
    assert np.isnan(p[3]) and np.isnan(z_rank[3])
    assert np.isnan(null_rank_p(1.0, [np.nan])[0])
