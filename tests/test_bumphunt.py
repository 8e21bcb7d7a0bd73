"""The bump hunt's statistics: dijet fit, SR prediction, profile-likelihood significance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resonant_ad.stats.bumphunt import (
    bump_hunt,
    expected_significance,
    fit_function,
    run_bump_hunt,
    selection_histograms,
)
from resonant_ad.stats.dijet_fit import (
    DijetModel,
    bin_edges,
    choose_function,
    fit_counts,
    poisson_deviance,
    sr_bins,
)

WINDOW = (3.3, 3.7)
SQRT_S = 13.0
EDGES = bin_edges(WINDOW, (2.7, 6.0), 0.1)


def _expected(n_params: int, total: float) -> tuple[DijetModel, np.ndarray, np.ndarray]:
    """A dijet spectrum of ``total`` events on EDGES: model, true parameters, expectation."""
    model = DijetModel(EDGES, SQRT_S, n_params)
    true = np.array([0.0, 10.0, 5.0, 0.3, 0.05][:n_params])
    true[0] = np.log(total / model.shape(true[1:]).sum())
    return model, true, model.expected(true)


def test_bin_edges_put_the_signal_region_on_edges():
    assert np.any(np.isclose(EDGES, 3.3)) and np.any(np.isclose(EDGES, 3.7))
    assert np.allclose(np.diff(EDGES), 0.1)
    assert EDGES[0] >= 2.7 - 1e-12 and EDGES[-1] <= 6.0 + 1e-12
    assert sr_bins(EDGES, WINDOW).sum() == 4
    with pytest.raises(ValueError, match="inside the bump-hunt fit_range"):
        bin_edges((2.0, 2.4), (2.7, 6.0), 0.1)


def test_derivatives_match_finite_differences():
    model, true, _ = _expected(4, 1e4)
    mu, grad, hess = model.derivatives(true)
    h = 1e-6
    for i in range(true.size):
        step = np.zeros(true.size)
        step[i] = h
        up, _, _ = model.derivatives(true + step, order=0)
        down, _, _ = model.derivatives(true - step, order=0)
        np.testing.assert_allclose(grad[:, i], (up - down) / (2 * h), rtol=1e-5, atol=1e-8)
        gu = model.derivatives(true + step, order=1)[1]
        gd = model.derivatives(true - step, order=1)[1]
        np.testing.assert_allclose(hess[:, i], (gu - gd) / (2 * h), rtol=1e-4, atol=1e-6)
    assert np.isclose(mu.sum(), 1e4)


@pytest.mark.parametrize("n_params", [3, 4, 5])
def test_fit_recovers_the_generating_parameters(n_params):
    """Pulls (fit − true)/σ over Poisson pseudo-data have mean ≈ 0 and width ≈ 1."""
    model, true, mu = _expected(n_params, 2e4)
    g = np.random.default_rng(11)
    pulls = []
    for _ in range(200):
        fit = fit_counts(model, g.poisson(mu).astype(float), np.ones(mu.size, dtype=bool))
        assert fit.converged
        pulls.append((fit.params - true) / np.sqrt(np.diag(fit.cov)))
    pulls = np.array(pulls)
    assert np.all(np.abs(pulls.mean(axis=0)) < 0.25), pulls.mean(axis=0)
    assert np.all(np.abs(pulls.std(axis=0) - 1) < 0.2), pulls.std(axis=0)
    # and an exact (Asimov) spectrum is fitted exactly, to a thousandth of the uncertainties
    exact = fit_counts(model, mu, np.ones(mu.size, dtype=bool))
    np.testing.assert_allclose((exact.params - true) / np.sqrt(np.diag(exact.cov)), 0, atol=1e-3)


def test_background_only_significance_is_standard_normal():
    _, _, mu = _expected(4, 2e4)
    g = np.random.default_rng(5)
    z = np.array(
        [bump_hunt(g.poisson(mu), EDGES, WINDOW, SQRT_S, 4)["z_local"] for _ in range(400)]
    )
    assert abs(z.mean()) < 0.2, z.mean()
    assert abs(z.std() - 1) < 0.15, z.std()
    # the one-sided 5% tail: Z > 1.645 in about 5% of the toys
    assert 0.02 < np.mean(z > 1.645) < 0.09


def test_injected_bump_gives_the_expected_significance():
    _, _, mu = _expected(4, 2e4)
    in_sr = sr_bins(EDGES, WINDOW)
    centres = 0.5 * (EDGES[:-1] + EDGES[1:])
    bump = np.exp(-0.5 * ((centres - 3.5) / 0.08) ** 2) * in_sr
    n_signal = 200.0
    bump *= n_signal / bump.sum()
    asimov = bump_hunt(mu + bump, EDGES, WINDOW, SQRT_S, 4)
    b, sigma_b = asimov["sr_predicted"], asimov["sr_predicted_err"]
    assert np.isclose(b, mu[in_sr].sum(), rtol=1e-6)
    assert np.isclose(asimov["excess"], n_signal, rtol=1e-4)
    expected = expected_significance(n_signal, b, sigma_b)
    assert asimov["z_local"] == pytest.approx(expected, rel=0.03)
    # pseudo-experiments scatter around that value with about unit width
    g = np.random.default_rng(8)
    z = np.array(
        [bump_hunt(g.poisson(mu + bump), EDGES, WINDOW, SQRT_S, 4)["z_local"] for _ in range(200)]
    )
    assert abs(np.median(z) - expected) < 0.25
    assert abs(z.std() - 1) < 0.2
    # the uncertainty of the prediction lowers the significance below the known-b value
    assert expected < expected_significance(n_signal, b, 0.0)


def test_fit_quality_flags_a_sculpted_spectrum():
    """A smooth spectrum fits with p ≈ uniform; one with a dip carved into the SB does not."""
    _, _, mu = _expected(4, 2e4)
    g = np.random.default_rng(3)
    smooth = bump_hunt(g.poisson(mu), EDGES, WINDOW, SQRT_S, 4)
    assert smooth["sb_p_value"] > 0.001
    centres = 0.5 * (EDGES[:-1] + EDGES[1:])
    sculpted = mu * (1 - 0.2 * np.exp(-0.5 * ((centres - 3.0) / 0.1) ** 2))
    bad = bump_hunt(g.poisson(sculpted), EDGES, WINDOW, SQRT_S, 4)
    assert bad["sb_p_value"] < 1e-4
    assert bad["sb_chi2_ndof"] > 2 * smooth["sb_chi2_ndof"]
    assert poisson_deviance(mu, mu) == pytest.approx(0.0, abs=1e-9)


def test_f_test_adds_parameters_only_where_the_sidebands_need_them():
    """``auto``: a three-parameter spectrum keeps 3 parameters (a larger function is chosen
    in about α of the pseudo-experiments), and the Z it gives is calibrated; a spectrum with
    a turn-on that four parameters miss (their Z is biased by ~−3.7σ at 2·10⁵ events) gets five, and
    with them most of the bias goes."""
    g = np.random.default_rng(4)
    _, _, plain = _expected(3, 2e4)
    chosen, z = [], []
    for _ in range(80):
        counts = g.poisson(plain).astype(float)
        n, p, _ = choose_function(counts, EDGES, WINDOW, SQRT_S, alpha=0.05)
        chosen.append(n)
        assert np.isnan(p) or p >= 0.05  # the closest of its tests against larger functions
        z.append(bump_hunt(counts, EDGES, WINDOW, SQRT_S, n)["z_local"])
    assert np.mean(np.array(chosen) == 3) > 0.85
    assert abs(np.mean(z)) < 0.3 and abs(np.std(z) - 1) < 0.2
    # a spectrum bent at low mass, as by a trigger turn-on inside the fit range
    centres = 0.5 * (EDGES[:-1] + EDGES[1:])
    _, _, mu = _expected(4, 2e5)
    bent = mu * (1 - 0.2 * np.exp(-(centres - 2.7) / 0.15))
    chosen, z4, z_auto = [], [], []
    for _ in range(40):
        counts = g.poisson(bent).astype(float)
        n, p, _ = choose_function(counts, EDGES, WINDOW, SQRT_S, alpha=0.05)
        chosen.append(n)
        assert n < 5 or np.isnan(p)  # no test beyond the largest function
        z4.append(bump_hunt(counts, EDGES, WINDOW, SQRT_S, 4)["z_local"])
        z_auto.append(bump_hunt(counts, EDGES, WINDOW, SQRT_S, n)["z_local"])
    assert np.mean(np.array(chosen) == 5) > 0.9
    assert np.mean(z4) < -3 and np.mean(z_auto) - np.mean(z4) > 2
    # a sculpted spectrum (CATHODE's 10% cut in 3.7–4.1 TeV, a default run): four parameters
    # gain little over three (SB χ² 415 → 410) and five fit far better (86); every larger
    # candidate is tested, not only the next
    sculpted = np.array(
        [4316, 3589, 2916, 2278, 1780, 1424, 1083, 799, 604, 448, 299, 306, 217, 200, 196, 209,
         233, 225, 233, 257, 253, 243, 225, 252, 205, 221, 177, 166, 153, 153, 140, 113, 126],
        dtype=float,
    )  # fmt: skip
    edges = bin_edges((3.7, 4.1), (2.7, 6.0), 0.1)
    assert choose_function(sculpted, edges, (3.7, 4.1), SQRT_S, alpha=0.05)[0] == 5
    # too few filled SB bins for a larger function leaves the smallest
    sparse = np.zeros(EDGES.size - 1)
    sparse[:3] = 50
    assert choose_function(sparse, EDGES, WINDOW, SQRT_S, alpha=0.05) == (
        3,
        pytest.approx(np.nan, nan_ok=True),
        None,  # no function fitted
    )


def test_the_bump_hunt_reuses_the_f_tests_fit_to_the_same_numbers():
    """``auto``: the F-test fits the chosen function to the SB as the bump hunt does, so a
    pseudo-scan's bump hunt takes that fit: the same result, key by key and bit by bit; a
    fixed function has no F-test fit, and a MINOS interval fits again."""
    g = np.random.default_rng(9)
    _, _, mu = _expected(4, 5e4)
    params = {"function": "auto", "sqrt_s": SQRT_S, "f_test_alpha": 0.05}
    for _ in range(3):
        counts = g.poisson(mu).astype(float)
        n, _, fit = fit_function(counts, EDGES, WINDOW, params)
        alone = bump_hunt(counts, EDGES, WINDOW, SQRT_S, n, interval=False)
        reused = bump_hunt(counts, EDGES, WINDOW, SQRT_S, n, interval=False, sb_fit=fit)
        for key, value in alone.items():
            np.testing.assert_array_equal(reused[key], value, err_msg=key)
    assert fit_function(counts, EDGES, WINDOW, params | {"function": "dijet4"})[2] is None
    with_interval = bump_hunt(counts, EDGES, WINDOW, SQRT_S, n, sb_fit=fit)
    assert np.isfinite(with_interval["sr_predicted_lo"]) and np.isnan(fit.yield_interval[0])


def test_run_bump_hunt_selects_with_the_sr_threshold():
    """The cut keeps ε of the SR events and is applied to the SB with the same threshold."""
    g = np.random.default_rng(1)
    _, _, mu = _expected(3, 1.0)
    # events drawn from the spectrum; score independent of mJJ
    probs = mu / mu.sum()
    bins = g.choice(mu.size, size=60000, p=probs)
    mjj = EDGES[bins] + g.uniform(0, 0.1, size=bins.size)
    scores = pd.DataFrame(
        {
            "score": g.uniform(size=mjj.size),
            "mjj": mjj,
            "sr": (mjj > WINDOW[0]) & (mjj < WINDOW[1]),
            "label": np.zeros(mjj.size, dtype=int),
        }
    )
    params = {
        "efficiencies": [0.5, 0.1],
        "bin_width": 0.1,
        "fit_range": [2.7, 6.0],
        "sqrt_s": SQRT_S,
        "function": "dijet3",
    }
    results, hist = run_bump_hunt(scores, WINDOW, params)
    assert list(results["efficiency"]) == [0.5, 0.1]
    n_sr = scores["sr"].sum()
    for _, row in results.iterrows():
        assert row["n_sr"] == pytest.approx(row["efficiency"] * n_sr, abs=1)
        # an mJJ-independent cut leaves the spectrum smooth and the SR unremarkable
        assert abs(row["z_local"]) < 4
        assert row["sb_p_value"] > 1e-4
        # the SB bands beside the SR pass as often as the SR: a neutral cut
        assert row["sr_over_sb_sides"] == pytest.approx(1, abs=0.1)
        for side in ("sb_below_efficiency", "sb_above_efficiency"):
            assert row[side] == pytest.approx(row["efficiency"], rel=0.15)
    assert set(hist["efficiency"]) == {0.5, 0.1}
    assert (results["n_params"] == 3).all() and results["f_test_p"].isna().all()
    # auto records, per cut, the parameters the F-test chose and its closest test's p-value
    auto = run_bump_hunt(scores, WINDOW, {**params, "function": "auto", "f_test_alpha": 0.05})[0]
    assert auto["n_params"].isin([3, 4, 5]).all()
    assert ((auto["n_params"] == 5) | (auto["f_test_p"] >= 0.05)).all()
    assert np.allclose(
        auto.loc[auto["n_params"] == 3, "z_local"], results.loc[auto["n_params"] == 3, "z_local"]
    )
    # a score that favours the SR's events: ~1.9× more of them pass at 10% than beside it,
    # and the fit sees the excess
    boost = scores.assign(score=scores["score"] * np.where(scores["sr"], 1.0, 0.95))
    tilted = run_bump_hunt(boost, WINDOW, params)[0].set_index("efficiency")
    assert tilted.loc[0.1, "sr_over_sb_sides"] > 1.5 and tilted.loc[0.1, "z_local"] > 5
    with pytest.raises(ValueError, match=r"bumphunt\.function.*'dijet7'"):
        run_bump_hunt(scores, WINDOW, {**params, "function": "dijet7"})


def test_sides_ratio_is_above_one_only_for_a_local_maximum_of_the_efficiency():
    """SR over the larger side band: a rising or falling efficiency gives ≤ 1, a peak at the
    SR > 1; one empty band leaves the other; the bands are one SR width each side."""
    from resonant_ad.stats.bands import side_bands, sides_ratio

    assert sides_ratio(0.10, 0.07, 0.12) < 1 and sides_ratio(0.10, 0.12, 0.07) < 1
    assert sides_ratio(0.10, 0.09, 0.08) == pytest.approx(0.10 / 0.09)
    assert sides_ratio(0.10, np.nan, 0.08) == pytest.approx(1.25)
    assert np.isnan(sides_ratio(0.10, np.nan, np.nan))
    below, above = side_bands(np.array([2.85, 2.95, 3.29, 3.5, 3.7, 4.09, 4.2]), (3.3, 3.7))
    assert below.tolist() == [False, True, True, False, False, False, False]
    assert above.tolist() == [False, False, False, False, True, True, False]


@pytest.mark.parametrize("n_params", [3, 4, 5])
def test_sparse_and_empty_spectra_do_not_crash(n_params):
    """A tight cut can leave a handful of SB events: a fit where the bins determine one, and
    an explicit "no fit" (NaN, not converged) where fewer bins than parameters + 1 are filled."""
    counts = np.zeros(EDGES.size - 1)
    counts[[0, 1, 2, 4, 12, 15]] = [5, 4, 4, 2, 1, 1]
    counts[sr_bins(EDGES, WINDOW)] = [0, 2, 0, 1]
    res = bump_hunt(counts, EDGES, WINDOW, SQRT_S, n_params)
    assert np.isfinite(res["sr_predicted"]) and res["sr_predicted"] >= 0
    assert np.isfinite(res["z_local"]) and res["n_sr"] == 3
    counts[[4, 12, 15]] = 0
    sparse = bump_hunt(counts, EDGES, WINDOW, SQRT_S, n_params)
    assert np.isnan(sparse["z_local"]) and not sparse["fit_converged"] and sparse["n_sr"] == 3
    empty = bump_hunt(np.zeros(EDGES.size - 1), EDGES, WINDOW, SQRT_S, n_params)
    assert empty["n_sr"] == 0 and np.isnan(empty["z_local"])


def _reference_fit(model: DijetModel, counts: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The fit before iminuit: exact gradient and Hessian, scipy's trust-region Newton."""
    from scipy import optimize

    n = counts[mask]

    def nll(p):
        mu = np.maximum(model.derivatives(p, 0)[0][mask], 1e-300)
        return float(np.sum(mu - n * np.log(mu)))

    def jac(p):
        mu, grad, _ = model.derivatives(p, 1)
        return (1 - n / np.maximum(mu[mask], 1e-300)) @ grad[mask]

    def hess(p):
        mu, grad, h = model.derivatives(p, 2)
        mu, grad, h = np.maximum(mu[mask], 1e-150), grad[mask], h[mask]
        return np.einsum("c,cpq->pq", 1 - n / mu, h) + np.einsum(
            "c,cp,cq->pq", n / mu**2, grad, grad
        )

    start = model.start(counts, mask)
    start[0] += np.log(n.sum() / model.expected(start)[mask].sum())
    res = optimize.minimize(
        nll, start, jac=jac, hess=hess, method="trust-exact", options={"gtol": 1e-8}
    )
    return res.x


