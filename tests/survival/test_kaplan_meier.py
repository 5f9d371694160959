"""Kaplan-Meier against R's survfit / summary.survfit / quantile.survfit.

Expected values come from tests/reference/km/km_fixtures.json, written by
tests/reference/km/make_km_fixtures.R (survival 3.5-3); nothing here is typed in
by hand except the small hand calculations spelled out in the tests.
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
KM_CASES = [k for k, v in FIXTURES.items() if v["case"]["kind"] == "km"]


def r_array(values) -> np.ndarray:
    """R's JSON: null is NA, "Inf" is Inf."""
    return np.array([np.nan if v is None else float(v) for v in np.ravel(values)], dtype=float)


def assert_r(name, got, want, rtol=1e-9, atol=1e-12):
    got = np.asarray(got, dtype=float).ravel()
    want = r_array(want)
    assert got.shape == want.shape, f"{name}: {got.shape} values, R has {want.shape}"
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol, equal_nan=True, err_msg=name)


def label(v) -> str:
    s = str(v)
    return s[:-2] if s.endswith(".0") else s


def rows_of(frame: pd.DataFrame, level: str) -> pd.DataFrame:
    if "group" not in frame.columns or level == "all":
        return frame
    return frame[frame["group"].map(label) == level]


def fit_case(cid):
    case = FIXTURES[cid]["case"]
    d = pd.read_csv(KM_DIR / "data" / f"{case['data']}.csv")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", om.CompleteCaseWarning)  # lung's missing ph.ecog, as R's na.omit
        km = om.kaplan_meier(d, time=case["time"], event=case["event"], by=case.get("by"),
                             conf_type=case["conf_type"], weights=case.get("weights"), robust=case.get("robust"),
                             start=case.get("start"))
    return case, km


@pytest.mark.parametrize("cid", KM_CASES)
def test_table_matches_survfit(cid):
    case, km = fit_case(cid)
    groups = FIXTURES[cid]["expected"]["groups"]
    if case.get("by") is None:
        assert "group" not in km.table.columns
    else:
        assert [label(g) for g in km.groups] == [g["level"] for g in groups]
    for g in groups:
        t = rows_of(km.table, g["level"])
        for col in ("time", "n_risk", "n_event", "n_censor", "survival", "lower", "upper"):
            assert_r(f"{cid}.{g['level']}.{col}", t[col], g[col])
        se = r_array([np.nan if v == "Inf" else v for v in g["std_err"]])  # R's Inf (S = 0) is NaN here
        assert_r(f"{cid}.{g['level']}.std_err", t["std_err"], se)


@pytest.mark.parametrize("cid", KM_CASES)
def test_quantiles_match_quantile_survfit(cid):
    case, km = fit_case(cid)
    q = km.quantile(case["probs"])
    for g in FIXTURES[cid]["expected"]["groups"]:
        r = rows_of(q, g["level"])
        assert_r(f"{cid}.{g['level']}.quantile", r["time"], g["quantile"])
        assert_r(f"{cid}.{g['level']}.quantile_lower", r["lower"], g["quantile_lower"])
        assert_r(f"{cid}.{g['level']}.quantile_upper", r["upper"], g["quantile_upper"])
        m = rows_of(km.medians, g["level"])
        i = case["probs"].index(0.5)
        assert_r(f"{cid}.median", m[["median", "lower", "upper"]].to_numpy(),
                 [g["quantile"][i], g["quantile_lower"][i], g["quantile_upper"][i]])


@pytest.mark.parametrize("cid", [c for c in KM_CASES if FIXTURES[c]["case"].get("times")])
def test_at_matches_summary_times(cid):
    case, km = fit_case(cid)
    at = km.at(case["times"])
    ext = km.at(case["times"], extend=True)
    for g in FIXTURES[cid]["expected"]["groups"]:
        a = rows_of(at, g["level"])
        for col in ("time", "n_risk", "n_event", "survival", "lower", "upper"):
            assert_r(f"{cid}.{g['level']}.at.{col}", a[col], g["at"][col])
        e = rows_of(ext, g["level"])
        for col in ("time", "n_risk", "survival"):
            assert_r(f"{cid}.{g['level']}.at_extend.{col}", e[col], g["at_extend"][col])


def test_flat_stretch_midpoint_rule_by_hand():
    # 4 deaths at 1, 2, 3, 4: S = .75, .5, .25, 0; S is exactly 0.5 on [2, 3) -> median (2 + 3) / 2.
    # 1, 2 deaths then 2 censored: S ends at 0.5 -> midpoint of 2 and the last time 4 = 3.
    d = pd.DataFrame({"t": [1, 2, 3, 4, 1, 2, 3, 4], "e": [1, 1, 1, 1, 1, 1, 0, 0], "g": list("aaaabbbb")})
    m = om.kaplan_meier(d, time="t", event="e", by="g").medians.set_index("group")
    assert m.loc["a", "median"] == 2.5
    assert m.loc["b", "median"] == 3.0


