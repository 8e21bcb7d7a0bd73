"""The classifier density ratio and the weighted resampling that refines a flow with it."""

from __future__ import annotations

import numpy as np
import pytest

from resonant_ad.stats.density_ratio import DensityRatio, top_k_by_weight


def _shifted(n: int, shift: float, seed: int) -> np.ndarray:
    """(n, 2) events: x0 ~ N(shift, 1), x1 ~ U(0, 1) (the same in both classes)."""
    g = np.random.default_rng(seed)
    return np.c_[g.normal(shift, 1.0, n), g.random(n)]


def test_ratio_learns_a_known_density_ratio_and_ones_where_there_is_none():
    """Real x0 ~ N(0.5, 1) against model x0 ~ N(0, 1): w = exp(0.5 x0 − 0.125), whatever x1;
    the classes differ in size (the weights balance them). Two samples of one law: w ≈ 1."""
    ratio = DensityRatio(seed=1).fit(_shifted(20000, 0.5, 1), _shifted(40000, 0.0, 2))
    grid = np.c_[np.linspace(-1.5, 1.5, 31), np.full(31, 0.5)]
    error = np.log(ratio.weights(grid)) - (0.5 * grid[:, 0] - 0.125)
    assert np.median(np.abs(error)) < 0.1, error.round(2)
    assert ratio.validation_auc_ > 0.6
    same = DensityRatio(seed=1).fit(_shifted(20000, 0.0, 3), _shifted(40000, 0.0, 4))
    w = same.weights(_shifted(2000, 0.0, 5))
    assert abs(np.median(np.log(w))) < 0.05 and abs(same.validation_auc_ - 0.5) < 0.02


def test_ratio_is_clipped_saved_and_checks_its_inputs(tmp_path):
    ratio = DensityRatio(clip=(0.5, 2.0), seed=1).fit(_shifted(4000, 2.0, 1), _shifted(4000, 0, 2))
    w = ratio.weights(np.c_[[-4.0, 0.0, 4.0], [0.5, 0.5, 0.5]])
    assert w[0] == 0.5 and w[2] == 2.0  # far where one class never goes: at the clip
    ratio.save(tmp_path / "ratio.pt")
    again = DensityRatio.load(tmp_path / "ratio.pt")
    probe = _shifted(500, 1.0, 9)
    np.testing.assert_array_equal(again.weights(probe), ratio.weights(probe))
    assert again.validation_auc_ == ratio.validation_auc_
    with pytest.raises(ValueError, match="density ratio of 2 columns given"):
        ratio.weights(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="0 < low < 1 < high"):
        DensityRatio(clip=(1.5, 3.0))


def test_gumbel_top_k_draws_in_proportion_to_the_weights_without_replacement():
    """Keeping 1 of 4 proposals picks each with probability w_i / Σw; keeping k keeps k
    distinct rows per group."""
    g = np.random.default_rng(0)
    n = 40000
    w = np.tile([1.0, 2.0, 3.0, 4.0], (n, 1))
    picked = top_k_by_weight(w, np.ones(n, dtype=int), g.gumbel(size=w.shape))
    assert (picked.sum(axis=1) == 1).all()
    np.testing.assert_allclose(picked.mean(axis=0), [0.1, 0.2, 0.3, 0.4], atol=0.01)
    keep = g.integers(0, 5, n)
    chosen = top_k_by_weight(w, keep, g.gumbel(size=w.shape))
    np.testing.assert_array_equal(chosen.sum(axis=1), keep)
    with pytest.raises(ValueError, match="cannot keep 5 of 4"):
        top_k_by_weight(w[:2], np.array([5, 1]), np.zeros((2, 4)))
