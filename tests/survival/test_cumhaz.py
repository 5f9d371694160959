"""Cumulative hazard (Nelson-Aalen, Fleming-Harrington) against R's survfit(..., ctype = 1 | 2):
``cumhaz``, ``std.chaz`` and the band plot(fit, cumhaz = TRUE) draws.

Expected values: tests/reference/rmst/rmst_fixtures.json (make_rmst_fixtures.R, survival 3.5-3).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from rmst_reference import FIXTURES, assert_r, cases, label, load, numeric_influence_variance, random_rows, rows_of

import oligomet as om

CHAZ = cases("cumhaz")


def fit(cid):
    case = FIXTURES[cid]["case"]
    return om.cumulative_hazard(load(case["data"]), time=case["time"], event=case["event"], by=case.get("by"),
                                ctype=case["ctype"], conf_type=case["conf_type"], conf_level=case["conf_level"],
                                weights=case.get("weights"), robust=case.get("robust"), start=case.get("start"),
                                id=case.get("id"))


@pytest.mark.parametrize("cid", CHAZ)
def test_matches_survfit_cumhaz(cid):
    ch = fit(cid)
    exp = FIXTURES[cid]["expected"]
    assert ch.robust == exp["robust"]
    levels = [g["level"] for g in exp["groups"]]
    if "group" in ch.table.columns:
        assert [label(g) for g in ch.table["group"].unique()] == levels
    for g in exp["groups"]:
        t = rows_of(ch.table, g["level"])
        for col in ("time", "n_risk", "n_event", "n_censor", "cumhaz", "std_chaz", "lower", "upper"):
            assert_r(f"{cid}.{g['level']}.{col}", t[col], g[col])


def small():
    # time 1: 6 at risk, 2 events; time 2: 3 at risk, 1 event; time 3: 1 at risk, censored
    return pd.DataFrame({"t": [1, 1, 1, 2, 2, 3], "e": [1, 1, 0, 1, 0, 0]})


def test_nelson_aalen_by_hand():
    ch = om.cumulative_hazard(small(), time="t", event="e", ctype=1)
    n = np.array([6, 3, 1.0])
    d = np.array([2, 1, 0.0])
    np.testing.assert_allclose(ch.table["cumhaz"], np.cumsum(d / n), rtol=1e-14)
    np.testing.assert_allclose(ch.table["std_chaz"], np.sqrt(np.cumsum(d / n ** 2)), rtol=1e-14)


def test_fleming_harrington_by_hand():
    # two tied events among 6: 1/6 + 1/5; variance 1/36 + 1/25
    ch = om.cumulative_hazard(small(), time="t", event="e", ctype="fleming-harrington")
    np.testing.assert_allclose(ch.table["cumhaz"], np.cumsum([1 / 6 + 1 / 5, 1 / 3, 0]), rtol=1e-14)
    np.testing.assert_allclose(ch.table["std_chaz"] ** 2, np.cumsum([1 / 36 + 1 / 25, 1 / 9, 0]), rtol=1e-14)


def test_fleming_harrington_with_weighted_ties_by_hand():
    # tied events of weights 1 and 3 among weight 6 at risk: each takes the mean share d/m = 2;
    # increment 2/6 + 2/4, variance 2/36 + 2/16
    d = pd.DataFrame({"t": [1, 1, 1, 2], "e": [1, 1, 0, 0], "w": [1, 3, 1, 1]})
    ch = om.cumulative_hazard(d, time="t", event="e", ctype=2, weights="w")
    assert ch.table["cumhaz"].iloc[0] == pytest.approx(2 / 6 + 2 / 4, rel=1e-14)
    assert ch.table["std_chaz"].iloc[0] == pytest.approx(np.sqrt(2 / 36 + 2 / 16), rel=1e-14)


def test_without_ties_both_ctypes_agree():
    d = load("veteran")
    d = d.drop_duplicates("time").reset_index(drop=True)
    a = om.cumulative_hazard(d, time="time", event="status", by="trt", ctype=1)
    b = om.cumulative_hazard(d, time="time", event="status", by="trt", ctype=2)
    np.testing.assert_allclose(a.table["cumhaz"], b.table["cumhaz"], rtol=1e-13)
    np.testing.assert_allclose(a.table["std_chaz"], b.table["std_chaz"], rtol=1e-13)


def test_at_reads_the_step_function():
    ch = om.cumulative_hazard(small(), time="t", event="e")
    at = ch.at([0.5, 1, 2.5, 10])
    np.testing.assert_allclose(at["cumhaz"], [0, 2 / 6, 2 / 6 + 1 / 3])   # 10 is after the last time: dropped
    assert at["time"].tolist() == [0.5, 1, 2.5]


@pytest.mark.parametrize("bad, match", [({"ctype": 3}, "ctype must be 1"), ({"conf_type": "logit"}, "conf_type"),
                                        ({"conf_level": 1.5}, "conf_level")])
def test_bad_arguments(bad, match):
    with pytest.raises(ValueError, match=match):
        om.cumulative_hazard(small(), time="t", event="e", **bad)


@pytest.mark.parametrize("ctype", [1, 2])
@pytest.mark.parametrize("seed", [4, 5])
def test_robust_std_chaz_is_the_jackknife_by_numeric_differences(ctype, seed):
    # checks R's influence formulas themselves (incl. the Fleming-Harrington tied-event derivatives)
    d = random_rows(seed)
    ch = om.cumulative_hazard(d, time="stop", event="event", start="start", by="grp", weights="w", id="pid",
                              robust=True, ctype=ctype)

    def chaz(w):
        return om.cumulative_hazard(d.assign(w=w), time="stop", event="event", start="start", by="grp",
                                    weights="w", robust=False, ctype=ctype).table["cumhaz"].to_numpy()

    var = numeric_influence_variance(chaz, d)
    np.testing.assert_allclose(ch.table["std_chaz"], np.sqrt(var), rtol=1e-5, atol=1e-9)


def test_fleming_harrington_closed_form_for_many_ties_equals_the_written_out_sum():
    # cells with hundreds of tied events (some weighted) take the digamma/trigamma path
    from oligomet.survival import _km_core as core
    from oligomet.survival.cumhaz import hazard_increments

    rng = np.random.default_rng(9)
    n = 20_000
    t = rng.integers(1, 40, n).astype(float)
    e = (rng.random(n) < 0.6).astype(float)
    for w in (None, rng.uniform(0.2, 3.0, n)):
        rs = core.risk_sets(t, e, None, 1, w)
        assert rs.m.max() > 200
        closed = hazard_increments(rs, 2, expand_up_to=0)
        written = hazard_increments(rs, 2, expand_up_to=10 ** 9)
        np.testing.assert_allclose(closed[0], written[0], rtol=1e-11)     # increment
        np.testing.assert_allclose(closed[1], written[1], rtol=1e-10)     # variance
