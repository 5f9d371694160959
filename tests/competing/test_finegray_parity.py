"""fine_gray against cmprsk::crr and predict.crr (fixtures from make_competing_fixtures.R)."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from competing_fixtures import all_cases, as_float, case_ids, load_data

CRR = case_ids("crr")


def fit(case_id):
    c = all_cases()[case_id]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", om.CompleteCaseWarning)
        return om.fine_gray(load_data(case_id), time=c["time"], event=c["event"], covariates=c["covariates"],
                            cause=c["failcode"], cencode=c["cencode"])


@pytest.mark.parametrize("case_id", CRR)
def test_coefficients_and_sandwich_variance(case_id):
    exp = all_cases()[case_id]["expected"]
    f = fit(case_id)
    assert list(f.summary.index) == exp["terms"]
    s = f.summary
    np.testing.assert_allclose(s["coef"], exp["coef"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(s["se"], exp["se"], rtol=1e-9)
    np.testing.assert_allclose(f.var, as_float(exp["var"]), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(f.information, as_float(exp["inf"]), rtol=1e-9, atol=1e-12)
    assert f.loglik == pytest.approx(exp["loglik"], rel=1e-12)
    assert f.loglik_null == pytest.approx(exp["loglik_null"], rel=1e-12)
    assert f.converged is exp["converged"]
    assert f.n == exp["n"]
    # summary.crr's derived columns
    z = np.asarray(exp["coef"]) / np.asarray(exp["se"])
    np.testing.assert_allclose(s["z"], z, rtol=1e-9)
    from scipy.stats import norm
    # summary.crr's 2 * (1 - pnorm(|z|)); written as it is in R, it underflows to 0 below ~1e-16
    np.testing.assert_allclose(s["p"], 2 * (1 - norm.cdf(np.abs(z))), rtol=1e-8, atol=1e-15)
    np.testing.assert_allclose(s["shr"], np.exp(exp["coef"]), rtol=1e-9)
    coef, se = np.asarray(exp["coef"]), np.asarray(exp["se"])
    np.testing.assert_allclose(s["shr_lower"], np.exp(coef - norm.ppf(0.975) * se), rtol=1e-9)
    np.testing.assert_allclose(s["shr_upper"], np.exp(coef + norm.ppf(0.975) * se), rtol=1e-9)


@pytest.mark.parametrize("case_id", CRR)
def test_baseline_jumps(case_id):
    exp = all_cases()[case_id]["expected"]
    b = fit(case_id).baseline
    np.testing.assert_array_equal(b["time"], exp["uftime"])
    np.testing.assert_allclose(b["hazard_jump"], exp["bfitj"], rtol=1e-9)


@pytest.mark.parametrize("case_id", [k for k in CRR if "profiles" in all_cases()[k]["expected"]])
def test_predict_cif_matches_predict_crr(case_id):
    case = all_cases()[case_id]
    exp = case["expected"]
    prof = pd.DataFrame(exp["profiles"])
    for col, levels in (case.get("levels") or {}).items():
        prof[col] = pd.Categorical(prof[col], categories=levels)
    f = fit(case_id)
    p = f.predict_cif(prof)
    got = p.pivot(index="time", columns="profile", values="cif")
    np.testing.assert_array_equal(got.index.to_numpy(), exp["predict_time"])
    np.testing.assert_allclose(got.to_numpy(), as_float(exp["predict_cif"]), rtol=1e-9, atol=1e-15)
    # reading the step function at chosen times: 0 before the first failure, flat between failures
    t = np.asarray(exp["predict_time"])
    times = [t[0] - 0.5, t[0], (t[1] + t[2]) / 2, t[-1] + 100]
    q = f.predict_cif(prof.iloc[[0]], times=times)["cif"].to_numpy()
    want = as_float(exp["predict_cif"])[:, 0]
    np.testing.assert_allclose(q, [0.0, want[0], want[1], want[-1]], rtol=1e-9)


def test_fixture_set_covers_factor_ties_and_cencode():
    notes = " ".join(all_cases()[k]["note"] for k in CRR)
    for word in ("complete cases", "non-alphabetical reference", "whole years", "cencode = 9", "time 0"):
        assert word in notes
    assert {all_cases()[k]["failcode"] for k in CRR} >= {1, 2, 3}
