"""cumulative_incidence against cmprsk::cuminc / timepoints (fixtures from make_competing_fixtures.R)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import oligomet as om
from competing_fixtures import all_cases, as_float, case_ids, load_data

CUMINC = case_ids("cuminc")


def fit(case_id):
    c = all_cases()[case_id]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no rows may be dropped in these cases
        return om.cumulative_incidence(load_data(case_id), time=c["time"], event=c["event"], by=c["group"],
                                       strata=c["strata"], rho=c["rho"])


def curve(frame, case, name):
    """Rows of ``frame`` for cmprsk curve ``name`` ('<group> <cause>'; group '1' when cuminc had no group)."""
    group, cause = name.rsplit(" ", 1)
    if case["group"] is None:
        group = "all"
    sel = frame[(frame["group"].astype(str) == group) & (frame["cause"].astype(str) == cause)]
    assert len(sel), f"no curve {name!r}"
    return sel.sort_values("time", kind="stable")


def test_fixture_set_covers_the_brief():
    # more datasets, >2 groups, 3 causes, ties across causes, a group without a cause, a singular test
    assert len(CUMINC) >= 8
    notes = " ".join(all_cases()[k]["note"] for k in CUMINC)
    for word in ("3 groups", "3 causes", "ties", "no cause 2", "-1", "stratified", "rho = 1"):
        assert word in notes


@pytest.mark.parametrize("case_id", CUMINC)
def test_timepoints_match_cmprsk(case_id):
    """Estimate and variance at every observed time, between times, at 0, before 0 and after the end."""
    case = all_cases()[case_id]
    exp = case["expected"]
    at = fit(case_id).at(exp["times"])
    est, var = as_float(exp["at_est"]), as_float(exp["at_var"])
    for i, name in enumerate(exp["at_names"]):
        sel = curve(at, case, name)
        np.testing.assert_array_equal(sel["time"].to_numpy(), exp["times"])
        np.testing.assert_array_equal(np.isnan(sel["estimate"].to_numpy()), np.isnan(est[i]), err_msg=name)
        np.testing.assert_allclose(sel["estimate"], est[i], rtol=1e-10, atol=1e-13, err_msg=name)
        np.testing.assert_allclose(sel["variance"], var[i], rtol=1e-9, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("case_id", CUMINC)
def test_table_matches_cmprsk_curves(case_id):
    """cmprsk's step-corner output (time, est, var): the value after each corner equals our table's."""
    case = all_cases()[case_id]
    table = fit(case_id).table
    for cur in case["expected"]["curves"]:
        x, f, v = (np.asarray(cur[k], dtype=float) for k in ("time", "est", "var"))
        last = np.r_[x[1:] != x[:-1], True]          # value after the jump at each distinct corner
        sel = curve(table, case, cur["name"])
        t = sel["time"].to_numpy()
        i = np.searchsorted(t, x[last], side="right") - 1
        got_f = np.where(i >= 0, sel["estimate"].to_numpy()[np.maximum(i, 0)], 0.0)
        got_v = np.where(i >= 0, sel["variance"].to_numpy()[np.maximum(i, 0)], 0.0)
        np.testing.assert_allclose(got_f, f[last], rtol=1e-10, atol=1e-13, err_msg=cur["name"])
        np.testing.assert_allclose(got_v, v[last], rtol=1e-9, atol=1e-15, err_msg=cur["name"])
        # the table ends at the group's largest follow-up time, as cmprsk's curve does
        assert t[-1] == x[-1]


@pytest.mark.parametrize("case_id", [k for k in CUMINC if "tests" in all_cases()[k]["expected"]])
def test_gray_test_matches_cmprsk(case_id):
    exp = all_cases()[case_id]["expected"]["tests"]
    g = fit(case_id).gray_test
    assert g["cause"].astype(str).tolist() == exp["cause"]
    for stat, p, df, (_, row) in zip(exp["stat"], exp["p_value"], exp["df"], g.iterrows()):
        assert row["df"] == df
        if stat == -1:  # cmprsk's marker for a singular variance
            assert np.isnan(row["statistic"]) and np.isnan(row["p"])
            continue
        assert row["statistic"] == pytest.approx(stat, rel=1e-9)
        # cmprsk computes 1 - pchisq(), which underflows to 0 below ~1e-16; we use the survival function
        assert row["p"] == pytest.approx(p, rel=1e-8, abs=1e-15)


def test_no_group_gives_group_all_and_no_test():
    r = fit("cuminc_mgus2_all")
    assert r.groups == ["all"] and set(r.table["group"]) == {"all"}
    assert r.gray_test.empty and list(r.gray_test.columns) == ["cause", "statistic", "df", "p", "p_value"]


def test_group_without_events_of_a_cause_is_flat_zero():
    """cmprsk returns the curve (0, 0) -> (max time, 0) with variance 0: 'C 2' in the synthetic case."""
    case = all_cases()["cuminc_synthetic"]
    cur = next(c for c in case["expected"]["curves"] if c["name"] == "C 2")
    assert cur["est"] == [0, 0] and cur["var"] == [0, 0]
    sel = curve(fit("cuminc_synthetic").table, case, "C 2")
    assert (sel["estimate"] == 0).all() and (sel["variance"] == 0).all()
    assert (sel["lower"] == 0).all() and (sel["upper"] == 0).all()
    assert sel["time"].iloc[-1] == cur["time"][-1]
