"""The univariate imputation methods: their deterministic parts against R (mice 3.15, glm.fit, nnet), their
random parts against the distributions mice draws from."""
from __future__ import annotations

import json

import numpy as np
import pytest

from oligomet.missing import methods as mth


@pytest.fixture(scope="module")
def ref(reference_dir):
    return json.loads((reference_dir / "mice" / "mice.json").read_text())


def test_augment_is_mices_augment(ref):
    a = ref["augment"]
    x = np.column_stack(a["x"])
    xa, ya, w = mth.augment(np.asarray(a["y"]), np.asarray(a["ry"]), x)
    ry = np.asarray(a["ry"])
    # R returns all rows plus the pseudo-rows; we return the fitting rows (observed) plus the pseudo-rows
    r_x = np.column_stack(a["x_aug"])
    r_keep = np.concatenate([ry, np.ones(len(a["y_aug"]) - ry.size, dtype=bool)])
    np.testing.assert_allclose(xa, r_x[r_keep], rtol=1e-14)
    np.testing.assert_array_equal(ya, np.asarray(a["y_aug"])[r_keep])
    np.testing.assert_allclose(w, np.asarray(a["w"])[r_keep], rtol=1e-14)
    assert (xa[ry.sum():, 1] >= 0).all() and (xa[ry.sum():, 1] <= 1).all()   # clipped to the predictor's range


def test_logistic_fit_on_augmented_data_is_glm_fit(ref):
    a = ref["augment"]
    x = np.column_stack(a["x"])
    ry = np.asarray(a["ry"])
    y = (np.asarray(a["y"]) == 2).astype(np.int64)          # category "r" vs the rest
    xa, _, w = mth.augment(np.asarray(a["y"]), ry, x)
    ya = np.concatenate([y[ry], (np.asarray(a["y_aug"])[len(a["y"]):] == 2).astype(np.int64)])
    x1 = np.column_stack([np.ones(ya.size), xa])
    beta, info = mth.multinomial_logit(x1, ya, w, 2, tol=1e-15)
    np.testing.assert_allclose(beta.ravel(), a["logistic_coef"], rtol=1e-7)
    np.testing.assert_allclose(np.linalg.inv(info), np.column_stack(a["logistic_cov_unscaled"]), rtol=1e-6)


def test_multinomial_fit_on_augmented_data_is_nnet_multinom(ref):
    a = ref["augment"]
    x = np.column_stack(a["x"])
    xa, ya, w = mth.augment(np.asarray(a["y"]), np.asarray(a["ry"]), x)
    beta, _ = mth.multinomial_logit(np.column_stack([np.ones(ya.size), xa]), ya, w, 3, tol=1e-15)
    # nnet's BFGS stops near, not at, the maximum: agreement to its tolerance
    np.testing.assert_allclose(beta, np.asarray(a["multinom_coef"]), rtol=1e-4, atol=1e-5)


def test_remove_lindep_keeps_what_mice_keeps(ref):
    r = ref["lindep"]
    x, y, ry = np.column_stack(r["x"]), np.asarray(r["y"]), np.asarray(r["ry"])
    keep, why = mth.remove_lindep(mth.Moments(x[ry], y[ry]))
    assert keep.tolist() == r["keep"]
    assert "constant" in why and "correlation" in why and "linearly dependent" in why


def test_remove_lindep_drops_everything_when_the_target_hardly_varies():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(50, 3))
    keep, why = mth.remove_lindep(mth.Moments(x, 5 + 1e-4 * rng.normal(size=50)))
    assert not keep.any() and "hardly vary" in why


def test_norm_draw_samples_the_flat_prior_posterior_of_the_regression():
    """beta* ~ N(beta_hat, sigma*^2 (X'X)^-1) with sigma*^2 = RSS / chi2(df): E[beta*] = beta_hat and
    Cov[beta*] = RSS / (df - 2) (X'X)^-1, in R's uncentred parametrisation (intercept first)."""
    rng = np.random.default_rng(3)
    n = 40
    x = np.column_stack([rng.normal(50, 10, n), rng.integers(0, 2, n)])
    y = 2 + 0.1 * x[:, 0] - x[:, 1] + rng.normal(size=n)
    x1 = np.column_stack([np.ones(n), x])
    bhat, rss = np.linalg.lstsq(x1, y, rcond=None)[:2]
    mom = mth.Moments(x, y)
    draws = []
    for _ in range(5000):
        _, _, a, b, ridge = mth.norm_draw(mom, rng)
        draws.append(np.concatenate([[a - b @ mom.xmean], b]))    # back to R's uncentred intercept
        assert not ridge
    draws = np.array(draws)
    cov = rss[0] / (n - 3 - 2) * np.linalg.inv(x1.T @ x1)
    se = np.sqrt(np.diag(cov))
    assert np.all(np.abs(draws.mean(axis=0) - bhat) < 4 * se / np.sqrt(len(draws)))
    np.testing.assert_allclose(np.cov(draws, rowvar=False), cov, rtol=0.1, atol=0.1 * np.outer(se, se).max())


