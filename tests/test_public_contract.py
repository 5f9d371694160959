"""A contract every public DataFrame-facing function keeps (as scikit-survival's test over every estimator):

* data that is not a DataFrame is a TypeError that says so;
* a duplicate index is refused with the fix (row labels are how errors and matched pairs name rows);
* an unknown column is named with its role (time, event, group, covariate, treatment...);
* a missing covariate value drops the row, and the drop is reported (``CompleteCaseWarning`` naming the
  column, and the result's ``dropped``), never silent.

``CALLS`` lists the functions of ``oligomet._PUBLIC`` that take a patient frame; ``test_every_public_function
_is_covered`` fails when a new public function is added without an entry here.
"""
from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om

N = 80
RNG = np.random.default_rng(10)
DATA = pd.DataFrame({"time": RNG.exponential(20, N).round(2) + 0.1, "event": RNG.integers(0, 2, N),
                     "cause": np.tile([0, 1, 2, 1], N // 4), "group": np.tile(["a", "b"], N // 2),
                     "treat": np.tile([0, 1, 1, 0], N // 4), "x": RNG.normal(size=N), "age": RNG.normal(60, 10, N),
                     "resection_time": np.where(np.arange(N) % 3 == 0, RNG.uniform(1, 10, N), np.nan)})


class Call:
    """One public function: how to call it, with ``roles`` (role -> argument name -> column) to break."""

    def __init__(self, fn, roles: dict, nan_covariate: str | None = None, **fixed):
        self.fn, self.roles, self.nan_covariate, self.fixed = fn, roles, nan_covariate, fixed

    def __call__(self, data, conf_level=None, **override):
        kw = dict(self.fixed)
        if conf_level is not None:
            kw["conf_level"] = conf_level
        for role, (arg, col) in self.roles.items():
            value = override.get(role, col)
            kw[arg] = [value, "age"] if arg == "covariates" or arg == "variables" else value
        return getattr(om, self.fn)(data, **kw)


SURV = {"time": ("time", "time"), "event": ("event", "event")}
CALLS = {
    "kaplan_meier": Call("kaplan_meier", {**SURV, "group": ("by", "group")}),
    "cumulative_hazard": Call("cumulative_hazard", {**SURV, "group": ("by", "group")}),
    "rmst": Call("rmst", {**SURV, "group": ("by", "group")}, tau=10),
    "median_followup": Call("median_followup", SURV),
    "logrank": Call("logrank", {**SURV, "group": ("by", "group")}),
    "logrank_trend": Call("logrank_trend", {**SURV, "group": ("by", "treat")}),
    "cox": Call("cox", {**SURV, "covariate": ("covariates", "x")}, nan_covariate="x"),
    "landmark": Call("landmark", SURV, at=5),
    "time_dependent": Call("time_dependent", SURV, switches={"resected": "resection_time"}),
    "nelsonaalen": Call("nelsonaalen", SURV),
    "cumulative_incidence": Call("cumulative_incidence", {"time": ("time", "time"), "event": ("event", "cause"),
                                                          "group": ("by", "group")}),
    "fine_gray": Call("fine_gray", {"time": ("time", "time"), "event": ("event", "cause"),
                                    "covariate": ("covariates", "x")}, nan_covariate="x", cause=1),
    "match": Call("match", {"treatment": ("treatment", "treat"), "covariate": ("covariates", "x")},
                  nan_covariate="x"),
    "weight": Call("weight", {"treatment": ("treatment", "treat"), "covariate": ("covariates", "x")},
                   nan_covariate="x"),
    "table_one": Call("table_one", {"group": ("by", "group"), "variable": ("variables", "x")}),
    "impute": Call("impute", {}, m=1, maxit=1, seed=1),
}
# Not patient-frame functions: pooling reads an Imputation; derive_endpoints reads a whole registry (its own
# contract is tests/endpoints); time_dependent's and landmark's exposures are tested in tests/survival.
NOT_FRAME_FUNCTIONS = {"pool", "pool_cox", "pool_fine_gray", "pool_logistic", "derive_endpoints"}


def test_every_public_function_is_covered():
    assert set(om._PUBLIC) - NOT_FRAME_FUNCTIONS == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_call_works_on_good_data(name):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert CALLS[name](DATA) is not None


@pytest.mark.parametrize("name", sorted(CALLS))
@pytest.mark.parametrize("wrong", [DATA.to_numpy(), DATA.to_dict("list"), list(DATA.itertuples())],
                         ids=["ndarray", "dict", "list"])
def test_data_that_is_not_a_frame_is_a_type_error(name, wrong):
    with pytest.raises(TypeError, match=r"data must be a pandas DataFrame, got \w+"):
        CALLS[name](wrong)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_duplicate_index_is_refused_with_the_fix(name):
    with pytest.raises(ValueError, match=re.escape("duplicate index labels; call data.reset_index(drop=True)")):
        CALLS[name](DATA.set_axis(np.r_[0, np.arange(N - 1)]))


@pytest.mark.parametrize("name, role", [(n, r) for n in sorted(CALLS) for r in CALLS[n].roles])
def test_an_unknown_column_is_named_with_its_role(name, role):
    with pytest.raises(ValueError) as err:
        CALLS[name](DATA, **{role: "no_such_column"})
    msg = str(err.value)
    assert re.search(rf"unknown {role}( column)? 'no_such_column'", msg), msg
    assert "the data has columns: time, event" in msg     # and what there is to choose from


@pytest.mark.parametrize("name", sorted(n for n, c in CALLS.items() if c.nan_covariate))
def test_a_missing_covariate_value_is_reported_as_dropped(name):
    call = CALLS[name]
    data = DATA.assign(**{call.nan_covariate: DATA[call.nan_covariate].where(DATA.index % 5 != 0)})
    with pytest.warns(om.CompleteCaseWarning, match=rf"16 row\(s\) dropped .*{call.nan_covariate} \(16\)"):
        result = call(data)
    assert result.dropped.n == 16
    assert result.dropped.by_column == {call.nan_covariate: 16}


@pytest.mark.parametrize("name", sorted(n for n in CALLS if "conf_level" in
                                        __import__("inspect").signature(getattr(om, n)).parameters))
@pytest.mark.parametrize("level", [95, 0, 1.0, -0.5, "0.95", True])
def test_a_confidence_level_outside_0_1_is_refused(name, level):
    """Declared once (``_validation.require_conf_level``): 95 for 95% is the usual slip."""
    with pytest.raises(ValueError, match=r"conf_level must be a number strictly between 0 and 1 \(e\.g\. 0\.95\)"):
        CALLS[name](DATA, conf_level=level)


def _p_value_frames() -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = CALLS["cox"](DATA)
        return {"rmst.contrasts": CALLS["rmst"](DATA).contrasts,
                "cumulative_incidence.gray_test": CALLS["cumulative_incidence"](DATA).gray_test,
                "table_one.tests": CALLS["table_one"](DATA).tests,
                "cox.summary": fit.summary, "cox.tests": fit.tests, "cox.zph": fit.zph(),
                "fine_gray.summary": CALLS["fine_gray"](DATA).summary}


# a deprecated copy named p_value, kept because code outside the package reads it (shared/parity/check.py)
DEPRECATED_P_VALUE = {"cumulative_incidence.gray_test"}


def test_a_p_value_column_is_named_p_in_every_result_frame():
    """One name for p-value columns (issue 10): ``p``; ``p_value`` only as a deprecated copy of it, where
    code outside the package still reads that name (results.json keeps its keys)."""
    frames = _p_value_frames()
    for name, frame in frames.items():
        assert len(frame), name
        assert "p" in frame.columns, (name, list(frame.columns))
        if name in DEPRECATED_P_VALUE:
            assert frame["p_value"].equals(frame["p"]) and list(frame.columns)[-1] == "p_value"
        else:
            assert "p_value" not in frame.columns, (name, list(frame.columns))
