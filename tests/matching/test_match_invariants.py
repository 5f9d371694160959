"""Invariants of oligomet.match, and the greedy core against a literal re-implementation of MatchIt's walk."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import oligomet as om
from oligomet.matching.greedy import PairFilter, greedy_match, libstdcxx_k_smallest, treated_order

from matching_data import FIXTURE_DIR


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


# complexity: a literal re-reading of MatchIt's loop, as the oracle
def literal_walk(dist, treat, t_order, ratio, replace, caliper, strata=None, reuse_max=None, eligible=None,  # noqa: C901
                 pair_filter=None, order=None):
    """MatchIt 4.7.2's nn_matchC_vec + find_control_vec, transcribed as a plain walk over the sorted units.

    One position at a time, alternately left and right (left first); the candidates found are reduced
    to the nearest ``ratio`` by libstdc++'s selection (checked against g++ itself in
    test_libstdcxx_selection_equals_gxx). Rows of ``mm`` are indexed by row position."""
    n = len(dist)
    n1 = int((treat == 1).sum())
    reuse_max = (n1 if replace else 1) if reuse_max is None else reuse_max
    ok = np.ones(n, dtype=bool) if eligible is None else eligible.copy()
    srt = np.argsort(dist, kind="stable")
    pos = np.empty(n, dtype=int)
    pos[srt] = np.arange(n)
    cal = np.inf if caliper is None else caliper
    times = np.zeros(n, dtype=int)
    allowed = np.where(treat == 1, ratio, reuse_max)
    mm = np.full((n, ratio), -1)

    def find(ti, r, k, prev=None):
        mine = [c for c in mm[ti] if c >= 0]
        starts = [pos[c] for c in mine] if r > 1 else []
        if prev is not None:
            starts.append(pos[prev])
        ii = pos[ti]
        if starts:
            starts.append(ii)
            iil, iir = min(starts), max(starts)
            min_dist = max(abs(dist[ti] - dist[srt[iil]]), abs(dist[ti] - dist[srt[iir]]))
        else:
            iil = iir = ii
            min_dist = 0.0
        l_stop = r_stop = False
        left = False
        n_l = n_r = 0
        found = []  # (dist, unit) in the order found
        while not (l_stop and r_stop):
            left = False if l_stop else True if r_stop else not left
            if left:
                if iil <= 0 or n_l == k:
                    l_stop = True
                    continue
                iil -= 1
                z = srt[iil]
            else:
                if iir >= n - 1 or n_r == k:
                    r_stop = True
                    continue
                iir += 1
                z = srt[iir]
            if not ok[z] or treat[z] != 0 or z in mine:
                continue
            d = abs(dist[ti] - dist[z])
            if d > cal:
                l_stop, r_stop = (True, r_stop) if left else (l_stop, True)
                continue
            if d < min_dist:
                continue
            if len(found) >= k and sum(f < d for f, _ in found) >= k:
                l_stop, r_stop = (True, r_stop) if left else (l_stop, True)
                continue
            if strata is not None and strata[z] != strata[ti]:
                continue
            if pair_filter is not None and not pair_filter.ok(ti, z):
                continue
            found.append((d, z))
            if left:
                n_l += 1
            else:
                n_r += 1
        return [found[j][1] for j in libstdcxx_k_smallest([f for f, _ in found], k)]

    def take(ti, c):
        mm[ti, (mm[ti] >= 0).sum()] = c
        for u in (c, ti):
            if ok[u]:
                times[u] += 1
                if times[u] >= allowed[u]:
                    ok[u] = False

    if order in ("closest", "farthest") and reuse_max < n1:  # nn_matchC_vec_closest
        for r in range(1, ratio + 1):
            t_id, c_id, cand = [], [], []
            for ti in np.flatnonzero(treat == 1):
                if not ok[ti]:
                    continue
                got = find(ti, r, 1)
                if not got:
                    ok[ti] = False
                    continue
                t_id.append(ti)
                c_id.append(got[0])
                cand.append(abs(dist[ti] - dist[got[0]]))
            heap = sorted(range(len(cand)), key=lambda h: -cand[h] if order == "farthest" else cand[h])
            i = 0
            while ok[treat == 1].any() and ok[treat == 0].any() and i < len(heap):
                h = heap[i]
                ti = t_id[h]
                if not ok[ti]:
                    i += 1
                    continue
                if not ok[c_id[h]]:
                    got = find(ti, r, 1, prev=c_id[h])
                    if not got:
                        ok[ti] = False
                        continue
                    c_id[h] = got[0]
                    cand[h] = abs(dist[ti] - dist[got[0]])
                    heap.pop(i)  # re-insert after every pair strictly nearer ("closest") / at least as far
                    j = i
                    while j < len(heap) and (cand[heap[j]] >= cand[h] if order == "farthest"
                                             else cand[heap[j]] < cand[h]):
                        j += 1
                    heap.insert(j, h)
                    continue
                take(ti, c_id[h])
                i += 1
    elif reuse_max < n1:
        for r in range(1, ratio + 1):
            for ti in t_order:
                if not (ok[treat == 0]).any():
                    break
                if not ok[ti]:
                    continue
                got = find(ti, r, 1)
                if not got:
                    ok[ti] = False
                    continue
                take(ti, got[0])
    else:
        for ti in t_order:
            if ok[ti]:
                got = find(ti, 1, ratio)
                mm[ti, :len(got)] = got
    return mm


def test_libstdcxx_selection_equals_gxx():
    """The tie order of MatchIt's candidate selection, against g++'s own std::partial_sort / std::sort."""
    cases = json.loads((FIXTURE_DIR / "libstdcxx" / "partial_sort_cases.json").read_text())
    assert len(cases) == 400
    for c in cases:
        assert libstdcxx_k_smallest(c["d"], c["ratio"]) == c["out"], c


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


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.tuples(st.integers(0, 15), st.booleans(), st.booleans()), min_size=2, max_size=40),
       order=st.sampled_from(["largest", "smallest", "data", "closest", "farthest"]), ratio=st.integers(1, 3),
       reuse=st.sampled_from(["none", "replace", 2]), caliper=st.sampled_from([None, 0.05, 0.15, 0.4]),
       exact=st.booleans(), discard=st.booleans(), anti=st.booleans(), cov_width=st.sampled_from([None, 1, 3]),
       data=st.data())
def test_greedy_core_property(values, order, ratio, reuse, caliper, exact, discard, anti, cov_width, data):
    """Coarse distances (many exact ties), exact strata, calipers, reuse.max, discarded units, anti-exact
    variables and covariate calipers: the fast core picks exactly the controls, in exactly the order, of the
    literal MatchIt 4.7.2 walk."""
    dist = np.array([v for v, _, _ in values], dtype=float) / 15.0
    treat = np.array([int(b) for _, b, _ in values], dtype=np.int64)
    eligible = np.array([not (discard and c) for _, _, c in values])
    strata = (np.arange(len(dist)) % 2) if exact else None
    replace = reuse == "replace"
    reuse_max = reuse if isinstance(reuse, int) else None
    n1 = int(treat.sum())
    t_order = treated_order(dist, treat, "data" if replace or (reuse_max or 0) >= n1 else order, None)
    n = len(dist)
    pf = None
    if anti or cov_width is not None:  # anti-exact codes and a covariate caliper: per-pair conditions
        codes = np.array(data.draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)))[:, None]
        x = np.array(data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n)), dtype=float)[:, None]
        pf = PairFilter(codes if anti else None, x if cov_width is not None else None,
                        None if cov_width is None else np.array([float(cov_width)]))
    got, _ = greedy_match(dist, treat, t_order, ratio, replace, caliper, strata, reuse_max=reuse_max,
                          eligible=eligible, pair_filter=pf, order=order)
    want = literal_walk(dist, treat, t_order, ratio, replace, caliper, strata, reuse_max, eligible, pf, order)
    np.testing.assert_array_equal(got, want)
