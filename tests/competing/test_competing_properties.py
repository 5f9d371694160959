"""Properties that must hold whatever R says: invariance to row order, group labels, covariate shifts."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from competing_fixtures import load_data


def test_cuminc_does_not_depend_on_row_order():
    d = load_data("cuminc_mgus2_years_ties")
    a = om.cumulative_incidence(d, time="eyears", event="event", by="sex")
    b = om.cumulative_incidence(d.sample(frac=1, random_state=3), time="eyears", event="event", by="sex")
    pd.testing.assert_frame_equal(a.table, b.table, rtol=1e-12)
    pd.testing.assert_frame_equal(a.gray_test, b.gray_test, rtol=1e-10)


def test_gray_statistic_does_not_depend_on_group_labels():
    d = load_data("cuminc_colon_rx")
    a = om.cumulative_incidence(d, time="time", event="event", by="rx").gray_test
    relabel = {"Obs": "z", "Lev": "a", "Lev+5FU": "m"}    # a different reference group for the score
    b = om.cumulative_incidence(d.assign(rx=d["rx"].map(relabel)), time="time", event="event", by="rx").gray_test
    np.testing.assert_allclose(a["statistic"], b["statistic"], rtol=1e-9)


def test_fine_gray_row_order_and_covariate_shift():
    d = load_data("crr_mgus2_years_ties")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", om.CompleteCaseWarning)
        a = om.fine_gray(d, time="eyears", event="event3", covariates=["age", "sex"], cause=3)
        b = om.fine_gray(d.sample(frac=1, random_state=5).assign(age=lambda x: x["age"] * 2 + 100),
                         time="eyears", event="event3", covariates=["age", "sex"], cause=3)
    # shifting a covariate changes nothing; doubling it halves its coefficient and standard error
    np.testing.assert_allclose(b.summary.loc["age", ["coef", "se"]] * 2, a.summary.loc["age", ["coef", "se"]],
                               rtol=1e-8)
    np.testing.assert_allclose(b.summary.loc["sex[M]"], a.summary.loc["sex[M]"], rtol=1e-8)
    assert b.loglik == pytest.approx(a.loglik, rel=1e-12)


def test_fine_gray_warns_when_not_converged():
    d = load_data("crr_mgus2_cause2")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", om.CompleteCaseWarning)
        with pytest.warns(RuntimeWarning, match="did not converge in 1 Newton"):
            f = om.fine_gray(d, time="etime", event="event", covariates=["age", "sex", "creat"], cause=2, maxiter=1)
    assert f.converged is False


def test_gray_blocks_of_times_give_the_same_statistic(monkeypatch):
    """Gray's test carries its running sums across blocks of times; tiny blocks must not change anything."""
    from oligomet.competing import _gray
    d = load_data("cuminc_colon_rx_strata_sex")
    whole = om.cumulative_incidence(d, time="time", event="event", by="rx", strata="sex", rho=1).gray_test
    monkeypatch.setattr(_gray, "_BLOCK", 7)
    blocked = om.cumulative_incidence(d, time="time", event="event", by="rx", strata="sex", rho=1).gray_test
    pd.testing.assert_frame_equal(whole, blocked, rtol=1e-10)
