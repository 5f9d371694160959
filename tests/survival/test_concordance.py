"""Concordance against R's survival 3.5-3 (coxph()$concordance and concordance(reverse=TRUE)).

Fixtures: tests/reference/coxextras/make_coxextras_fixtures.R -> coxextras.json + data/<case>.csv.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

import oligomet as om
from oligomet.survival.concordance import concordance_index, concordance_std_err, concordance_table

FIX = Path(__file__).parents[1] / "reference" / "coxextras"
REF = {k: v for k, v in json.loads((FIX / "coxextras.json").read_text()).items() if not k.startswith("_")}
NAMES = ["concordant", "discordant", "tied.x", "tied.y", "tied.xy"]


def _case(cid):
    return REF[cid], pd.read_csv(FIX / "data" / f"{cid}.csv")


@pytest.mark.parametrize("cid", sorted(REF))
def test_counts_and_concordance_match_r(cid):
    ref, d = _case(cid)
    if ref["kind"] == "cox":   # the fit's linear predictor, as coxph passes it to concordancefit
        risk, count = np.asarray(ref["linear_predictors"]), ref["concordance_count"]
    else:
        risk, count = d["risk"].to_numpy(), ref["count"]
    got = concordance_table(d.time, d.event, risk, strata=d.strata, weights=d.w)
    np.testing.assert_allclose(got[NAMES].to_numpy(), [count[k] for k in NAMES], rtol=1e-10, atol=1e-9)
    assert concordance_index(d.time, d.event, risk, strata=d.strata, weights=d.w) == pytest.approx(
        ref["concordance"], rel=1e-12)


@pytest.mark.parametrize("cid", sorted(REF))
def test_std_err_matches_r(cid):
    ref, d = _case(cid)
    risk = np.asarray(ref["linear_predictors"]) if ref["kind"] == "cox" else d["risk"].to_numpy()
    want = ref["concordance_std"] if ref["kind"] == "cox" else ref["std"]
    cluster = d.get("cluster")      # coxph(..., cluster=) sums influences by cluster
    got = concordance_std_err(d.time, d.event, risk, strata=d.strata, weights=d.w, cluster=cluster)
    assert got == pytest.approx(want, rel=1e-10)


def _brute_std_err(t, e, r, s, w, cluster=None):
    """R's influence formula with the per-row pair counts found by looking at every pair."""
    n = len(t)
    cnt = np.zeros((n, 3))          # concordant, discordant, tied.x pairs each row takes part in
    for i in range(n):
        if not e[i]:
            continue
        for j in range(n):
            if j != i and s[j] == s[i] and (t[j] > t[i] or (t[j] == t[i] and not e[j])):
                k = 0 if r[i] > r[j] else 1 if r[i] < r[j] else 2
                cnt[i, k] += w[j]
                cnt[j, k] += w[i]
    tot = (cnt * w[:, None]).sum(axis=0) / 2          # each pair seen from both ends
    npair = tot.sum()
    if npair == 0:
        return float("nan")
    somer = (tot[0] - tot[1]) / npair
    dfbeta = ((cnt[:, 0] - cnt[:, 1]) - cnt.sum(axis=1) * somer) * w / (2 * npair)
    if cluster is not None:
        dfbeta = np.bincount(cluster, weights=dfbeta)
    return float(np.sqrt(np.sum(dfbeta ** 2)))


def _brute(t, e, r, s, w):
    """Direct O(n^2) reading of R's pair rules (see the module docstring of concordance.py)."""
    c = np.zeros(5)
    for i in range(len(t)):
        if not e[i]:
            continue
        for j in range(len(t)):
            if j == i or s[j] != s[i]:
                continue
            ww = w[i] * w[j]
            if t[j] > t[i] or (t[j] == t[i] and not e[j]):
                c[0 if r[i] > r[j] else 1 if r[i] < r[j] else 2] += ww
            elif t[j] == t[i] and e[j] and j < i:
                c[4 if r[i] == r[j] else 3] += ww
    return c


