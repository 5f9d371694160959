"""Bad input: clear ValueErrors naming the column, the rows and what is wrong."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet as om


@pytest.fixture
def d():
    return pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "e": [1, 2, 0, 1, 2, 1],
                         "g": ["a", "a", "a", "b", "b", "b"], "x": [0.1, 0.5, 0.2, 0.9, 0.3, 0.4]})


@pytest.mark.parametrize("fn", ["cuminc", "crr"])
@pytest.mark.parametrize("bad,msg", [(1.5, "non-negative integers"), (-1, "non-negative integers"),
                                     ("death", "non-negative integers")])
def test_event_codes_must_be_non_negative_integers(d, fn, bad, msg):
    d["e"] = d["e"].astype(object)
    d.loc[3, "e"] = bad
    with pytest.raises(ValueError, match=rf"event column 'e' must hold {msg}.*row 3"):
        run(fn, d)


@pytest.mark.parametrize("fn", ["cuminc", "crr"])
def test_negative_times(d, fn):
    d.loc[2, "t"] = -0.5
    with pytest.raises(ValueError, match=r"time column 't' has negative times at row 2"):
        run(fn, d)


@pytest.mark.parametrize("fn", ["cuminc", "crr"])
def test_missing_time_is_an_error_not_a_drop(d, fn):
    d.loc[4, "t"] = np.nan
    with pytest.raises(ValueError, match=r"time column 't' has missing \(NaN\) values at row 4"):
        run(fn, d)


@pytest.mark.parametrize("fn", ["cuminc", "crr"])
def test_unknown_columns(d, fn):
    with pytest.raises(ValueError, match=r"unknown .*'tt'"):
        run(fn, d, time="tt")


def test_unknown_covariate(d):
    with pytest.raises(ValueError, match=r"unknown covariate 'age'"):
        om.fine_gray(d, time="t", event="e", covariates=["x", "age"])


def test_cause_that_never_occurs(d):
    with pytest.raises(ValueError, match=r"cause 3 never occurs in event column 'e'; failure codes present: \[1, 2\]"):
        om.fine_gray(d, time="t", event="e", covariates=["x"], cause=3)


def test_cause_equal_to_cencode(d):
    with pytest.raises(ValueError, match="must differ"):
        om.fine_gray(d, time="t", event="e", covariates=["x"], cause=0)


def test_all_censored(d):
    d["e"] = 0
    with pytest.raises(ValueError, match="no failures"):
        om.cumulative_incidence(d, time="t", event="e")


def test_missing_group_rows_are_dropped_with_a_warning(d):
    d.loc[5, "g"] = None
    with pytest.warns(om.CompleteCaseWarning, match="1 row"):
        r = om.cumulative_incidence(d, time="t", event="e", by="g")
    assert r.n == 5 and r.dropped.rows == (5,)


def test_missing_covariate_rows_are_dropped_with_a_warning(d):
    d.loc[0, "x"] = np.nan
    with pytest.warns(om.CompleteCaseWarning):
        f = om.fine_gray(d, time="t", event="e", covariates=["x"])
    assert f.n == 5 and f.dropped.n == 1


def test_single_level_factor_is_rejected(d):
    d["g"] = "a"
    with pytest.raises(ValueError, match="covariate 'g' has a single level"):
        om.fine_gray(d, time="t", event="e", covariates=["g"])


def test_collinear_covariates(d):
    d["x2"] = 2 * d["x"]
    with pytest.raises(ValueError, match="information matrix is singular"):
        om.fine_gray(d, time="t", event="e", covariates=["x", "x2"])


def test_predict_with_an_unknown_level(d):
    f = om.fine_gray(d, time="t", event="e", covariates=["g", "x"])
    with pytest.raises(ValueError, match=r"newdata column 'g' has levels not in the fitted data at rows \[1\]"):
        f.predict_cif(pd.DataFrame({"g": ["a", "zz"], "x": [0.1, 0.2]}))


def test_categorical_covariate_dummy_names(d):
    f = om.fine_gray(d, time="t", event="e", covariates=["g", "x"])
    assert list(f.summary.index) == ["g[b]", "x"]


def run(fn, d, time="t"):
    if fn == "cuminc":
        return om.cumulative_incidence(d, time=time, event="e", by="g")
    return om.fine_gray(d, time=time, event="e", covariates=["x"])
