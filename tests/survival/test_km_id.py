"""Kaplan-Meier with id=: the grouped (cluster) robust variance, as R's
``survfit(Surv(start, stop, event) ~ x, id = id, robust = TRUE)``.

Expected values: tests/reference/rmst/rmst_fixtures.json (make_rmst_fixtures.R, survival 3.5-3).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rmst_reference import (FIXTURES, assert_r, cases, label, load, numeric_influence_variance, r_array,
                            random_rows, rows_of)

import oligomet as om

KM_ID = cases("km_id")


def fit(cid):
    case = FIXTURES[cid]["case"]
    return om.kaplan_meier(load(case["data"]), time=case["time"], event=case["event"], by=case.get("by"),
                           conf_type=case["conf_type"], weights=case.get("weights"), robust=case.get("robust"),
                           start=case.get("start"), id=case["id"])


@pytest.mark.parametrize("cid", KM_ID)
def test_matches_survfit_with_id(cid):
    km = fit(cid)
    exp = FIXTURES[cid]["expected"]
    assert km.robust == exp["robust"]
    assert [label(g) for g in km.groups] == [g["level"] for g in exp["groups"]]
    for g in exp["groups"]:
        t = rows_of(km.table, g["level"])
        for col in ("time", "n_risk", "n_event", "n_censor", "survival", "lower", "upper"):
            assert_r(f"{cid}.{g['level']}.{col}", t[col], g[col])
        se = r_array([np.nan if v == "Inf" else v for v in g["std_err"]])
        assert_r(f"{cid}.{g['level']}.std_err", t["std_err"], se)


def test_one_row_per_id_is_the_ungrouped_robust_variance():
    d = load("ties")
    d["pid"] = np.arange(len(d))
    a = om.kaplan_meier(d, time="time", event="status", by="grp", weights="wt_frac", id="pid")
    b = om.kaplan_meier(d, time="time", event="status", by="grp", weights="wt_frac")
    np.testing.assert_allclose(a.table["std_err"], b.table["std_err"], rtol=1e-12, atol=1e-15)


def test_split_rows_of_a_patient_leave_survival_and_grouped_se_unchanged():
    # Cutting each patient's follow-up (0, T] into (0, c] and (c, T] changes no risk set; with id= the
    # two rows are one cluster, so the grouped robust SE equals the one-row-per-patient robust SE.
    d = load("small")
    d["pid"] = np.arange(len(d))
    one = om.kaplan_meier(d, time="time", event="status", by="grp", robust=True)
    cut = 0.5 * d["time"]
    split = pd.concat([d.assign(start=0.0, stop=cut, status=0), d.assign(start=cut, stop=d["time"])],
                      ignore_index=True)
    two = om.kaplan_meier(split, time="stop", event="status", by="grp", start="start", id="pid", robust=True)
    at = two.table[two.table["n_event"] > 0]
    ref = one.table[one.table["n_event"] > 0]
    np.testing.assert_allclose(at["survival"], ref["survival"], rtol=1e-13)
    np.testing.assert_allclose(at["std_err"], ref["std_err"], rtol=1e-12)
    # without id the two rows count as independent and the SE differs
    naive = om.kaplan_meier(split, time="stop", event="status", by="grp", start="start", robust=True)
    assert not np.allclose(naive.table[naive.table["n_event"] > 0]["std_err"], ref["std_err"])
    # internal cuts are not censorings (R's n.censor counts the last row of a run only)
    assert two.table["n_censor"].sum() == one.table["n_censor"].sum()


def test_hand_worked_two_patient_clusters():
    # Patient p has two events (rows (0,1] and (1,3]); q is censored at 2; r dies at 3.
    # At t=1: n=3, d=1, S=2/3. At t=3: n=2 (p, r), d=2 -> S=0. Patient p's influence on log S at t=1:
    # -(1/(n-d)) + Y*d/(n(n-d)) = -1/2 + 1/6 = -1/3; q and r: +1/6 each. Var S(1) = S^2 (1/9 + 1/36 + 1/36).
    d = pd.DataFrame({"pid": ["p", "p", "q", "r"], "start": [0, 1, 0, 0], "stop": [1, 3, 2, 3],
                      "status": [1, 1, 0, 1]})
    km = om.kaplan_meier(d, time="stop", event="status", start="start", id="pid")
    assert km.robust  # p has two events: R turns the robust variance on
    row = km.table[km.table["time"] == 1].iloc[0]
    assert row["survival"] == pytest.approx(2 / 3)
    assert row["std_err"] == pytest.approx(2 / 3 * np.sqrt(1 / 9 + 2 / 36), rel=1e-12)


def test_missing_id_rows_are_dropped_with_a_warning():
    d = load("heart").astype({"id": float})
    d.loc[d.index[:2], "id"] = np.nan
    with pytest.warns(om.CompleteCaseWarning):
        km = om.kaplan_meier(d, time="stop", event="event", start="start", id="id", robust=True)
    assert km.dropped.n == 2


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_grouped_robust_se_is_the_jackknife_by_numeric_differences(seed):
    d = random_rows(seed)
    km = om.kaplan_meier(d, time="stop", event="event", start="start", by="grp", weights="w", id="pid", robust=True)

    def surv(w):
        return om.kaplan_meier(d.assign(w=w), time="stop", event="event", start="start", by="grp", weights="w",
                               robust=False).table["survival"].to_numpy()

    var = numeric_influence_variance(surv, d)
    ok = km.table["survival"].to_numpy() > 0
    np.testing.assert_allclose(km.table["std_err"][ok], np.sqrt(var[ok]), rtol=1e-5, atol=1e-9)