@st.composite
def samples(draw):
    n = draw(st.integers(1, 45))
    t = draw(arrays(np.int64, n, elements=st.integers(0, 6))).astype(float)
    e = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    discrete_risk = draw(st.booleans())
    r = draw(arrays(np.int64, n, elements=st.integers(0, 4))).astype(float) if discrete_risk else \
        draw(arrays(np.float64, n, elements=st.floats(-3, 3, allow_nan=False)))
    s = draw(arrays(np.int64, n, elements=st.integers(0, 2)))
    w = draw(arrays(np.int64, n, elements=st.integers(1, 4))) / 2.0
    return t, e, r, s, w


@settings(max_examples=150, deadline=None)
@given(samples())
def test_counts_equal_brute_force(sample):
    t, e, r, s, w = sample
    np.testing.assert_allclose(concordance_table(t, e, r, s, w).to_numpy(), _brute(t, e, r, s, w), atol=1e-9)


@settings(max_examples=80, deadline=None)
@given(samples(), st.booleans())
def test_std_err_equals_brute_force(sample, clustered):
    t, e, r, s, w = sample
    cl = (np.arange(len(t)) % 3) if clustered else None
    got = concordance_std_err(t, e, r, s, w, cluster=cl)
    want = _brute_std_err(t, e, r, s, w, cl)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(samples(), st.randoms(use_true_random=False))
def test_row_order_does_not_matter(sample, rnd):
    t, e, r, s, w = sample
    perm = np.array(rnd.sample(range(len(t)), len(t)))
    a = concordance_table(t, e, r, s, w).to_numpy()
    b = concordance_table(t[perm], e[perm], r[perm], s[perm], w[perm]).to_numpy()
    np.testing.assert_allclose(a, b, atol=1e-9)


def test_hand_counted_example():
    # times 1(event) 2(censored) 2(event) 3(event); risks 4, 1, 3, 2
    # event at 1 (risk 4) vs rows at 2c, 2e, 3e: risks 1, 3, 2 -> 3 concordant
    # event at 2 (risk 3) vs censored at 2 (risk 1, in the risk set) and 3 (risk 2) -> 2 concordant
    # event at 3: nobody after it. C = 5 / 5 = 1.
    c = concordance_table([1, 2, 2, 3], [1, 0, 1, 1], [4, 1, 3, 2])
    assert c["concordant"] == 5 and c["discordant"] == 0 and c["tied.x"] == 0
    assert concordance_index([1, 2, 2, 3], [1, 0, 1, 1], [4, 1, 3, 2]) == 1.0
    # reversing the risk makes every pair discordant
    assert concordance_index([1, 2, 2, 3], [1, 0, 1, 1], [-4, -1, -3, -2]) == 0.0


def test_edge_cases():
    assert np.isnan(concordance_index([1, 2, 3], [0, 0, 0], [1, 2, 3]))   # no events: no pairs
    assert concordance_index([1, 2, 3], [1, 1, 1], [5, 5, 5]) == 0.5     # all risks tied
    # strata never pair: with each row its own stratum there is nothing to compare
    assert np.isnan(concordance_index([1, 2, 3], [1, 1, 1], [1, 2, 3], strata=[0, 1, 2]))


@pytest.mark.parametrize("kwargs, match", [
    (dict(time=[1, 2], event=[1, 0, 1], risk=[1, 2]), "event has 3 values"),
    (dict(time=[1, 2], event=[1, 2], risk=[1, 2]), "event must be 0/1"),
    (dict(time=[1, np.nan], event=[1, 0], risk=[1, 2]), "time has non-finite"),
    (dict(time=[1, 2], event=[1, 0], risk=[1, np.inf]), "risk has non-finite"),
    (dict(time=[1, 2], event=[1, 0], risk=[1, 2], weights=[1, -1]), "weights must be finite and >= 0"),
])
def test_bad_input(kwargs, match):
    with pytest.raises(ValueError, match=match):
        concordance_index(**kwargs)


def test_through_public_cox_matches_shared_reference_style_fit():
    # the public fit passes its linear predictor; R's value for this model is in the fixtures
    ref, d = _case("lung_strata_sex")
    fit = om.cox(d, time="time", event="event", covariates=ref["x"], strata="strata")
    assert fit.concordance == pytest.approx(ref["concordance"], rel=1e-12)
