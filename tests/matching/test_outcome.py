"""Outcome analysis after matching / weighting against R (survival 3.5-3 on MatchIt's match.data)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import oligomet as om
from oligomet.matching.outcome import matched_survival

from matching_data import COVARIATES, FIXTURE_DIR, load_data

OUT = json.loads((FIXTURE_DIR / "outcome_fixtures.json").read_text())


def result_for(case_id):
    d = load_data("colon")
    cov = COVARIATES["colon"][1]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if case_id == "colon_caliper":
            return om.match(d, treatment="treated", covariates=cov, caliper=0.2)
        if case_id == "colon_ratio2":
            return om.match(d, treatment="treated", covariates=cov, ratio=2)
        return om.weight(d, treatment="treated", covariates=cov, estimand="ATE")


@pytest.mark.parametrize("case_id", sorted(OUT["cases"]))
def test_matched_survival_against_r(case_id):
    exp = OUT["cases"][case_id]
    r = matched_survival(result_for(case_id), time="time", event="status")
    s = r.cox.summary.loc["treated"]
    assert s["coef"] == pytest.approx(exp["coef"], rel=1e-6)
    assert s["robust_se"] == pytest.approx(exp["se"], rel=1e-5)
    assert s["se"] == pytest.approx(exp["naive_se"], rel=1e-5)
    at = r.km.at(OUT["times"]).sort_values(["group", "time"])
    np.testing.assert_allclose(at["survival"], exp["km_surv"], rtol=1e-8)
    np.testing.assert_allclose(at["lower"], exp["km_lower"], rtol=1e-6)
    np.testing.assert_allclose(at["upper"], exp["km_upper"], rtol=1e-6)
    if case_id == "colon_caliper":  # 1:1 without replacement: unit weights, log-rank reported
        assert r.logrank.statistic == pytest.approx(exp["logrank_chisq"], rel=1e-8)
        assert r.logrank.p_value == pytest.approx(exp["logrank_p"], rel=1e-7)
    else:
        assert r.logrank is None and any("log-rank omitted" in n for n in r.notes)


def test_matched_survival_with_replacement_uses_robust_se():
    d = load_data("colon")
    m = om.match(d, treatment="treated", covariates=COVARIATES["colon"][1], replace=True, caliper=0.1)
    r = matched_survival(m, time="time", event="status")
    assert any("with replacement" in n for n in r.notes)
    s = r.cox.summary.loc["treated"]
    assert np.isfinite(s["robust_se"]) and s["robust_se"] != s["se"]
    assert r.logrank is None  # control weights differ from 1 with replacement


def test_table_one_before_and_after_matching():
    d = load_data("colon")
    cov = COVARIATES["colon"][1]
    m = om.match(d, treatment="treated", covariates=cov, caliper=0.2)
    before = om.table_one(d, by="treated", variables=cov, test=False)
    after = om.table_one(m.matched_data, by="treated", variables=cov, test=False)
    n_after = after.table[after.table.variable == "N"].set_index("group")["n"]
    assert n_after.to_dict() == {"0": len(m.pairs), "1": len(m.pairs)}
    # matching on this PS brings the descriptive SMD of the score's main terms down on average
    assert after.tests["smd"].mean() < before.tests["smd"].mean()
