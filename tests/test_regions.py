import numpy as np
import pytest

from resonant_ad.core.regions import in_window, sideband_mask, split_labels


def test_window_is_strict_and_sidebands_are_the_complement():
    m = np.array([-0.3, -0.2999, 0.0, 0.2999, 0.3, 5.0])
    sr = in_window(m, [-0.3, 0.3])
    np.testing.assert_array_equal(sr, [False, True, True, True, False, False])
    sb = sideband_mask(m, [-0.3, 0.3])
    assert not np.any(sr & sb) and np.all(sr | sb)


def test_window_must_be_ordered():
    with pytest.raises(ValueError, match="low < high"):
        in_window(np.zeros(3), [1.0, 0.5])


def test_split_fractions_exact_and_complete():
    labels = split_labels(
        6000, {"train": 0.5, "val": 1 / 6, "test": 1 / 3}, np.random.default_rng(1)
    )
    assert len(labels) == 6000
    counts = {s: int((labels == s).sum()) for s in ("train", "val", "test")}
    assert counts == {"train": 3000, "val": 1000, "test": 2000}


def test_split_is_seeded_and_random():
    f = {"train": 0.5, "val": 0.25, "test": 0.25}
    a = split_labels(1000, f, np.random.default_rng(3))
    b = split_labels(1000, f, np.random.default_rng(3))
    c = split_labels(1000, f, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert np.mean(a != c) > 0.3
    # not a contiguous block: the first half is not all "train"
    assert 0.3 < np.mean(a[:500] == "train") < 0.7


@pytest.mark.parametrize(
    "fractions",
    [{"train": 0.5, "val": 0.2, "test": 0.2}, {"train": 1.2, "val": -0.1, "test": -0.1}],
)
def test_bad_fractions_rejected(fractions):
    with pytest.raises(ValueError, match="split fractions"):
        split_labels(10, fractions, np.random.default_rng(0))
