"""Preprocessing, the lean MAF (against nflows), the conditional flow estimator, the mass KDE."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
import torch

from resonant_ad.core.flow import ConditionalFlow
from resonant_ad.core.kde import MassKDE
from resonant_ad.core.maf import MAF, build_nflows_maf, copy_to_nflows
from resonant_ad.core.preprocessing import LogitScaler
from resonant_ad.stages.mapping import decorrelate


@pytest.mark.parametrize("log_features", [(), (0,)])
def test_logit_scaler_round_trip_and_jacobian(log_features):
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.exponential(size=5000), rng.uniform(2, 3, 5000)])
    sc = LogitScaler(margin=0.02, log_features=log_features).fit(X)
    Y = sc.transform(X)
    np.testing.assert_allclose(Y.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(Y.std(0), 1, atol=1e-9)
    np.testing.assert_allclose(sc.inverse_transform(Y), X, rtol=1e-9, atol=1e-9)
    # values slightly beyond the fitted range stay finite and invert exactly
    beyond = np.array([[X[:, 0].max() * 1.01, 3.005]])
    assert sc.out_of_range(beyond).all()
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(beyond)), beyond, rtol=1e-9)
    # log|det J| against finite differences (the transform is elementwise)
    x0, h = X[:3], 1e-6
    numeric = sum(
        np.log(
            np.abs(
                (sc.transform(x0 + h * np.eye(2)[j]) - sc.transform(x0 - h * np.eye(2)[j]))[:, j]
                / (2 * h)
            )
        )
        for j in range(2)
    )
    np.testing.assert_allclose(sc.log_abs_det_jacobian(x0), numeric, rtol=1e-5)
    restored = LogitScaler.from_state(sc.state())
    np.testing.assert_array_equal(restored.transform(X[:10]), Y[:10])


def test_logit_scaler_clips_far_values_just_beyond_the_fitted_range():
    """Values beyond half the margin sit at u = margin/2 (or 1 − margin/2): the flow then
    sees an input ~1% of the range beyond its training data, never logit(1e-7)."""
    rng = np.random.default_rng(2)
    X = rng.uniform(0, 1, (2000, 2))
    sc = LogitScaler(margin=0.02).fit(X)
    lo, hi = X.min(0), X.max(0)
    span = hi - lo
    edge = sc.transform(np.array([lo - 0.0104 * span, hi + 0.0104 * span]))  # u ≈ margin/2
    far = sc.transform(np.array([lo - 1e6 * span, hi + 1e6 * span]))
    np.testing.assert_allclose(far, edge, atol=0.02)
    fitted = np.abs(sc.transform(X)).max(0)
    assert np.all(np.abs(far) < fitted + 2)  # not the ~30 of a 1e-7 clip
    assert np.all(np.abs(far) > fitted)  # still beyond every fitted value, in order
    # within half the margin a value maps as it is and inverts exactly
    near = np.array([hi + 0.009 * span])
    np.testing.assert_allclose(sc.inverse_transform(sc.transform(near)), near, rtol=1e-9)


def test_log_features_spread_small_values_and_must_be_positive():
    rng = np.random.default_rng(1)
    # a feature spanning four orders of magnitude: a cluster near 1e-4 and one near 0.5
    x = np.r_[1e-4 * (1 + 0.01 * rng.standard_normal(2000)), rng.uniform(0.3, 0.7, 2000)]
    X = x[:, None]
    plain = LogitScaler().fit(X).transform(X)[:2000, 0]
    logged = LogitScaler(log_features=(0,)).fit(X).transform(X)[:2000, 0]
    # the 1% spread of the small cluster is resolved only after the log
    assert logged.std() > 100 * plain.std()
    with pytest.raises(ValueError, match="log feature 0"):
        LogitScaler(log_features=(0,)).fit(np.c_[[1.0, 0.0, 2.0]])


def _compositions(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Events like the di-τ ρ: 3 real parts and 3 padded ones (~1e-4, 1% noise) summing to 1.

    Returns the kept coordinates (the real parts and one padded part) and their remainder
    1 − Σ, the two padded parts not kept.
    """
    g = np.random.default_rng(seed)
    pad = 1e-4 * (1 + 0.01 * g.standard_normal((n, 3)))
    parts = g.dirichlet([2.0, 1.0, 1.0], size=n) * (1 - pad.sum(axis=1, keepdims=True))
    return np.column_stack([parts, pad[:, :1]]), pad[:, 1:].sum(axis=1)


def test_simplex_features_round_trip_jacobian_and_stay_on_the_simplex():
    rho, _ = _compositions(4000, 3)
    X = np.column_stack([rho, np.random.default_rng(4).uniform(2, 3, 4000)])
    sc = LogitScaler(simplex_features=(0, 1, 2, 3)).fit(X)
    Y = sc.transform(X)
    np.testing.assert_allclose(Y.mean(0), 0, atol=1e-9)
    np.testing.assert_allclose(sc.inverse_transform(Y), X, rtol=1e-8, atol=1e-12)
    # the padded part (~1e-4, 1% spread) is resolved, not squeezed into a sliver
    assert Y[:, 3].std() > 0.5
    # any point of the standardized space maps back onto the open simplex
    back = sc.inverse_transform(3 * np.random.default_rng(5).standard_normal((5000, 5)))
    assert np.all(back[:, :4] > 0) and np.all(back[:, :4].sum(axis=1) < 1)
    # log|det J| of the (non-elementwise) map against a finite-difference Jacobian matrix
    h = 1e-9  # far below the remainder 1 − Σρ ≈ 2e-4 that every ρ derivative involves
    for x0 in X[:3]:
        J = np.column_stack(
            [
                (sc.transform((x0 + h * e)[None]) - sc.transform((x0 - h * e)[None]))[0] / (2 * h)
                for e in np.eye(5)
            ]
        )
        np.testing.assert_allclose(
            sc.log_abs_det_jacobian(x0[None])[0], np.linalg.slogdet(J)[1], rtol=1e-5
        )
    restored = LogitScaler.from_state(sc.state())
    np.testing.assert_array_equal(restored.transform(X[:10]), Y[:10])


