"""Restricted mean survival time against R: summary(survfit(...), rmean = tau)$table (rmean, se(rmean)),
survRM2::rmst2's contrasts (written out in make_rmst_fixtures.R), and for IPTW weights the
infinitesimal-jackknife variance from survfit(..., influence = TRUE).

Expected values: tests/reference/rmst/rmst_fixtures.json (make_rmst_fixtures.R, survival 3.5-3).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rmst_reference import FIXTURES, cases, label, load, numeric_influence_variance, random_rows

import oligomet as om

RMST_CASES = cases("rmst")


def fit(cid, **kw):
    case = FIXTURES[cid]["case"]
    return om.rmst(load(case["data"]), time=case["time"], event=case["event"], by=case.get("by"), tau=case["tau"],
                   weights=case.get("weights"), robust=case.get("robust"), start=case.get("start"),
                   id=case.get("id"), conf_level=case["conf_level"], **kw)


@pytest.mark.parametrize("cid", RMST_CASES)
def test_per_group_rmst_matches_survfit_rmean(cid):
    res = fit(cid)
    exp = FIXTURES[cid]["expected"]
    assert res.variance == ("ij" if exp["robust"] else "greenwood")
    assert [label(g) for g in res.table["group"]] == [g["level"] for g in exp["groups"]]
    for row, g in zip(res.table.itertuples(index=False), exp["groups"]):
        assert row.n == g["n"]
        assert row.n_events == pytest.approx(g["events"], rel=1e-12)
        assert row.rmst == pytest.approx(g["rmean"], rel=1e-10)
        want_se = g["se_ij"] if exp["robust"] else g["se_rmean"]
        assert row.std_err == pytest.approx(want_se, rel=1e-8)
        z = {0.95: 1.959963984540054, 0.9: 1.6448536269514722}[res.conf_level]
        assert row.lower == pytest.approx(row.rmst - z * row.std_err, rel=1e-12)
        assert row.rmtl_upper == pytest.approx(row.tau - row.lower, rel=1e-12)


@pytest.mark.parametrize("cid", [c for c in RMST_CASES if FIXTURES[c]["expected"]["contrasts"]])
def test_contrasts_match_rmst2_formulas(cid):
    res = fit(cid)
    for c in FIXTURES[cid]["expected"]["contrasts"]:
        got = res.contrasts[res.contrasts["group"].map(label) == c["level"]].set_index("measure")
        assert (got["reference"].map(label) == c["reference"]).all()
        for measure in ("difference", "ratio", "rmtl_ratio"):
            est, lo, hi, p, se = c[measure]
            r = got.loc[measure]
            np.testing.assert_allclose([r.estimate, r.lower, r.upper, r.p, r.std_err], [est, lo, hi, p, se],
                                       rtol=1e-8, err_msg=f"{cid} {c['level']} {measure}")


def test_greenwood_variant_of_a_weighted_fit_is_what_print_survfit_shows():
    # robust=False on fractional weights: R's print(fit, rmean=) number (weighted Greenwood)
    ij = fit("rmst_ties_fracweights_ij")
    case = FIXTURES["rmst_ties_fracweights_greenwood"]
    gw = om.rmst(load("ties"), time="time", event="status", by="grp", tau=case["case"]["tau"], weights="wt_frac",
                 robust=False)
    for row, g in zip(gw.table.itertuples(index=False), case["expected"]["groups"]):
        assert row.std_err == pytest.approx(g["se_rmean"], rel=1e-10)
    assert ij.variance == "ij" and gw.variance == "greenwood"
    np.testing.assert_allclose(ij.table["rmst"], gw.table["rmst"], rtol=1e-14)
    assert not np.allclose(ij.table["std_err"], gw.table["std_err"], rtol=1e-3)


def small():
    # group a: events at 2, 3, 5; censored at 4. Group b: event at 1, censored at 6.
    return pd.DataFrame({"t": [2, 3, 4, 5, 1, 6], "e": [1, 1, 0, 1, 1, 0], "g": list("aaaabb")})


def test_hand_worked_rmst_and_greenwood_variance():
    # Group a, tau = 4.5: S = 1 on [0,2), 3/4 on [2,3), 1/2 on [3,4.5]. Area 2 + 3/4 + 1.5 * 1/2 = 3.5.
    # Variance: at t=2 (n=4, d=1): A = 3/4 + 3/4 = 1.5, h = 1/12; at t=3 (n=3, d=1): A = 0.75, h = 1/6.
    res = om.rmst(small(), time="t", event="e", by="g", tau=4.5)
    a = res.table.set_index("group").loc["a"]
    assert a["rmst"] == pytest.approx(3.5, rel=1e-14)
    assert a["std_err"] == pytest.approx(np.sqrt(1.5 ** 2 / 12 + 0.75 ** 2 / 6), rel=1e-14)
    # group b: S = 1 on [0,1), 1/2 after; area 1 + 3.5/2 = 2.75; A(1) = 1.75, h = 1/(2*1) = 1/2
    b = res.table.set_index("group").loc["b"]
    assert b["rmst"] == pytest.approx(2.75, rel=1e-14)
    assert b["std_err"] == pytest.approx(np.sqrt(1.75 ** 2 / 2), rel=1e-14)
    diff = res.contrasts.set_index("measure").loc["difference"]
    assert diff["estimate"] == pytest.approx(2.75 - 3.5)
    assert diff["std_err"] == pytest.approx(np.hypot(a["std_err"], b["std_err"]), rel=1e-14)
    ratio = res.contrasts.set_index("measure").loc["ratio"]
    se_log = np.sqrt(a["std_err"] ** 2 / 3.5 ** 2 + b["std_err"] ** 2 / 2.75 ** 2)
    assert ratio["std_err"] == pytest.approx(se_log, rel=1e-14)
    assert ratio["lower"] == pytest.approx(2.75 / 3.5 * np.exp(-1.959963984540054 * se_log), rel=1e-12)


def test_hand_worked_ij_variance_without_ties():
    # The IJ variance is the sum of squared derivatives of the RMST in each row's weight: checked here
    # against central differences of the weighted estimate.
    d = pd.DataFrame({"t": [1.0, 2.5, 3.0, 4.0, 6.0, 7.5], "e": [1, 0, 1, 1, 0, 1]})
    tau = 5.0
    res = om.rmst(d, time="t", event="e", tau=tau, robust=True)

    def area(w):
        return om.rmst(d.assign(w=w), time="t", event="e", tau=tau, weights="w", robust=False).table["rmst"][0]

    eps = 1e-6
    base = np.ones(len(d))
    infl = [(area(base + eps * np.eye(len(d))[i]) - area(base - eps * np.eye(len(d))[i])) / (2 * eps)
            for i in range(len(d))]
    assert res.table["std_err"][0] == pytest.approx(np.sqrt(np.sum(np.square(infl))), rel=1e-6)


def test_tau_before_the_first_time_is_tau_with_no_variance():
    res = om.rmst(small(), time="t", event="e", by="g", tau=0.5)
    np.testing.assert_allclose(res.table["rmst"], [0.5, 0.5])
    np.testing.assert_allclose(res.table["std_err"], [0.0, 0.0])


def test_tau_beyond_last_follow_up_names_the_group_and_its_last_time():
    with pytest.raises(ValueError, match=r"group 'b': last follow-up time 6 .*choose tau <= 6"):
        om.rmst(small(), time="t", event="e", by="g", tau=7)


def test_tau_beyond_a_curve_that_reached_zero_is_allowed():
    # group a ends with an event (S = 0 at 5): its area is known up to any tau; b limits tau to 6.
    # a: S = 1 on [0,2), 3/4 on [2,3), 1/2 on [3,5), 0 after.
    res = om.rmst(small(), time="t", event="e", by="g", tau=6)
    assert res.table.set_index("group").loc["a", "rmst"] == pytest.approx(2 + 0.75 + 1.0, rel=1e-14)


def test_default_tau_follows_rmst2():
    assert om.rmst(small(), time="t", event="e", by="g").tau == 6.0       # a reached 0: b's last time
    d = small()
    d.loc[3, "e"] = 0                                                      # a now ends censored at 5
    assert om.rmst(d, time="t", event="e", by="g").tau == 5.0             # the earlier of the open ends
    d = small()
    d.loc[5, "e"] = 1                                                      # both reach 0: the later last time
    assert om.rmst(d, time="t", event="e", by="g").tau == 6.0


def test_reference_group_and_single_group():
    res = om.rmst(small(), time="t", event="e", by="g", tau=4, reference="b")
    assert set(res.contrasts["group"]) == {"a"} and set(res.contrasts["reference"]) == {"b"}
    one = om.rmst(small(), time="t", event="e", tau=4)
    assert one.contrasts.empty and one.table["group"].tolist() == ["all"]
    with pytest.raises(ValueError, match="reference 'z' is not a group"):
        om.rmst(small(), time="t", event="e", by="g", tau=4, reference="z")


@pytest.mark.parametrize("tau", [0, -1, float("nan"), float("inf"), "5"])
def test_bad_tau(tau):
    with pytest.raises(ValueError, match="tau must be a finite number > 0"):
        om.rmst(small(), time="t", event="e", by="g", tau=tau)


def test_iptw_rmst_equals_weighted_km_area():
    d = load("colon_iptw")
    res = om.rmst(d, time="time", event="status", by="rx", tau=2000, weights="iptw")
    km = om.kaplan_meier(d, time="time", event="status", by="rx", weights="iptw")
    for g, row in res.table.set_index("group").iterrows():
        c = km.table[km.table["group"] == g]
        t = np.concatenate([[0.0], c["time"].to_numpy()])
        s = np.concatenate([[1.0], c["survival"].to_numpy()])
        keep = t <= 2000
        area = np.sum(np.diff(np.concatenate([t[keep], [2000.0]])) * s[keep])
        assert row["rmst"] == pytest.approx(area, rel=1e-12)


@pytest.mark.parametrize("seed", [6, 7])
def test_ij_variance_with_id_is_the_jackknife_by_numeric_differences(seed):
    d = random_rows(seed)
    tau = 10.0
    res = om.rmst(d, time="stop", event="event", start="start", by="grp", weights="w", id="pid", tau=tau, robust=True)

    def area(w):
        return om.rmst(d.assign(w=w), time="stop", event="event", start="start", by="grp", weights="w", tau=tau,
                       robust=False).table["rmst"].to_numpy()

    np.testing.assert_allclose(res.table["std_err"], np.sqrt(numeric_influence_variance(area, d)), rtol=1e-5)


def test_contrast_se_counts_patients_in_both_groups_once():
    # rows of one patient fall in both groups: the difference's IJ variance must include their covariance
    d = random_rows(12, n_patients=40)
    d["grp"] = np.where(np.arange(len(d)) % 2, "x", "y")       # a patient's consecutive rows alternate groups
    tau = 10.0
    res = om.rmst(d, time="stop", event="event", start="start", by="grp", weights="w", id="pid", tau=tau, robust=True)

    def diff(w):
        m = om.rmst(d.assign(w=w), time="stop", event="event", start="start", by="grp", weights="w", tau=tau,
                    robust=False).table["rmst"].to_numpy()
        return np.array([m[1] - m[0]])

    got = res.contrasts.set_index("measure").loc["difference", "std_err"]
    assert got == pytest.approx(np.sqrt(numeric_influence_variance(diff, d)[0]), rel=1e-5)
    naive = np.hypot(*res.table["std_err"])
    assert abs(got - naive) > 0.05 * naive      # the covariance term matters here
