"""Greedy nearest-neighbour matching on a scalar distance, with MatchIt 4.5.1's choices.

MatchIt (``nn_matchC_vec``) sorts all units by distance (R's stable ``order``), then for
each treated unit, in the matching order, walks left and right from its position to the
nearest control that is still available; if that control is outside the caliper the walk
on that side stops; of the two candidates the left one (smaller distance) wins when the
absolute differences are equal (``<=``). Each treated unit gets its 1st match in round 1,
its 2nd in round 2, ... (``ratio`` rounds).

MatchIt's walk is a linear scan over used controls, which is why it is quadratic on big
data. Here the controls are kept in one sorted array and two "next available" forests
(union-find with path halving) jump over used controls in near-constant amortised time:
the left forest maps a slot to the nearest available control at or below it, the right
one at or above it. The result is the same control MatchIt picks, found in
O(log n) amortised instead of O(n). The loop over treated units is plain Python on lists
(each step is a handful of list reads; NumPy scalar indexing would be slower here).

With replacement every treated unit is matched independently of the others (no control
is ever used up), so that case is fully vectorised: each treated unit keeps a left and a
right pointer and takes, round by round, the nearer of the two.
"""
from __future__ import annotations

import numpy as np

REASON_CALIPER = "outside caliper"
REASON_NO_CONTROL_LEFT = "no control left"
REASON_NO_CONTROL_STRATUM = "no control in exact stratum"
REASON_NO_CONTROL_LEFT_STRATUM = "no control left in exact stratum"


def treated_order(distance: np.ndarray, treat: np.ndarray, order: str, rng: np.random.Generator | None) -> np.ndarray:
    """Row positions of the treated units in matching order (MatchIt's ``m.order``)."""
    t_rows = np.flatnonzero(treat == 1)
    if order == "largest":
        return t_rows[np.argsort(-distance[t_rows], kind="stable")]
    if order == "smallest":
        return t_rows[np.argsort(distance[t_rows], kind="stable")]
    if order == "random":
        return t_rows[rng.permutation(len(t_rows))]
    return t_rows  # "data"


def greedy_match(distance: np.ndarray, treat: np.ndarray, t_order: np.ndarray, ratio: int, replace: bool,
                 caliper: float | None, strata: np.ndarray | None = None,
                 int_abs: bool = False) -> tuple[np.ndarray, dict[int, str]]:
    """Match treated rows (processed in ``t_order``) to control rows.

    ``int_abs=True`` reproduces MatchIt 4.5.0-4.5.3 on systems where its C++ called the
    integer ``abs()`` on distance differences (MatchIt issue #163, fixed in 4.5.4): every
    difference is truncated to an integer before the caliper check and the left/right
    comparison, so a caliper below 1 never binds and ties (i.e. all differences < 1) go to
    the control with the smaller distance.

    Returns ``mm``, an (n, ratio) int array indexed by row position holding the matched
    control row positions (-1 = none; rows of controls are all -1), and the reason for each
    treated row position left with no match at all.
    """
    n = len(distance)
    mm = np.full((n, ratio), -1, dtype=np.int64)
    reasons: dict[int, str] = {}
    cal = np.inf if caliper is None else float(caliper)
    if strata is None:
        groups = [np.arange(n)]
    else:
        _, inv = np.unique(strata, return_inverse=True)
        idx = np.argsort(inv, kind="stable")
        groups = np.split(idx, np.flatnonzero(np.diff(inv[idx])) + 1)
    # position of each treated row in the global matching order, to order within a stratum
    rank = np.empty(n, dtype=np.int64)
    rank[t_order] = np.arange(len(t_order))
    for rows in groups:
        tr = treat[rows]
        if not (tr == 1).any():
            continue
        if not (tr == 0).any():
            for r in rows[tr == 1]:
                reasons[int(r)] = REASON_NO_CONTROL_STRATUM
            continue
        d = distance[rows]
        srt = np.argsort(d, kind="stable")  # R's order(distance): ties keep row order
        s_rows, s_treat = rows[srt], tr[srt]
        c_rows = s_rows[s_treat == 0]
        c_d = distance[c_rows]
        # slot of each treated unit = number of controls before it in the merged order
        before = np.cumsum(s_treat == 0) - (s_treat == 0)
        t_rows_sorted = s_rows[s_treat == 1]
        ins_sorted = before[s_treat == 1]
        r_sorted = rank[t_rows_sorted]
        if strata is None:  # ranks are a permutation of 0..n1-1: invert it in O(n) instead of sorting
            proc = np.empty(len(r_sorted), dtype=np.int64)
            proc[r_sorted] = np.arange(len(r_sorted))
        else:
            proc = np.argsort(r_sorted, kind="stable")
        t_rows_p, ins_p = t_rows_sorted[proc], ins_sorted[proc]
        stratified = strata is not None
        if replace:
            _match_with_replacement(mm, reasons, t_rows_p, ins_p, c_rows, c_d, distance, ratio, cal, int_abs)
        else:
            _match_without_replacement(mm, reasons, t_rows_p, ins_p, c_rows, c_d, distance, ratio, cal, stratified,
                                       int_abs)
    return mm, reasons