def test_quantile_knots_bring_far_rare_values_inside_the_tail_bound():
    """A spike of 99 % and a rare mode ~40 spike widths away (the ρ of an 8th object): in the
    standardized units the rare mode lies beyond a tail bound of 6; through the fitted CDF
    it lies inside, the map inverts and its log|det J| matches finite differences."""
    g = np.random.default_rng(2)
    n = 20000
    rare = g.random(n) < 0.01
    x = np.where(rare, g.uniform(0.05, 0.3, n), 1e-4 * (1 + 0.01 * g.standard_normal(n)))
    X = np.column_stack([x, g.uniform(2, 3, n)])
    plain = LogitScaler(log_features=(0,)).fit(X)
    gauss = LogitScaler(log_features=(0,), quantile_knots=1001).fit(X)
    assert np.abs(plain.transform(X)[rare, 0]).min() > 6
    Z = gauss.transform(X)
    assert np.abs(Z).max() < 4.5 and abs(Z[:, 0].mean()) < 0.05 and abs(Z[:, 0].std() - 1) < 0.05
    # the values in the outer half-quantile of each end clip to it; all others invert
    inner = (np.abs(Z) < np.abs(Z).max(axis=0) - 1e-9).all(axis=1)
    assert inner.sum() >= n - 10
    np.testing.assert_allclose(gauss.inverse_transform(Z[inner]), X[inner], rtol=1e-6)
    x0, h = X[np.r_[np.flatnonzero(rare)[:2], np.flatnonzero(~rare)[:2]]], 1e-9
    numeric = sum(
        np.log(
            np.abs(
                (gauss.transform(x0 + h * x0 * e) - gauss.transform(x0 - h * x0 * e))[:, j]
                / (2 * h * x0[:, j])
            )
        )
        for j, e in enumerate(np.eye(2))
    )
    np.testing.assert_allclose(gauss.log_abs_det_jacobian(x0), numeric, rtol=1e-4)
    restored = LogitScaler.from_state(gauss.state())
    np.testing.assert_array_equal(restored.transform(X[:10]), Z[:10])
    # off by default: the plain map is unchanged
    np.testing.assert_array_equal(
        LogitScaler(log_features=(0,)).fit(X).transform(X), plain.transform(X)
    )
    with pytest.raises(ValueError, match="quantile_knots must be 0"):
        LogitScaler(quantile_knots=2).fit(X)


def test_simplex_features_must_be_a_sub_composition():
    X, _ = _compositions(100, 6)
    with pytest.raises(ValueError, match=r"simplex features \[0, 1\] sum to >= 1 in 1 fit"):
        LogitScaler(simplex_features=(0, 1)).fit(np.r_[X[:, :2], [[0.6, 0.4]]])
    with pytest.raises(ValueError, match="simplex feature 1 must exist and be positive"):
        LogitScaler(simplex_features=(0, 1)).fit(np.r_[X[:, :2], [[0.5, 0.0]]])
    with pytest.raises(ValueError, match=r"\[0\] are both log and simplex"):
        LogitScaler(log_features=(0,), simplex_features=(0, 1)).fit(X)


def test_flow_samples_keep_the_composition_sum_only_with_simplex_features():
    """Σρ = 1 − 2e-4 (two padded parts not kept): log coordinates smear it, log-ratios keep it."""
    X, rest_real = _compositions(6000, 7)
    real = np.median(rest_real)
    m = np.random.default_rng(8).uniform(0, 1, len(X))
    common = dict(architecture="rqs", blocks=2, hidden=32, bins=8, epochs=4, progress=False)
    rest = {}
    for name in ("log", "simplex"):
        flow = ConditionalFlow(**common, **{f"{name}_features": (0, 1, 2, 3)}, seed=1)
        flow.fit(X[:5000], m[:5000], X[5000:], m[5000:])
        x, _ = flow.sample(m[:4000], seed=2)
        rest[name] = 1 - x.sum(axis=1)
    assert np.median(np.abs(rest["log"])) > 100 * real  # the constraint is not learnt
    assert np.all(rest["simplex"] > 0)
    assert abs(np.median(rest["simplex"]) / real - 1) < 0.2
    assert np.percentile(rest["simplex"], 84) < 3 * real


def test_maf_matches_nflows_exactly():
    torch.manual_seed(1)
    maf, ref = MAF(4), build_nflows_maf(4)
    assert sum(p.numel() for p in maf.parameters()) == sum(p.numel() for p in ref.parameters())
    assert sum(p.numel() for p in maf.parameters()) == 276_720  # the reference's ~275k
    with torch.no_grad():  # non-trivial batch-norm state
        maf.running_mean.normal_(0, 0.3)
        maf.running_var.uniform_(0.7, 1.5)
        maf.bn_w.normal_(0, 0.2)
    copy_to_nflows(maf, ref)
    x, c = torch.randn(500, 4), torch.randn(500, 1)
    for mode in ("eval", "train"):
        getattr(maf, mode)()
        getattr(ref, mode)()
        torch.testing.assert_close(
            maf.log_prob(x, c), ref.log_prob(x, context=c), atol=1e-4, rtol=1e-5
        )
    maf.eval()
    ref.eval()
    torch.testing.assert_close(
        maf.transform(x, c)[0], ref.transform_to_noise(x, context=c), atol=1e-5, rtol=1e-5
    )


