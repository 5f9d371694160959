"""Harrell's concordance for survival data, as R's ``survival::concordance`` (3.x).

This is the number ``coxph()`` reports as ``fit$concordance["concordance"]``: R calls
``concordancefit(y, fit$linear.predictors, strata, weights, reverse=TRUE, timewt="n")``.
The rules, read from survival's ``concordance3.c``:

* a pair (i, j) is *comparable* when i has an event at ``t_i`` and j is still under
  observation after it: ``t_j > t_i``, or ``t_j == t_i`` and j is censored (a censored
  time equal to an event time is in the risk set), within the same stratum;
* with ``reverse=TRUE`` (Cox models: a higher linear predictor means a shorter time), the
  pair is *concordant* when ``risk_i > risk_j``, *discordant* when ``risk_i < risk_j``
  and ``tied.x`` when the risks are equal;
* two events at the same time are not comparable; they are counted as ``tied.y``
  (``tied.xy`` when their risks are equal too);
* every pair counts ``w_i * w_j`` (case weights);
* concordance = (concordant + tied.x / 2) / (concordant + discordant + tied.x), with the
  counts summed over strata before the ratio (R does not average per-stratum values).

Times must already be complete-case and near-tie merged (``merge_near_ties``): coxph calls
concordancefit with ``timefix=FALSE`` on times it has already merged.

Algorithm. The counts are a two-dimensional dominance count (earlier in the processing
order *and* smaller risk). R walks the rows one at a time with a balanced binary tree; a
per-row Python loop would take tens of seconds at 10^6 rows, so we count the same pairs
with a vectorised top-down merge sort over the processing order: at each of the
``log2(G)`` levels (G = number of distinct (stratum, time, status) groups) every block
of positions splits into an earlier half and a later half, and the pairs that straddle the
split are counted with cumulative sums over the rows sorted by risk within the block.
Each level is O(n) NumPy work, so the whole count is O(n log n).
"""
from __future__ import annotations

import numba as nb
import numpy as np
import pandas as pd

__all__ = ["concordance_index", "concordance_std_err", "concordance_table"]

_COUNT_NAMES = ("concordant", "discordant", "tied.x", "tied.y", "tied.xy")


def _as_inputs(time, event, risk, strata, weights):
    t = np.asarray(time, dtype=float).ravel()
    n = t.size
    e = np.asarray(event).ravel()
    r = np.asarray(risk, dtype=float).ravel()
    for name, arr in (("event", e), ("risk", r)):
        if arr.size != n:
            raise ValueError(f"{name} has {arr.size} values but time has {n}")
    if not np.all(np.isfinite(t)):
        raise ValueError(f"time has non-finite values at rows {np.flatnonzero(~np.isfinite(t))[:10].tolist()}")
    if not np.all(np.isfinite(r)):
        raise ValueError(f"risk has non-finite values at rows {np.flatnonzero(~np.isfinite(r))[:10].tolist()}")
    e = e.astype(float)
    bad = ~np.isin(e, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"event must be 0/1; bad values at rows {np.flatnonzero(bad)[:10].tolist()}")
    e = e.astype(bool)
    if strata is None:
        s = np.zeros(n, dtype=np.int64)
    else:
        s = np.asarray(strata).ravel()
        if s.size != n:
            raise ValueError(f"strata has {s.size} values but time has {n}")
        s = np.unique(s, return_inverse=True)[1].astype(np.int64).ravel()
    if weights is None:
        w = np.ones(n)
    else:
        w = np.asarray(weights, dtype=float).ravel()
        if w.size != n:
            raise ValueError(f"weights has {w.size} values but time has {n}")
        if not np.all(np.isfinite(w) & (w >= 0)):
            raise ValueError(f"weights must be finite and >= 0; bad values at rows "
                             f"{np.flatnonzero(~(np.isfinite(w) & (w >= 0)))[:10].tolist()}")
    return t, e, r, s, w


def _starts(flag: np.ndarray) -> np.ndarray:
    """For sorted data with ``flag[j]`` marking the first row of a run: the index of each row's run start."""
    idx = np.where(flag, np.arange(flag.size), 0)
    return np.maximum.accumulate(idx)


def _dense_rank(x: np.ndarray) -> tuple[np.ndarray, int]:
    """0-based dense ranks of x and the number of distinct values."""
    o = np.argsort(x)
    xs = x[o]
    flag = np.empty(x.size, dtype=bool)
    flag[0] = True
    np.not_equal(xs[1:], xs[:-1], out=flag[1:])
    ranks = np.empty(x.size, dtype=np.int64)
    ranks[o] = np.cumsum(flag) - 1
    return ranks, int(ranks.max()) + 1 if x.size else 0