@pytest.mark.parametrize("n_params", [3, 4])
@pytest.mark.parametrize("total", [1e3, 2e4, 2e5])
def test_minuit_fit_agrees_with_the_newton_fit_it_replaced(n_params, total):
    """MIGRAD/HESSE/MINOS (iminuit) against the previous exact-Hessian fit on fixed spectra."""
    model, _, mu = _expected(n_params, total)
    in_sr = sr_bins(EDGES, WINDOW)
    g = np.random.default_rng(int(total) + n_params)
    for _ in range(5):
        counts = g.poisson(mu).astype(float)
        fit = fit_counts(model, counts, ~in_sr, anchor=in_sr, minos=True)
        assert fit.converged
        ref = _reference_fit(model, counts, ~in_sr)
        sigma = np.sqrt(np.diag(fit.cov))
        # the same minimum, to a small fraction of the parameters' uncertainties
        assert np.all(np.abs(fit.params - ref) < 1e-2 * sigma), (fit.params - ref) / sigma
        res = bump_hunt(counts, EDGES, WINDOW, SQRT_S, n_params)
        predicted = model.expected(ref)[in_sr].sum()
        assert res["sr_predicted"] == pytest.approx(
            predicted, rel=1e-3 * res["sr_predicted_err"] / predicted + 1e-9
        )
        # MINOS: an interval around the prediction, close to ± the HESSE error here
        lo, hi = res["sr_predicted_lo"], res["sr_predicted_hi"]
        assert lo < res["sr_predicted"] < hi
        assert (hi - lo) / 2 == pytest.approx(res["sr_predicted_err"], rel=0.1)