def test_maf_inverse_is_exact_and_untrained_eval_is_finite():
    torch.manual_seed(2)
    maf = MAF(3, blocks=5, hidden=32).double().eval()
    x, c = torch.randn(200, 3, dtype=torch.float64), torch.randn(200, 1, dtype=torch.float64)
    z, logdet = maf.transform(x, c)
    assert torch.isfinite(z).all() and torch.isfinite(logdet).all()
    torch.testing.assert_close(maf.inverse(z, c), x, atol=1e-9, rtol=1e-9)


@pytest.fixture(scope="module")
def gaussian_flow():
    """A small flow trained on x ~ N(0.8·m, 1)² with m ~ U[-2, 2] (Sec. III with a learned flow)."""
    rng = np.random.default_rng(3)

    def draw(n):
        m = rng.uniform(-2, 2, n)
        return 0.8 * m[:, None] + rng.normal(size=(n, 2)), m

    X, m = draw(20_000)
    Xv, mv = draw(5_000)
    flow = ConditionalFlow(
        blocks=4,
        hidden=32,
        learning_rate=3e-3,
        batch_size=256,
        epochs=8,
        patience=8,
        seed=0,
        progress=False,
    ).fit(X, m, Xv, mv)
    return flow, draw


def test_learned_flow_maps_to_uncorrelated_standard_normal(gaussian_flow):
    flow, draw = gaussian_flow
    X, m = draw(20_000)
    z = flow.transform(X, m)
    assert abs(np.corrcoef(X[:, 0], m)[0, 1]) > 0.6  # 0.8·σ_m / sqrt(1 + 0.64·σ_m²) ≈ 0.68
    for j in range(2):
        assert abs(z[:, j].mean()) < 0.1
        assert abs(z[:, j].std() - 1) < 0.1
        assert abs(np.corrcoef(z[:, j], m)[0, 1]) < 0.05
    err = np.abs(flow.inverse_transform(z, m) - X)
    assert np.quantile(err, 0.999) < 1e-3  # float32; events beyond the margin are clipped
    # an event far beyond the fitted range (flagged out of range) maps to a latent point
    # just beyond the others, not to the compounded extrapolation of every block
    wild = np.array([[1e6, -1e6], [-1e6, 1e6]])
    assert flow.scaler_.out_of_range(wild).all()
    # (|z| ≈ 9 here; with u clipped at 1e-7 the flow saw inputs ~28σ out and gave ~29)
    assert np.abs(flow.transform(wild, np.zeros(2))).max() < 15
    hist = flow.history_
    assert hist["selected"].sum() == 1
    assert hist.loc[hist["selected"], "val_nll"].item() == hist["val_nll"].min()
    assert hist["train_nll"].iloc[-1] < hist["train_nll"].iloc[0]


def test_sampling_follows_the_condition(gaussian_flow):
    flow, _ = gaussian_flow
    for mass in (-1.5, 1.5):
        x, n_out = flow.sample(np.full(20_000, mass), seed=1)
        assert x.shape == (20_000, 2)
        np.testing.assert_allclose(x.mean(0), 0.8 * mass, atol=0.1)
        assert n_out < 200  # only the tails leave the training range
    a, _ = flow.sample(np.zeros(100), seed=5)
    b, _ = flow.sample(np.zeros(100), seed=5)
    np.testing.assert_array_equal(a, b)


def test_decorrelation_moves_every_event_to_the_reference_mass(gaussian_flow, tmp_path):
    """x' = f⁻¹(f(x; m); m0) (LaCATHODE footnote 2): x' ~ p(x | m0) whatever m, so x' and m
    are uncorrelated and the m0 samples describe x'; each event keeps its own mJJ."""
    flow, draw = gaussian_flow
    X, m = draw(20_000)
    model = tmp_path / "flow.pt"
    flow.save(model)
    part = pd.DataFrame(X, columns=["a", "b"]).assign(mjj=m, label=0)
    part.to_parquet(tmp_path / "sb.parquet")
    outputs = {"sb_test": str(tmp_path / "xp.parquet")}
    samples_out = str(tmp_path / "samples.parquet")
    params = {"n_samples": 20_000, "sample_val_fraction": 0.25}
    decorrelate(
        str(model),
        {"sb_test": str(tmp_path / "sb.parquet")},
        outputs,
        samples_out,
        params,
        [0.8, 1.2],
        seed=4,
    )
    xp = pd.read_parquet(outputs["sb_test"])
    assert list(xp.columns) == ["a", "b", "mjj", "label", "in_range"]
    np.testing.assert_array_equal(xp["mjj"], m)
    for col in ("a", "b"):
        assert abs(np.corrcoef(part[col], m)[0, 1]) > 0.6
        assert abs(np.corrcoef(xp[col], m)[0, 1]) < 0.05
        assert abs(xp[col].mean() - 0.8 * 1.0) < 0.1  # the mean of p(x | m0 = 1)
        assert abs(xp[col].std() - 1) < 0.1
    samples = pd.read_parquet(samples_out)
    assert (samples["mjj"] == 1.0).all() and (samples["split"] == "val").sum() == 5000
    for col in ("a", "b"):
        assert abs(samples[col].mean() - xp[col].mean()) < 0.05


def test_checkpoint_round_trip_gives_identical_outputs(gaussian_flow, tmp_path):
    flow, draw = gaussian_flow
    X, m = draw(1000)
    flow.save(tmp_path / "flow.pt")
    loaded = ConditionalFlow.load(tmp_path / "flow.pt")
    np.testing.assert_array_equal(loaded.transform(X, m), flow.transform(X, m))
    np.testing.assert_array_equal(loaded.log_prob(X, m), flow.log_prob(X, m))
    np.testing.assert_array_equal(loaded.sample(m, seed=2)[0], flow.sample(m, seed=2)[0])


