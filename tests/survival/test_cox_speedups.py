"""The shortcuts taken for speed give the very numbers of the general routes they replace (to the bit)."""
import numpy as np
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
