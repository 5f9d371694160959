"""Invariants of the Aalen–Johansen CIF: sum over causes + all-cause KM = 1, single cause = 1 - KM."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oligomet as om
from competing_fixtures import load_data


def km_numpy(time, failed):
    """Product-limit all-cause survival just after each distinct time (written out here, independent)."""
    ut = np.unique(time)
    s, out = 1.0, []
    for t in ut:
        n = np.sum(time >= t)
        d = np.sum((time == t) & failed)
        s *= 1.0 - d / n
        out.append(s)
    return ut, np.array(out)


def check_sum_to_one(data, time, event, by=None):
    r = om.cumulative_incidence(data, time=time, event=event, by=by)
    for g, tab in r.table.groupby("group", sort=False):
        rows = data if by is None else data[data[by].astype(str) == str(g)]
        ut, km = km_numpy(rows[time].to_numpy(float), rows[event].to_numpy() != 0)
        wide = tab.pivot(index="time", columns="cause", values="estimate")
        np.testing.assert_array_equal(wide.index.to_numpy(), ut)
        np.testing.assert_allclose(wide.sum(axis=1).to_numpy() + km, 1.0, rtol=0, atol=1e-12)
    return r


@pytest.mark.parametrize("case_id,group", [("cuminc_mgus2_3causes_agegrp", "agegrp"), ("cuminc_colon_rx", "rx"),
                                           ("cuminc_mgus2_years_ties", "sex"), ("cuminc_synthetic", "group")])
def test_cifs_plus_km_sum_to_one_on_real_data(case_id, group):
    d = load_data(case_id)
    event = "event3" if "3causes" in case_id else "event"
    time = "eyears" if "years" in case_id else ("etime" if "mgus2" in case_id else "time")
    check_sum_to_one(d, time, event, group)


def test_sum_to_one_against_oligomet_kaplan_meier():
    d = load_data("cuminc_colon_rx")
    r = om.cumulative_incidence(d, time="time", event="event", by="rx")
    d = d.assign(any_event=(d["event"] > 0).astype(int))
    km = om.kaplan_meier(d, time="time", event="any_event", by="rx").table
    for g, tab in r.table.groupby("group"):
        wide = tab.pivot(index="time", columns="cause", values="estimate")
        k = km[km["group"].astype(str) == g].set_index("time")["survival"]
        k = k.reindex(wide.index).ffill().fillna(1.0)
        np.testing.assert_allclose(wide.sum(axis=1) + k, 1.0, atol=1e-12)


def test_single_cause_cif_is_one_minus_km():
    d = load_data("cuminc_mgus2_all")
    r = om.cumulative_incidence(d, time="futime", event="death", by="sex")
    for g, tab in r.table.groupby("group"):
        rows = d[d["sex"] == g]
        ut, km = km_numpy(rows["futime"].to_numpy(float), rows["death"].to_numpy() == 1)
        np.testing.assert_array_equal(tab["time"], ut)
        np.testing.assert_allclose(tab["estimate"], 1.0 - km, atol=1e-12)
        kmo = om.kaplan_meier(rows, time="futime", event="death").table
        np.testing.assert_allclose(tab["estimate"].to_numpy(), 1.0 - kmo["survival"].to_numpy(), atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 3), st.sampled_from("ab")), min_size=2, max_size=60))
def test_sum_to_one_with_heavy_ties(rows):
    """Integer times 0..12 force ties between causes, censorings and time 0; 3 causes, 2 groups."""
    d = pd.DataFrame(rows, columns=["t", "e", "g"])
    if not (d["e"] > 0).any():
        d.loc[0, "e"] = 1
    r = check_sum_to_one(d, "t", "e", "g")
    t = r.table
    # estimates are non-decreasing, within [0, 1], the limits bracket them; variance non-negative
    for _, cur in t.groupby(["group", "cause"]):
        assert np.all(np.diff(cur["estimate"]) >= -1e-15)
    # within [0, 1] up to rounding: a cause that takes every patient sums to 1 + 1 ulp, as in R's cuminc
    assert t["estimate"].between(-1e-15, 1 + 1e-15).all()
    assert (t["variance"] >= -1e-15).all()
    assert (t["lower"] <= t["estimate"] + 1e-15).all() and (t["estimate"] <= t["upper"] + 1e-15).all()


def test_loglog_limits_by_hand():
    """lower/upper = F^exp(+-z se/(F log F)) with se = sqrt(variance) (the log(-log) transform)."""
    r = om.cumulative_incidence(load_data("cuminc_mgus2_sex"), time="etime", event="event", by="sex",
                                conf_level=0.9)
    row = r.table[(r.table["estimate"] > 0.2) & (r.table["estimate"] < 0.8)].iloc[0]
    f, se, z = row["estimate"], np.sqrt(row["variance"]), 1.6448536269514722
    assert row["lower"] == pytest.approx(f ** np.exp(-z * se / (f * np.log(f))), rel=1e-12)
    assert row["upper"] == pytest.approx(f ** np.exp(z * se / (f * np.log(f))), rel=1e-12)
    assert row["lower"] < f < row["upper"]


def test_table_counts_and_shape():
    d = load_data("cuminc_synthetic")
    r = om.cumulative_incidence(d, time="time", event="event", by="group")
    assert list(r.table.columns) == ["group", "cause", "time", "n_risk", "n_event", "n_competing", "n_censor",
                                     "estimate", "variance", "lower", "upper"]
    assert r.groups == ["A", "B", "C"] and r.causes == [1, 2, 3] and r.n == len(d)
    for (g, c), cur in r.table.groupby(["group", "cause"]):
        rows = d[d["group"] == g]
        assert cur["n_risk"].iloc[0] == len(rows)
        assert cur["n_event"].sum() == (rows["event"] == c).sum()
        assert cur["n_competing"].sum() == ((rows["event"] != c) & (rows["event"] > 0)).sum()
        assert cur["n_censor"].sum() == (rows["event"] == 0).sum()
        # n_risk drops by everything that happened at the previous time
        happened = (cur["n_event"] + cur["n_competing"] + cur["n_censor"]).to_numpy()
        np.testing.assert_array_equal(cur["n_risk"].to_numpy()[1:], cur["n_risk"].to_numpy()[:-1] - happened[:-1])


def test_near_ties_are_merged_not_jittered():
    """Times differing by floating-point noise are one time (R's aeqSurv), and the result is deterministic."""
    d = pd.DataFrame({"t": [1.0, 1.0 + 1e-12, 2.0, 3.0], "e": [1, 2, 0, 1]})
    r = om.cumulative_incidence(d, time="t", event="e")
    t1 = r.table[r.table["cause"] == 1]
    assert t1["time"].tolist() == [1.0, 2.0, 3.0]
    assert t1["estimate"].iloc[0] == pytest.approx(0.25)   # 1 of 4 fails from cause 1 at t = 1
    r2 = om.cumulative_incidence(d, time="t", event="e")
    pd.testing.assert_frame_equal(r.table, r2.table)


def test_at_reads_the_table_limits_with_the_same_rule():
    r = om.cumulative_incidence(load_data("cuminc_colon_rx"), time="time", event="event", by="rx")
    tab = r.table[(r.table["group"] == "Lev") & (r.table["cause"] == 1)]
    times = [tab["time"].iloc[10], (tab["time"].iloc[20] + tab["time"].iloc[21]) / 2]
    at = r.at(times)
    at = at[(at["group"] == "Lev") & (at["cause"] == 1)]
    np.testing.assert_allclose(at["lower"], tab["lower"].iloc[[10, 20]])
    np.testing.assert_allclose(at["upper"], tab["upper"].iloc[[10, 20]])
    assert list(at.columns) == ["group", "cause", "time", "estimate", "variance", "lower", "upper"]
