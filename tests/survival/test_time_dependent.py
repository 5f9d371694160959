"""oligomet.time_dependent against R's tmerge(tdc()) and coxph on its rows
(tests/reference/time_dependent/make_time_dependent.R writes the fixtures)."""
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om

REF = Path(__file__).resolve().parents[1] / "reference" / "time_dependent"


@pytest.fixture(scope="module")
def rows():
    d = pd.read_csv(REF / "input.csv")
    return om.time_dependent(d, time="time", event="status", switches={"treated": "sw", "second": "sw2"})


def test_rows_equal_tmerge(rows):
    r = pd.read_csv(REF / "tmerge.csv")
    got = rows[["id", "start", "stop", "status", "treated", "second", "karno", "age"]].to_numpy(dtype=float)
    want = r[["id", "tstart", "tstop", "death", "treated", "second", "karno", "age"]].to_numpy(dtype=float)
    np.testing.assert_array_equal(got, want)


def test_cox_on_the_rows_equals_r(rows):
    want = json.loads((REF / "coxph_tmerge.json").read_text())
    fit = om.cox(rows, time="stop", event="status", start="start", covariates=["treated", "second", "karno", "age"],
                 cluster="id")
    np.testing.assert_allclose(fit.summary["coef"], want["coef"], rtol=1e-9)
    np.testing.assert_allclose(fit.summary["se"], want["se"], rtol=1e-9)
    np.testing.assert_allclose(fit.summary["robust_se"], want["robust_se"], rtol=1e-9)
    np.testing.assert_allclose(fit.loglik, want["loglik"], rtol=1e-12)
    assert fit.n == want["n"] and fit.n_events == want["nevent"]


def test_switch_rules_by_hand():
    d = pd.DataFrame({"id": [1, 2, 3, 4, 5], "t": [10.0, 10.0, 10.0, 10.0, 10.0], "e": [1, 0, 1, 1, 0],
                      "s": [4.0, 0.0, 10.0, np.nan, -2.0]})
    out = om.time_dependent(d, time="t", event="e", switches={"x": "s"})
    # 1: cut at 4; 2: on from the start; 3: switch at the end -> never on; 4: never; 5: before origin -> on
    assert out[["id", "start", "stop", "e", "x"]].values.tolist() == [
        [1, 0, 4, 0, 0], [1, 4, 10, 1, 1], [2, 0, 10, 0, 1], [3, 0, 10, 1, 0], [4, 0, 10, 1, 0], [5, 0, 10, 0, 1]]


def test_errors_name_the_problem():
    d = pd.DataFrame({"t": [0.0, 5.0], "e": [1, 0], "s": [1.0, "x"]})
    with pytest.raises(ValueError, match=r"'t' must be > 0 .* row 0"):
        om.time_dependent(d, time="t", event="e", switches={"x": "s"})
    d["t"] = [3.0, 5.0]
    with pytest.raises(ValueError, match=r"switch-time column 's' is not numeric or not finite at row 1"):
        om.time_dependent(d, time="t", event="e", switches={"x": "s"})
    with pytest.raises(ValueError, match=r"'t' already used"):
        om.time_dependent(d, time="t", event="e", switches={"t": "s"})