def test_norm_draw_uses_mices_ridge_when_the_predictors_are_collinear():
    rng = np.random.default_rng(4)
    x = rng.normal(size=(30, 2))
    x = np.column_stack([x, x[:, 0] + x[:, 1]])
    _, _, _, b, ridge = mth.norm_draw(mth.Moments(x, x[:, 0] + rng.normal(size=30)), rng)
    assert ridge and np.isfinite(b).all()


def nearest_ranks(donor, target):
    """Rank of every donor's distance to each target (0 = nearest)."""
    d = np.abs(donor[None, :] - target[:, None])
    return d.argsort(axis=1, kind="stable").argsort(axis=1), d


def test_match_index_with_one_donor_is_the_nearest_and_ties_go_right():
    rng = np.random.default_rng(5)
    donor = np.array([-5.0, 5.0, 0.0, 10.0, 12.0])
    target = np.array([-6.0, -4.0, 0.0, 2.0, 4.0, -2.0, 6.0, 2.5, 11.0])
    idx = mth.match_index(donor, target, 1, rng)
    # R: matchindex(d, t, 1); 2.5 is as near 0 as 5 and 11 as near 10 as 12: mice takes the right one
    np.testing.assert_array_equal(donor[idx], [-5, -5, 0, 0, 5, 0, 5, 5, 12])


def test_match_index_draws_uniformly_among_the_k_nearest():
    rng = np.random.default_rng(6)
    donor = rng.normal(size=200)
    target = rng.normal(size=50)
    ranks, _ = nearest_ranks(donor, target)
    counts = np.zeros(5)
    for _ in range(400):
        idx = mth.match_index(donor, target, 5, rng)
        r = ranks[np.arange(target.size), idx]
        assert r.max() < 5
        counts += np.bincount(r, minlength=5)
    # 20 000 draws, each rank expected 4 000 times (SD ~ 57)
    assert np.all(np.abs(counts - counts.sum() / 5) < 300)


def test_match_index_breaks_ties_among_donors_at_random():
    rng = np.random.default_rng(7)
    donor = np.array([1.0, 1.0, 1.0, 9.0])
    picks = np.concatenate([mth.match_index(donor, np.array([1.0]), 1, rng) for _ in range(600)])
    assert set(picks.tolist()) == {0, 1, 2}
    assert np.all(np.abs(np.bincount(picks) - 200) < 60)


def test_match_index_with_fewer_donors_than_k_uses_them_all():
    rng = np.random.default_rng(8)
    idx = np.concatenate([mth.match_index(np.array([0.0, 1.0]), np.array([0.2]), 5, rng) for _ in range(200)])
    assert set(idx.tolist()) == {0, 1}


def test_logreg_imputes_from_the_fitted_probabilities():
    """x depends on z (logit 2z); missing at random given z: the imputed x follow P(x | z)."""
    rng = np.random.default_rng(9)
    n = 4000
    z = rng.normal(size=n)
    x = (rng.random(n) < 1 / (1 + np.exp(-2 * z))).astype(np.int64)
    ry = rng.random(n) > 1 / (1 + np.exp(-(z - 0.5)))        # more missing at high z
    wy = ~ry
    draws = np.mean([mth.logreg(x, ry, wy, z[:, None], rng).mean() for _ in range(30)])
    truth = np.mean(1 / (1 + np.exp(-2 * z[wy])))
    assert abs(draws - truth) < 0.02
    assert abs(x[ry].mean() - truth) > 0.1          # the observed rows alone would be far off


def test_polyreg_imputes_from_the_fitted_probabilities():
    rng = np.random.default_rng(10)
    n = 5000
    z = rng.normal(size=n)
    eta = np.column_stack([np.zeros(n), 1.5 * z, -1.5 * z + 0.5])
    p = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    ry = rng.random(n) > 1 / (1 + np.exp(-z))
    wy = ~ry
    cache = {}
    got = np.mean([np.bincount(mth.polyreg(y, ry, wy, z[:, None], rng, cache), minlength=3) / wy.sum()
                   for _ in range(20)], axis=0)
    np.testing.assert_allclose(got, p[wy].mean(axis=0), atol=0.02)
    assert cache["beta"].shape == (2, 2)         # kept as the next iteration's starting value