def test_fits_panel_of_a_cut_too_tight_to_fit_says_so_without_nan():
    """The figure draws what the bump hunt reports: a fit with its numbers, or "no SB fit"
    (and no NaN prediction, Z or χ² in titles and legends) where the cut left too few bins."""
    import matplotlib.pyplot as plt

    from resonant_ad.core.plotting import new_figure
    from resonant_ad.studies.dijet.bumphunt_figures import draw_fit

    centres = 0.5 * (EDGES[1:] + EDGES[:-1])
    sr = sr_bins(EDGES, WINDOW)
    counts = np.zeros(centres.size)
    counts[0], counts[sr] = 1, [2, 3, 1, 0]
    res = bump_hunt(counts, EDGES, WINDOW, SQRT_S, 4)
    assert np.isnan(res["sr_predicted"])  # one filled SB bin: no fit
    full = 200 * np.exp(-4 * (centres - centres[0]))
    fitted = bump_hunt(np.round(full), EDGES, WINDOW, SQRT_S, 4)
    for result, hist, fit_title in ((res, counts, False), (fitted, np.round(full), True)):
        bins = pd.DataFrame(
            {"low": EDGES[:-1], "high": EDGES[1:], "count": hist, "fit": result["expected"]}
        )
        bins["sr"], bins["signal"] = sr, 0.0
        row = pd.Series({k: v for k, v in result.items() if np.ndim(v) == 0} | {"efficiency": 0.01})
        fig, (ax, res_ax) = new_figure(2, 1)
        draw_fit(ax, res_ax, bins, row, WINDOW)
        texts = [ax.get_title()] + [t.get_text() for t in ax.get_legend().get_texts()]
        texts += [t.get_text() for t in res_ax.texts]
        plt.close(fig)
        assert not any("nan" in t for t in texts), texts
        if fit_title:
            assert "Z = " in ax.get_title() and "SR prediction" in " ".join(texts)
        else:
            assert "no SB fit: 1 filled SB bin\n" not in ax.get_title()
            assert ax.get_title().endswith("no SB fit: 1 filled SB bin") and "no fit" in texts


