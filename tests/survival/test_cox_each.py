"""cox_each: one model on several datasets (the completed datasets of an imputation) equals separate cox fits,
with the sort and risk sets shared where the datasets share their times, events, strata and weights."""
import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.survival import _cox_core as core
from oligomet.survival.cox import CoxConvergenceWarning, cox_each


def _same(a, b):
    """Bit-identical numbers (the shared route does the very same arithmetic as a separate fit)."""
    pd.testing.assert_frame_equal(a.summary, b.summary, check_exact=True)
    pd.testing.assert_frame_equal(a.tests, b.tests, check_exact=True)
    pd.testing.assert_frame_equal(a.var, b.var, check_exact=True)
    np.testing.assert_array_equal(a.loglik, b.loglik)
    assert (a.n, a.n_events, a.iterations, a.robust, a.dropped.n) == (b.n, b.n_events, b.iterations, b.robust,
                                                                       b.dropped.n)
    assert a.design == b.design
    assert a._row_index.equals(b._row_index)
    np.testing.assert_array_equal(a.linear_predictor, b.linear_predictor)


def _completed(m=4, seed=1, n=600):
    """m datasets alike but for the imputed 'x' and 'grade' (a factor), as impute makes them."""
    rng = np.random.default_rng(seed)
    base = pd.DataFrame({"time": rng.integers(1, 200, n).astype(float), "event": (rng.random(n) < 0.6) * 1.0,
                         "age": rng.normal(60, 10, n).round(), "arm": rng.choice(["a", "b", "c"], n),
                         "site": rng.integers(0, 3, n), "id": rng.integers(0, n // 3, n),
                         "w": rng.integers(1, 4, n).astype(float)})
    out = []
    for _ in range(m):
        d = base.copy()
        d["x"] = rng.normal(size=n)
        d["grade"] = rng.choice(["g1", "g2", "g3"], n)
        out.append(d)
    return out


@pytest.mark.parametrize("options", [
    {}, {"ties": "breslow"}, {"strata": "site"}, {"weights": "w"}, {"cluster": "id"},
    {"strata": ["site"], "weights": "w", "cluster": "id", "ties": "breslow"},
])
def test_cox_each_equals_separate_fits(options):
    datasets = _completed()
    covs = ["age", "x", "C(arm, ref='b')", "grade", "x:age", "C(arm, ref='b'):x"]
    fits = cox_each(datasets, time="time", event="event", covariates=covs, **options)
    for d, fit in zip(datasets, fits):
        _same(fit, om.cox(d, time="time", event="event", covariates=covs, **options))
    # the risk sets were built once: every problem shares the first one's sort order
    assert all(f._problem.order is fits[0]._problem.order for f in fits)


def test_cox_each_on_a_numeric_design_shares_the_unchanged_columns():
    datasets = _completed()
    fits = cox_each(datasets, time="time", event="event", covariates=["age", "x"])
    for d, fit in zip(datasets, fits):
        _same(fit, om.cox(d, time="time", event="event", covariates=["age", "x"]))
    assert all(f._problem.order is fits[0]._problem.order for f in fits)


def test_cox_each_falls_back_to_a_separate_fit_where_the_datasets_differ_otherwise():
    datasets = _completed(m=5)
    datasets[1]["time"] = datasets[1]["time"] + 1.0           # other times: other risk sets
    datasets[2].loc[3, "x"] = np.nan                           # a row dropped there
    datasets[3]["arm"] = datasets[3]["arm"].astype("category").cat.reorder_categories(["c", "b", "a"])
    datasets[4] = datasets[4].iloc[::-1]                       # other row order
    covs = ["age", "x", "arm"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", om.CompleteCaseWarning)
        fits = cox_each(datasets, time="time", event="event", covariates=covs)
        for d, fit in zip(datasets, fits):
            _same(fit, om.cox(d, time="time", event="event", covariates=covs))
    assert fits[1]._problem.order is not fits[0]._problem.order
    assert fits[2].n == len(datasets[2]) - 1


def test_cox_each_when_the_first_dataset_drops_rows():
    datasets = _completed(m=3)
    for d in datasets:
        d.loc[[5, 9], "age"] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", om.CompleteCaseWarning)
        fits = cox_each(datasets, time="time", event="event", covariates=["age", "x"])
        for d, fit in zip(datasets, fits):
            _same(fit, om.cox(d, time="time", event="event", covariates=["age", "x"]))


def test_cox_each_of_mixed_type_object_columns_codes_each_dataset():
    """1 and True are equal values but different levels: such a column is coded again, not shared."""
    datasets = _completed(m=2)
    for d, v in zip(datasets, (1, True)):
        d["flag"] = pd.Series(np.where(np.arange(len(d)) % 3 == 0, "no", None), dtype=object)
        d.loc[d["flag"].isna(), "flag"] = v
    fits = cox_each(datasets, time="time", event="event", covariates=["x", "flag"])
    assert [type(t.ref) for t in (fits[0].design.terms[1], fits[1].design.terms[1])] == [int, bool]
    for d, fit in zip(datasets, fits):
        _same(fit, om.cox(d, time="time", event="event", covariates=["x", "flag"]))


def test_pool_cox_equals_pooling_separate_fits():
    datasets = _completed(m=5)
    pooled = om.pool_cox(datasets, time="time", event="event", covariates=["age", "x", "arm"], strata="site")
    ref = om.pool([om.cox(d, time="time", event="event", covariates=["age", "x", "arm"], strata="site")
                   for d in datasets])
    pd.testing.assert_frame_equal(pooled.summary, ref.summary, check_exact=True)


def test_risk_sets_then_problem_is_prepare():
    rng = np.random.default_rng(3)
    n = 400
    t = rng.integers(1, 50, n).astype(float)
    ev = (rng.random(n) < 0.5) * 1.0
    X = rng.normal(size=(n, 3))
    strata = rng.integers(0, 2, n)
    w = rng.integers(1, 3, n).astype(float)
    start = np.where(rng.random(n) < 0.3, t - 0.5, 0.0)
    for kw in ({}, {"strata": strata}, {"weights": w, "ties": "breslow"}, {"start": start, "strata": strata}):
        a = core.prepare(t, ev, X, **kw)
        b = core.problem(core.risk_sets(t, ev, **kw), X)
        for name in ("order", "X", "w", "status", "time", "means", "scale", "seg_bounds", "death_pos", "gd", "mw",
                     "seg_group", "u_dead", "absdev"):
            np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert a.moments == b.moments and (a.entry_group is None) == (b.entry_group is None)
        beta = np.array([0.1, -0.2, 0.05])
        assert core.evaluate(a, beta)[0] == core.evaluate(b, beta)[0]


def test_convergence_warnings_point_at_the_callers_line():
    rng = np.random.default_rng(4)
    x = np.repeat([0.0, 1.0], 50)
    d = pd.DataFrame({"time": rng.integers(1, 100, 100).astype(float), "event": x, "x": x,
                      "z": rng.normal(size=100)})              # events only where x = 1: an infinite coefficient
    with pytest.warns(CoxConvergenceWarning) as record:
        om.cox(d, time="time", event="event", covariates=["x", "z"])
    assert record[0].filename == __file__
    with pytest.warns(CoxConvergenceWarning) as record:
        cox_each([d, d.assign(z=-d["z"])], time="time", event="event", covariates=["x", "z"])
    assert record[0].filename == __file__