class _Prepared:
    """Rows sorted into R's processing order and collapsed into elements (see ``_prepare``)."""
    __slots__ = ("order", "row_elem", "W", "D", "WD", "S", "K", "korder", "knew", "nK", "group_first", "lower",
                 "comparable", "eq", "tied_y_all", "tied_xy", "m")


def _prepare(t, e, r, s, w) -> _Prepared:
    n = t.size
    # Processing order, as R's sort.stop within a stratum: strata, time descending, censored
    # before events at the same time, then risk ascending (so equal risks are adjacent).
    # One integer sort key built from dense ranks is ~2x faster than np.lexsort on float keys.
    tr, nt = _dense_rank(t)
    rr, nr = _dense_rank(r)
    ns = int(s.max()) + 1
    if ns * nt * 2.0 * nr < 2.0 ** 62:
        key = ((s * nt + (nt - 1 - tr)) * 2 + e) * nr + rr
        order = np.argsort(key)
        key = key[order]
        new_ter = np.empty(n, dtype=bool)
        new_ter[0] = True
        np.not_equal(key[1:], key[:-1], out=new_ter[1:])
        kte = key // nr
        new_te = np.empty(n, dtype=bool)
        new_te[0] = True
        np.not_equal(kte[1:], kte[:-1], out=new_te[1:])
        e, rr, s, w = e[order], rr[order], s[order], w[order]
    else:  # astronomically many distinct values: fall back to a lexicographic sort
        order = np.lexsort((r, e, -t, s))
        t, e, rr, s, w = t[order], e[order], rr[order], s[order], w[order]
        new_te = np.empty(n, dtype=bool)
        new_te[0] = True
        new_te[1:] = (s[1:] != s[:-1]) | (t[1:] != t[:-1]) | (e[1:] != e[:-1])
        new_ter = new_te.copy()
        new_ter[1:] |= rr[1:] != rr[:-1]

    pr = _Prepared()
    pr.order = order

    # tied.y / tied.xy: pairs of events at the same time (same stratum), and among those the
    # pairs with equal risk. Sum over i<j of w_i w_j = ((sum w)^2 - sum w^2) / 2.
    def pair_sum(flag):
        starts = np.flatnonzero(flag)
        sw = np.add.reduceat(w * e, starts)
        sw2 = np.add.reduceat(w * w * e, starts)
        return float(np.sum(sw * sw - sw2) / 2.0)

    pr.tied_y_all = pair_sum(new_te)
    pr.tied_xy = pair_sum(new_ter)

    # Collapse rows identical in (stratum, time, status, risk): their pair counts against any
    # other row are the same, so one element with the summed weight does. Big saving on
    # integer-day times with few distinct risk scores. The elements stay in processing order;
    # an element's index is its position.
    starts = np.flatnonzero(new_ter)
    pr.row_elem = np.cumsum(new_ter) - 1          # element of each sorted row
    W = pr.W = np.add.reduceat(w, starts)
    pr.D = e[starts]
    S = pr.S = s[starts]
    R = rr[starts]
    pr.group_first = new_te[starts]          # first element of its (stratum, time, status) group
    m = pr.m = starts.size
    pr.WD = W * pr.D

    # Weight of all lower strata, and weight of the comparable elements of an event: everything
    # in its stratum positioned before its (stratum, time, status) group.
    sw_stratum = np.bincount(S, weights=W)
    pr.lower = np.concatenate(([0.0], np.cumsum(sw_stratum)))[S]
    cw = np.concatenate(([0.0], np.cumsum(W)))
    pr.comparable = cw[:-1][_starts(pr.group_first)] - pr.lower

    # Rank key K: dense rank of (stratum, risk). Lower strata get lower K, so the dominance
    # count below includes all of them as "smaller risk"; ``lower`` takes them back out.
    kraw = S * nr + R
    if float(ns) * nr * m < 2.0 ** 62:
        korder = np.argsort(kraw * m + np.arange(m))   # unique keys: (stratum, risk, position)
    else:
        korder = np.lexsort((np.arange(m), kraw))
    ks = kraw[korder]
    knew = np.empty(m, dtype=bool)
    knew[0] = True
    np.not_equal(ks[1:], ks[:-1], out=knew[1:])
    kcode = np.cumsum(knew) - 1
    K = np.empty(m, dtype=np.int64)
    K[korder] = kcode
    pr.K, pr.korder, pr.knew, pr.nK = K, korder, knew, int(kcode[-1]) + 1
    # Equal risk, earlier position (same K run in (K, position) order) = tied.x candidates.
    cwk = np.concatenate(([0.0], np.cumsum(W[korder])))
    pr.eq = np.empty(m)
    pr.eq[korder] = cwk[:-1] - cwk[:-1][_starts(knew)]
    return pr


