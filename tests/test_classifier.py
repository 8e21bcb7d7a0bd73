import numpy as np
import pandas as pd
import pytest
from conftest import count_member_fits
from sklearn.metrics import roc_auc_score

from resonant_ad.core.classifier import NeuralClassifierEnsemble, balanced_weights
from resonant_ad.core.estimator import select_best_epochs


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


def test_chunk_size_changes_no_score_or_loss(request):
    """Validation losses and scores in chunks of 64 events equal those of one chunk, bitwise."""
    X, y = _gaussians(1500, 1.0, 0)
    Xv, yv = _gaussians(500, 1.0, 1)
    one = NeuralClassifierEnsemble(**FAST, seed=2).fit(X, y, Xv, yv)
    request.getfixturevalue("tiny_chunks")  # from here on, chunks of 64 events
    many = NeuralClassifierEnsemble(**FAST, seed=2).fit(X, y, Xv, yv)
    pd.testing.assert_frame_equal(many.history_, one.history_, check_exact=True)
    np.testing.assert_array_equal(many.predict_member_proba(Xv), one.predict_member_proba(Xv))


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


def test_hgb_ensemble_separates_and_its_members_differ():
    """Each member has its own split of the pool: different models even with max_features 1."""
    from resonant_ad.core.hgb import HGBEnsemble

    X, y = _gaussians(2000, 3.0, 0)
    Xv, yv = _gaussians(1000, 3.0, 4)
    Xt, yt = _gaussians(2000, 3.0, 1)
    ens = HGBEnsemble(n_members=4, max_iter=50, seed=3).fit(X, y, Xv, yv)
    assert roc_auc_score(yt, ens.predict_proba(Xt)[:, 1]) > 0.98
    members = ens.predict_member_proba(Xt)
    assert members.shape == (4, len(Xt))
    for i in range(1, 4):
        assert not np.allclose(members[0], members[i])
    np.testing.assert_allclose(ens.predict_proba(Xt)[:, 1], members.mean(axis=0))
    assert len(ens.best_iterations_) == 4

    X, y = _gaussians(2000, 0.0, 2)
    Xv, yv = _gaussians(1000, 0.0, 5)
    Xt, yt = _gaussians(4000, 0.0, 3)
    ens = HGBEnsemble(n_members=4, max_iter=50, seed=3).fit(X, y, Xv, yv)
    assert abs(roc_auc_score(yt, ens.predict_proba(Xt)[:, 1]) - 0.5) < 0.04


def test_member_split_is_stratified_and_disjoint():
    from resonant_ad.core.hgb import member_split

    y = np.r_[np.ones(300), np.zeros(900)]
    train, val = member_split(y, 0.25, np.random.default_rng(0))
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == len(y)
    assert (y[val] == 1).sum() == 75 and (y[val] == 0).sum() == 225
    other, _ = member_split(y, 0.25, np.random.default_rng(1))
    assert not np.array_equal(train, other)
    with pytest.raises(ValueError, match="class 1: 1 events"):
        member_split(np.r_[1.0, np.zeros(10)], 0.5, np.random.default_rng(0))