def test_hand_calculation_small():
    # times 1(e) 2(c) 3(e) 3(e) 4(c): n = 5, 4, 3 at the event/censor times.
    # S(1) = 4/5; S(3) = 4/5 * (1 - 2/3) = 4/15. Greenwood (cum. hazard): 1/(5*4) + 2/(3*1).
    d = pd.DataFrame({"t": [1, 2, 3, 3, 4], "e": [1, 0, 1, 1, 0]})
    t = om.kaplan_meier(d, time="t", event="e").table
    np.testing.assert_allclose(t["survival"], [0.8, 0.8, 4 / 15, 4 / 15])
    np.testing.assert_allclose(t["n_risk"], [5, 4, 3, 1])
    np.testing.assert_allclose(t["std_err"].iloc[2], np.sqrt(1 / 20 + 2 / 3))


def test_risk_table():
    case, km = fit_case("km_ties_log")
    d = pd.read_csv(KM_DIR / "data" / "ties.csv")
    rt = km.risk_table([0, 5, 10, 30])
    for g, sub in d.groupby("grp"):
        r = rows_of(rt, g)
        np.testing.assert_array_equal(r["n_risk"], [(sub["time"] >= t).sum() for t in (0, 5, 10, 30)])
        np.testing.assert_array_equal(r["n_events"],
                                      [sub.loc[sub["time"] <= t, "status"].sum() for t in (0, 5, 10, 30)])
        np.testing.assert_array_equal(r["n_censored"],
                                      [(1 - sub.loc[sub["time"] <= t, "status"]).sum() for t in (0, 5, 10, 30)])


def test_near_ties_merged_as_r():
    # 1 and 1 + 1e-12 are one time for R (aeqSurv): a single row with 2 events.
    d = pd.DataFrame({"t": [1.0, 1.0 + 1e-12, 2.0, 3.0], "e": [1, 1, 0, 1]})
    t = om.kaplan_meier(d, time="t", event="e").table
    assert list(t["n_event"]) == [2, 0, 1]


def test_conf_none_and_level():
    d = pd.read_csv(KM_DIR / "data" / "ties.csv")
    none = om.kaplan_meier(d, time="time", event="status", conf_type="none")
    assert none.table["lower"].isna().all() and none.medians["lower"].isna().all()
    wide = om.kaplan_meier(d, time="time", event="status", conf_level=0.99).table
    narrow = om.kaplan_meier(d, time="time", event="status", conf_level=0.90).table
    ok = narrow["survival"] > 0
    assert (wide.loc[ok, "lower"] <= narrow.loc[ok, "lower"]).all()
    assert (wide.loc[ok, "upper"] >= narrow.loc[ok, "upper"]).all()


def test_missing_group_dropped_and_reported():
    d = pd.read_csv(KM_DIR / "data" / "lung.csv")
    with pytest.warns(om.CompleteCaseWarning, match="ph.ecog"):
        km = om.kaplan_meier(d, time="time", event="dead", by="ph.ecog")
    assert km.dropped.n == int(d["ph.ecog"].isna().sum()) == 1
    assert km.medians["n"].sum() == len(d) - 1


def test_summary_counts():
    d = pd.read_csv(KM_DIR / "data" / "ties.csv")
    s = om.kaplan_meier(d, time="time", event="status", by="grp").summary.set_index("group")
    for g, sub in d.groupby("grp"):
        assert s.loc[g, "n"] == len(sub)
        assert s.loc[g, "n_events"] == sub["status"].sum()


@pytest.mark.parametrize("values", [
    [3, 1, None, 2, 1], [2.5, 0.5, np.nan, 0.5, 1.0], ["b", "a", None, "c", "a"], [True, False, None, True, False],
    ["x", 2, 1, None, "a"], pd.Categorical(["lo", "hi", None, "mid", "lo"], categories=["lo", "mid", "hi", "unused"]),
])
def test_group_codes_agree_with_shared_group_labels(values):
    # kaplan_meier/logrank code groups with one pd.factorize; it must give group_labels' levels and order.
    from oligomet._validation import group_labels
    from oligomet.survival.kaplan_meier import group_codes
    d = pd.DataFrame({"g": pd.Series(values, dtype=object if not isinstance(values, pd.Categorical) else None)})
    codes, levels = group_codes(d, "g")
    ref_codes, ref_levels = group_labels(d, "g")
    assert levels == ref_levels
    np.testing.assert_array_equal(codes, ref_codes)


@pytest.mark.parametrize("series", [pd.Series([3, 1, 2, 1]), pd.Series([True, False, True]),
                                    pd.Series([2.0, np.nan, 1.0]), pd.Series(["b", "a"], dtype="string")])
def test_group_codes_native_dtypes(series):
    from oligomet._validation import group_labels
    from oligomet.survival.kaplan_meier import group_codes
    d = pd.DataFrame({"g": series})
    codes, levels = group_codes(d, "g")
    ref_codes, ref_levels = group_labels(d, "g")
    assert levels == ref_levels and [type(x) for x in levels] == [type(x) for x in ref_levels]
    np.testing.assert_array_equal(codes, ref_codes)