def test_global_significance_is_the_sidak_trials_factor_and_calibrated():
    """One test: the global Z is the local one. N tests: Šidák's p = 1 − (1 − p)^N, so that
    over background-only scans of N independent tests the global p-value is uniform."""
    from scipy.stats import norm

    from resonant_ad.stats.bumphunt import global_significance

    assert global_significance([2.5]) == pytest.approx((2.5, 1, 2.5))
    z_max, trials, z_global = global_significance([3.0, np.nan, 0.1, -1.0])
    assert (z_max, trials) == (3.0, 3)
    assert z_global == pytest.approx(norm.isf(1 - (1 - norm.sf(3.0)) ** 3))
    assert np.isnan(global_significance([np.nan])[2])
    g = np.random.default_rng(0)
    p_global = np.array(
        [norm.sf(global_significance(g.standard_normal(12))[2]) for _ in range(4000)]
    )
    assert np.mean(p_global < 0.05) == pytest.approx(0.05, abs=0.012)
    assert np.mean(p_global < 0.5) == pytest.approx(0.5, abs=0.03)


def test_out_of_fold_scores_are_cut_per_fold_at_the_same_sr_efficiency():
    """Two folds scored on different scales (fold 1's classifier outputs 100× larger
    numbers): each keeps ε of its own SR events, where one threshold over both would take
    fold 1 only. Fold 0 lives at mJJ < 3.5, fold 1 above, so the histogram tells them apart."""
    g = np.random.default_rng(3)
    n = 4000
    fold = np.arange(n) % 2
    scores = pd.DataFrame(
        {
            "score": g.random(n) * np.where(fold == 1, 100.0, 1.0),
            "mjj": np.where(fold == 1, 3.5, 3.0) + g.uniform(0.0, 0.5, n),
            "sr": np.arange(n) < 2000,
            "label": np.zeros(n, int),
            "fold": fold,
        }
    )
    edges = np.array([3.0, 3.5, 4.0])
    counts, _, _, n_sel = selection_histograms(scores, 0.1, edges)
    sr = scores[scores["sr"]]
    sr_counts, _, _, _ = selection_histograms(sr, 0.1, edges)
    assert list(sr_counts) == [100, 100] and n_sel == counts.sum()
    pooled, _, _, _ = selection_histograms(sr.drop(columns="fold"), 0.1, edges)
    assert pooled[0] < 5 and pooled.sum() == 200
