"""cox.zph (survival 3.x score test) against R's survival 3.5-3.

Fixtures: tests/reference/coxextras/make_coxextras_fixtures.R -> coxextras.json + data/<case>.csv.
The betas are R's; the test statistic is recomputed from the data.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.survival.zph import cox_zph, zph_residuals, zph_transform

FIX = Path(__file__).parents[1] / "reference" / "coxextras"
REF = {k: v for k, v in json.loads((FIX / "coxextras.json").read_text()).items()
       if not k.startswith("_") and v["kind"] == "cox"}
TRANSFORMS = {"km": "km", "rank": "rank", "identity": "identity", "sqrt": np.sqrt}


def _case(cid):
    return REF[cid], pd.read_csv(FIX / "data" / f"{cid}.csv")


@pytest.mark.parametrize("transform", sorted(TRANSFORMS))
@pytest.mark.parametrize("cid", sorted(REF))
def test_matches_r(cid, transform):
    ref, d = _case(cid)
    X = d[ref["x"]].to_numpy(float)
    z = cox_zph(d.time, d.event, X, ref["coef"], np.asarray(ref["var"]), ref["terms"], strata=d.strata,
                weights=d.w, ties=ref["ties"], transform=TRANSFORMS[transform])
    want = ref["zph"][transform]
    assert list(z.index) == want["terms"]
    np.testing.assert_allclose(z["chisq"], want["chisq"], rtol=1e-8)
    np.testing.assert_array_equal(z["df"], want["df"])
    np.testing.assert_allclose(z["p"], want["p"], rtol=1e-7, atol=1e-300)


def _matrix(x):
    return np.array([[np.nan if v is None else v for v in (row if isinstance(row, list) else [row])] for row in x])


@pytest.mark.parametrize("cid", sorted(REF))
def test_scaled_schoenfeld_residuals_match_r(cid):
    ref, d = _case(cid)
    want = ref["zph"]["km_residuals"]
    terms = want["terms"] if isinstance(want["terms"], list) else [want["terms"]]
    z = zph_residuals(d.time, d.event, d[ref["x"]].to_numpy(float), ref["coef"], ref["terms"], strata=d.strata,
                      weights=d.w, ties=ref["ties"], transform="km")
    np.testing.assert_allclose(z.table["time"], want["time"])
    np.testing.assert_allclose(z.table["g"], want["x"], rtol=1e-12)
    got, y = z.table[terms].to_numpy(), _matrix(want["y"])
    np.testing.assert_array_equal(np.isnan(got), np.isnan(y))
    np.testing.assert_allclose(got, y, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(z.var.to_numpy(), _matrix(want["var"]) if isinstance(want["var"], list)
                               else [[want["var"]]], rtol=1e-8)


def test_factor_term_is_one_multi_df_test():
    ref, d = _case("veteran_celltype")
    X = d[ref["x"]].to_numpy(float)
    z = cox_zph(d.time, d.event, X, ref["coef"], terms=ref["terms"])
    assert z.loc["celltype", "df"] == 3 and z.loc["GLOBAL", "df"] == 6
    # the mapping form gives the same table
    z2 = cox_zph(d.time, d.event, X, ref["coef"],
                 terms={"trt": [0], "karno": [1], "celltype": [2, 3, 4], "age": [5]})
    pd.testing.assert_frame_equal(z, z2)


def test_km_transform_hand_computed():
    # times 1,2,2,3 (events at 1, 2, 3; the other 2 censored). KM: S(1)=3/4, S(2)=3/4*2/3=1/2, S(3)=0.
    # left-continuous 1 - S(t-): t=1 -> 0, t=2 -> 1/4, t=3 -> 1/2
    g = zph_transform(np.array([1.0, 2, 2, 3]), np.array([1, 1, 0, 1]), "km")
    np.testing.assert_allclose(g, [0, 0.25, 0.25, 0.5])
    np.testing.assert_allclose(zph_transform(np.array([3.0, 1, 3]), np.array([1, 1, 0]), "rank"), [2.5, 1, 2.5])


def test_row_order_does_not_matter():
    ref, d = _case("veteran_strata_breslow_weights")
    X = d[ref["x"]].to_numpy(float)
    perm = np.random.default_rng(3).permutation(len(d))
    args = dict(strata=d.strata.to_numpy(), weights=d.w.to_numpy(), ties="breslow")
    a = cox_zph(d.time.to_numpy(), d.event.to_numpy(), X, ref["coef"], **args)
    b = cox_zph(d.time.to_numpy()[perm], d.event.to_numpy()[perm], X[perm], ref["coef"],
                strata=args["strata"][perm], weights=args["weights"][perm], ties="breslow")
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-10)


def test_efron_equals_breslow_without_ties():
    ref, d = _case("lung_efron")
    d = d.drop_duplicates("time")          # distinct times: the two tie methods coincide
    X = d[ref["x"]].to_numpy(float)
    a = cox_zph(d.time, d.event, X, ref["coef"], ties="efron")
    b = cox_zph(d.time, d.event, X, ref["coef"], ties="breslow")
    np.testing.assert_allclose(a.to_numpy(), b.to_numpy(), rtol=1e-10)


def test_public_cox_zph_matches_r():
    ref, d = _case("lung_breslow")
    fit = om.cox(d, time="time", event="event", covariates=ref["x"], ties="breslow")
    z = fit.zph(transform="rank")
    np.testing.assert_allclose(z.loc[ref["zph"]["rank"]["terms"], "chisq"], ref["zph"]["rank"]["chisq"], rtol=1e-6)


@pytest.mark.parametrize("kwargs, match", [
    (dict(transform="sqrt"), "transform must be"),
    (dict(ties="exact"), "ties must be"),
    (dict(terms=["a", "b"]), "terms has 2 names"),
    (dict(terms={"a": [0, 1], "b": [1, 2]}), "exactly one term"),
])
def test_bad_input(kwargs, match):
    ref, d = _case("lung_efron")
    X = d[ref["x"]].to_numpy(float)
    with pytest.raises(ValueError, match=match):
        cox_zph(d.time, d.event, X, ref["coef"], **kwargs)


def test_no_events_is_an_error():
    with pytest.raises(ValueError, match="at least one event"):
        cox_zph([1.0, 2.0], [0, 0], np.array([[1.0], [2.0]]), [0.1])