def test_masses_beyond_the_training_masses_are_counted_and_reported(
    gaussian_flow, tmp_path, caplog
):
    flow, draw = gaussian_flow
    lo, hi = flow.m_range_
    assert -2 < lo < -1.99 and 1.99 < hi < 2  # m ~ U[-2, 2]
    X, _ = draw(4)
    m = np.array([0.0, 1.5, 2.5, -3.0])  # two interpolated, two extrapolated (by > 1%)
    assert flow.masses_beyond(m) == 2
    assert flow.masses_beyond(np.array([hi + 0.005 * (hi - lo)])) == 0  # the edge: not
    with caplog.at_level("WARNING", logger="resonant_ad.core.flow"):
        flow.transform(X, m)
    assert "2 of 4 masses lie beyond the training masses" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO", logger="resonant_ad.core.flow"):
        flow.transform(X, m)  # the same events again (a job's next pass): said, not warned
    assert [r.levelname for r in caplog.records if "beyond" in r.message] == ["INFO"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="resonant_ad.core.flow"):
        flow.sample(m[:2], seed=1)
    assert "beyond the training masses" not in caplog.text
    flow.save(tmp_path / "flow.pt")
    assert ConditionalFlow.load(tmp_path / "flow.pt").m_range_ == (lo, hi)


def test_chunk_size_changes_no_number(gaussian_flow, request):
    """Maps, densities, samples, batch-norm statistics and validation losses computed in
    chunks of 64 events equal those of one chunk bit for bit (each event is computed on its
    own, and a loss is one sum over all events). Exact on the reference CPU; matrix kernels
    that round differently for other row counts would break the bits (see ``bench chunks``),
    but a per-chunk sum of the losses fails here whatever the kernels."""
    from resonant_ad.core.flow import fit_members

    flow, draw = gaussian_flow
    X, m = draw(3000)
    z = flow.transform(X, m)
    outputs = (z, flow.inverse_transform(z, m), flow.log_prob(X, m), flow.sample(m, seed=4)[0])
    torch.manual_seed(5)
    stacked = MAF.stack([MAF(2, blocks=2, hidden=16) for _ in range(3)])
    x, c = torch.randn(1000, 2), torch.randn(1000, 1)
    stacked.set_batchnorm_statistics(x, c)
    stats = stacked.running_mean.clone(), stacked.running_var.clone()
    kw = {"blocks": 2, "hidden": 16, "epochs": 3, "batch_size": 200, "progress": False}
    fit = [ConditionalFlow(**kw, seed=s) for s in (1, 2, 3)]
    args = (X[:1000], m[:1000], X[1000:], m[1000:])
    histories = [f.history_ for f in fit_members(fit, *args)]

    request.getfixturevalue("tiny_chunks")  # from here on, chunks of 64 events
    z_small = flow.transform(X, m)
    small = (z_small, flow.inverse_transform(z, m), flow.log_prob(X, m), flow.sample(m, seed=4)[0])
    for one, many in zip(outputs, small, strict=True):
        np.testing.assert_array_equal(many, one)
    stacked.set_batchnorm_statistics(x, c)
    assert torch.equal(stacked.running_mean, stats[0])
    assert torch.equal(stacked.running_var, stats[1])
    fit = fit_members([ConditionalFlow(**kw, seed=s) for s in (1, 2, 3)], *args)
    for one, f in zip(histories, fit, strict=True):
        pd.testing.assert_frame_equal(f.history_, one, check_exact=True)


