"""Invariants of the Cox fit (hypothesis) and checks of the array core against independent computations."""
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import oligomet as om
from oligomet.survival import _cox_core as core
from oligomet.survival._blas_threads import single_threaded_blas
from oligomet.survival._cox_robust import weighted_score_residuals
from oligomet import CompleteCaseWarning
from oligomet.survival.cox import CoxConvergenceWarning

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def cohorts(draw, distinct_times=False):
    n = draw(st.integers(12, 40))
    seed = draw(st.integers(0, 2 ** 32 - 1))
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.integers(0, 2, n).astype(float)
    lp = 0.5 * x1 - 0.7 * x2
    if distinct_times:
        time = rng.exponential(np.exp(-lp)) + 1e-3 * rng.permutation(n)  # all distinct
    else:
        time = np.ceil(3 * rng.exponential(np.exp(-lp)))                 # heavy ties
    event = (rng.random(n) < 0.75).astype(int)
    event[: 3] = 1
    w = rng.choice([1.0, 2.0, 0.5], n)
    strata = rng.integers(0, 2, n)
    return pd.DataFrame({"time": time, "event": event, "x1": x1, "x2": x2, "w": w, "s": strata})


def _fit(d, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = om.cox(d, time="time", event="event", covariates=["x1", "x2"], **kw)
    # tiny random cohorts can be separated: the coefficient is then "infinite", known only up to where the
    # iterations stopped, and comparisons of coefficients are meaningless (the log-likelihood still is not)
    fit_is_finite = not any(issubclass(w.category, CoxConvergenceWarning) for w in caught)
    return fit, fit_is_finite


def _usable(d):
    # both covariates must vary and events must exist in each stratum-free fit
    return d["x2"].nunique() == 2 and d["event"].sum() >= 3


@SETTINGS
@given(cohorts(distinct_times=True))
def test_efron_equals_breslow_without_ties(d):
    assume(_usable(d))
    (a, ok_a), (b, ok_b) = _fit(d, ties="efron"), _fit(d, ties="breslow")
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-12)
    assume(ok_a and ok_b)
    np.testing.assert_allclose(a.summary["coef"], b.summary["coef"], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(a.summary["se"], b.summary["se"], rtol=1e-10)


@SETTINGS
@given(cohorts(), st.integers(0, 2 ** 32 - 1), st.sampled_from(["efron", "breslow"]))
def test_row_permutation_does_not_change_the_fit(d, seed, ties):
    assume(_usable(d))
    # Clusters of two rows: with as few clusters as coefficients (e.g. cluster="s", 2 levels) the sandwich
    # variance is singular by construction and its Wald test is rounding noise (~1e18) in any row order.
    d = d.assign(c=np.arange(len(d)) // 2)
    perm = np.random.default_rng(seed).permutation(len(d))
    shuffled = d.iloc[perm]
    for kw in (dict(), dict(strata="s", weights="w"), dict(cluster="c")):
        try:
            a, ok_a = _fit(d, ties=ties, **kw)
        except ValueError:  # e.g. a stratum split leaves x2 constant: the same error must occur shuffled
            with pytest.raises(ValueError):
                _fit(shuffled, ties=ties, **kw)
            continue
        b, ok_b = _fit(shuffled, ties=ties, **kw)
        assert ok_a == ok_b
        np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-10)
        if ok_a:
            pd.testing.assert_frame_equal(a.summary, b.summary, rtol=1e-8, atol=1e-12)
            pd.testing.assert_frame_equal(a.tests, b.tests, rtol=1e-8, atol=1e-12)
            assert a.concordance == pytest.approx(b.concordance, rel=1e-12)


@SETTINGS
@given(cohorts())
def test_integer_weights_equal_replicated_rows_with_breslow(d):
    """Case weight 2 == the row twice (R's case-weight semantics; Breslow, where duplicates add no new
    Efron tie fractions)."""
    assume(_usable(d))
    d = d.assign(w=np.where(np.arange(len(d)) % 3 == 0, 2.0, 1.0))
    rep = d.loc[d.index.repeat(d["w"].astype(int))].reset_index(drop=True)
    a, ok_a = _fit(d, ties="breslow", weights="w", robust=False)
    b, ok_b = _fit(rep, ties="breslow")
    np.testing.assert_allclose(a.loglik, b.loglik, rtol=1e-10)
    assume(ok_a and ok_b)
    np.testing.assert_allclose(a.summary["coef"], b.summary["coef"], rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(a.summary["se"], b.summary["se"], rtol=1e-8)


def _brute_force(time, status, X, beta, w, efron):
    """Textbook evaluation, one event time at a time (R's coxfit6_iter written out), for small data."""
    eta = X @ beta
    r = w * np.exp(eta)
    ll, u, imat = 0.0, np.zeros(X.shape[1]), np.zeros((X.shape[1],) * 2)
    for t in np.unique(time[status == 1]):
        risk = time >= t
        dead = (time == t) & (status == 1)
        d = int(dead.sum())
        mw = w[dead].sum() / d if efron else w[dead].sum()
        terms = range(d) if efron else [0]
        for k in terms:
            f = k / d if efron else 0.0
            s0 = r[risk].sum() - f * r[dead].sum()
            s1 = r[risk] @ X[risk] - f * (r[dead] @ X[dead])
            s2 = (X[risk].T * r[risk]) @ X[risk] - f * (X[dead].T * r[dead]) @ X[dead]
            ll -= mw * np.log(s0)
            u -= mw * s1 / s0
            imat += mw * (s2 / s0 - np.outer(s1, s1) / s0 ** 2)
        ll += w[dead] @ eta[dead]
        u += w[dead] @ X[dead]
    return ll, u, imat


@pytest.mark.parametrize("moments", [False, True])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_cumulative_sum_information_equals_brute_force(ties, moments):
    rng = np.random.default_rng(7)
    n = 60
    time = np.ceil(rng.exponential(4, n))
    status = (rng.random(n) < 0.7).astype(float)
    X = rng.normal(size=(n, 3))
    w = rng.choice([0.5, 1.0, 3.0], n)
    beta = np.array([0.3, -0.2, 0.1])
    pr = core.prepare(time, status, X, weights=w, ties=ties, moments=moments)
    ll, u, imat = core.evaluate(pr, beta / pr.scale)   # the core works in R's scaled coordinates
    Xc = X - (w @ X) / w.sum()
    ll0, u0, i0 = _brute_force(time, status, Xc, beta, w, ties == "efron")
    np.testing.assert_allclose(ll, ll0, rtol=1e-12)
    np.testing.assert_allclose(u / pr.scale, u0, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(imat / np.outer(pr.scale, pr.scale), i0, rtol=1e-10)


def test_weighted_score_residuals_sum_to_the_score():
    rng = np.random.default_rng(3)
    n = 80
    time = np.ceil(rng.exponential(3, n))
    status = (rng.random(n) < 0.8).astype(float)
    X = rng.normal(size=(n, 2))
    w = rng.choice([1.0, 2.5], n)
    for ties in ("efron", "breslow"):
        pr = core.prepare(time, status, X, strata=rng.integers(0, 2, n), weights=w, ties=ties)
        beta = np.array([0.4, -0.3])
        _, u, _ = core.evaluate(pr, beta / pr.scale)
        res = weighted_score_residuals(pr, beta)
        np.testing.assert_allclose(res.sum(axis=0), u / pr.scale, rtol=1e-10, atol=1e-12)


def test_ldl_matches_numpy_and_flags_singular_columns():
    rng = np.random.default_rng(1)
    A = rng.normal(size=(6, 4))
    S = A.T @ A
    f, rank = core.ldl_factor(S)
    assert rank == 4
    b = rng.normal(size=4)
    np.testing.assert_allclose(core.ldl_solve(f, b), np.linalg.solve(S, b), rtol=1e-10)
    np.testing.assert_allclose(core.ldl_inverse(f), np.linalg.inv(S), rtol=1e-10)
    B = np.column_stack([A, A[:, 0] + A[:, 1]])           # 5th column redundant
    f, rank = core.ldl_factor(B.T @ B)
    assert rank == 4 and f[4, 4] == 0
    inv = core.ldl_inverse(f)
    assert np.all(inv[4] == 0) and np.all(inv[:, 4] == 0)
    np.testing.assert_allclose(inv[:4, :4], np.linalg.inv((B.T @ B)[:4, :4]), rtol=1e-8)


def test_non_convergence_warns_like_r():
    # R: fit <- coxph(Surv(time, status) ~ karno + age, veteran, control = coxph.control(iter.max = 2))
    #    warns "Ran out of iterations and did not converge";
    #    fit$loglik = -505.449054918058 -484.398945717554; coef = -0.03372196163614982 -0.00235973546773421
    # and with iter.max = 1 R stays silent (coxph.fit only warns when maxiter > 1).
    d = om.datasets.load("veteran")
    with pytest.warns(CoxConvergenceWarning, match="Ran out of iterations and did not converge"):
        f = om.cox(d, time="time", event="status", covariates=["karno", "age"], max_iter=2)
    assert not f.converged and f.iterations == 2
    np.testing.assert_allclose(f.loglik, [-505.449054918058, -484.398945717554], rtol=1e-12)
    np.testing.assert_allclose(f.summary["coef"], [-0.03372196163614982, -0.00235973546773421], rtol=1e-10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        g = om.cox(d, time="time", event="status", covariates=["karno", "age"], max_iter=1)
    assert not g.converged


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_segment_moment_route_equals_row_route(ties, weighted):
    """The information from per-segment second moments equals the BLAS X'diag(c)X route."""
    rng = np.random.default_rng(11)
    n = 20000                                    # long tie blocks in 3 strata: both routes are admissible
    time = np.ceil(rng.exponential(30, n))
    status = (rng.random(n) < 0.6).astype(float)
    X = rng.normal(size=(n, 3))
    strata = rng.integers(0, 3, n)
    w = rng.choice([0.5, 1.0, 2.0], n) if weighted else None
    beta = np.array([0.2, -0.1, 0.05])
    by_moments = core.prepare(time, status, X, strata=strata, weights=w, ties=ties, moments=True)
    by_rows = core.prepare(time, status, X, strata=strata, weights=w, ties=ties, moments=False)
    for b in (np.zeros(3), beta):
        got, want = core.evaluate(by_moments, b), core.evaluate(by_rows, b)
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(got[2], want[2], rtol=1e-11)


def test_moment_route_is_chosen_for_large_designs_with_long_tie_blocks():
    assert core._moments_pay(10 ** 6, 10, 3_600)            # integer days, 10⁶ rows
    assert not core._moments_pay(10 ** 6, 10, 900_000)      # near-continuous times: segments too short
    assert not core._moments_pay(10 ** 5, 10, 3_600)        # X fits the caches: the BLAS pass is cheap
    assert not core._moments_pay(10 ** 6, 40, 3_600)        # many covariates: p² products per row cost more


def test_columns_and_matrix_inputs_give_the_same_problem():
    rng = np.random.default_rng(12)
    n = 3000
    time = rng.exponential(30, n)               # continuous times: the general (non-radix) sort
    status = (rng.random(n) < 0.6).astype(float)
    X = rng.normal(size=(n, 4))
    a = core.prepare(time, status, X)
    b = core.prepare(time, status, [X[:, k].copy() for k in range(4)])
    assert not a.moments                        # one row per segment: the row route
    np.testing.assert_array_equal(a.order, b.order)
    np.testing.assert_allclose(a.means, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(b.means, a.means, rtol=1e-12)   # strided and contiguous dots round apart
    np.testing.assert_array_equal(a.X, (X - a.means)[a.order])
    np.testing.assert_array_equal(b.X, (X - b.means)[b.order])
    assert np.all(np.diff(a.time) >= 0)


@pytest.mark.parametrize("reverse", [False, True])
def test_segmented_cumsum_vectorised_equals_loop(reverse):
    rng = np.random.default_rng(5)
    lens = rng.integers(1, 6, 200)                          # 200 small strata -> the padded, vectorised path
    bounds = np.concatenate(([0], np.cumsum(lens)))
    a = rng.normal(size=(bounds[-1], 3))
    got = core._seg_cumsum(a, bounds, reverse=reverse)
    want = np.vstack([np.cumsum(a[lo:hi][::-1] if reverse else a[lo:hi], axis=0)[::-1 if reverse else 1]
                      for lo, hi in zip(bounds[:-1], bounds[1:])])
    np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(core._seg_cumsum(a[:, 0], bounds, reverse), want[:, 0], rtol=1e-13, atol=1e-14)


def test_many_strata_vectorised_path_equals_loop():
    # (the same design is compared with R in test_cox_reference.py, case "many_strata")
    colon = om.datasets.load("colon")
    d = colon[colon["etype"] == 2].dropna(subset=["nodes"]).reset_index(drop=True)
    d["set"] = np.arange(len(d)) // 4                      # ~230 strata of 4 rows (matched-set style)
    fit = om.cox(d, time="time", event="status", covariates=["age", "nodes"], strata="set")
    old = core._seg_cumsum

    def loop_only(a, bounds, reverse=False):
        out = np.empty_like(a)
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            out[lo:hi] = np.cumsum(a[lo:hi][::-1], axis=0)[::-1] if reverse else np.cumsum(a[lo:hi], axis=0)
        return out

    try:
        core._seg_cumsum = loop_only
        ref = om.cox(d, time="time", event="status", covariates=["age", "nodes"], strata="set")
    finally:
        core._seg_cumsum = old
    np.testing.assert_allclose(fit.summary["coef"], ref.summary["coef"], rtol=1e-12)
    np.testing.assert_allclose(fit.loglik, ref.loglik, rtol=1e-13)


def test_single_threaded_blas_restores_the_thread_setting():
    setter = single_threaded_blas._find()
    if setter is None:
        pytest.skip("no OpenBLAS with openblas_set_num_threads_local in this process")
    original = setter(3)                 # known state: 3 threads for this thread
    try:
        with single_threaded_blas():
            assert setter(1) == 1        # inside: one thread (the call returns the current setting)
        assert setter(3) == 3            # restored on exit
    finally:
        setter(original)


def test_single_threaded_blas_sets_numpys_process_wide_count_until_the_last_thread_leaves():
    """NumPy's OpenBLAS has only a process-wide thread count: 1 while any thread is inside, then restored."""
    import threading

    single_threaded_blas._find_all()
    if not single_threaded_blas._globals:
        pytest.skip("no OpenBLAS with only a process-wide thread setting in this process")
    g = single_threaded_blas._globals[0]
    original = g._get()
    g._set(3)
    try:
        entered, release = threading.Event(), threading.Event()

        def inside():
            with single_threaded_blas():
                entered.set()
                release.wait()

        other = threading.Thread(target=inside)
        other.start()
        entered.wait()
        with single_threaded_blas():
            assert g._get() == 1
        assert g._get() == 1             # the other thread is still inside
        release.set()
        other.join()
        assert g._get() == 3             # restored when the last one left
    finally:
        g._set(original)


def _integer_day_cohort(n: int, p: int, seed: int):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    t = np.ceil(rng.exponential(365 * np.exp(-X @ np.linspace(-0.3, 0.3, p))))
    d = pd.DataFrame(X, columns=[f"x{j}" for j in range(p)])
    d["time"] = np.minimum(t, 1500.0)
    d["event"] = (rng.random(n) < 0.7).astype(int)
    return d, [f"x{j}" for j in range(p)]


def test_large_fit_by_segment_moments_equals_row_route(monkeypatch):
    d, covs = _integer_day_cohort(200_000, 10, 21)          # 2·10⁶ numbers, 3,000 segments: moments route
    assert core._moments_pay(len(d), len(covs), 3_000)
    fast = om.cox(d, time="time", event="event", covariates=covs)
    monkeypatch.setattr(core, "_moments_pay", lambda n, p, n_seg: False)
    rows = om.cox(d, time="time", event="event", covariates=covs)
    np.testing.assert_allclose(fast.summary["coef"], rows.summary["coef"], rtol=1e-10)
    np.testing.assert_allclose(fast.summary["se"], rows.summary["se"], rtol=1e-10)
    np.testing.assert_allclose(fast.loglik, rows.loglik, rtol=1e-13)
    assert fast.iterations == rows.iterations


def test_nan_late_in_a_numeric_design_falls_back_to_complete_cases():
    d, covs = _integer_day_cohort(30_000, 3, 22)            # several scatter chunks before the NaN
    d.loc[29_990, "x1"] = np.nan
    with pytest.warns(CompleteCaseWarning, match="1 row"):
        fit = om.cox(d, time="time", event="event", covariates=covs)
    assert fit.dropped.n == 1 and fit.dropped.rows == (29_990,)
    ref = om.cox(d.drop(index=29_990), time="time", event="event", covariates=covs)
    np.testing.assert_allclose(fit.summary["coef"], ref.summary["coef"], rtol=1e-12)
    assert fit.n == len(d) - 1
    d.loc[29_990, "x1"] = np.inf
    with pytest.raises(ValueError, match="'x1' has infinite values at row 29990"):
        om.cox(d, time="time", event="event", covariates=covs)


def test_complete_case_warning_points_at_the_callers_line():
    d = om.datasets.load("colon")
    d = d[d["etype"] == 2]                                   # 18 rows miss 'nodes'
    with pytest.warns(CompleteCaseWarning) as record:
        om.cox(d, time="time", event="status", covariates=["age", "nodes"])
    assert record[0].filename == __file__
