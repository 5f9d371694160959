"""Weighted cumulative incidence and weighted Fine–Gray against R (tests/reference/competing/weighted_cr.R).

* CIF: ``survfit(Surv(time, factor(event)) ~ group, weights = w)``, estimate and infinitesimal-jackknife SE;
* Fine–Gray: ``finegray()`` + ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt * w, cluster = id)``
  (cmprsk::crr takes no weights). There is no R reference for a weighted Gray's test, so none is reported.
"""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om

FIXTURE = Path(__file__).resolve().parents[1] / "reference" / "competing" / "weighted_cr.json"
TOL = 1e-8


@lru_cache(maxsize=1)
def _cases() -> dict:
    return json.loads(FIXTURE.read_text())["cases"]


def _data(case_id: str) -> pd.DataFrame:
    d = pd.DataFrame(_cases()[case_id]["data"])
    return d.assign(B=(d["group"] == "B").astype(int))


CASES = ["continuous", "ties", "unit_weights", "no_censoring"]


@pytest.mark.parametrize("case_id", CASES)
def test_weighted_cif_matches_survfit(case_id):
    ref = _cases()[case_id]["cif"]
    cif = om.cumulative_incidence(_data(case_id), time="time", event="event", by="group", weights="w")
    assert cif.weighted and cif.causes == [int(s) for s in ref["states"]]
    for cur in ref["curves"]:
        for k, cause in enumerate(cif.causes):
            mine = cif.table[(cif.table["group"] == cur["group"]) & (cif.table["cause"] == cause)]
            np.testing.assert_allclose(mine["time"], cur["time"], rtol=0, atol=1e-12)
            np.testing.assert_allclose(mine["estimate"], np.array(cur["estimate"])[:, k], rtol=TOL, atol=TOL)
            np.testing.assert_allclose(np.sqrt(mine["variance"]), np.array(cur["std_err"])[:, k], rtol=TOL, atol=TOL)


def test_weighted_counts_are_sums_of_weights_and_unit_weights_count_patients():
    d = _data("ties")
    cif = om.cumulative_incidence(d, time="time", event="event", by="group", weights="w")
    a = cif.table[(cif.table["group"] == "A") & (cif.table["cause"] == 1)]
    da = d[d["group"] == "A"]
    expected = [da.loc[da["time"] >= t, "w"].sum() for t in a["time"]]
    np.testing.assert_allclose(a["n_risk"], expected, rtol=1e-12)
    ref = _cases()["unit_weights"]["cif"]["curves"][0]   # survfit's n.risk counts patients
    unit = om.cumulative_incidence(_data("unit_weights"), time="time", event="event", by="group", weights="w")
    u = unit.table[(unit.table["group"] == ref["group"]) & (unit.table["cause"] == 1)]
    np.testing.assert_array_equal(u["n_risk"].to_numpy(), np.array(ref["n_risk"], dtype=float))


def test_unit_weights_give_cmprsk_estimate_and_no_gray_test():
    d = _data("unit_weights")
    weighted = om.cumulative_incidence(d, time="time", event="event", by="group", weights="w")
    plain = om.cumulative_incidence(d, time="time", event="event", by="group")
    np.testing.assert_allclose(weighted.table["estimate"], plain.table["estimate"], rtol=0, atol=1e-13)
    assert len(plain.gray_test) == 2 and weighted.gray_test.empty   # no R reference for a weighted Gray's test


def test_weighted_cif_refuses_options_of_grays_test():
    d = _data("ties")
    for kwargs in ({"strata": "x2"}, {"rho": 1.0}):
        with pytest.raises(ValueError, match="no weighted version"):
            om.cumulative_incidence(d, time="time", event="event", by="group", weights="w", **kwargs)


@pytest.mark.parametrize("case_id", CASES)
def test_weighted_fine_gray_matches_finegray_plus_weighted_coxph(case_id):
    d = _data(case_id)
    for ref in _cases()[case_id]["fine_gray"]:
        fg = om.fine_gray(d, time="time", event="event", covariates=ref["covariates"], cause=ref["cause"],
                          weights="w", ties=ref["ties"])
        assert fg.weighted and list(fg.summary.index) == ref["names"]
        np.testing.assert_allclose(fg.summary["coef"], ref["coef"], rtol=TOL, atol=TOL)
        np.testing.assert_allclose(fg.var, np.array(ref["var"]), rtol=TOL, atol=TOL)
        np.testing.assert_allclose(fg.summary["se"], np.sqrt(np.diag(ref["var"])), rtol=TOL, atol=TOL)
        np.testing.assert_allclose(np.linalg.inv(fg.information), np.array(ref["naive_var"]), rtol=TOL, atol=TOL)
        np.testing.assert_allclose([fg.loglik_null, fg.loglik], ref["loglik"], rtol=1e-12)
        assert fg.n_events == sum(1 for e in d["event"] if e == ref["cause"])
        newdata = pd.DataFrame(ref["newdata"])
        pred = fg.predict_cif(newdata, times=ref["predict_times"])
        np.testing.assert_allclose(pred["cif"].to_numpy().reshape(len(newdata), -1).T, np.array(ref["predict_cif"]),
                                   rtol=TOL, atol=TOL)


def test_weighted_fine_gray_predicts_a_cif_that_grows_with_the_linear_predictor():
    d = _data("continuous")
    fg = om.fine_gray(d, time="time", event="event", covariates=["x1", "x2"], weights="w")
    pred = fg.predict_cif(pd.DataFrame({"x1": [-1.0, 1.0], "x2": [0, 0]}, index=["low", "high"]), times=[10, 30])
    low, high = (pred[pred["profile"] == p]["cif"].to_numpy() for p in ("low", "high"))
    assert np.all((low > 0) & (low < 1)) and np.all(np.diff(low) > 0)
    assert np.all((high > low) == (fg.summary.loc["x1", "coef"] > 0))


def test_fine_gray_ties_only_with_weights():
    with pytest.raises(ValueError, match="weighted fits only"):
        om.fine_gray(_data("ties"), time="time", event="event", covariates=["x1"], ties="efron")
