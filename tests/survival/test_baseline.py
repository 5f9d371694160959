"""Predicted survival and baseline cumulative hazard after a Cox fit, against R's survfit.coxph.

Fixtures: tests/reference/coxextras/make_coxextras_fixtures.R -> coxextras.json + data/<case>.csv.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.survival.baseline import cox_survival, cox_survival_table, cumulative_hazard, r_means

FIX = Path(__file__).parents[1] / "reference" / "coxextras"
REF = {k: v for k, v in json.loads((FIX / "coxextras.json").read_text()).items()
       if not k.startswith("_") and v["kind"] == "cox"}


def _case(cid):
    return REF[cid], pd.read_csv(FIX / "data" / f"{cid}.csv")


def _arr(x):
    return np.array([[np.nan if v is None else v for v in row] for row in x]) if isinstance(x[0], list) \
        else np.array([np.nan if v is None else v for v in x], dtype=float)


@pytest.mark.parametrize("cid", sorted(REF))
def test_predicted_survival_matches_r(cid):
    ref, d = _case(cid)
    pr = ref["predict"]
    S = cox_survival(d.time, d.event, d[ref["x"]].to_numpy(float), ref["coef"], strata=d.strata, weights=d.w,
                     ties=ref["ties"], newX=np.asarray(pr["profiles"]), times=pr["times"], newstrata=pr["strata"])
    want = _arr(pr["survival"])
    assert S.shape == want.shape
    np.testing.assert_array_equal(np.isnan(S), np.isnan(want))   # NaN past the stratum's last time, as R
    np.testing.assert_allclose(S, want, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("cid", sorted(REF))
def test_prediction_std_err_and_band_match_r(cid):
    ref, d = _case(cid)
    pr = ref["predict"]
    tab = cox_survival_table(d.time, d.event, d[ref["x"]].to_numpy(float), ref["coef"], np.asarray(ref["var"]),
                             strata=d.strata, weights=d.w, ties=ref["ties"], newX=np.asarray(pr["profiles"]),
                             times=pr["times"], newstrata=pr["strata"])
    shape = (len(pr["times"]), len(pr["profiles"]))
    for col in ("survival", "std_err", "lower", "upper"):
        got, want = tab[col].to_numpy().reshape(shape), _arr(pr[col])
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want), err_msg=col)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-13, err_msg=col)


@pytest.mark.parametrize("cid", sorted(REF))
def test_baseline_cumulative_hazard_and_std_err_match_r(cid):
    ref, d = _case(cid)
    X = d[ref["x"]].to_numpy(float)
    np.testing.assert_allclose(r_means(X, d.w), ref["means"], rtol=1e-12, atol=1e-15)
    b = ref["baseline"]
    ch = cumulative_hazard(d.time, d.event, X, ref["coef"], strata=d.strata, weights=d.w, ties=ref["ties"],
                           var=np.asarray(ref["var"]))
    np.testing.assert_array_equal(ch["strata"], b["strata"])
    np.testing.assert_allclose(ch["time"], b["time"])
    np.testing.assert_allclose(ch["n_risk"], b["n_risk"], rtol=1e-12)
    np.testing.assert_allclose(ch["n_event"], b["n_event"], rtol=1e-12)
    np.testing.assert_allclose(ch["cumhaz"], b["cumhaz"], rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(ch["survival"], b["surv"], rtol=1e-10)
    np.testing.assert_allclose(ch["std_err"], b["std_err"], rtol=1e-9, atol=1e-14)
    np.testing.assert_allclose(ch["lower"], _arr(b["lower"]), rtol=1e-9)
    np.testing.assert_allclose(ch["upper"], _arr(b["upper"]), rtol=1e-9)


def test_breslow_hand_computed():
    # one covariate, beta = log 2; rows (t, event, x): (1,1,0) (2,1,1) (2,0,0) (3,1,1); center 0 (x is 0/1)
    # risk scores 1, 2, 1, 2. Risk sets: t=1 -> 6, t=2 -> 5, t=3 -> 2.
    # H0 = 1/6, 1/6 + 1/5, 1/6 + 1/5 + 1/2
    t, e, x = np.array([1.0, 2, 2, 3]), np.array([1, 1, 0, 1]), np.array([[0.0], [1], [0], [1]])
    ch = cumulative_hazard(t, e, x, [np.log(2)], ties="breslow")
    np.testing.assert_allclose(ch["cumhaz"], [1 / 6, 1 / 6 + 1 / 5, 1 / 6 + 1 / 5 + 1 / 2])
    S = cox_survival(t, e, x, [np.log(2)], ties="breslow", newX=[[1.0]], times=[0.5, 2.5, 3, 4])
    np.testing.assert_allclose(S[:3, 0], [1, np.exp(-2 * (1 / 6 + 1 / 5)), np.exp(-2 * (1 / 6 + 1 / 5 + 1 / 2))])
    assert np.isnan(S[3, 0])                  # after the last time: no extrapolation


def test_efron_hand_computed():
    # two tied deaths at t=1 (risks 1 and 2), one censored at 1 (risk 1), one row at 2 (risk 2, event)
    # Efron at t=1: S0 = 6, S0_dead = 3, d = 2: dH = 2 * (1/6 + 1/(6 - 1.5)) / 2 = 1/6 + 1/4.5
    t, e = np.array([1.0, 1, 1, 2]), np.array([1, 1, 0, 1])
    x = np.array([[0.0], [1], [0], [1]])
    ch = cumulative_hazard(t, e, x, [np.log(2)], ties="efron", center=[0.0])
    np.testing.assert_allclose(ch["cumhaz"], [1 / 6 + 1 / 4.5, 1 / 6 + 1 / 4.5 + 1 / 2])
    br = cumulative_hazard(t, e, x, [np.log(2)], ties="breslow", center=[0.0])
    np.testing.assert_allclose(br["cumhaz"], [2 / 6, 2 / 6 + 1 / 2])


def test_survival_non_increasing_bounded_and_center_free():
    ref, d = _case("colon_death_efron")
    X = d[ref["x"]].to_numpy(float)
    times = np.linspace(0, 4000, 60)
    S = cox_survival(d.time, d.event, X, ref["coef"], strata=d.strata, newX=X[:25], times=times,
                     newstrata=d.strata.to_numpy()[:25])
    ok = ~np.isnan(S)
    assert np.all((S[ok] >= 0) & (S[ok] <= 1))
    assert np.all(np.nan_to_num(np.diff(S, axis=0), nan=0.0) <= 1e-15)
    # the baseline's centring cancels in a prediction: move it and compare
    a = cumulative_hazard(d.time, d.event, X, ref["coef"], strata=d.strata, center=np.zeros(X.shape[1]))
    b = cumulative_hazard(d.time, d.event, X, ref["coef"], strata=d.strata)
    shift = np.exp((r_means(X) - 0) @ np.asarray(ref["coef"]))
    np.testing.assert_allclose(a["cumhaz"] * shift, b["cumhaz"], rtol=1e-10)   # H_c = H_0 exp(c beta)


def test_public_predict_survival_matches_r():
    ref, d = _case("lung_weights")
    pr = ref["predict"]
    fit = om.cox(d, time="time", event="event", covariates=ref["x"], weights="w")
    new = pd.DataFrame(pr["profiles"], columns=ref["x"])
    got = fit.predict_survival(new, times=pr["times"]).to_numpy()
    np.testing.assert_allclose(got, _arr(pr["survival"]), rtol=1e-7)


def test_efron_equals_breslow_without_ties():
    ref, d = _case("lung_efron")
    d = d.drop_duplicates("time")
    X = d[ref["x"]].to_numpy(float)
    a = cumulative_hazard(d.time, d.event, X, ref["coef"], ties="efron", var=np.asarray(ref["var"]))
    b = cumulative_hazard(d.time, d.event, X, ref["coef"], ties="breslow", var=np.asarray(ref["var"]))
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_row_order_does_not_matter():
    ref, d = _case("veteran_month_breslow_weights")
    pr = ref["predict"]
    X = d[ref["x"]].to_numpy(float)
    perm = np.random.default_rng(7).permutation(len(d))
    kw = dict(ties="breslow", newX=np.asarray(pr["profiles"]), times=pr["times"])
    a = cox_survival(d.time.to_numpy(), d.event.to_numpy(), X, ref["coef"], weights=d.w.to_numpy(), **kw)
    b = cox_survival(d.time.to_numpy()[perm], d.event.to_numpy()[perm], X[perm], ref["coef"],
                     weights=d.w.to_numpy()[perm], **kw)
    np.testing.assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(times=None), "times is required"),
    (dict(newX=[[1.0, 2.0]]), "newX has 2 columns"),
    (dict(ties="exact"), "ties must be"),
    (dict(strata=[0, 0, 1, 1]), "give newstrata"),
    (dict(strata=[0, 0, 1, 1], newstrata=[5]), "not strata of the fit"),
])
def test_bad_input(kwargs, match):
    args = dict(time=[1.0, 2, 2, 3], event=[1, 1, 0, 1], X=[[0.0], [1], [0], [1]], beta=[0.5], newX=[[1.0]],
                times=[1.0])
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        cox_survival(**args)
