import numpy as np
import pytest

from resonant_ad.stats.metrics import (
    equal_population_edges,
    random_subset_chi2_ndof,
    roc_auc,
    roc_curve,
    sculpting_chi2,
    sculpting_chi2_ndof,
    select,
    threshold_at_efficiency,
)


def test_threshold_keeps_exactly_the_most_anomalous_fraction():
    scores = np.random.default_rng(0).permutation(np.arange(100.0))
    thr = threshold_at_efficiency(scores, 0.05)
    assert thr == 95.0
    assert select(scores, thr).sum() == 5
    # at least one event is always kept, and efficiency 1 keeps everything
    assert select(scores, threshold_at_efficiency(scores, 1e-6)).sum() == 1
    assert select(scores, threshold_at_efficiency(scores, 1.0)).sum() == 100


def test_threshold_applied_outside_the_reference():
    ref = np.linspace(0, 1, 1001)
    thr = threshold_at_efficiency(ref, 0.01)
    others = np.array([0.5, 0.995, 2.0])
    np.testing.assert_array_equal(select(others, thr), [False, True, True])


@pytest.mark.parametrize("eff", [0.0, -0.1, 1.5])
def test_threshold_rejects_bad_efficiency(eff):
    with pytest.raises(ValueError, match="efficiency"):
        threshold_at_efficiency(np.arange(10.0), eff)


def test_threshold_rejects_empty_reference():
    with pytest.raises(ValueError, match="no reference scores"):
        threshold_at_efficiency(np.array([]), 0.01)


def test_equal_population_edges():
    values = np.random.default_rng(1).exponential(size=1000)
    edges = equal_population_edges(values, 10)
    counts, _ = np.histogram(values, bins=edges)
    assert len(edges) == 11 and counts.sum() == 1000
    assert np.all(counts == 100)


def test_chi2_hand_computed():
    # full counts per bin: 10, 10, 20; selected: 1, 3, 4 (8 of 40, ε_o = 0.2).
    # At a nominal ε = 0.1: expected εN = 1, 1, 2 (E = 4); the selected histogram scaled to
    # E/O = 4/8: 0.5, 1.5, 2 → χ² = 0.5²/1 + 0.5²/1 + 0 = 0.5.
    m = np.concatenate([np.full(10, 0.5), np.full(10, 1.5), np.full(20, 2.5)])
    sel = np.zeros(40, dtype=bool)
    sel[[0]] = True  # one in bin 0
    sel[[10, 11, 12]] = True  # three in bin 1
    sel[[20, 21, 22, 23]] = True  # four in bin 2
    edges = np.array([0.0, 1.0, 2.0, 3.0])
    chi2, ndof = sculpting_chi2(m, sel, edges, 0.1)
    assert chi2 == pytest.approx(0.25 + 0.25)
    assert ndof == 2
    assert sculpting_chi2_ndof(m, sel, edges, 0.1) == pytest.approx(0.25)
    # at the observed fraction it is Pearson's χ² of S against ε_o N: (1−2)²/2 + (3−2)²/2
    assert sculpting_chi2(m, sel, edges, 0.2)[0] == pytest.approx(1.0)


def test_chi2_is_the_authors_eq5_and_pearson_times_eps_over_eps_observed():
    """Eq. 5 with unit-area histograms and the variance at the nominal ε (the authors' code)."""
    rng = np.random.default_rng(2)
    m = rng.exponential(size=5000)
    sel = rng.random(5000) < 0.1 * (1 + m)  # a sculpting selection
    edges = np.array([0.0, 0.1, 0.3, 0.7, 1.5, 3.0, m.max()])
    widths = np.diff(edges)
    n_full, _ = np.histogram(m, bins=edges)
    n_sel, _ = np.histogram(m[sel], bins=edges)
    eps = 0.1  # nominal (SR) efficiency; the selection passes more overall
    eps_o = n_sel.sum() / n_full.sum()
    a = 1.0 / (n_full.sum() * widths)  # unit area before selection
    b = 1.0 / (n_sel.sum() * widths)  # unit area after selection
    sigma2 = a**2 * eps * n_full / eps**2  # the random-selection variance of a·N_sel/ε
    eq5 = np.sum((a * n_full - b * n_sel) ** 2 / sigma2)
    chi2, _ = sculpting_chi2(m, sel, edges, eps)
    assert chi2 == pytest.approx(eq5, rel=1e-9)
    pearson = np.sum((n_sel - eps_o * n_full) ** 2 / (eps_o * n_full))
    assert chi2 == pytest.approx(pearson * eps / eps_o, rel=1e-9)
    assert eps_o > 1.5 * eps  # the case where the two definitions differ


def test_no_selection_gives_nan():
    m = np.arange(10.0)
    chi2, ndof = sculpting_chi2(m, np.zeros(10, dtype=bool), np.array([0.0, 5.0, 9.0]), 0.1)
    assert np.isnan(chi2) and ndof == 1


def test_random_subsets_give_chi2_ndof_near_one_and_sculpting_does_not():
    rng = np.random.default_rng(3)
    m = rng.uniform(-10, 10, size=100_000)
    edges = equal_population_edges(m, 100)
    ref = random_subset_chi2_ndof(m, 0.05, edges, 30, rng)
    assert np.mean(ref) == pytest.approx(0.95, abs=0.08)  # 1 − ε for binomial selection
    sculpted = rng.random(m.size) < 0.05 * (1 + 0.05 * m)
    assert sculpting_chi2_ndof(m, sculpted, edges, 0.05) > 3


@pytest.mark.parametrize("ties", [False, True])
def test_roc_curve_and_auc_are_sklearns(ties):
    """The ROC is sklearn's (drop_intermediate=False) bit for bit; the AUC, an exact rank sum,
    agrees with sklearn's trapezoids to float rounding, ties (counted half) included."""
    from sklearn import metrics

    g = np.random.default_rng(3)
    labels = (g.uniform(size=5000) < 0.2).astype(int)
    scores = g.normal(size=5000) + labels
    if ties:
        scores = np.round(scores, 1)  # ~60 distinct values
    fpr, tpr = roc_curve(labels, scores)
    ref_fpr, ref_tpr, _ = metrics.roc_curve(labels, scores, drop_intermediate=False)
    np.testing.assert_array_equal(fpr, ref_fpr)
    np.testing.assert_array_equal(tpr, ref_tpr)
    auc = roc_auc(labels, scores)
    assert auc == pytest.approx(metrics.roc_auc_score(labels, scores), rel=1e-13, abs=0)
    assert 0.7 < auc < 0.8
    assert roc_auc(labels.astype(bool), scores) == auc  # booleans are labels too


def test_roc_auc_hand_counted_and_bad_input():
    # pairs (signal, background): (3 > 1), (3 > 2), (2 = 2: half), (2 > 1) -> 3.5 / 4
    assert roc_auc([1, 0, 1, 0], [3.0, 1.0, 2.0, 2.0]) == 3.5 / 4
    assert roc_auc([1, 1, 0], [0.0, 0.0, 0.0]) == 0.5
    with pytest.raises(ValueError, match="signal and background"):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(ValueError, match="signal and background"):
        roc_curve([0, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="NaN or inf"):
        roc_auc([1, 0], [np.nan, 0.2])
    with pytest.raises(ValueError, match="0 or 1"):
        roc_curve([2, 0], [0.1, 0.2])
