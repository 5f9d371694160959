"""Invariants of oligomet.match, and the greedy core against a literal re-implementation of MatchIt's walk."""
from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oligomet as om
from oligomet.matching.greedy import greedy_match, treated_order


def synthetic(n=400, seed=0, treated_share=0.4):
    rng = np.random.default_rng(seed)
    d = pd.DataFrame({"age": rng.normal(60, 10, n).round(), "ecog": rng.integers(0, 3, n),
                      "male": rng.integers(0, 2, n), "cea": rng.lognormal(1, 0.7, n)})
    lp = np.log(treated_share / (1 - treated_share)) + 0.05 * (d.age - 60) - 0.5 * (d.ecog - 1) + 0.3 * d.male
    d["treated"] = (rng.random(n) < 1 / (1 + np.exp(-lp))).astype(int)
    return d


COVS = ["age", "ecog", "male", "cea"]
CONFIGS = [dict(caliper=0.2), dict(caliper=0.05, order="smallest"), dict(caliper=0.1, order="random", seed=3),
           dict(caliper=0.2, order="data", ratio=2), dict(ratio=3), dict(caliper=0.1, replace=True, ratio=2),
           dict(caliper=0.3, exact=["male"]), dict(caliper=0.2, exact=["male", "ecog"], ratio=2),
           dict(caliper=0.2, link="linear.logit")]


@pytest.mark.parametrize("cfg", CONFIGS, ids=[str(c) for c in CONFIGS])
@pytest.mark.parametrize("seed", [0, 1])
def test_match_invariants(cfg, seed):
    d = synthetic(seed=seed, treated_share=0.5 if seed else 0.35)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        m = om.match(d, treatment="treated", covariates=COVS, **cfg)
    p = m.pairs
    dist = m.distance
    ratio = cfg.get("ratio", 1)
    # every pair within the caliper (caliper = multiple of the SD of the distance)
    if cfg.get("caliper"):
        assert m.caliper == pytest.approx(cfg["caliper"] * dist.std(ddof=1), rel=1e-12)
        gap = (dist.loc[p.treated].to_numpy() - dist.loc[p.control].to_numpy())
        assert np.all(np.abs(gap) <= m.caliper)
    # pairs are treated -> control
    assert (d.loc[p.treated, "treated"] == 1).all() and (d.loc[p.control, "treated"] == 0).all()
    if not cfg.get("replace"):
        assert not p.control.duplicated().any()
    else:
        assert not p.duplicated(["treated", "control"]).any()
    for col in cfg.get("exact", []):
        assert (d.loc[p.treated, col].to_numpy() == d.loc[p.control, col].to_numpy()).all()
    # at most `ratio` controls per treated, in rounds 1..k without gaps
    per = p.groupby("treated")["round"].agg(["count", "max"])
    assert (per["count"] <= ratio).all() and (per["count"] == per["max"]).all()
    # unmatched treated: exactly those without a pair, each with a reason
    treated = d.index[d.treated == 1]
    assert set(m.unmatched.index) == set(treated) - set(p.treated)
    assert m.unmatched["reason"].isin(["outside caliper", "no control left", "no control in exact stratum",
                                       "no control left in exact stratum"]).all()
    assert m.n_unmatched_treated == m.summary.loc["Unmatched", "treated"]
    # weights: matched treated 1, controls sum to the number of matched controls
    w = m.weights
    assert (w.loc[p.treated.unique()] == 1).all()
    wc = w[d.treated == 0]
    assert wc.sum() == pytest.approx((wc > 0).sum())
    assert set(m.matched_data.index) == set(w.index[w > 0])


def test_random_order_is_seeded():
    d = synthetic(seed=5)
    a = om.match(d, treatment="treated", covariates=COVS, caliper=0.2, order="random", seed=11).pairs
    b = om.match(d, treatment="treated", covariates=COVS, caliper=0.2, order="random", seed=11).pairs
    pd.testing.assert_frame_equal(a, b)


def test_unmatched_reasons():
    d = synthetic(seed=2)
    m = om.match(d, treatment="treated", covariates=COVS, caliper=0.001)
    assert (m.unmatched["reason"] == "outside caliper").sum() > 0
    # more treated than controls, no caliper: the last ones find no control left
    d2 = synthetic(seed=2, treated_share=0.75)
    with pytest.warns(UserWarning, match="Fewer control units"):
        m2 = om.match(d2, treatment="treated", covariates=COVS)
    n1, n0 = int(d2.treated.sum()), int((d2.treated == 0).sum())
    assert len(m2.unmatched) == n1 - n0
    assert (m2.unmatched["reason"] == "no control left").all()


