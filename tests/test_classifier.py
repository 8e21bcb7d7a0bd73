import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from resonant_ad.classifier import NeuralClassifierEnsemble, balanced_weights, select_best_epochs


def test_select_best_epochs_picks_the_lowest():
    losses = [0.9, 0.5, 0.7, 0.4, 0.8, 0.45]
    np.testing.assert_array_equal(select_best_epochs(losses, 3), [1, 3, 5])
    np.testing.assert_array_equal(select_best_epochs(losses, 1), [3])


def test_select_best_epochs_ties_and_nan():
    np.testing.assert_array_equal(select_best_epochs([0.5, 0.5, 0.5], 2), [0, 1])
    np.testing.assert_array_equal(select_best_epochs([np.nan, 0.3, 0.2, np.inf], 2), [1, 2])
    with pytest.raises(ValueError, match="finite"):
        select_best_epochs([np.nan, 0.3], 2)
    with pytest.raises(ValueError, match="cannot pick"):
        select_best_epochs([0.1, 0.2], 3)


def test_balanced_weights_equalize_the_classes():
    y = np.array([1, 0, 0, 0, 0, 1, 0, 0])
    w = balanced_weights(y)
    assert w[y == 1].sum() == pytest.approx(w[y == 0].sum())
    assert w.sum() == pytest.approx(len(y))
    with pytest.raises(ValueError, match="both classes"):
        balanced_weights(np.zeros(4))


def _gaussians(n, shift, seed):
    rng = np.random.default_rng(seed)
    x0 = rng.normal(size=(n, 2))
    x1 = rng.normal(size=(n, 2)) + shift
    return np.vstack([x0, x1]), np.r_[np.zeros(n), np.ones(n)]


FAST = {"hidden_layers": (16, 16), "epochs": 6, "n_best_epochs": 3, "batch_size": 256}


def test_separable_classes_reach_auc_one_and_identical_ones_half():
    X, y = _gaussians(3000, 4.0, 0)
    Xv, yv = _gaussians(1000, 4.0, 1)
    Xt, yt = _gaussians(2000, 4.0, 2)
    clf = NeuralClassifierEnsemble(**FAST, seed=1).fit(X, y, Xv, yv)
    assert roc_auc_score(yt, clf.predict_proba(Xt)[:, 1]) > 0.995

    X, y = _gaussians(3000, 0.0, 3)
    Xv, yv = _gaussians(1000, 0.0, 4)
    Xt, yt = _gaussians(5000, 0.0, 5)
    clf = NeuralClassifierEnsemble(**FAST, seed=1).fit(X, y, Xv, yv)
    assert abs(roc_auc_score(yt, clf.predict_proba(Xt)[:, 1]) - 0.5) < 0.03


def test_ensemble_is_the_mean_of_the_best_epochs():
    X, y = _gaussians(2000, 1.0, 0)
    Xv, yv = _gaussians(1000, 1.0, 1)
    clf = NeuralClassifierEnsemble(**FAST, seed=2).fit(X, y, Xv, yv)
    hist = clf.history_
    assert len(hist) == FAST["epochs"]
    best = set(hist.nsmallest(FAST["n_best_epochs"], "val_loss")["epoch"])
    assert set(hist.loc[hist["in_ensemble"], "epoch"]) == best
    members = clf.predict_member_proba(Xv)
    assert members.shape == (FAST["n_best_epochs"], len(Xv))
    assert not np.allclose(members[0], members[1])  # different epochs, different nets
    np.testing.assert_allclose(clf.predict_proba(Xv)[:, 1], members.mean(axis=0))


def test_class_weights_balance_the_loss():
    """On identical distributions with 1:3 classes, balanced weights predict ≈ 0.5."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    y = (np.arange(4000) % 4 == 0).astype(float)
    Xv = rng.normal(size=(2000, 2))
    yv = (np.arange(2000) % 4 == 0).astype(float)
    fast = {**FAST, "learning_rate": 1e-2}  # converge to the class prior within a few epochs
    plain = NeuralClassifierEnsemble(**fast, class_weight=None, seed=0).fit(X, y, Xv, yv)
    balanced = NeuralClassifierEnsemble(**fast, class_weight="balanced", seed=0).fit(X, y, Xv, yv)
    assert plain.predict_proba(Xv)[:, 1].mean() == pytest.approx(0.25, abs=0.05)
    assert balanced.predict_proba(Xv)[:, 1].mean() == pytest.approx(0.5, abs=0.05)


def test_seeded_training_is_reproducible_and_save_load_exact(tmp_path):
    X, y = _gaussians(1000, 1.0, 0)
    Xv, yv = _gaussians(500, 1.0, 1)
    a = NeuralClassifierEnsemble(**FAST, seed=7).fit(X, y, Xv, yv)
    b = NeuralClassifierEnsemble(**FAST, seed=7).fit(X, y, Xv, yv)
    c = NeuralClassifierEnsemble(**FAST, seed=8).fit(X, y, Xv, yv)
    np.testing.assert_array_equal(a.predict_proba(Xv), b.predict_proba(Xv))
    assert not np.array_equal(a.predict_proba(Xv), c.predict_proba(Xv))
    a.save(tmp_path / "model.pt")
    loaded = NeuralClassifierEnsemble.load(tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.predict_proba(Xv), a.predict_proba(Xv))


def test_bad_inputs_are_named():
    X, y = _gaussians(100, 1.0, 0)
    X[3, 1] = np.nan
    with pytest.raises(ValueError, match="training set: X contains NaN"):
        NeuralClassifierEnsemble(**FAST).fit(X, y, X, y)
    with pytest.raises(ValueError, match="n_best_epochs"):
        NeuralClassifierEnsemble(epochs=3, n_best_epochs=5)


def test_hgb_ensemble_separates_and_does_not_invent_differences():
    from resonant_ad.classifier import HGBEnsemble

    X, y = _gaussians(2000, 3.0, 0)
    Xt, yt = _gaussians(2000, 3.0, 1)
    ens = HGBEnsemble(n_members=4, max_iter=50, seed=3).fit(X, y)
    assert roc_auc_score(yt, ens.predict_proba(Xt)[:, 1]) > 0.98
    members = ens.predict_member_proba(Xt)
    assert members.shape == (4, len(Xt))
    assert not np.allclose(members[0], members[1])  # own split and seed per member
    np.testing.assert_allclose(ens.predict_proba(Xt)[:, 1], members.mean(axis=0))

    X, y = _gaussians(2000, 0.0, 2)
    Xt, yt = _gaussians(4000, 0.0, 3)
    ens = HGBEnsemble(n_members=4, max_iter=50, seed=3).fit(X, y)
    assert abs(roc_auc_score(yt, ens.predict_proba(Xt)[:, 1]) - 0.5) < 0.04


def test_hgb_ensemble_seeded_and_balanced():
    from resonant_ad.classifier import HGBEnsemble

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    y = (np.arange(4000) % 4 == 0).astype(float)  # 1:3 classes, identical distributions
    a = HGBEnsemble(n_members=3, max_iter=30, seed=1).fit(X, y)
    b = HGBEnsemble(n_members=3, max_iter=30, seed=1).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.predict_proba(X)[:, 1].mean() == pytest.approx(0.5, abs=0.05)  # balanced weights
    with pytest.raises(ValueError, match="both classes"):
        HGBEnsemble(n_members=1).fit(X, np.zeros(4000))