def _counts(t, e, r, s, w) -> np.ndarray:
    if t.size == 0 or not e.any():
        return np.zeros(5)
    if np.all(w == 1.0):
        return _unit_counts(t, e, r, s)
    return _counts_prepared(_prepare(t, e, r, s, w))


def _unit_counts(t, e, r, s) -> np.ndarray:
    """The five counts without case weights, by R's own walk: rows in processing order (stratum, time
    descending, censored first), each event's comparable rows counted by risk in a binary indexed tree.

    Every count is then a whole number of pairs, summed exactly in 64-bit integers; as floats these are the
    numbers the general route gives (its float sums of whole numbers below 2^53 are exact in any order)."""
    tr, nt = _dense_rank(t)
    rr, nr = _dense_rank(r)
    order = np.argsort((s * nt + (nt - 1 - tr)) * 2 + e, kind="stable")
    out = np.zeros(5, dtype=np.int64)
    _walk_counts(s[order], tr[order], e[order], rr[order], nr, out)
    return out.astype(float)


@nb.njit(cache=True, nogil=True)
def _walk_counts(s, t, e, rank, n_rank, out):  # pragma: no cover - compiled
    """``out`` = concordant, discordant, tied.x, tied.y, tied.xy (pair counts) for rows sorted by stratum, time
    descending, censored before events; ``rank``: dense risk ranks 0..n_rank-1. At each time the censored rows
    join the risk set first (a censored time equal to an event time is at risk), then each event is compared
    with the rows in it, then the events join."""
    n = s.size
    tree = np.zeros(n_rank + 1, dtype=np.int64)      # Fenwick tree of risk ranks (1-based)
    same = np.zeros(n_rank, dtype=np.int64)          # events of the current time per risk rank
    conc = disc = tied_x = tied_y = tied_xy = 0
    in_set = 0
    first = 0                                          # first row of the current stratum
    i = 0
    while i < n:
        if s[i] != s[first]:                           # a new stratum: empty the tree
            for j in range(first, i):
                k = rank[j] + 1
                while k <= n_rank:
                    tree[k] -= 1
                    k += k & -k
            in_set = 0
            first = i
        end = i
        while end < n and s[end] == s[i] and t[end] == t[i]:
            end += 1
        ev = i
        while ev < end and e[ev] == 0:                 # censored rows at this time join the risk set
            k = rank[ev] + 1
            while k <= n_rank:
                tree[k] += 1
                k += k & -k
            in_set += 1
            ev += 1
        for j in range(ev, end):                       # each event against the risk set
            below = 0
            k = rank[j]
            while k > 0:
                below += tree[k]
                k -= k & -k
            upto = 0
            k = rank[j] + 1
            while k > 0:
                upto += tree[k]
                k -= k & -k
            conc += below
            tied_x += upto - below
            disc += in_set - upto
            tied_xy += same[rank[j]]                   # earlier events of this time with the same risk
            same[rank[j]] += 1
        d = end - ev
        tied_y += d * (d - 1) // 2
        for j in range(ev, end):                       # the events join the risk set
            same[rank[j]] = 0
            k = rank[j] + 1
            while k <= n_rank:
                tree[k] += 1
                k += k & -k
            in_set += 1
        i = end
    out[0] = conc
    out[1] = disc
    out[2] = tied_x
    out[3] = tied_y - tied_xy
    out[4] = tied_xy