def _match_without_replacement(mm, reasons, t_rows, ins, c_rows, c_d, distance, ratio, cal, stratified, int_abs):
    n0 = len(c_rows)
    # left forest: slot s (0..n0) stands for control s-1, slot 0 is the "none" sentinel.
    left = list(range(n0 + 1))
    # right forest: slot s (0..n0) stands for control s, slot n0 is the "none" sentinel.
    right = list(range(n0 + 1))
    cd = c_d.tolist()
    inf = float("inf")
    n_avail = n0
    slots = ins.tolist()
    dists = distance[t_rows].tolist()
    alive = list(range(len(slots)))  # treated (by processing position) still collecting matches
    fail_caliper: list[int] = []
    fail_empty: list[int] = []
    for rnd in range(ratio):
        got = [-1] * len(slots)
        still = []
        for i in alive:
            if not n_avail:
                if rnd == 0:
                    fail_empty.append(i)
                continue
            s = slots[i]
            # nearest available control at or left of slot s, and at or right of it (path halving)
            a = s
            while left[a] != a:
                left[a] = left[left[a]]
                a = left[a]
            b = s
            while right[b] != b:
                right[b] = right[right[b]]
                b = right[b]
            di = dists[i]
            dl = di - cd[a - 1] if a else inf
            dr = cd[b] - di if b < n0 else inf
            if int_abs:
                dl = float(int(dl)) if dl != inf else dl
                dr = float(int(dr)) if dr != inf else dr
            if dl > cal:
                dl = inf
            if dr > cal:
                dr = inf
            if dl <= dr:
                if dl == inf:
                    if rnd == 0:
                        fail_caliper.append(i)
                    continue
                k = a - 1
            else:
                k = b
            got[i] = k
            still.append(i)
            left[k + 1] = k  # remove control k from both forests
            right[k] = k + 1
            n_avail -= 1
        alive = still
        g = np.array(got, dtype=np.int64)
        ok = g >= 0
        mm[t_rows[ok], rnd] = c_rows[g[ok]]
    for i in fail_caliper:
        reasons[int(t_rows[i])] = REASON_CALIPER
    for i in fail_empty:
        reasons[int(t_rows[i])] = REASON_NO_CONTROL_LEFT_STRATUM if stratified else REASON_NO_CONTROL_LEFT


def _match_with_replacement(mm, reasons, t_rows, ins, c_rows, c_d, distance, ratio, cal, int_abs):
    n0 = len(c_rows)
    di = distance[t_rows]
    lp = ins - 1  # next control to the left
    rp = ins.copy()  # next control to the right
    alive = np.ones(len(t_rows), dtype=bool)  # still looking (MatchIt's caliper break ends a side for good)
    for rnd in range(ratio):
        dl = np.where(lp >= 0, di - c_d[np.clip(lp, 0, n0 - 1)], np.inf)
        dr = np.where(rp < n0, c_d[np.clip(rp, 0, n0 - 1)] - di, np.inf)
        if int_abs:
            dl, dr = np.trunc(dl), np.trunc(dr)
        dl[dl > cal] = np.inf
        dr[dr > cal] = np.inf
        none = (dl == np.inf) & (dr == np.inf)
        take_left = (dl <= dr) & ~none & alive
        take_right = (dl > dr) & ~none & alive
        k = np.where(take_left, lp, rp)
        got = take_left | take_right
        mm[t_rows[got], rnd] = c_rows[k[got]]
        if rnd == 0:
            for r in t_rows[none]:
                reasons[int(r)] = REASON_CALIPER
        alive &= got
        lp = np.where(take_left, lp - 1, lp)
        rp = np.where(take_right, rp + 1, rp)