def test_hgb_members_keep_their_best_iteration():
    """Each member is rolled back to its lowest validation loss: the same trees as a model
    fitted with that many iterations on the member's own split."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    from resonant_ad.core.classifier import balanced_weights
    from resonant_ad.core.hgb import HGBEnsemble, member_split
    from resonant_ad.core.seeding import rng

    # weak signal, fast learning: the validation loss rises after a few trees
    X, y = _gaussians(3000, 0.3, 6)
    Xv, yv = _gaussians(3000, 0.3, 7)
    kw = {"max_iter": 100, "learning_rate": 0.5, "n_iter_no_change": 8}
    ens = HGBEnsemble(n_members=3, seed=2, **kw).fit(X, y, Xv, yv)
    pool_X, pool_y = np.vstack([X, Xv]), np.r_[y, yv]
    rolled_back = 0
    for i, (member, best) in enumerate(zip(ens.members_, ens.best_iterations_, strict=True)):
        assert best == max(1, int(np.argmax(member.validation_score_)))
        rolled_back += best < member.n_iter_
        train, _ = member_split(pool_y, 0.5, rng(2, "hgb-member-split", i))
        alone = HistGradientBoostingClassifier(
            max_iter=best, learning_rate=0.5, early_stopping=False
        ).fit(pool_X[train], pool_y[train], sample_weight=balanced_weights(pool_y[train]))
        np.testing.assert_allclose(
            ens.predict_member_proba(Xv)[i], alone.predict_proba(Xv)[:, 1], rtol=1e-12
        )
    assert rolled_back == 3  # every member ran past its best iteration and was rolled back


def test_hgb_ensemble_seeded_and_balanced():
    from resonant_ad.core.hgb import HGBEnsemble

    rng = np.random.default_rng(0)
    X = rng.normal(size=(4000, 2))
    y = (np.arange(4000) % 4 == 0).astype(float)  # 1:3 classes, identical distributions
    a = HGBEnsemble(n_members=3, max_iter=30, seed=1).fit(X, y, X, y)
    b = HGBEnsemble(n_members=3, max_iter=30, seed=1).fit(X, y, X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert a.predict_proba(X)[:, 1].mean() == pytest.approx(0.5, abs=0.05)  # balanced weights
    with pytest.raises(ValueError, match="both classes"):
        HGBEnsemble(n_members=1).fit(X, np.zeros(4000), X, np.zeros(4000))
    c = HGBEnsemble(n_members=3, max_iter=30, seed=2).fit(X, y, X, y)
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_classifiers_trained_together_equal_classifiers_trained_alone():
    """Members with their own data and seeds: same histories, epochs and predictions as alone."""
    from resonant_ad.core.classifier import TrainingData, fit_members

    kw = {"hidden_layers": [16, 16], "epochs": 5, "n_best_epochs": 2, "batch_size": 64}
    data = []
    for i in range(3):  # each run has its own training data (its own flow's samples)
        X, y = _gaussians(1000, 1.0 + 0.3 * i, 10 + i)
        Xv, yv = _gaussians(400, 1.0 + 0.3 * i, 20 + i)
        data.append(TrainingData(X, y, Xv, yv, np.linspace(0.5, 1.5, len(y)), None))
    alone = [
        NeuralClassifierEnsemble(**kw, seed=s).fit(d.X, d.y, d.X_val, d.y_val, d.w)
        for s, d in zip((1, 2, 3), data, strict=True)
    ]
    together = fit_members([NeuralClassifierEnsemble(**kw, seed=s) for s in (1, 2, 3)], data)
    Xt, _ = _gaussians(500, 1.0, 99)
    for a, t in zip(alone, together, strict=True):
        np.testing.assert_array_equal(a.best_epochs_, t.best_epochs_)
        np.testing.assert_allclose(t.history_["val_loss"], a.history_["val_loss"], rtol=1e-5)
        np.testing.assert_allclose(t.predict_proba(Xt), a.predict_proba(Xt), atol=1e-5)
    # a member with a differently sized data set trains in its own group, with the same result
    keep = np.arange(2000) % 10 != 0
    short = TrainingData(data[0].X[keep], data[0].y[keep], data[0].X_val, data[0].y_val)
    mixed = fit_members([NeuralClassifierEnsemble(**kw, seed=s) for s in (1, 2)], [short, data[1]])
    np.testing.assert_allclose(mixed[1].predict_proba(Xt), alone[1].predict_proba(Xt), atol=1e-5)


def test_hgb_members_do_not_depend_on_the_thread_count():
    """scikit-learn builds each feature's histogram in one thread and splits in a fixed
    order, so 1 and 2 OpenMP threads fit the same trees: the HGB checkpoint's key leaves the
    thread count out (unlike the torch trainings', whose sums split across threads)."""
    from threadpoolctl import threadpool_limits

    from resonant_ad.core.hgb import HGBEnsemble

    rng = np.random.default_rng(8)
    X = rng.normal(size=(6000, 8))
    y = (X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(size=6000) > 0.5).astype(float)
    scores = []
    for threads in (1, 2):
        with threadpool_limits(limits=threads, user_api="openmp"):
            ens = HGBEnsemble(n_members=2, max_iter=60, seed=4).fit(
                X[:4000], y[:4000], X[4000:], y[4000:]
            )
            scores.append(ens.predict_member_proba(X))
    np.testing.assert_array_equal(scores[0], scores[1])


def test_hgb_killed_training_resumes_to_the_same_members(tmp_path, monkeypatch, caplog):
    """A training killed after two members resumes there and ends with the uninterrupted
    ensemble's scores, bit for bit; the finished checkpoint skips every fit; another seed
    or a damaged file starts afresh."""
    from resonant_ad.core.hgb import HGBEnsemble

    X, y = _gaussians(800, 1.0, 0)
    Xv, yv = _gaussians(400, 1.0, 4)
    Xt, _ = _gaussians(500, 1.0, 1)
    params = {"n_members": 4, "max_iter": 30, "seed": 5}
    whole = HGBEnsemble(**params).fit(X, y, Xv, yv).predict_member_proba(Xt)
    monkeypatch.setenv("RESONANT_AD_CHECKPOINT_S", "0")
    path = tmp_path / "scores.resume.pt"

    with monkeypatch.context() as m:
        count_member_fits(m, kill_at=3)
        with pytest.raises(KeyboardInterrupt):
            HGBEnsemble(**params).fit(X, y, Xv, yv, checkpoint=path)
    assert path.exists()
    with monkeypatch.context() as m, caplog.at_level("INFO", logger="resonant_ad"):
        calls = count_member_fits(m)
        resumed = HGBEnsemble(**params).fit(X, y, Xv, yv, checkpoint=path)
    assert len(calls) == 2 and "after member 2" in caplog.text
    np.testing.assert_array_equal(resumed.predict_member_proba(Xt), whole)

    # kept once complete (the caller deletes it): a rerun of the job fits nothing
    with monkeypatch.context() as m:
        calls = count_member_fits(m)
        again = HGBEnsemble(**params).fit(X, y, Xv, yv, checkpoint=path)
    assert not calls
    np.testing.assert_array_equal(again.predict_member_proba(Xt), whole)

    caplog.clear()
    with monkeypatch.context() as m, caplog.at_level("WARNING", logger="resonant_ad"):
        calls = count_member_fits(m)
        HGBEnsemble(**{**params, "seed": 6}).fit(X, y, Xv, yv, checkpoint=path)
    assert len(calls) == 4 and "other data or settings" in caplog.text
    path.write_bytes(b"not a pickle")
    with monkeypatch.context() as m, caplog.at_level("WARNING", logger="resonant_ad"):
        calls = count_member_fits(m)
        HGBEnsemble(**params).fit(X, y, Xv, yv, checkpoint=path)
    assert len(calls) == 4 and "unreadable checkpoint" in caplog.text
