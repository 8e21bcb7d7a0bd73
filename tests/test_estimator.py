"""The one estimator convention: hyperparameters, persistence, best-epoch selection."""

import numpy as np
import pytest

from resonant_ad.core.classifier import NeuralClassifierEnsemble
from resonant_ad.core.estimator import BestEpochs, check_members
from resonant_ad.core.flow import ConditionalFlow
from resonant_ad.core.hgb import HGBEnsemble

ESTIMATORS = [
    (ConditionalFlow, {"blocks": 2, "hidden": 8, "epochs": 2, "batch_size": 64}),
    (NeuralClassifierEnsemble, {"hidden_layers": [8], "epochs": 3, "n_best_epochs": 2}),
    (HGBEnsemble, {"n_members": 3, "max_iter": 20}),
]


def _data(seed: int = 0, n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.5).astype(int)
    X = rng.normal(size=(n, 2)) + 0.8 * y[:, None]
    m = 3.5 + 0.1 * rng.normal(size=n)
    return X, y, m


def _fit(cls, est):
    X, y, m = _data(0)
    Xv, yv, mv = _data(1)
    if cls is ConditionalFlow:
        return est.fit(X, m, Xv, mv)
    return est.fit(X, y, Xv, yv)


def _output(est) -> np.ndarray:
    X, _, m = _data(2, 200)
    if isinstance(est, ConditionalFlow):
        return est.transform(X, m)
    return est.predict_proba(X)


@pytest.mark.parametrize(("cls", "params"), ESTIMATORS)
def test_hyperparameters_are_the_init_arguments(cls, params):
    est = cls(**params, seed=3)
    got = est.get_params()
    assert list(got) == cls.param_names()
    assert got["seed"] == 3
    for key, value in params.items():
        assert got[key] == value or list(got[key]) == value
    # rebuilding from get_params gives the same hyperparameters
    assert cls(**got).get_params() == got
    assert est.set_params(seed=4) is est and est.seed == 4
    with pytest.raises(ValueError, match="no hyperparameter"):
        est.set_params(not_a_parameter=1)


def test_set_params_validates_as_init():
    with pytest.raises(ValueError, match="n_best_epochs"):
        ConditionalFlow().set_params(n_best_epochs=0)
    with pytest.raises(ValueError, match="n_members"):
        HGBEnsemble().set_params(n_members=0)


@pytest.mark.parametrize(("cls", "params"), ESTIMATORS)
def test_save_and_load_give_the_same_estimator(cls, params, tmp_path):
    est = _fit(cls, cls(**params, seed=5))
    est.save(tmp_path / "model.pt")
    loaded = cls.load(tmp_path / "model.pt")
    assert loaded.get_params() == est.get_params()
    np.testing.assert_array_equal(_output(loaded), _output(est))


def test_unfitted_estimators_are_not_saved_and_files_are_checked(tmp_path):
    with pytest.raises(RuntimeError, match="not fitted"):
        HGBEnsemble().save(tmp_path / "x.pt")
    assert not (tmp_path / "x.pt").exists()
    est = _fit(HGBEnsemble, HGBEnsemble(n_members=2, max_iter=5))
    est.save(tmp_path / "hgb.pt")
    with pytest.raises(ValueError, match=r"hgb\.pt: not a saved ConditionalFlow"):
        ConditionalFlow.load(tmp_path / "hgb.pt")


def test_members_must_share_their_hyperparameters():
    check_members([ConditionalFlow(seed=1), ConditionalFlow(seed=2, progress=False)])
    with pytest.raises(ValueError, match="learning_rate"):
        check_members([NeuralClassifierEnsemble(), NeuralClassifierEnsemble(learning_rate=0.1)])


def test_best_epochs_keeps_the_lowest_losses_and_stops_after_patience():
    best = BestEpochs(2, patience=3)
    for epoch, val in enumerate([0.5, 0.3, np.nan, 0.4, 0.35]):
        assert not best.stopped
        best.update(epoch, 1.0, val, state=f"s{epoch}")
    assert best.stopped  # epochs 2, 3, 4 bring no new minimum: patience 3 is spent
    assert best.selected("loss") == [(1, "s1"), (4, "s4")]
    assert best.selected("epoch") == [(1, "s1"), (4, "s4")]
    ties = BestEpochs(2)
    for epoch, val in enumerate([0.2, 0.1, 0.2, 0.1]):
        ties.update(epoch, 0.0, val)
    assert [e for e, _ in ties.selected()] == [1, 3] and not ties.stopped
    nan = BestEpochs(2)
    nan.update(0, 0.0, np.nan)
    nan.update(1, 0.0, 0.1)
    with pytest.raises(ValueError, match="finite validation loss"):
        nan.selected()