def _counts_prepared(pr: _Prepared) -> np.ndarray:
    out = np.zeros(5)
    W, WD, K, korder, nK = pr.W, pr.WD, pr.K, pr.korder, pr.nK
    tied_x = float(np.sum(WD * pr.eq))
    same_time_pairs = pr.tied_y_all - pr.tied_xy
    P = np.cumsum(pr.group_first) - 1      # (stratum, time, status) group index of each element
    nP = int(P[-1]) + 1
    unit = bool(np.all(W[0] == W))
    # The dominance count is a radix partition over the bits of one key and runs in
    # log2(#distinct values) passes: use whichever of risk rank and time group has fewer values.
    if nP < nK:
        # radix over time groups, elements ordered by (stratum, risk, position) within a
        # group: counts earlier-group elements with smaller risk, plus the equal-risk ones
        # that come earlier in position (the tied.x pairs).
        cumP = np.concatenate(([0], np.cumsum(np.bincount(P, minlength=nP)))).astype(np.int64)
        dom = _dominance_sum(P[korder], W[korder], WD[korder], cumP, nP, unit)
        concordant = dom - float(np.sum(WD * pr.lower)) - tied_x
    else:
        # radix over risk ranks, elements in position order: counts earlier-position elements
        # with smaller risk, including the events at the same time with smaller risk (an event
        # group is ordered by increasing risk), which are the tied.y pairs with unequal risks.
        kc = K[korder]
        cumK = np.concatenate(([0], np.cumsum(np.bincount(kc, minlength=nK)))).astype(np.int64)
        dom = _dominance_sum(K, W, WD, cumK, nK, unit)
        concordant = dom - float(np.sum(WD * pr.lower)) - same_time_pairs
    discordant = float(np.sum(WD * pr.comparable)) - concordant - tied_x
    out[:] = (concordant, discordant, tied_x, same_time_pairs, pr.tied_xy)
    return out


def _merged_positions(idx, gstart, left_before, nleft, upper, out) -> None:
    """Each element's position after one merge level, in place in ``out``: an element of the lower half
    goes to ``gstart + left_before``, one of the upper half to ``gstart + nleft + (upper-half elements
    before it)`` = ``nleft + idx - left_before``."""
    np.subtract(idx, gstart, out=out)
    out -= left_before
    out -= left_before
    out += nleft
    out *= upper
    out += gstart
    out += left_before


def _dominance_each(A, V, cumA, nA):
    """Per element i: sum of V_j over the elements j before i (array order) with A_j < A_i.

    The same radix partition as :func:`_dominance_sum` (int32, in place), carrying each
    element's id and accumulating its count level by level.
    """
    m = A.size
    nbits = max(1, int(nA - 1).bit_length())
    it = np.int32 if m < 2 ** 30 and nA < 2 ** 29 else np.int64
    cumA = np.concatenate((cumA, np.full((1 << nbits) + 1, cumA[-1]))).astype(it)
    Ao, Vo, ids = A.astype(it), np.asarray(V, dtype=float), np.arange(m, dtype=it)
    acc = np.zeros(m)
    idx = np.arange(m, dtype=it)
    cl = np.zeros(m + 1, dtype=it)
    cv = np.zeros(m + 1)
    newpos = np.empty(m, dtype=it)
    for lev in range(nbits - 1, -1, -1):
        sh = Ao >> lev
        upper = sh & 1
        sh >>= 1
        sh <<= lev + 1
        gstart = np.take(cumA, sh)
        np.subtract(1, upper, out=newpos)
        np.cumsum(Vo * newpos, out=cv[1:])
        contrib = cv[:-1] - np.take(cv, gstart)
        contrib *= upper
        acc[ids] += contrib
        if lev == 0:
            break
        np.cumsum(newpos, out=cl[1:])
        left_before = cl[:-1] - np.take(cl, gstart)
        sh += 1 << lev
        nleft = np.take(cumA, sh)
        nleft -= gstart
        _merged_positions(idx, gstart, left_before, nleft, upper, newpos)
        A2, V2, I2 = np.empty_like(Ao), np.empty_like(Vo), np.empty_like(ids)
        A2[newpos] = Ao
        V2[newpos] = Vo
        I2[newpos] = ids
        Ao, Vo, ids = A2, V2, I2
    return acc