def literal_walk(dist, treat, t_order, ratio, replace, caliper):
    """MatchIt's nn_matchC_vec, transcribed as a plain O(n^2) walk over the sorted units."""
    n = len(dist)
    srt = np.argsort(dist, kind="stable")
    pos = np.empty(n, dtype=int)
    pos[srt] = np.arange(n)
    used = np.zeros(n, dtype=bool)
    mm = np.full((n, ratio), -1)
    cal = np.inf if caliper is None else caliper
    for r in range(ratio):
        for ti in t_order:
            ii = pos[ti]
            mine = set(mm[ti, :r][mm[ti, :r] >= 0])

            def walk(step):
                k = ii + step
                while 0 <= k < n:
                    u = srt[k]
                    if treat[u] == 1 or used[u] or u in mine:
                        k += step
                        continue
                    return u if abs(dist[ti] - dist[u]) <= cal else None
                    # (MatchIt breaks at the first available control outside the caliper)
                return None

            lft, rgt = walk(-1), walk(+1)
            if lft is not None and rgt is not None:
                k = lft if abs(dist[lft] - dist[ti]) <= abs(dist[rgt] - dist[ti]) else rgt
            else:
                k = lft if lft is not None else rgt
            if k is None:
                continue
            mm[ti, r] = k
            if not replace:
                used[k] = True
    return mm


@pytest.mark.parametrize("seed", range(12))
def test_greedy_core_equals_literal_walk(seed):
    rng = np.random.default_rng(seed)
    n = 80
    dist = rng.integers(0, 12, n) / 12.0  # coarse values: many exact ties between and within groups
    treat = (rng.random(n) < 0.45).astype(np.int64)
    order = ["largest", "smallest", "random", "data"][seed % 4]
    ratio = 1 + seed % 3
    replace = seed % 5 == 0
    caliper = [None, 0.1, 0.2][seed % 3]
    t_order = treated_order(dist, treat, "data" if replace else order, np.random.default_rng(seed))
    got, _ = greedy_match(dist, treat, t_order, ratio, replace, caliper)
    want = literal_walk(dist, treat, t_order, ratio, replace, caliper)
    np.testing.assert_array_equal(got, want)


def test_exact_stratum_without_controls_is_reported():
    d = synthetic(seed=3)
    d["site"] = "A"
    d.loc[d.index[:40], "site"] = "B"
    d.loc[d.index[:40], "treated"] = 1  # stratum B: treated only
    with pytest.warns(UserWarning, match="Fewer control units than treated units in some 'exact' strata"):
        m = om.match(d, treatment="treated", covariates=COVS, exact="site")
    b_treated = set(d.index[:40])
    assert b_treated <= set(m.unmatched.index)
    assert (m.unmatched.loc[list(b_treated), "reason"] == "no control in exact stratum").all()
    d2 = d.copy()
    d2["site"] = np.where(d2.treated == 1, "T", "C")
    with pytest.raises(ValueError, match="no stratum holds both treated and control rows"):
        om.match(d2, treatment="treated", covariates=COVS, exact="site")


def test_string_and_categorical_covariates_agree():
    d = synthetic(seed=4)
    d["stage"] = np.array(["II", "III", "IV"])[d["ecog"].to_numpy()]
    a = om.match(d, treatment="treated", covariates=["age", "stage"], caliper=0.2)
    d["stage"] = pd.Categorical(d["stage"], categories=["II", "III", "IV"])
    b = om.match(d, treatment="treated", covariates=["age", "stage"], caliper=0.2)
    np.testing.assert_allclose(a.propensity, b.propensity, rtol=1e-12)
    assert list(a.model.coef.index) == ["(Intercept)", "age", "stageIII", "stageIV"]  # R's names
    assert {"stageII", "stageIII", "stageIV"} <= set(a.balance.index)  # MatchIt: one row per level
    pd.testing.assert_frame_equal(a.pairs, b.pairs)


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.tuples(st.integers(0, 15), st.booleans()), min_size=2, max_size=40),
       order=st.sampled_from(["largest", "smallest", "data"]), ratio=st.integers(1, 3), replace=st.booleans(),
       caliper=st.sampled_from([None, 0.05, 0.15, 0.4]), exact=st.booleans())
def test_greedy_core_property(values, order, ratio, replace, caliper, exact):
    dist = np.array([v for v, _ in values], dtype=float) / 15.0
    treat = np.array([int(b) for _, b in values], dtype=np.int64)
    strata = (np.arange(len(dist)) % 2) if exact else None
    t_order = treated_order(dist, treat, "data" if replace else order, None)
    got, _ = greedy_match(dist, treat, t_order, ratio, replace, caliper, strata)
    if strata is None:
        want = literal_walk(dist, treat, t_order, ratio, replace, caliper)
    else:  # MatchIt matches each exact stratum on its own
        want = np.full_like(got, -1)
        for s in (0, 1):
            rows = np.flatnonzero(strata == s)
            sub_order = np.array([np.flatnonzero(rows == r)[0] for r in t_order if strata[r] == s], dtype=int)
            mm = literal_walk(dist[rows], treat[rows], sub_order, ratio, replace, caliper)
            want[rows] = np.where(mm >= 0, rows[np.clip(mm, 0, None)], -1)
    np.testing.assert_array_equal(got, want)
