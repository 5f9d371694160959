"""Log-rank (G-rho) and trend tests against R's survdiff.

Expected values: tests/reference/km/km_fixtures.json from make_km_fixtures.R. The
trend statistic there is computed in R from survdiff's own obs/exp/var:
(sum(s * (obs - exp)))^2 / (s' var s).
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import oligomet as om

KM_DIR = Path(__file__).resolve().parents[1] / "reference" / "km"
FIXTURES = json.loads((KM_DIR / "km_fixtures.json").read_text())
LR_CASES = [k for k, v in FIXTURES.items() if v["case"]["kind"] == "logrank"]


def load(name: str) -> pd.DataFrame:
    return pd.read_csv(KM_DIR / "data" / f"{name}.csv")


def run(cid, trend=False):
    case = FIXTURES[cid]["case"]
    d = load(case["data"])
    kw = dict(time=case["time"], event=case["event"], by=case["by"], strata=case.get("strata"), rho=case["rho"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", om.CompleteCaseWarning)  # lung's missing ph.ecog, as R's na.omit
        if trend:
            return om.logrank_trend(d, scores=case.get("scores"), **kw)
        return om.logrank(d, **kw)


@pytest.mark.parametrize("cid", LR_CASES)
def test_matches_survdiff(cid):
    exp = FIXTURES[cid]["expected"]
    r = run(cid)
    assert [str(g).removesuffix(".0") for g in r.groups] == exp["levels"]
    np.testing.assert_allclose(r.observed, exp["observed"], rtol=1e-10)
    np.testing.assert_allclose(r.expected, exp["expected"], rtol=1e-10)
    np.testing.assert_allclose(r.variance, np.array(exp["variance"]), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(r.statistic, exp["chisq"], rtol=1e-9)
    assert r.df == exp["df"]
    np.testing.assert_allclose(r.p_value, exp["p_value"], rtol=1e-8)
    np.testing.assert_array_equal(r.table["n"], exp["n"])


@pytest.mark.parametrize("cid", LR_CASES)
def test_trend_matches_r_formula(cid):
    exp = FIXTURES[cid]["expected"]
    t = run(cid, trend=True)
    np.testing.assert_allclose(t.statistic, exp["trend_chisq"], rtol=1e-9)
    np.testing.assert_allclose(t.p_value, exp["trend_p"], rtol=1e-8)
    assert t.df == 1


def test_all_censored_group_has_zero_observed():
    r = run("lr_edge")
    tab = r.table.set_index("group")
    assert tab.loc["cens", "observed"] == 0 and tab.loc["cens", "expected"] > 0


def test_group_without_expected_events_leaves_df():
    # Group "early" leaves before the first event: E = 0, so survdiff drops it from the df.
    d = pd.DataFrame({"t": [1, 1, 2, 5, 6, 7, 8, 9], "e": [0, 0, 1, 1, 0, 1, 1, 0],
                      "g": ["early", "early", "a", "a", "a", "b", "b", "b"]})
    r = om.logrank(d, time="t", event="e", by="g")
    assert r.df == 1
    assert r.expected[r.groups.index("early")] == 0


def test_two_group_hand_calculation():
    # Group a: deaths at 1, 3; group b: death at 2, censored at 4.
    # t=1: n=4 (2 a), d=1 -> E_a = 1/2, V = 1*(2*2)/16 * (3/3) = 1/4
    # t=2: n=3 (1 a), d=1 -> E_a = 1/3, V = (1*2)/9 = 2/9
    # t=3: n=2 (1 a), d=1 -> E_a = 1/2, V = 1/4
    # O_a = 2, E_a = 4/3, V = 1/4 + 2/9 + 1/4 = 13/18; chi = (2/3)^2 / (13/18) = 8/13
    d = pd.DataFrame({"t": [1, 3, 2, 4], "e": [1, 1, 1, 0], "g": ["a", "a", "b", "b"]})
    r = om.logrank(d, time="t", event="e", by="g")
    np.testing.assert_allclose(r.expected[0], 4 / 3)
    np.testing.assert_allclose(r.statistic, 8 / 13)


def test_single_group_is_an_error():
    d = pd.DataFrame({"t": [1, 2, 3], "e": [1, 0, 1], "g": ["a", "a", "a"]})
    with pytest.raises(ValueError, match=r"group column 'g' has a single group \('a'\)"):
        om.logrank(d, time="t", event="e", by="g")


def test_unknown_column_and_bad_rho():
    d = load("ties")
    with pytest.raises(ValueError, match=r"unknown group column 'arm'"):
        om.logrank(d, time="time", event="status", by="arm")
    with pytest.raises(ValueError, match="rho must be"):
        om.logrank(d, time="time", event="status", by="grp", rho=-1)


def test_bad_event_names_column_and_rows():
    d = load("ties")
    d.loc[[3, 7], "status"] = 2
    with pytest.raises(ValueError, match=r"event column 'status' must be 0/1 or True/False; found 2 at rows 3, 7"):
        om.logrank(d, time="time", event="status", by="grp")


def test_trend_scores_length():
    d = load("ties")
    with pytest.raises(ValueError, match=r"scores has 2 values but group column 'grp' has 3 groups"):
        om.logrank_trend(d, time="time", event="status", by="grp", scores=[1, 2])


def test_trend_two_groups_equals_logrank():
    # With two groups the trend test is the log-rank test (any two distinct scores).
    d = load("ties")
    d = d[d["grp"] != "C"]
    a = om.logrank(d, time="time", event="status", by="grp").statistic
    b = om.logrank_trend(d, time="time", event="status", by="grp", scores=[0, 5]).statistic
    np.testing.assert_allclose(a, b, rtol=1e-12)


def test_missing_group_or_stratum_dropped_and_reported():
    d = load("lung")
    with pytest.warns(om.CompleteCaseWarning, match="ph.ecog"):
        r = om.logrank(d, time="time", event="dead", by="sex", strata="ph.ecog")
    assert r.dropped.n == 1 and r.dropped.by_column == {"ph.ecog": 1}
    assert r.table["n"].sum() == len(d) - 1
    assert list(r.observed_by_stratum.index) == [0.0, 1.0, 2.0, 3.0]