def _std_err(t, e, r, s, w, cluster) -> float:
    """R's ``sqrt(concordance()$var)``: the infinitesimal-jackknife standard error.

    For every row R accumulates how many (weighted) concordant, discordant and tied.x pairs it
    takes part in, as the event and as the comparison row; its influence on C is
    ``((c_i - d_i) - (c_i + d_i + t_i) * somers_d) * w_i / (2 * npair)`` and the variance is
    the sum of squared influences (summed within clusters first when ``cluster`` is given).
    Here the per-row counts come from two per-element dominance counts (earlier rows with a
    lower risk; later events with a higher risk) and group cumulative sums for the
    corrections (other strata, events tied in time).
    """
    pr = _prepare(t, e, r, s, w)
    c_tot = _counts_prepared(pr)
    npair = c_tot[0] + c_tot[1] + c_tot[2]
    if npair <= 0:
        return float("nan")
    somer = (c_tot[0] - c_tot[1]) / npair
    W, WD, D, S, K, korder, knew, m = pr.W, pr.WD, pr.D, pr.S, pr.K, pr.korder, pr.knew, pr.m
    kc = K[korder]
    cumK = np.concatenate(([0], np.cumsum(np.bincount(kc, minlength=pr.nK)))).astype(np.int64)
    gid = np.cumsum(pr.group_first) - 1
    gfirst = np.flatnonzero(pr.group_first)
    gend = np.append(gfirst[1:], m)[gid]                  # first element after the group

    # as the event: comparable rows (earlier in position, same stratum, other group) by risk
    less = _dominance_each(K, W, cumK, pr.nK)
    cw = np.concatenate(([0.0], np.cumsum(W)))
    same_group_before = cw[:-1] - cw[gfirst[gid]]         # tied-in-time events with lower risk
    ev_conc = D * (less - pr.lower - same_group_before)
    ev_tied = D * pr.eq
    ev_disc = D * pr.comparable - ev_conc - ev_tied

    # as the comparison row: later events (in position) of the same stratum, other group
    rev = slice(None, None, -1)
    higher = _dominance_each((pr.nK - 1 - K)[rev], WD[rev], cumK[-1] - cumK[::-1], pr.nK)[rev]
    cwd = np.concatenate(([0.0], np.cumsum(WD)))
    sw_stratum = np.bincount(S, weights=WD)
    upper_strata = cwd[-1] - np.cumsum(sw_stratum)[S]     # events of higher strata
    same_group_after = (cwd[gend] - cwd[1:]) * D          # tied-in-time events with higher risk
    cmp_conc = higher - upper_strata - same_group_after
    # later events with the same risk: (K, position) order, events after it in its K run
    wdk = WD[korder]
    cwdk = np.concatenate(([0.0], np.cumsum(wdk)))
    run_id = np.cumsum(knew) - 1
    run_end = np.append(np.flatnonzero(knew)[1:], m)[run_id]
    cmp_tied = np.empty(m)
    cmp_tied[korder] = cwdk[run_end] - cwdk[1:]
    # events after its group within its stratum: total events up to the stratum end minus those
    # up to the group end
    stratum_end_events = np.cumsum(sw_stratum)[S]
    comparable_events = stratum_end_events - cwd[gend]
    cmp_disc = comparable_events - cmp_conc - cmp_tied

    conc = ev_conc + cmp_conc
    disc = ev_disc + cmp_disc
    tied = ev_tied + cmp_tied
    per_w = ((conc - disc) - (conc + disc + tied) * somer) / (2.0 * npair)   # per unit weight
    rows = np.empty(t.size, dtype=np.int64)
    rows[pr.order] = pr.row_elem
    dfbeta = per_w[rows] * w
    if cluster is not None:
        dfbeta = np.bincount(cluster, weights=dfbeta)
    return float(np.sqrt(np.sum(dfbeta ** 2)))