# ------------------------------------------------------------------ bad input

@pytest.fixture
def small():
    return pd.DataFrame({"t": [1.0, 2.0, 3.0, 4.0], "e": [1, 0, 1, 1], "g": ["a", "b", "a", "b"]},
                        index=[10, 11, 12, 13])


@pytest.mark.parametrize("column,value,message", [
    ("t", -1.0, r"time column 't' has negative times at row 12"),
    ("t", np.nan, r"time column 't' has missing \(NaN\) values at row 12"),
    ("e", 2, r"event column 'e' must be 0/1 or True/False; found 2 at row 12"),
])
def test_bad_values_name_column_and_row(small, column, value, message):
    small.loc[12, column] = value
    with pytest.raises(ValueError, match=message):
        om.kaplan_meier(small, time="t", event="e", by="g")


def test_unknown_column(small):
    with pytest.raises(ValueError, match=r"unknown group column 'group'"):
        om.kaplan_meier(small, time="t", event="e", by="group")


def test_weights_length_mismatch(small):
    with pytest.raises(ValueError, match=r"weights has 3 values but data has 4 rows"):
        om.kaplan_meier(small, time="t", event="e", weights=[1, 2, 3])


def test_negative_weight_names_column(small):
    small["w"] = [1.0, -2.0, 1.0, 1.0]
    with pytest.raises(ValueError, match=r"weights column 'w' must be finite and >= 0; bad values at row 11"):
        om.kaplan_meier(small, time="t", event="e", weights="w")


def test_bad_conf_type(small):
    with pytest.raises(ValueError, match="conf_type must be one of 'log', 'log-log', 'plain', 'logit', 'arcsin'"):
        om.kaplan_meier(small, time="t", event="e", conf_type="probit")


def test_array_weights_equal_column_weights(small):
    small["w"] = [1.0, 2.0, 0.5, 1.5]
    a = om.kaplan_meier(small, time="t", event="e", weights="w").table
    b = om.kaplan_meier(small, time="t", event="e", weights=small["w"].to_numpy()).table
    pd.testing.assert_frame_equal(a, b)


def test_robust_se_is_flat_between_event_times_in_any_row_order():
    # Found by hypothesis: with fractional weights (robust SE), the band at a censoring-only time was
    # recomputed from sums whose rounding depends on row order; a 1-ulp dip moved the median's CI limit.
    t = [3, 0, 2, 0, 3, 2, 1, 3, 0, 1, 1, 3, 0] + [1] * 23
    e = [1, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0] + [1] * 19
    d = pd.DataFrame({"t": np.array(t, float), "e": e, "w": 0.5})
    ref = om.kaplan_meier(d, time="t", event="e", weights="w")
    for seed in range(10):
        km = om.kaplan_meier(d.sample(frac=1, random_state=seed), time="t", event="e", weights="w")
        pd.testing.assert_frame_equal(km.medians, ref.medians)
        tab = km.table.set_index("time")
        assert tab.loc[2.0, "std_err"] == tab.loc[1.0, "std_err"]      # no event at 2: the same SE, exactly


def test_split_follow_up_gives_the_same_curve():
    # Greenwood's SE only: the robust SE treats each row as its own cluster (R's survfit without id=), so
    # a patient's two rows count as two observations there, in R as here
    # (start, stop] rows: cutting each patient's follow-up in two leaves the curve unchanged at every time
    d = om.datasets.load("veteran").reset_index(drop=True)
    cut = np.floor(np.random.default_rng(2).uniform(0, 1, len(d)) * d["time"])
    inside = (cut > 0) & (cut < d["time"])
    parts = pd.concat([d[inside].assign(start=0.0, stop=cut[inside], status=0),
                       d[inside].assign(start=cut[inside], stop=d["time"][inside]),
                       d[~inside].assign(start=0.0, stop=d["time"][~inside])], ignore_index=True)
    whole = om.kaplan_meier(d, time="time", event="status", by="trt")
    split = om.kaplan_meier(parts, time="stop", event="status", by="trt", start="start")
    times = [10, 50, 100, 200, 400]
    pd.testing.assert_frame_equal(split.at(times), whole.at(times), rtol=1e-12)
    pd.testing.assert_frame_equal(split.medians.drop(columns="n"), whole.medians.drop(columns="n"), rtol=1e-12)


def test_start_rules():
    d = pd.DataFrame({"s": [0.0, 2.0, 1.0], "t": [3.0, 2.0, 4.0], "e": [1, 0, 1], "w": [0.5, 1.5, 1.0]})
    with pytest.raises(ValueError, match=r"start column 's' must be < time column 't'.*row 1"):
        om.kaplan_meier(d, time="t", event="e", start="s")
    d.loc[1, "t"] = 5.0
    km = om.kaplan_meier(d, time="t", event="e", start="s", weights="w", robust=False)
    # at t = 3 the rows (0, 3], (2, 5] and (1, 4] are at risk: weight 3.0; at 4: (2, 5] and (1, 4]: 2.5
    assert km.table["n_risk"].tolist() == [3.0, 2.5, 1.5]
