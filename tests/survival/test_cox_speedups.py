"""The shortcuts taken for speed give the very numbers of the general routes they replace (to the bit)."""
import warnings

import numpy as np
import pytest
from scipy import stats

from oligomet.survival.cox import _chi2_sf, _norm_sf


def _same_bits(a, b) -> bool:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return a.shape == b.shape and bool(np.array_equal(a.view(np.int64), b.view(np.int64)))


def test_normal_tail_is_scipy_stats():
    rng = np.random.default_rng(0)
    x = np.concatenate([np.abs(rng.standard_normal(20_000)) * 6, [0.0, -0.0, np.inf, np.nan, 1e-300, 38.5, 1e308]])
    assert _same_bits(_norm_sf(x), stats.norm.sf(x))
    assert _same_bits(_norm_sf(-x), stats.norm.sf(-x))


def test_chi_squared_tail_is_scipy_stats():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.exponential(5.0, 5_000), [1e-300, 1e-12, 700.0, 1e6]])
    for df in (1, 2, 3, 7, 20):
        assert _same_bits(_chi2_sf(x, df), stats.chi2.sf(x, df))
    # outside the support (and for a non-positive df) the distribution object decides, as before
    for x, df in (([0.0, 1.0], 2), ([-1e-12, 3.0], 1), ([np.nan, 1.0], 2), ([np.inf, 1.0], 3), ([1.0, 2.0], 0)):
        assert _same_bits(_chi2_sf(np.array(x), df), stats.chi2.sf(np.array(x), df))


def test_compiled_ldl_factor_is_cholesky2_to_the_bit():
    from oligomet.survival import _cox_core as core
    from oligomet.survival._cholesky import TOLER_CHOL, ldl_factor, wald_statistic

    rng = np.random.default_rng(2)
    for trial in range(3000):
        p = int(rng.integers(1, 12))
        a = rng.standard_normal((p + int(rng.integers(0, 5)), p)) * np.exp(rng.standard_normal(p) * 3)
        s = a.T @ a
        kind = trial % 5
        if kind == 1 and p > 1:          # a redundant column: a singular pivot
            s[:, -1] = 2 * s[:, 0]
            s[-1, :] = 2 * s[0, :]
            s[-1, -1] = 4 * s[0, 0]
        elif kind == 2:                  # not symmetric, perhaps indefinite: the upper triangle is used
            s = s + rng.standard_normal(s.shape) * 1e-3 * np.abs(s).max()
        elif kind == 3:                  # non-finite entries
            s[rng.integers(p), rng.integers(p)] = rng.choice([np.nan, np.inf, -np.inf])
        elif kind == 4:                  # negative definite: no positive pivot
            s = -s
        with np.errstate(invalid="ignore", over="ignore"):
            want, want_rank = ldl_factor(s, TOLER_CHOL)
        got, rank = core._factor(s)
        assert rank == want_rank
        assert _same_bits(got, want)
        if kind == 0:
            b = rng.standard_normal(p)
            assert _same_bits(core.wald_statistic(s, b), wald_statistic(s, b))


def _data(n=500, seed=3):
    import pandas as pd
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"time": np.round(rng.exponential(30, n), 3) + 1.0, "event": (rng.random(n) < 0.6) * 1.0,
                      "age": rng.normal(60, 10, n).round(), "arm": rng.choice(["a", "b", "c"], n),
                      "x": rng.normal(size=n), "site": rng.integers(0, 3, n), "w": rng.integers(1, 4, n) * 1.0,
                      "entry": 0.0})
    d.loc[rng.choice(n, 40, replace=False), "x"] = np.nan     # a covariate with missing values: rows dropped
    d["time"] = d["time"].where(rng.random(n) > 0.2, d["time"].round())   # ties and near-ties
    return d


@pytest.mark.parametrize("options", [{}, {"ties": "breslow"}, {"strata": "site"}, {"weights": "w"},
                                     {"cluster": "site"}, {"start": "entry"}])
def test_fits_on_one_data_frame_equal_separate_fits(options):
    """CoxData shares times, strata and risk sets between fits: each result is cox()'s to the bit, in any order
    of the models (with and without rows dropped for missing values)."""
    import pandas as pd

    import oligomet as om
    from oligomet.survival.cox import CoxData

    d = _data()
    on_d = CoxData(d)
    for covs in (["age"], ["x"], ["C(arm, ref='b')", "age"], ["age", "x", "arm"], ["arm"], ["age"]):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            got = on_d.cox(time="time", event="event", covariates=covs, **options)
            want = om.cox(d, time="time", event="event", covariates=covs, **options)
        for frame in ("summary", "tests", "var", "naive_var"):
            pd.testing.assert_frame_equal(getattr(got, frame), getattr(want, frame), check_exact=True)
        np.testing.assert_array_equal(got.loglik, want.loglik)
        assert (got.n, got.n_events, got.iterations, got.dropped.n) == (want.n, want.n_events, want.iterations,
                                                                         want.dropped.n)
        assert got.concordance == want.concordance or np.isnan(got.concordance) and np.isnan(want.concordance)
        pd.testing.assert_frame_equal(got.zph(), want.zph(), check_exact=True)
        for kind in ("martingale", "dfbeta", "schoenfeld"):      # the shared arrays are only read
            pd.testing.assert_frame_equal(got.residuals(kind), want.residuals(kind), check_exact=True)
        new = d.iloc[:3]
        pd.testing.assert_frame_equal(got.predict_survival(new, [5.0, 20.0]),
                                      want.predict_survival(new, [5.0, 20.0]), check_exact=True)


def test_unweighted_concordance_counts_are_the_general_routes():
    """Without case weights the pair counts come from R's walk with a binary indexed tree (whole numbers in
    integers): the same floats as the weighted route's, for ties in time and risk, strata and censoring."""
    from oligomet.survival import concordance as cc

    rng = np.random.default_rng(4)
    checked = 0
    for trial in range(600):
        n = int(rng.integers(1, 300))
        t = rng.exponential(10, n) if trial % 3 == 0 else rng.integers(1, int(rng.integers(2, 40)), n) * 1.0
        e = rng.random(n) < rng.random()
        r = np.round(rng.normal(size=n), int(rng.integers(0, 3)))
        s = None if trial % 2 else rng.integers(0, int(rng.integers(1, 5)), n)
        t, e, r, s, w = cc._as_inputs(t, e, r, s, None)
        if not e.any():
            continue
        checked += 1
        assert _same_bits(cc._unit_counts(t, e, r, s), cc._counts_prepared(cc._prepare(t, e, r, s, w)))
    assert checked > 400