def _dominance_sum(A, W, WD, cumA, nA, unit):
    """sum_i WD_i * (sum of W_j over j before i with A_j < A_i); "before" is array order.

    Top-down radix partition over the bits of A: at the level for bit L the elements are
    ordered by (A >> L+1, array order); within each such group, an element whose bit L is 1
    is preceded by the bit-0 elements of its group, all of which have a smaller A, and a
    cumulative sum over the group counts those that come before it. A stable partition on
    bit L (cumulative counts again; the group sizes come from the histogram ``cumA``) gives
    the order of the next level. Every level is a fixed number of O(n) NumPy passes, in
    int32 where the sizes allow (half the memory traffic), in place where possible, and
    without boolean-mask indexing (slow on random masks).
    """
    m = A.size
    nbits = max(1, int(nA - 1).bit_length())
    it = np.int32 if m < 2 ** 30 and nA < 2 ** 29 else np.int64
    # histogram padded so that group ends past the last value need no clipping
    cumA = np.concatenate((cumA, np.full((1 << nbits) + 1, cumA[-1]))).astype(it)
    Ao = A.astype(it)
    if unit:  # unit weights: the event flag rides along as an integer, all counts are integers
        Do = (WD != 0).astype(it)
        w0 = float(W[0])
    else:
        Wo, WDo = W, WD
        cw = np.zeros(m + 1)
    idx = np.arange(m, dtype=it)
    total = 0.0
    cl = np.zeros(m + 1, dtype=it)
    newpos = np.empty(m, dtype=it)
    for lev in range(nbits - 1, -1, -1):
        sh = Ao >> lev
        upper = sh & 1                              # 1 = upper half of the group's A range
        sh >>= 1
        sh <<= lev + 1                              # group base value
        gstart = np.take(cumA, sh)
        np.subtract(1, upper, out=newpos)
        np.cumsum(newpos, out=cl[1:])               # lower-half elements seen so far
        left_before = cl[:-1] - np.take(cl, gstart)
        if unit:
            total += w0 * w0 * float((left_before * (upper & Do)).sum(dtype=np.int64))
        else:
            np.cumsum(Wo * (1 - upper), out=cw[1:])
            total += float(np.dot(WDo * upper, cw[:-1] - np.take(cw, gstart)))
        if lev == 0:
            break
        sh += 1 << lev
        nleft = np.take(cumA, sh)
        nleft -= gstart
        _merged_positions(idx, gstart, left_before, nleft, upper, newpos)
        A2 = np.empty_like(Ao)
        A2[newpos] = Ao
        Ao = A2
        if unit:
            D2 = np.empty_like(Do)
            D2[newpos] = Do
            Do = D2
        else:
            W2 = np.empty_like(Wo)
            W2[newpos] = Wo
            WD2 = np.empty_like(WDo)
            WD2[newpos] = WDo
            Wo, WDo = W2, WD2
    return total


def concordance_table(time, event, risk, strata=None, weights=None, start=None) -> pd.Series:
    """Pair counts behind :func:`concordance_index`, as R's ``coxph()$concordance[1:5]``.

    Returns a Series indexed ``concordant``, ``discordant``, ``tied.x``, ``tied.y``,
    ``tied.xy`` (weighted pair counts, summed over strata), in the Cox orientation: a pair is
    concordant when the earlier event has the higher ``risk``. With ``start`` (entry times of
    (start, stop] rows, ``time`` being the stops) only rows at risk at the event time are compared.
    """
    t, e, r, s, w = _as_inputs(time, event, risk, strata, weights)
    counts = _counts(t, e, r, s, w)
    if start is not None:
        from ._concordance_entry import not_entered_counts
        entry = np.asarray(start, dtype=float).ravel()
        if entry.size != t.size:
            raise ValueError(f"start has {entry.size} values but time has {t.size}")
        rank, n_rank = _dense_rank(r)
        counts[:3] -= not_entered_counts(t, e, entry, rank, n_rank, s, w)
    return pd.Series(counts, index=list(_COUNT_NAMES), name="count")


def concordance_std_err(time, event, risk, strata=None, weights=None, cluster=None) -> float:
    """Standard error of :func:`concordance_index`, as R's ``coxph()$concordance["std"]``.

    R's infinitesimal-jackknife estimate (``concordancefit``'s ``sqrt(var)``); ``cluster``
    (labels, one per row) sums the row influences within clusters first, as coxph does when the
    model has a cluster term. NaN when there is no comparable pair.
    """
    t, e, r, s, w = _as_inputs(time, event, risk, strata, weights)
    cl = None
    if cluster is not None:
        cl = np.asarray(cluster).ravel()
        if cl.size != t.size:
            raise ValueError(f"cluster has {cl.size} values but time has {t.size}")
        cl = np.unique(cl, return_inverse=True)[1].ravel()
    if t.size == 0 or not e.any():
        return float("nan")
    return _std_err(t, e, r, s, w, cl)


def concordance_index(time, event, risk, strata=None, weights=None, start=None) -> float:
    """Harrell's C for a risk score (higher = shorter survival), as ``coxph()$concordance["concordance"]``.

    ``time``/``event`` are complete-case, near-tie merged arrays; ``risk`` is typically the
    linear predictor; ``strata`` integer codes (pairs are formed within strata only);
    ``weights`` case weights (a pair counts ``w_i * w_j``); ``start`` entry times for (start, stop]
    rows (a row is compared only while at risk). See the module docstring for R's pair rules.
    Returns NaN when there is no comparable pair.
    """
    c = concordance_table(time, event, risk, strata, weights, start).to_numpy()
    denom = c[0] + c[1] + c[2]
    return float((c[0] + c[2] / 2.0) / denom) if denom > 0 else float("nan")
