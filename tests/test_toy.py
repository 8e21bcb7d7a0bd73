import numpy as np
import pytest

from resonant_ad.studies.toy.data import features, generate_toy

SPLIT = {"train": 0.5, "val": 1 / 6, "test": 1 / 3}


@pytest.fixture(scope="module")
def toy():
    return generate_toy(60_000, 0.1, [-10, 10], SPLIT, seed=5)


def test_schema_and_sizes(toy):
    assert list(toy.columns) == ["set", "split", "m", "x1", "x2"]
    assert (toy["set"] == "data").sum() == (toy["set"] == "sample").sum() == 60_000
    for name in ("data", "sample"):
        counts = toy[toy["set"] == name]["split"].value_counts()
        assert counts.to_dict() == {"train": 30_000, "test": 20_000, "val": 10_000}


def test_m_uniform_and_x_follows_c_times_m(toy):
    m = toy["m"].to_numpy(dtype=float)
    assert m.min() >= -10 and m.max() <= 10
    hist, _ = np.histogram(m, bins=10, range=(-10, 10))
    assert np.all(np.abs(hist / hist.mean() - 1) < 0.05)
    for col in ("x1", "x2"):
        x = toy[col].to_numpy(dtype=float)
        slope, _ = np.polyfit(m, x, 1)
        assert slope == pytest.approx(0.1, abs=0.005)
        assert np.std(x - 0.1 * m) == pytest.approx(1.0, abs=0.02)


def test_latent_space_removes_the_correlation(toy):
    m = toy["m"].to_numpy(dtype=float)
    x = features(toy, "x", 0.1)
    z = features(toy, "z", 0.1)
    assert np.corrcoef(m, x[:, 0])[0, 1] > 0.45  # c·σ_m / sqrt(1 + c²σ_m²) ≈ 0.5
    assert abs(np.corrcoef(m, z[:, 0])[0, 1]) < 0.02
    with pytest.raises(ValueError, match="space"):
        features(toy, "w", 0.1)


def test_sets_independent_and_seeded():
    a = generate_toy(1000, 0.1, [-10, 10], SPLIT, seed=5)
    b = generate_toy(1000, 0.1, [-10, 10], SPLIT, seed=5)
    assert a.equals(b)
    data, sample = a[a["set"] == "data"], a[a["set"] == "sample"]
    assert not np.allclose(data["m"].to_numpy(), sample["m"].to_numpy())
    # the same draws serve every c: only the correlation differs
    c0 = generate_toy(1000, 0.0, [-10, 10], SPLIT, seed=5)
    np.testing.assert_allclose(
        a["x1"].to_numpy() - 0.1 * a["m"].to_numpy(), c0["x1"].to_numpy(), atol=1e-5
    )