def test_flow_rejects_bad_input():
    X = np.ones((10, 2))
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="training features contain NaN"):
        ConditionalFlow(progress=False).fit(X, np.ones(10), np.ones((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match="architecture"):
        ConditionalFlow(architecture="glow")


def test_rqs_architecture_trains_and_inverts():
    rng = np.random.default_rng(4)
    m = rng.uniform(0, 1, 2000)
    X = m[:, None] + rng.normal(size=(2000, 2))
    flow = ConditionalFlow(
        architecture="rqs",
        blocks=2,
        hidden=16,
        bins=8,
        epochs=2,
        patience=2,
        learning_rate=1e-3,
        progress=False,
    ).fit(X, m, X[:500], m[:500])
    z = flow.transform(X[:200], m[:200])
    np.testing.assert_allclose(flow.inverse_transform(z, m[:200]), X[:200], atol=1e-3)


def test_rqs_states_leave_out_the_made_masks_and_still_read_files_that_hold_them(tmp_path):
    """nflows' MADE masks and degrees follow from the architecture (any seed builds the same):
    they stay out of a kept epoch's state and the model file, and a state that holds them (a
    file written before) loads to the same flow."""
    from resonant_ad.core.flow import build_model

    kw = {"blocks": 2, "hidden": 16, "bins": 8, "made_blocks": 2}
    torch.manual_seed(0)
    a = build_model("rqs", 3, **kw)
    torch.manual_seed(1)
    b = build_model("rqs", 3, **kw)
    masks = {k: v for k, v in a.named_buffers() if k.endswith((".mask", ".degrees"))}
    assert len(masks) == 2 * (2 + 2) * 2  # layers x (first, 2 blocks, last) x (mask, degrees)
    for key, value in b.named_buffers():
        if key in masks:
            assert torch.equal(value, masks[key]), key
    assert not set(masks) & set(a.state_dict())
    old_style = {**a.state_dict(), **masks}  # as saved before
    b.load_state_dict(old_style)
    x, c = torch.randn(50, 3), torch.randn(50, 1)
    assert torch.equal(a.log_prob(x, c), b.log_prob(x, c))

    rng = np.random.default_rng(4)
    m = rng.uniform(0, 1, 1000)
    X = m[:, None] + rng.normal(size=(1000, 3))
    flow = ConditionalFlow(architecture="rqs", epochs=2, n_best_epochs=2, progress=False, **kw)
    flow.fit(X, m, X[:300], m[:300]).save(tmp_path / "flow.pt")
    assert all(not set(masks) & set(state) for state in flow.states_)
    again = ConditionalFlow.load(tmp_path / "flow.pt")
    np.testing.assert_array_equal(
        again.transform(X[:100], m[:100]), flow.transform(X[:100], m[:100])
    )


def test_mass_kde_samples_inside_the_window_like_the_data():
    rng = np.random.default_rng(5)
    m = 3.3 + 0.4 * rng.beta(1.2, 1.8, 20_000)  # a falling spectrum inside the SR
    kde = MassKDE((3.3, 3.7), bandwidth=0.01).fit(m)
    s = kde.sample(50_000, np.random.default_rng(6))
    assert ((s > 3.3) & (s < 3.7)).all()
    np.testing.assert_allclose(
        np.quantile(s, [0.1, 0.5, 0.9]), np.quantile(m, [0.1, 0.5, 0.9]), atol=0.005
    )
    with pytest.raises(ValueError, match="inside"):
        MassKDE((3.3, 3.7)).fit(np.array([3.0, 3.5]))


def test_mass_kde_bandwidth_is_absolute_in_logit_units():
    """The reference's KernelDensity(bandwidth=0.01): a kernel σ of 0.01 in logit(m), whatever
    the spread of the data (the old convention scaled it by the data's std)."""
    kde = MassKDE((3.3, 3.7), bandwidth=0.01).fit(np.array([3.5]))  # logit = 0
    s = kde.sample(100_000, np.random.default_rng(8))
    y = np.log((s - 3.3) / (3.7 - s))
    assert np.std(y) == pytest.approx(0.01, rel=0.02)
    wide = MassKDE((3.3, 3.7), bandwidth=0.01).fit(np.array([3.31, 3.5, 3.69]))
    assert wide.sigma_ == 0.01


def test_latent_checks_exclude_and_count_events_beyond_the_training_range():
    from resonant_ad.stages.checks import latent_table

    rng = np.random.default_rng(7)
    mjj = rng.uniform(3, 4, 10_000)
    x = rng.normal(size=(10_000, 2)) + mjj[:, None]
    z = rng.normal(size=(10_000, 2))
    z[:3] = 1e6  # extrapolated far outside: must not dominate the statistics
    inside = np.ones(10_000, dtype=bool)
    inside[:3] = False
    rows = latent_table(x, z, mjj, ["a", "b"], "SB", inside)
    for row in rows:
        assert row["n"] == 9_997 and row["n_outside_range"] == 3 and row["n_abs_z_gt_10"] == 3
        assert abs(row["z_mean"]) < 0.05 and abs(row["z_std"] - 1) < 0.05
        assert row["corr_x_mjj"] > 0.2 and abs(row["corr_z_mjj"]) < 0.05


def test_latent_vs_normal_auc_is_one_half_for_normal_latents_and_sees_a_wider_background():
    from resonant_ad.stages.checks import latent_vs_normal_auc

    z = np.random.default_rng(9).normal(size=(20_000, 4))
    assert latent_vs_normal_auc(z, seed=3) == pytest.approx(0.5, abs=0.015)
    assert latent_vs_normal_auc(z * 1.15, seed=3) > 0.55  # 15% wider in every dimension
    assert latent_vs_normal_auc(z, seed=3) == latent_vs_normal_auc(z, seed=3)  # seeded


def test_a_cut_learnt_on_a_wider_latent_sr_keeps_more_sr_than_sb_background():
    """normal_cut_excess: SR latents 10% wider than the SB's (which are N(0, 1)) make the
    cut keep ~1.3× more SR than side-band background; alike latents give ~1; only the bands
    one SR width beside the SR count."""
    from resonant_ad.stages.checks import normal_cut_excess

    g = np.random.default_rng(12)
    m_sb = np.r_[g.uniform(2.9, 3.3, 20_000), g.uniform(3.7, 4.1, 10_000), g.uniform(4.5, 5, 9)]
    z_sb = g.normal(size=(len(m_sb), 4))
    z_sb[m_sb > 4.5] *= 3.0  # far from the window: must not count
    alike = normal_cut_excess(
        g.normal(size=(30_000, 4)), g.normal(size=(20_000, 4)), z_sb, m_sb, (3.3, 3.7), 1
    )
    assert alike["normal_cut_sr_over_sb_sides"] == pytest.approx(1, abs=0.15)
    wide = normal_cut_excess(
        1.1 * g.normal(size=(30_000, 4)),
        1.1 * g.normal(size=(20_000, 4)),
        z_sb,
        m_sb,
        (3.3, 3.7),
        1,
    )
    assert wide["normal_cut_sr_over_sb_sides"] > 1.3
    for side in ("below", "above"):
        assert wide[f"normal_cut_sb_{side}_efficiency"] < wide["normal_cut_efficiency"] == 0.1
    with pytest.raises(ValueError, match="one SR width"):
        normal_cut_excess(z_sb, z_sb, z_sb, m_sb, (6.0, 6.1), 1)


def test_a_latent_cut_keeps_fewer_of_the_events_a_flow_was_fitted_to():
    """normal_cut_excess on SB subsets: where the flow maps its own SB training events closer
    to N(0, 1) than the events it never saw (here: N(0, 1) against 10% wider, as wide as the
    SR's), the cut keeps fewer of them, and only they make the SR a local maximum."""
    from resonant_ad.stages.checks import normal_cut_excess

    g = np.random.default_rng(13)
    m_sb = np.r_[g.uniform(2.9, 3.3, 20_000), g.uniform(3.7, 4.1, 20_000)]
    seen = np.arange(len(m_sb)) % 2 == 0
    z_sb = g.normal(size=(len(m_sb), 4)) * np.where(seen, 1.0, 1.1)[:, None]
    out = normal_cut_excess(
        1.1 * g.normal(size=(30_000, 4)),
        1.1 * g.normal(size=(20_000, 4)),
        z_sb,
        m_sb,
        (3.3, 3.7),
        1,
        subsets={"seen": seen, "unseen": ~seen},
    )
    assert out["normal_cut_sr_over_sb_sides_unseen"] == pytest.approx(1, abs=0.12)
    assert out["normal_cut_sr_over_sb_sides_seen"] > 1.3
    pooled = out["normal_cut_sr_over_sb_sides"]
    assert (
        out["normal_cut_sr_over_sb_sides_unseen"] < pooled < out["normal_cut_sr_over_sb_sides_seen"]
    )


@pytest.mark.parametrize("mass", ["mjj", "mvis"])
def test_real_vs_synthetic_check_sees_the_features_and_the_mass_only(mass):
    from resonant_ad.stages.checks import real_vs_synthetic

    rng = np.random.default_rng(8)

    def frame(n: int, shift: float) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "a": rng.normal(size=n),
                mass: rng.normal(size=n) + shift,
                "label": rng.integers(0, 2, n),  # not a feature: must not be looked at
                "split": pd.array(rng.choice(["train", "test"], n), dtype="string"),
            }
        )

    real = frame(6000, 0.0)
    same = real_vs_synthetic(real, frame(5000, 0.0), mass, seed=1)
    assert same["n_events"] == 5000 and abs(same["real_vs_synthetic_auc"] - 0.5) < 0.04
    shifted = real_vs_synthetic(real, frame(5000, 1.0), mass, seed=1)
    assert shifted["real_vs_synthetic_auc"] > 0.7  # a mass the flow did not model is seen


