"""Issue 16, D14 / D19 / D20 / D21: estimator inputs that used to give nonsense (nanosecond medians, NaN
without a warning, a broadcast error, a "collinear" verdict, two groups labelled 1) now give a clear error
that says what is wrong and what to do."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import oligomet as om


@pytest.fixture
def cohort() -> pd.DataFrame:
    rng = np.random.default_rng(16)
    n = 60
    return pd.DataFrame({"time": rng.exponential(20, n).round(2) + 0.1, "event": rng.integers(0, 2, n),
                         "status": np.tile([0, 1, 2], n // 3), "group": np.tile(["a", "b"], n // 2),
                         "x": rng.normal(size=n), "age": rng.normal(60, 10, n)})


# --- D14: dates, durations and booleans are not follow-up times --------------------------------------------

def _as_dates(d: pd.DataFrame) -> pd.DataFrame:
    return d.assign(time=pd.Timestamp("2015-01-01") + pd.to_timedelta(d["time"] * 30.4375, unit="D"))


def _as_durations(d: pd.DataFrame) -> pd.DataFrame:
    return d.assign(time=pd.to_timedelta(d["time"] * 30.4375, unit="D"))


def _as_bool(d: pd.DataFrame) -> pd.DataFrame:
    return d.assign(time=d["time"] > 10)


def _as_object_dates(d: pd.DataFrame) -> pd.DataFrame:
    return d.assign(time=pd.Series(list(_as_dates(d)["time"].dt.date), index=d.index, dtype=object))


ESTIMATORS = {
    "kaplan_meier": lambda d: om.kaplan_meier(d, "time", "event", by="group"),
    "logrank": lambda d: om.logrank(d, "time", "event", by="group"),
    "cox": lambda d: om.cox(d, "time", "event", ["x"]),
    "cumulative_incidence": lambda d: om.cumulative_incidence(d, "time", "status"),
    "fine_gray": lambda d: om.fine_gray(d, "time", "status", ["x"]),
    "median_followup": lambda d: om.median_followup(d, "time", "event"),
}
TIME_KINDS = {"dates": (_as_dates, "holds dates"), "durations": (_as_durations, "nanoseconds"),
              "booleans": (_as_bool, "True/False"), "date objects": (_as_object_dates, "not numeric")}


@pytest.mark.parametrize("kind", list(TIME_KINDS))
@pytest.mark.parametrize("estimator", list(ESTIMATORS))
def test_non_numeric_time_columns_are_refused_with_the_conversion(cohort, estimator, kind):
    convert, what = TIME_KINDS[kind]
    with pytest.raises(ValueError, match=what) as err:
        ESTIMATORS[estimator](convert(cohort))
    message = str(err.value)
    assert "'time'" in message
    assert ".dt.days / 30.4375" in message       # says how to convert


def test_the_suggested_conversion_gives_the_numeric_result(cohort):
    # the message's recipe, applied to the durations, reproduces the analysis in months
    converted = _as_durations(cohort).assign(time=lambda d: d["time"].dt.total_seconds() / 86400 / 30.4375)
    a = om.kaplan_meier(converted, "time", "event").medians["median"].iloc[0]
    b = om.kaplan_meier(cohort, "time", "event").medians["median"].iloc[0]
    assert a == pytest.approx(b, rel=1e-9)
    assert a < 1e3


def test_a_start_column_of_dates_is_refused(cohort):
    d = cohort.assign(start=pd.Timestamp("2015-01-01"), time=cohort["time"] + 1)
    with pytest.raises(ValueError, match="'start' holds dates"):
        om.kaplan_meier(d, "time", "event", start="start")


# --- D19: corners that gave NaN ---------------------------------------------------------------------------

def test_logrank_without_events_is_an_error(cohort):
    with pytest.raises(ValueError, match="'event' has no events in the 60 analysed rows"):
        om.logrank(cohort.assign(event=0), "time", "event", by="group")


def test_logrank_without_an_event_while_both_groups_are_at_risk_is_an_error():
    # group b is censored before the first death of group a: survdiff would give 0 df and no p-value
    d = pd.DataFrame({"time": [5.0, 6, 7, 1, 2, 3], "event": [1, 1, 0, 0, 0, 0],
                      "group": ["a", "a", "a", "b", "b", "b"]})
    with pytest.raises(ValueError, match="no event occurred while two or more groups of 'group' were at risk"):
        om.logrank(d, "time", "event", by="group")


def test_kaplan_meier_with_all_weights_zero_is_an_error(cohort):
    with pytest.raises(ValueError, match="weights are 0 on all 60 rows"):
        om.kaplan_meier(cohort.assign(w=0.0), "time", "event", weights="w")


def test_kaplan_meier_with_one_group_weighted_zero_names_the_group(cohort):
    w = np.where(cohort["group"] == "b", 0.0, 1.5)
    with pytest.raises(ValueError, match=r"weights are 0 on every row of group\(s\) 'b' of 'group'"):
        om.kaplan_meier(cohort.assign(w=w), "time", "event", by="group", weights="w")
    # some zero weights are fine (rows simply do not count)
    fit = om.kaplan_meier(cohort.assign(w=np.where(np.arange(60) % 4 == 0, 0.0, 1.0)), "time", "event",
                          weights="w")
    assert np.isfinite(fit.table["survival"]).all()


def test_fine_gray_with_all_times_zero_is_an_error(cohort):
    with pytest.raises(ValueError, match="'time' is 0 on all 60 rows: there is no follow-up"):
        om.fine_gray(cohort.assign(time=0.0), "time", "status", ["x"])


def test_fine_gray_with_no_information_in_the_variance_is_an_error(cohort):
    # everyone fails from the cause at the same time: crr's sandwich variance is exactly 0 (z, p NaN)
    with pytest.raises(ValueError, match="the variance of 'x' is 0"):
        om.fine_gray(cohort.assign(time=5.0, status=1), "time", "status", ["x"])


@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e307])
def test_fine_gray_with_a_covariate_out_of_numeric_range_is_an_error(cohort, scale):
    with pytest.raises(ValueError, match=r"out of numeric range: 'x' varies on a scale of") as err:
        om.fine_gray(cohort.assign(x=cohort["x"] * scale), "time", "status", ["x", "age"])
    assert "rescale" in str(err.value) and "'age'" not in str(err.value)


# --- D20: more covariates than rows -----------------------------------------------------------------------

def test_match_with_more_covariates_than_rows_says_so():
    rng = np.random.default_rng(20)
    d = pd.DataFrame({"treated": [0, 1, 0, 1, 0, 1]}).assign(**{f"c{i}": rng.normal(size=6) for i in range(8)})
    with pytest.raises(ValueError, match=r"9 terms .* but only 6 analysed rows; .* Use fewer covariates"):
        om.match(d, "treated", [f"c{i}" for i in range(8)])
    with pytest.raises(ValueError, match="but only 6 analysed rows"):
        om.weight(d, "treated", [f"c{i}" for i in range(8)])


# --- D21: honest Cox messages -----------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [1e300, 1e-300, 1e307])
def test_cox_calls_an_extreme_covariate_out_of_range_not_collinear(cohort, scale):
    with pytest.raises(ValueError) as err:
        om.cox(cohort.assign(x=cohort["x"] * scale), "time", "event", ["x", "age"])
    message = str(err.value)
    assert "collinear" not in message
    assert "out of numeric range: 'x' varies on a scale of" in message and "rescale" in message
    assert "scale of inf" not in message and f"/ 1e{int(np.log10(scale)) - 1}" in message
    # rescaled as the message says, the model fits
    fit = om.cox(cohort.assign(x=cohort["x"] * scale / scale), "time", "event", ["x", "age"])
    assert np.isfinite(fit.summary["se"]).all()


def test_cox_refuses_a_column_holding_both_1_and_the_string_1(cohort):
    mixed = pd.Series([1 if i % 3 == 0 else "1" if i % 3 == 1 else 2 for i in range(60)], dtype=object)
    with pytest.raises(ValueError) as err:
        om.cox(cohort.assign(stage=mixed), "time", "event", ["stage"])
    message = str(err.value)
    assert "covariate 'stage' mixes values of different types" in message
    assert "1 (int) at rows 0, 3," in message and "'1' (str) at rows 1, 4," in message
    assert "astype(str)" in message
    # made one type, as suggested, the column is a factor with two levels and one dummy
    fit = om.cox(cohort.assign(stage=mixed.astype(str)), "time", "event", ["stage"])
    assert list(fit.summary.index) == ["stage[2]"]


def test_fine_gray_refuses_true_and_the_string_true(cohort):
    mixed = pd.Series([True, "True", False] * 20, dtype=object)
    with pytest.raises(ValueError, match="covariate 'flag' mixes values of different types"):
        om.fine_gray(cohort.assign(flag=mixed), "time", "status", ["flag"])
