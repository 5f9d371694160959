"""oligomet.weight against R: glm propensity, weights by formula, balance by MatchIt's bal1var.

Fixtures: tests/reference/matching/make_matching_fixtures.R (weighting part).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import oligomet as om

from matching_data import COVARIATES, FIXTURE_DIR, load_data

WFIX = json.loads((FIXTURE_DIR / "weighting_fixtures.json").read_text())["cases"]
R_COLUMNS = {"Means Treated": "mean_treated", "Means Control": "mean_control", "Std. Mean Diff.": "smd",
             "Var. Ratio": "var_ratio", "eCDF Mean": "ecdf_mean", "eCDF Max": "ecdf_max"}


def nan(v):
    return np.array([np.nan if x is None else x for x in v], dtype=float)


@pytest.mark.parametrize("case_id", sorted(WFIX))
def test_weight_against_r(case_id):
    exp = WFIX[case_id]
    spec = exp["spec"]
    treatment, covariates = COVARIATES[spec["data"]]
    d = load_data(spec["data"])
    r = om.weight(d, treatment=treatment, covariates=covariates, estimand=spec["estimand"],
                  stabilize=spec.get("stabilize", False), trim=spec.get("trim"))
    np.testing.assert_allclose(r.propensity.loc[d.index], exp["propensity"], rtol=1e-8)
    np.testing.assert_allclose(r.weights.loc[d.index], exp["weights"], rtol=1e-8)
    np.testing.assert_allclose(r.data["weights"], r.weights)
    assert list(r.balance.index) == exp["balance_rows"]
    for r_col, ours in R_COLUMNS.items():
        np.testing.assert_allclose(r.balance[f"{ours}_before"], nan(exp["before"][r_col]), rtol=1e-7, atol=1e-12,
                                   err_msg=f"{r_col} before")
        np.testing.assert_allclose(r.balance[f"{ours}_after"], nan(exp["after"][r_col]), rtol=1e-7, atol=1e-12,
                                   err_msg=f"{r_col} after")
    assert r.ess.loc["control", "ess"] == pytest.approx(exp["ess_control"], rel=1e-10)
    assert r.ess.loc["treated", "ess"] == pytest.approx(exp["ess_treated"], rel=1e-10)


def test_overlap_weights_balance_means_exactly():
    """ATO weights from a logistic model give exact mean balance on every model term (Li et al. 2018)."""
    d = load_data("colon")
    r = om.weight(d, treatment="treated", covariates=COVARIATES["colon"][1], estimand="ATO")
    cov = r.balance.drop(index="distance")
    np.testing.assert_allclose(cov["smd_after"], 0.0, atol=1e-7)


def test_weight_bad_arguments():
    d = load_data("colon")
    cov = COVARIATES["colon"][1]
    with pytest.raises(ValueError, match="estimand must be one of"):
        om.weight(d, treatment="treated", covariates=cov, estimand="ATX")
    with pytest.raises(ValueError, match="stabilize=True is defined for estimand='ATE' only"):
        om.weight(d, treatment="treated", covariates=cov, estimand="ATT", stabilize=True)
    with pytest.raises(ValueError, match="trim must be"):
        om.weight(d, treatment="treated", covariates=cov, trim=0.2)