def test_real_vs_synthetic_reads_the_flows_excess_where_the_signal_sits():
    """A flow whose background piles up at the signal's place hides it from every method:
    the check's density ratio at the signal events reads it; elsewhere it reads ~1."""
    from resonant_ad.stages.checks import real_vs_synthetic

    rng = np.random.default_rng(9)

    def frame(a: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame({"a": a, "mjj": rng.normal(size=len(a)), "label": 0})

    real = frame(rng.normal(size=20_000))
    bump = rng.normal(2.0, 0.3, 3000)  # the flow's excess: 15% of its samples at a ≈ 2
    synthetic = frame(np.r_[rng.normal(size=17_000), bump])
    at_bump = real_vs_synthetic(real, synthetic, "mjj", 3, signal=frame(rng.normal(2.0, 0.1, 300)))
    elsewhere = real_vs_synthetic(real, synthetic, "mjj", 3, signal=frame(rng.normal(-1, 0.1, 300)))
    assert at_bump["signal_events"] == 300 and at_bump["synthetic_over_real_at_signal"] > 2
    assert 0.7 < elsewhere["synthetic_over_real_at_signal"] < 1.1  # 85% of the base shape
    assert at_bump["real_vs_synthetic_auc"] == elsewhere["real_vs_synthetic_auc"]  # one fit
    none = real_vs_synthetic(real, synthetic, "mjj", 3, signal=frame(np.array([])))
    assert none["synthetic_over_real_at_signal"] is None and none["signal_events"] == 0
    assert "synthetic_over_real_at_signal" not in real_vs_synthetic(real, synthetic, "mjj", 3)


def test_flows_trained_together_equal_flows_trained_alone():
    """R members in one model: each keeps its seed's init, shuffling, BN, epochs, stopping."""
    from resonant_ad.core.flow import fit_members

    rng = np.random.default_rng(11)
    m = rng.uniform(-1, 1, 3000)
    X = np.column_stack([rng.normal(m, 1.0), rng.gamma(2.0, 1.0 + 0.3 * m), rng.normal(0, 1, 3000)])
    kw = {
        "blocks": 2,
        "hidden": 16,
        "epochs": 12,
        "patience": 1,  # the members stop at different epochs
        "n_best_epochs": 2,
        "batch_size": 100,
        "learning_rate": 1e-3,
        "progress": False,
    }
    seeds = (1, 2, 3)
    train, val = slice(0, 2400), slice(2400, None)
    args = (X[train], m[train], X[val], m[val])
    alone = [ConditionalFlow(**kw, seed=s).fit(*args) for s in seeds]
    together = fit_members([ConditionalFlow(**kw, seed=s) for s in seeds], *args)
    lengths = set()
    for a, t in zip(alone, together, strict=True):
        assert a.best_epochs_ == t.best_epochs_
        assert len(a.history_) == len(t.history_)
        lengths.add(len(a.history_))
        np.testing.assert_allclose(t.history_["val_nll"], a.history_["val_nll"], rtol=1e-6)
        np.testing.assert_allclose(
            t.transform(X[val], m[val]), a.transform(X[val], m[val]), atol=1e-5, rtol=1e-5
        )
    assert len(lengths) > 1  # each member stopped early on its own
    with pytest.raises(ValueError, match="share their hyperparameters"):
        fit_members([ConditionalFlow(**kw, seed=1), ConditionalFlow(**{**kw, "hidden": 8})], *args)


def test_flow_mixture_samples_each_member_as_itself_in_equal_shares(tmp_path):
    """flow_mixture: a draw from a member's state is that member's draw; halves each; saved."""
    from resonant_ad.core.flow import flow_mixture

    rng = np.random.default_rng(12)
    m = rng.uniform(-1, 1, 2000)
    X = np.column_stack([rng.normal(m, 1.0), rng.gamma(2.0, 1.0 + 0.3 * m)])
    kw = {"blocks": 2, "hidden": 16, "epochs": 2, "batch_size": 200, "progress": False}
    args = (X[:1600], m[:1600], X[1600:], m[1600:])
    a, b = (ConditionalFlow(**kw, seed=s).fit(*args) for s in (1, 2))
    mix = flow_mixture([a, b])
    assert len(mix.states_) == 2 and mix.seed == 1
    Z, mm = rng.standard_normal((40, 2)), rng.uniform(-1, 1, 40)
    zero = np.zeros(40, dtype=int)
    np.testing.assert_array_equal(mix.sample_latent(Z, mm, zero), a.sample_latent(Z, mm, zero))
    np.testing.assert_array_equal(mix.sample_latent(Z, mm, zero + 1), b.sample_latent(Z, mm, zero))
    assert not np.allclose(a.sample_latent(Z, mm, zero), b.sample_latent(Z, mm, zero))
    x, _ = mix.sample(mm, seed=5)
    gen = torch.Generator().manual_seed(5)
    z_a, z_b = (torch.randn(20, 2, generator=gen).numpy() for _ in range(2))
    np.testing.assert_allclose(x[:20], a.inverse_transform(z_a, mm[:20]), rtol=1e-6)
    np.testing.assert_allclose(x[20:], b.inverse_transform(z_b, mm[20:]), rtol=1e-6)
    mix.save(tmp_path / "mix.pt")
    back = ConditionalFlow.load(tmp_path / "mix.pt")
    np.testing.assert_array_equal(back.sample(mm, seed=5)[0], x)
    other = ConditionalFlow(**kw, seed=3).fit(X[:1500], m[:1500], X[1600:], m[1600:])
    with pytest.raises(ValueError, match="seed 3 was fitted on other data"):
        flow_mixture([a, other])


def test_stacked_maf_is_its_members():
    """log p and gradients of a stacked MAF equal those of its members, one by one."""
    torch.manual_seed(3)
    singles = [MAF(3, blocks=3, hidden=16) for _ in range(4)]
    stacked = MAF.stack(singles)
    x, c = torch.randn(4, 50, 3), torch.randn(4, 50, 1)
    lp = stacked.log_prob(x, c)
    lp.sum().backward()
    for r, single in enumerate(singles):
        ref = single.log_prob(x[r], c[r])
        ref.sum().backward()
        torch.testing.assert_close(lp[r], ref, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(stacked.w1.grad[r], single.w1.grad[0], atol=1e-5, rtol=1e-4)
        member = stacked.member(r)
        torch.testing.assert_close(member.log_prob(x[r], c[r]), ref.detach(), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("inverse", [False, True])
def test_graph_safe_spline_equals_nflows(inverse):
    """The mask-free spline (capturable as a CUDA graph) is nflows' spline, tails included."""
    from nflows.transforms.splines.rational_quadratic import (
        unconstrained_rational_quadratic_spline as nflows_spline,
    )

    from resonant_ad.core.rqs import rq_spline

    g = torch.Generator().manual_seed(4)
    n, bins = 4000, 8
    x = torch.empty(n, 3).uniform_(-8, 8, generator=g)  # beyond the tail bound 6 too
    w, h = torch.randn(n, 3, bins, generator=g), torch.randn(n, 3, bins, generator=g)
    d = torch.randn(n, 3, bins - 1, generator=g)
    out, ld = rq_spline(x, w, h, d, inverse, 6.0)
    ref_out, ref_ld = nflows_spline(
        x, w, h, d.clone(), inverse=inverse, tails="linear", tail_bound=6.0
    )
    torch.testing.assert_close(out, ref_out, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ld, ref_ld, atol=1e-5, rtol=1e-5)
    assert ((x.abs() > 6) == (out == x)).all()  # identity outside, spline inside


@pytest.mark.parametrize(("made_blocks", "residual"), [(2, False), (6, False), (3, True)])
def test_graph_safe_rqs_flow_equals_the_nflows_flow(made_blocks, residual):
    """Any MADE depth (the paper's 6 blocks per layer), residual or not."""
    from nflows.transforms.made import MaskedLinear

    from resonant_ad.core.rqs import NflowsRQS

    torch.manual_seed(5)
    kw = {
        "blocks": 2,
        "hidden": 16,
        "bins": 6,
        "tail_bound": 3.0,
        "made_blocks": made_blocks,
        "residual_blocks": residual,
    }
    ours = NflowsRQS(4, **kw)
    ref = NflowsRQS(4, **kw, graph_safe=False)
    linear = sum(isinstance(m, MaskedLinear) for m in ours.modules())
    # per layer: input, the blocks (two layers each when residual), output
    assert linear == 2 * (2 + made_blocks * (2 if residual else 1))
    ref.load_state_dict(ours.state_dict())
    x, c = torch.randn(300, 4) * 2, torch.randn(300, 1)
    torch.testing.assert_close(ours.log_prob(x, c), ref.log_prob(x, c), atol=1e-4, rtol=1e-5)
    z = ours.transform(x, c)[0]
    torch.testing.assert_close(ours.inverse(z, c), ref.inverse(z, c), atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(ours.inverse(z, c), x, atol=1e-3, rtol=1e-4)
    # one layer's inverse (the spline of pass i on feature i alone): nflows' outputs, and the
    # log-det of the whole inverse, minus the forward one
    layer, ref_layer = ours.flow._transform._transforms[0], ref.flow._transform._transforms[0]
    y, forward_ld = layer(x, c)
    back, back_ld = layer.inverse(y, c)
    torch.testing.assert_close(back, ref_layer.inverse(y, c)[0], atol=1e-4, rtol=1e-5)
    torch.testing.assert_close(back_ld, -forward_ld, atol=1e-4, rtol=1e-4)


def test_rqs_settings_belong_to_the_rqs_flow_and_unreachable_values_are_reported(caplog):
    """made_blocks/residual_blocks are rqs settings; SB values that the spline flow cannot
    generate (beyond its tail bound after preprocessing) are named in the log."""
    with pytest.raises(ValueError, match="made_blocks and residual_blocks are settings of the rqs"):
        ConditionalFlow(architecture="maf", made_blocks=6)
    g = np.random.default_rng(0)
    n = 4000
    spike = np.where(g.random(n) < 0.01, 5.0 + g.random(n), 1.0 + 0.001 * g.normal(size=n))
    X = np.c_[g.normal(size=n), spike]  # feature 1: a narrow spike and a rare far mode
    m = g.uniform(1, 2, n)
    flow = ConditionalFlow(
        architecture="rqs", blocks=1, hidden=8, bins=4, epochs=1, progress=False, made_blocks=1
    )
    with caplog.at_level("WARNING", logger="resonant_ad.core.rqs"):
        flow.fit(X, m, X, m)
    # the rare mode (1% of the events) lies beyond; of the Gaussian feature, only the few
    # extremes that the logit of the min-max scaling stretches
    assert "beyond the spline's tail bound 6" in caplog.text
    assert re.search(r"feature 1: 1(\.\d)?%", caplog.text), caplog.text


def test_compiled_training_step_equals_the_eager_one():
    """`compiled`: the step through torch.compile (fused kernels) trains the same flow as the
    eager step, within float rounding: the same losses per epoch, the same latents."""
    rng = np.random.default_rng(5)
    m = rng.uniform(-1, 1, 1200)
    X = np.column_stack([rng.normal(m, 1.0), rng.gamma(2.0, 1.0 + 0.3 * m)])
    kw = {"blocks": 2, "hidden": 8, "epochs": 2, "batch_size": 100, "progress": False}
    train, val = slice(0, 1000), slice(1000, None)  # one batch size: one compilation
    args = (X[train], m[train], X[val], m[val])
    eager = ConditionalFlow(**kw, seed=3).fit(*args)
    fused = ConditionalFlow(**kw, seed=3, compiled=True).fit(*args)
    for col in ("train_nll", "val_nll"):
        np.testing.assert_allclose(fused.history_[col], eager.history_[col], rtol=1e-4)
    np.testing.assert_allclose(
        fused.transform(X[val], m[val]), eager.transform(X[val], m[val]), atol=1e-4, rtol=1e-4
    )


def test_stacked_rqs_is_its_members():
    """StackedRQS holds nflows RQ-spline flows as members: the same log-probabilities per
    member, and each member's state loads back into the nflows flow unchanged."""
    from resonant_ad.core.rqs import NflowsRQS, StackedRQS

    singles = []
    for seed in range(3):
        torch.manual_seed(seed)
        singles.append(NflowsRQS(5, 1, blocks=3, hidden=16, bins=6, made_blocks=2))
    stacked = StackedRQS.stack(singles)
    x, c = 2 * torch.randn(3, 200, 5), torch.randn(3, 200, 1)  # some beyond the tail bound
    with torch.no_grad():
        ref = torch.stack([f.log_prob(x[r], c[r]) for r, f in enumerate(singles)])
        assert torch.allclose(stacked.log_prob(x, c), ref, atol=1e-4, rtol=1e-5)
    for r, flow in enumerate(singles):
        state, own = stacked.member_state(r), flow.state_dict()
        assert state.keys() == own.keys()
        assert all(torch.equal(state[k], own[k]) for k in own)
    with pytest.raises(ValueError, match="not residual ones"):
        StackedRQS.stack([NflowsRQS(5, 1, blocks=1, hidden=8, bins=4, residual_blocks=True)])


def test_rqs_flows_trained_together_equal_flows_trained_alone(monkeypatch):
    """On a GPU the RQ-spline members of an ensemble train as one StackedRQS (here forced on
    the CPU): each keeps its seed's init, shuffling, epochs and stopping, as trained alone."""
    from resonant_ad.core import flow as flow_module

    rng = np.random.default_rng(12)
    m = rng.uniform(-1, 1, 2400)
    X = np.column_stack([rng.normal(m, 1.0), rng.gamma(2.0, 1.0 + 0.3 * m), rng.normal(0, 1, 2400)])
    kw = {"architecture": "rqs", "blocks": 2, "hidden": 16, "bins": 6, "made_blocks": 2}
    kw |= {"epochs": 10, "patience": 1, "n_best_epochs": 2, "batch_size": 100, "progress": False}
    kw["learning_rate"] = 1e-2
    args = (X[:1800], m[:1800], X[1800:], m[1800:])
    seeds = (1, 2, 3)
    alone = [ConditionalFlow(**kw, seed=s).fit(*args) for s in seeds]
    calls = []
    real = flow_module.StackedRQS.stack
    monkeypatch.setattr(flow_module, "STACK_DEVICES", ("cuda", "cpu"))
    monkeypatch.setattr(
        flow_module.StackedRQS, "stack", lambda flows: calls.append(len(flows)) or real(flows)
    )
    together = flow_module.fit_members([ConditionalFlow(**kw, seed=s) for s in seeds], *args)
    assert calls == [3]
    lengths = set()
    for a, t in zip(alone, together, strict=True):
        assert a.best_epochs_ == t.best_epochs_
        lengths.add(len(a.history_))
        np.testing.assert_allclose(t.history_["val_nll"], a.history_["val_nll"], rtol=1e-5)
        np.testing.assert_allclose(
            t.transform(X[1800:], m[1800:]), a.transform(X[1800:], m[1800:]), atol=1e-4
        )
    assert len(lengths) > 1  # each member stopped early on its own
