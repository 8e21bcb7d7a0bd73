"""The run table: each run's flow diagnostics beside its methods' metrics, and correlations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from resonant_ad.core.io import read_csv, write_csv, write_json
from resonant_ad.stages.runs import (
    FLOW_COLUMNS,
    MIN_RUNS,
    flow_table,
    run_correlations,
    run_table,
    write_run_table,
)
from resonant_ad.stats.correlation import (
    SPEARMAN_Z_VARIANCE,
    benjamini_hochberg,
    fisher_interval,
    null_orders,
    permutation_pvalue,
    ranks,
)
from resonant_ad.studies.dijet.evaluation_figures import plot_runs

SEED = 20261207


def _history(kept: int, epochs: int = 10) -> pd.DataFrame:
    """A flow history of ``epochs`` epochs with ``kept`` the selected one."""
    epoch = np.arange(1, epochs + 1)
    return pd.DataFrame(
        {"epoch": epoch, "train_nll": 1.0, "val_nll": 1.0, "selected": epoch == kept}
    )


def _case(n_runs: int = 6) -> tuple[pd.DataFrame, list[dict]]:
    """Metrics of two methods over ``n_runs`` runs at injection 0, where LaCATHODE's χ²/ndof
    rises with the flow's SR-over-SB latent cut and CATHODE's falls with it."""
    excess = np.linspace(1.0, 1.1, n_runs)
    rows, flows = [], []
    for run in range(n_runs):
        for method, chi2 in (("cathode", 50 - 100 * excess[run]), ("lacathode", 10 * excess[run])):
            rows.append(
                {"method": method, "injection": 0, "run": run, "auc": 0.5, "max_sic": 1.0,
                 "sic_at_1e-2": np.nan, "sic_at_1e-3": np.nan, "chi2_ndof_at_1pct": chi2}
            )  # fmt: skip
        diagnostics = {key: 0.52 for key in FLOW_COLUMNS}
        diagnostics |= {"normal_cut_sr_over_sb_sides": excess[run]}
        diagnostics["synthetic_over_real_at_signal"] = None  # no signal: null in the JSON
        flows.append({"injection": 0, "run": run, "diagnostics": diagnostics,
                      "history": _history(kept=run + 2)})  # fmt: skip
    return pd.DataFrame(rows), flows


def test_run_table_puts_each_flow_beside_its_methods_metrics():
    metrics, flows = _case()
    table = run_table(metrics, flow_table(flows))
    assert list(table["run"]) == list(range(6))
    assert list(table["flow_epoch_kept"]) == [2, 3, 4, 5, 6, 7]
    assert (table["flow_epochs"] == 10).all()
    assert table["synthetic_over_real_at_signal"].isna().all()
    lac = metrics[metrics.method == "lacathode"].set_index("run")["chi2_ndof_at_1pct"]
    np.testing.assert_array_equal(table["lacathode_chi2_ndof_at_1pct"], lac.to_numpy())
    assert {"cathode_auc", "cathode_sic_at_1e-3", "lacathode_auc"} <= set(table.columns)


def test_run_table_refuses_a_flow_without_metrics_or_a_kept_epoch():
    metrics, flows = _case()
    with pytest.raises(ValueError, match=r"\[\[0, 5\]\]"):
        run_table(metrics[metrics.run != 5], flow_table(flows))
    del flows[1]["diagnostics"]["sr_latent_vs_normal_auc"]
    with pytest.raises(KeyError, match=r"run 1.*sr_latent_vs_normal_auc"):
        flow_table(flows)
    flows[0]["history"]["selected"] = False
    with pytest.raises(ValueError, match=r"run 0.*no selected epoch"):
        flow_table(flows)


def test_correlations_follow_the_diagnostic_and_need_enough_runs():
    metrics, flows = _case()
    corr = run_correlations(metrics, flow_table(flows), SEED)
    corr = corr.set_index(["method", "metric", "diagnostic"])
    excess = ("chi2_ndof_at_1pct", "normal_cut_sr_over_sb_sides")
    assert corr.loc[("lacathode", *excess), "pearson"] == pytest.approx(1.0)
    assert corr.loc[("cathode", *excess), "spearman"] == pytest.approx(-1.0)
    # the flow's own AUC columns are diagnostics, not methods
    assert set(corr.index.get_level_values("method")) == {"cathode", "lacathode"}
    # a constant diagnostic or an all-NaN metric gives no number, never a spurious one
    flat = ("lacathode", "chi2_ndof_at_1pct", "sr_latent_vs_normal_auc")
    assert np.isnan(corr.loc[flat, "pearson"])
    assert corr.loc[("lacathode", "sic_at_1e-3", "flow_epoch_kept"), "runs"] == 0
    # a perfect correlation's interval is the point; a missing one has none
    assert corr.loc[("lacathode", *excess), ["pearson_lo", "pearson_hi"]].tolist() == [1.0, 1.0]
    assert corr.loc[flat, ["spearman_lo", "spearman_hi"]].isna().all()
    metrics, flows = _case(MIN_RUNS - 1)
    few = run_correlations(metrics, flow_table(flows), SEED)
    assert (
        few.drop(columns=["injection", "method", "metric", "diagnostic", "runs"]).isna().all().all()
    )


def test_correlation_intervals_cover_the_true_correlation_of_ten_runs():
    """Fisher's z intervals, as the run table gives them for 10 runs: the textbook interval
    of r = 0.5 (−0.19 to 0.86), and 95% coverage of the true correlation of normal pairs
    (Spearman's: 6/π·asin(ρ/2)) over 4000 seeded draws of 10 runs."""
    lo, hi = fisher_interval(0.5, 10)
    assert (round(lo, 2), round(hi, 2)) == (-0.19, 0.86)
    rng = np.random.default_rng(20261207)
    rho, trials = 0.6, 4000
    true_spearman = 6 / np.pi * np.arcsin(rho / 2)
    covered = np.zeros(2)
    for _ in range(trials):
        pairs = rng.multivariate_normal([0, 0], [[1, rho], [rho, 1]], size=10)
        r = np.corrcoef(pairs.T)[0, 1]
        ranks = pd.DataFrame(pairs).rank().to_numpy()
        rs = np.corrcoef(ranks.T)[0, 1]
        covered += [
            np.clip(rho, *fisher_interval(r, 10)) == rho,
            np.clip(true_spearman, *fisher_interval(rs, 10, SPEARMAN_Z_VARIANCE)) == true_spearman,
        ]
    np.testing.assert_allclose(covered / trials, 0.95, atol=0.02)


def test_permutation_pvalues_are_exact_for_few_runs_and_uniform_without_a_relation():
    """A perfect order of n runs is reached by itself and its reverse: p = 2/n! exactly; a
    rank correlation's p does not see a monotone change of scale; over 2000 seeded draws of
    10 independent, skewed pairs p is uniform (5% of them ≤ 0.05), and a real relation of
    ρ = 0.8 is found (p ≤ 0.05) in most."""
    x = np.arange(6.0)
    assert permutation_pvalue(x, x**3, null_orders(6, SEED)) == 2 / 720
    assert permutation_pvalue(ranks(x), ranks(-np.exp(x)), null_orders(6, SEED)) == 2 / 720
    assert np.isnan(permutation_pvalue(x, np.ones(6), null_orders(6, SEED)))
    rng = np.random.default_rng(SEED)
    orders = null_orders(10, SEED, count=2000)
    assert orders.shape == (2000, 10) and (np.sort(orders, axis=1) == np.arange(10)).all()
    null = np.array(
        [
            permutation_pvalue(ranks(a), ranks(b), orders)
            for a, b in rng.lognormal(0.0, 1.5, size=(2000, 2, 10))
        ]
    )
    assert (null > 0).all() and (null <= 1).all()
    np.testing.assert_allclose(
        [np.mean(null <= 0.05), np.mean(null <= 0.5)], [0.05, 0.5], atol=0.025
    )
    related = [
        permutation_pvalue(a, b, orders)
        for a, b in (
            rng.multivariate_normal([0, 0], [[1, 0.8], [0.8, 1]], size=10).T for _ in range(200)
        )
    ]
    assert np.mean(np.array(related) <= 0.05) > 0.7


def test_benjamini_hochberg_q_values():
    """q of the k-th smallest of m p-values: min over j ≥ k of p_(j)·m/j; NaN stays out."""
    q = benjamini_hochberg([0.01, 0.04, 0.03, 0.5, np.nan])
    np.testing.assert_allclose(q[:4], [0.04, 0.04 * 4 / 3, 0.04 * 4 / 3, 0.5])
    assert np.isnan(q[4])
    assert np.isnan(benjamini_hochberg([np.nan])).all()
    assert benjamini_hochberg([0.9, 0.8]).tolist() == [0.9, 0.9]
    # Benjamini–Yekutieli: the same, times Σ 1/i over the 4 finite ones, at most 1
    by = benjamini_hochberg([0.01, 0.04, 0.03, 0.5, np.nan], any_dependence=True)
    np.testing.assert_allclose(by[:4], np.minimum(q[:4] * (1 + 1 / 2 + 1 / 3 + 1 / 4), 1.0))
    assert np.isnan(by[4])


def test_run_correlations_carry_permutation_p_and_q_values_from_the_seed():
    metrics, flows = _case()
    corr = run_correlations(metrics, flow_table(flows), SEED)
    for name in ("pearson", "spearman"):
        found = corr[f"{name}_p"].notna()
        assert found.any() and (corr.loc[found, f"{name}_q"] >= corr.loc[found, f"{name}_p"]).all()
        assert corr[f"{name}_q"].isna().equals(corr[f"{name}_p"].isna())
        assert (corr.loc[found, f"{name}_q_by"] >= corr.loc[found, f"{name}_q"]).all()
    at = corr.set_index(["method", "metric", "diagnostic"])
    perfect = ("lacathode", "chi2_ndof_at_1pct", "normal_cut_sr_over_sb_sides")
    assert at.loc[perfect, "spearman_p"] == 2 / 720  # 6 runs: every order, exactly
    pd.testing.assert_frame_equal(corr, run_correlations(metrics, flow_table(flows), SEED))


def test_write_run_table_reads_the_files_and_writes_both_tables(tmp_path):
    metrics, flows = _case()
    write_csv(metrics, tmp_path / "metrics.csv")
    records = []
    for rec in flows:
        diag, hist = tmp_path / f"d{rec['run']}.json", tmp_path / f"h{rec['run']}.csv"
        write_json(rec["diagnostics"], diag)
        write_csv(rec["history"], hist)
        records.append({"injection": 0, "run": rec["run"], "diagnostics": str(diag),
                        "history": str(hist)})  # fmt: skip
    outputs = {"table": str(tmp_path / "runs.csv"), "correlations": str(tmp_path / "corr.csv")}
    write_run_table(str(tmp_path / "metrics.csv"), records, outputs, SEED)
    table = read_csv(outputs["table"])
    expected = run_table(metrics, flow_table(flows))
    pd.testing.assert_frame_equal(table, expected, check_dtype=False)
    assert len(read_csv(outputs["correlations"])) == 2 * 3 * (1 + len(FLOW_COLUMNS))


def test_run_figure_draws_sculpting_per_injection_and_sic_only_with_signal(tmp_path):
    """The run figure: a χ²/ndof panel per injection, SIC panels (against the flow's SR
    departure and its density at the signal) only where signal was injected; each method's
    legend carries its ρ, interval and p where there are enough runs."""
    metrics, flows = _case()
    signal_metrics = metrics.assign(injection=1000, **{"sic_at_1e-3": 5.0})
    signal_flows = []
    for rec in flows:
        at_signal = {"synthetic_over_real_at_signal": 1.0 + rec["run"] / 100}
        signal_flows.append(
            {**rec, "injection": 1000, "diagnostics": rec["diagnostics"] | at_signal}
        )
    metrics = pd.concat([metrics, signal_metrics], ignore_index=True)
    by_run = flow_table(flows + signal_flows)
    outputs = [tmp_path / "runs.png", tmp_path / "runs.pdf"]
    drawn = plot_runs(run_table(metrics, by_run), run_correlations(metrics, by_run, SEED), outputs)
    cut, at_signal = "normal_cut_sr_over_sb_sides", "synthetic_over_real_at_signal"
    assert list(drawn) == [
        (0, "chi2_ndof_at_1pct", cut),
        (1000, "chi2_ndof_at_1pct", cut),
        (1000, "sic_at_1e-3", cut),
        (1000, "sic_at_1e-3", at_signal),
    ]
    assert drawn[(0, "chi2_ndof_at_1pct", cut)] == [
        "CATHODE: ρ = -1.00 [-1.00, -1.00], p = 0.0028",
        "LaCATHODE: ρ = +1.00 [+1.00, +1.00], p = 0.0028",
    ]
    for diagnostic in (cut, at_signal):  # a constant SIC: no ρ
        assert drawn[(1000, "sic_at_1e-3", diagnostic)] == ["CATHODE", "LaCATHODE"]
    assert all(path.stat().st_size > 5_000 for path in outputs)