def test_a_pmm_model_built_once_draws_what_rebuilding_it_each_time_draws():
    """mice's chains reuse one PMMModel while the predictors stay fixed: the same imputations as pmm()."""
    data = np.random.default_rng(8)
    x = data.normal(size=(300, 3))
    y = x @ [1.0, -0.5, 0.2] + data.normal(size=300)
    wy = data.random(300) < 0.3
    ry = ~wy
    model = mth.PMMModel(y, ry, wy, x)
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    for _ in range(5):
        np.testing.assert_array_equal(model.draw(a, reuse_sort=True), mth.pmm(y, ry, wy, x, b)[0])


def test_match_index_reuses_a_presorted_order_only_when_the_donors_are_distinct():
    tied = np.array([1.0, 1.0, 1.0, 9.0])
    assert mth.sorted_donors(tied)[1] is False
    rng = np.random.default_rng(7)
    picks = {int(mth.match_index(tied, np.array([1.0]), 1, rng, mth.sorted_donors(tied))[0]) for _ in range(200)}
    assert picks == {0, 1, 2}      # ties still broken at random
    distinct = np.array([3.0, 1.0, 2.0])
    assert mth.sorted_donors(distinct)[1] is True
    a, b = np.random.default_rng(1), np.random.default_rng(1)
    target = np.array([0.0, 1.6, 2.4, 5.0])
    np.testing.assert_array_equal(mth.match_index(distinct, target, 2, a, mth.sorted_donors(distinct)),
                                  mth.match_index(distinct, target, 2, b))


def test_match_index_kernels_equal_the_sorts_they_replace():
    """order_ties = the stable sort of the shuffled donors; insertion_points = np.searchsorted (left), with
    ties, signed zeros and NaNs (NumPy sorts them last)."""
    from oligomet.missing._pmm_kernel import insertion_points, order_ties
    rng = np.random.default_rng(12)
    for trial in range(20):
        donor = np.round(rng.normal(size=300), 1 if trial % 2 else 6)
        donor[rng.random(300) < 0.05] = -0.0
        donor[rng.random(300) < 0.05] = 0.0
        if trial % 3 == 0:
            donor[rng.random(300) < 0.05] = np.nan
        target = np.concatenate([np.round(rng.normal(size=80), 1), [np.nan, 0.0, -0.0, np.inf, -np.inf]])
        shuffle = rng.permutation(donor.size)
        s = mth.sorted_donors(donor)
        order = s.order if s.distinct else order_ties(shuffle, s.group, s.starts)
        np.testing.assert_array_equal(order, shuffle[np.argsort(donor[shuffle], kind="stable")] if not s.distinct
                                      else np.argsort(donor, kind="stable"))
        ysort = donor[order]
        np.testing.assert_array_equal(insertion_points(ysort, target, np.argsort(target)),
                                      np.searchsorted(ysort, target, side="left"))


def test_bucketed_insertion_points_are_searchsorted():
    """The donors' equal-width buckets give np.searchsorted's left insertion points (NaN last) without sorting
    the targets, and the fused walk gives nth_nearest's positions: for ties, signed zeros, NaNs, infinities,
    skewed and constant donors."""
    from oligomet.missing._pmm_kernel import bucketed_nth_nearest, nth_nearest
    rng = np.random.default_rng(13)
    used = 0
    for trial in range(600):
        n = int(rng.integers(1, 300))
        donor = rng.normal(size=n) * 10 ** rng.uniform(-5, 5)
        kind = trial % 6
        if kind == 1:
            donor = np.round(donor, 1)
        elif kind == 2:
            donor = rng.exponential(size=n) ** 4
        elif kind == 3:
            donor[rng.random(n) < 0.1] = np.nan
        elif kind == 4:
            donor[rng.random(n) < 0.2] = rng.choice([0.0, -0.0])
        elif kind == 5:
            donor = np.full(n, 3.0)
        finite = donor[np.isfinite(donor)]
        spread = np.abs(finite).max() if finite.size else 1.0
        target = np.concatenate([rng.normal(size=50) * spread, rng.choice(donor, 20),
                                 [np.nan, 0.0, -0.0, np.inf, -np.inf, 1e308, -1e308]])
        s = mth.sorted_donors(donor)
        want = np.searchsorted(s.values, target, side="left")
        np.testing.assert_array_equal(mth._insertion_points(s.values, target, s), want)
        if s.buckets is not None:
            used += 1
            h = rng.integers(0, min(5, n), size=target.size)
            np.testing.assert_array_equal(bucketed_nth_nearest(s.values, target, h, *s.buckets),
                                          nth_nearest(s.values, target, want, h))
    assert used > 400
