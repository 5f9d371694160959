"""Greedy nearest-neighbour matching on a scalar distance, with MatchIt 4.7.2's choices.

MatchIt (``nn_matchC_vec`` / ``find_control_vec``) sorts all units by distance (R's stable
``order``) and, for each treated unit in the matching order, walks outwards from its place in
that order, one position at a time and alternately to the left and to the right (left first).
A side stops at the first control outside the caliper, at a control farther than ``k``
candidates already found, or once it has found ``k`` candidates. The candidates, in the
order they were found, are then reduced to the ``k`` nearest by libstdc++'s
``std::partial_sort`` (or ``std::sort`` when there are at most ``k``), which decides between
exactly tied distances. For one match that reduces to: the strictly nearer candidate wins; on
a tie, the one found first, i.e. the left one unless the right one is fewer positions away.

* Without replacement (``reuse_max < n1``), matching goes in rounds: every treated unit gets
  its 1st match, then its 2nd, ... In round ``r > 1`` the walk starts at the outermost of the
  unit's earlier matches, so the step counts in the tie rule start there.
* With replacement (``reuse_max >= n1``) each treated unit takes its ``k`` matches at once.

MatchIt's walk is a linear scan over used controls, which is why it is quadratic on big data.
Here the controls of each exact stratum are kept in one sorted array and two "next available"
forests (union-find with path halving) jump over used-up controls in near-constant amortised
time: the left forest maps a slot to the nearest available control at or below it, the right
one at or above it. Step counts for the tie rule are differences of global sorted positions,
which are what MatchIt's one-position-at-a-time walk counts. The loop over treated units is
plain Python on lists (each step is a handful of list reads; NumPy scalar indexing would be
slower here).

``int_abs=True`` reproduces the MatchIt 4.5.x walk for ``compat = "matchit-4.5.1"``: differences
truncated to integers, and the left (smaller-distance) control always wins a tie.
"""
from __future__ import annotations

import numpy as np

REASON_CALIPER = "outside caliper"
REASON_NO_CONTROL_LEFT = "no control left"
REASON_NO_CONTROL_STRATUM = "no control in exact stratum"
REASON_NO_CONTROL_LEFT_STRATUM = "no control left in exact stratum"
REASON_DISCARDED = "discarded (outside common support)"


def treated_order(distance: np.ndarray, treat: np.ndarray, order: str, rng: np.random.Generator | None) -> np.ndarray:
    """Row positions of the treated units in matching order (MatchIt's ``m.order``)."""
    t_rows = np.flatnonzero(treat == 1)
    if order == "largest":
        return t_rows[np.argsort(-distance[t_rows], kind="stable")]
    if order == "smallest":
        return t_rows[np.argsort(distance[t_rows], kind="stable")]
    if order == "random":
        return t_rows[rng.permutation(len(t_rows))]
    return t_rows  # "data"; "closest" / "farthest" start from the data order too


def greedy_match(distance: np.ndarray, treat: np.ndarray, t_order: np.ndarray, ratio: int, replace: bool,
                 caliper: float | None, strata: np.ndarray | None = None, int_abs: bool = False,
                 reuse_max: int | None = None, eligible: np.ndarray | None = None,
                 pair_filter: PairFilter | None = None, order: str | None = None
                 ) -> tuple[np.ndarray, dict[int, str]]:
    """Match treated rows (processed in ``t_order``) to control rows.

    ``reuse_max`` is the number of times a control may be used (MatchIt's ``reuse.max``);
    ``None`` means 1 without replacement and unlimited with it. ``eligible`` (bool per row)
    leaves out discarded rows, which keep their place in the sorted order. ``pair_filter``
    (anti-exact variables, calipers on covariates) rules out single (treated, control) pairs;
    as in MatchIt, a control that fails it is passed over and the walk goes on.

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
    n1 = int((treat == 1).sum())
    if reuse_max is None:
        reuse_max = n1 if replace else 1
    all_at_once = reuse_max >= n1  # MatchIt: "replacement", every treated unit on its own
    mm = np.full((n, ratio), -1, dtype=np.int64)
    reasons: dict[int, str] = {}
    ok = np.ones(n, dtype=bool) if eligible is None else np.asarray(eligible, dtype=bool)
    for r in np.flatnonzero((treat == 1) & ~ok):
        reasons[int(r)] = REASON_DISCARDED
    cal = np.inf if caliper is None else float(caliper)
    gpos = np.empty(n, dtype=np.int64)
    gpos[np.argsort(distance, kind="stable")] = np.arange(n)  # R's order(distance)
    if strata is None:
        groups = [np.flatnonzero(ok)]
    else:
        _, inv = np.unique(strata, return_inverse=True)
        idx = np.argsort(inv, kind="stable")
        groups = [g[ok[g]] for g in np.split(idx, np.flatnonzero(np.diff(inv[idx])) + 1)]
    # position of each treated row in the global matching order, to order within a stratum
    rank = np.empty(n, dtype=np.int64)
    rank[t_order] = np.arange(len(t_order))
    stratified = strata is not None
    for rows in groups:
        tr = treat[rows]
        if not (tr == 1).any():
            continue
        if not (tr == 0).any():
            for r in rows[tr == 1]:
                reasons[int(r)] = REASON_NO_CONTROL_STRATUM
            continue
        srt = np.argsort(distance[rows], kind="stable")  # R's order(distance): ties keep row order
        s_rows, s_treat = rows[srt], tr[srt]
        c_rows = s_rows[s_treat == 0]
        # slot of each treated unit = number of controls before it in the merged order
        before = np.cumsum(s_treat == 0) - (s_treat == 0)
        t_rows_sorted = s_rows[s_treat == 1]
        proc = np.argsort(rank[t_rows_sorted], kind="stable")
        units = _Stratum(t_rows_sorted[proc], before[s_treat == 1][proc], c_rows, distance, gpos)
        if order in ("closest", "farthest") and not all_at_once:
            _match_closest(mm, reasons, units, ratio, cal, stratified, reuse_max, pair_filter, order == "farthest")
        elif all_at_once and pair_filter is not None:
            _match_all_at_once_filtered(mm, reasons, units, ratio, cal, pair_filter)
        elif all_at_once:
            _match_all_at_once(mm, reasons, units, ratio, cal, int_abs)
        else:
            _match_in_rounds(mm, reasons, units, ratio, cal, stratified, int_abs, reuse_max, pair_filter)
    return mm, reasons


class PairFilter:
    """Per-pair conditions of MatchIt's walk: anti-exact variables must differ, and covariates with a
    caliper must lie within it (``|x_t - x_c| <= width``)."""

    def __init__(self, antiexact: np.ndarray | None = None, caliper_x: np.ndarray | None = None,
                 caliper_width: np.ndarray | None = None):
        self.antiexact = None if antiexact is None or antiexact.shape[1] == 0 else antiexact
        self.caliper_x = None if caliper_x is None or caliper_x.shape[1] == 0 else caliper_x
        self.caliper_width = caliper_width

    def ok(self, t_row: int, c_row: int) -> bool:
        if self.antiexact is not None and (self.antiexact[t_row] == self.antiexact[c_row]).any():
            return False
        return self.caliper_x is None or \
            not (np.abs(self.caliper_x[t_row] - self.caliper_x[c_row]) > self.caliper_width).any()


class _Stratum:
    """The sorted controls of one exact stratum and its treated units in processing order."""

    def __init__(self, t_rows, ins, c_rows, distance, gpos):
        self.t_rows, self.ins, self.c_rows = t_rows, ins, c_rows
        self.t_d = distance[t_rows]
        self.c_d = distance[c_rows]
        self.t_g = gpos[t_rows]
        self.c_g = gpos[c_rows]


def _find(forest: list, a: int) -> int:
    while forest[a] != a:  # path halving
        forest[a] = forest[forest[a]]
        a = forest[a]
    return a


class _Walker:
    """One stratum's controls with two "next available" forests, and each treated unit's walk start.

    ``nearest(i)`` is MatchIt's ``find_control_vec`` for one match: the nearest control still
    available to treated unit ``i`` (processing position), with the tie rule of the walk. The walk
    starts at the outermost of the unit's earlier matches (``possible_starts``), optionally widened
    by a control it was just refused (``prev_start``, for ``m.order = "closest"``)."""

    def __init__(self, u: _Stratum, cal: float, int_abs: bool, reuse_max: int, pair_filter):
        n0 = len(u.c_rows)
        self.n0, self.cal, self.int_abs, self.reuse_max, self.pair_filter = n0, cal, int_abs, reuse_max, pair_filter
        # left forest: slot s (0..n0) stands for control s-1, slot 0 is the "none" sentinel.
        self.left = list(range(n0 + 1))
        # right forest: slot s (0..n0) stands for control s, slot n0 is the "none" sentinel.
        self.right = list(range(n0 + 1))
        self.cd, self.cg = u.c_d.tolist(), u.c_g.tolist()
        self.t_rows, self.c_rows = u.t_rows.tolist(), u.c_rows.tolist()
        self.dists = u.t_d.tolist()
        self.uses = [0] * n0
        self.n_avail = n0
        # walk start of each treated unit: forest slots and global sorted positions (MatchIt's iil / iir)
        self.sl, self.sr = u.ins.tolist(), u.ins.tolist()
        self.gl, self.gr = u.t_g.tolist(), u.t_g.tolist()

    def nearest(self, i: int, prev: int | None = None) -> tuple[int, float] | None:
        """(local control index, |distance difference|) of treated ``i``'s match, or None."""
        sl, sr, gl, gr = self.sl[i], self.sr[i], self.gl[i], self.gr[i]
        if prev is not None:  # start beyond the refused control on its side
            if self.cg[prev] < gl:
                sl, gl = prev, self.cg[prev]
            elif self.cg[prev] > gr:
                sr, gr = prev + 1, self.cg[prev]
        cd, cal, n0 = self.cd, self.cal, self.n0
        a = _find(self.left, sl)
        b = _find(self.right, sr)
        di = self.dists[i]
        if self.pair_filter is not None:  # pass over controls this treated unit may not take
            t_row, ok = self.t_rows[i], self.pair_filter.ok
            while a and di - cd[a - 1] <= cal and not ok(t_row, self.c_rows[a - 1]):
                a = _find(self.left, a - 1)
            while b < n0 and cd[b] - di <= cal and not ok(t_row, self.c_rows[b]):
                b = _find(self.right, b + 1)
        inf = float("inf")
        dl = di - cd[a - 1] if a else inf
        dr = cd[b] - di if b < n0 else inf
        if self.int_abs:
            dl = float(int(dl)) if dl != inf else dl
            dr = float(int(dr)) if dr != inf else dr
        if dl > cal:
            dl = inf
        if dr > cal:
            dr = inf
        if dl == inf and dr == inf:
            return None
        if dl < dr or (dl == dr and (self.int_abs or gl - self.cg[a - 1] <= self.cg[b] - gr)):
            return a - 1, dl
        return b, dr

    def available(self, k: int) -> bool:
        return self.left[k + 1] == k + 1

    def take(self, i: int, k: int) -> None:
        """Treated ``i`` takes control ``k``: widen its walk start, use the control up."""
        if self.cg[k] < self.gl[i]:
            self.sl[i], self.gl[i] = k, self.cg[k]
        else:
            self.sr[i], self.gr[i] = k + 1, self.cg[k]
        self.uses[k] += 1
        if self.uses[k] >= self.reuse_max:
            self.left[k + 1] = k  # used up: remove control k from both forests
            self.right[k] = k + 1
            self.n_avail -= 1


def _record_failures(reasons, u, fail_caliper, fail_empty, stratified):
    for i in fail_caliper:
        reasons[int(u.t_rows[i])] = REASON_CALIPER
    for i in fail_empty:
        reasons[int(u.t_rows[i])] = REASON_NO_CONTROL_LEFT_STRATUM if stratified else REASON_NO_CONTROL_LEFT


def _match_in_rounds(mm, reasons, u: _Stratum, ratio, cal, stratified, int_abs, reuse_max, pair_filter=None):
    w = _Walker(u, cal, int_abs, reuse_max, pair_filter)
    alive = list(range(len(u.t_rows)))  # treated (by processing position) still collecting matches
    fail_caliper: list[int] = []
    fail_empty: list[int] = []
    for rnd in range(ratio):
        got = [-1] * len(u.t_rows)
        still = []
        for i in alive:
            if not w.n_avail:
                if rnd == 0:
                    fail_empty.append(i)
                continue
            hit = w.nearest(i)
            if hit is None:
                if rnd == 0:
                    fail_caliper.append(i)
                continue
            got[i] = hit[0]
            still.append(i)
            w.take(i, hit[0])
        alive = still
        g = np.array(got, dtype=np.int64)
        ok = g >= 0
        mm[u.t_rows[ok], rnd] = u.c_rows[g[ok]]
    _record_failures(reasons, u, fail_caliper, fail_empty, stratified)


def _match_closest(mm, reasons, u: _Stratum, ratio, cal, stratified, reuse_max, pair_filter, farthest):
    """MatchIt's ``m.order = "closest"`` / ``"farthest"`` (``nn_matchC_vec_closest``).

    Each round, every treated unit still collecting finds its nearest control; the pairs are then
    taken in order of that distance (R's stable ``order``; decreasing for "farthest"). When a pair's
    control has been used up meanwhile, the unit looks again (its walk starting beyond the refused
    control) and the pair moves back to its new place in the list, found by libstdc++'s
    ``lower_bound`` and ``rotate`` as MatchIt does."""
    w = _Walker(u, cal, False, reuse_max, pair_filter)
    n1 = len(u.t_rows)
    count = [0] * n1
    alive = list(range(n1))
    fail_caliper: list[int] = []
    fail_empty: list[int] = []
    for rnd in range(ratio):
        pairs = []  # [treated, control, distance]
        for i in alive:
            hit = w.nearest(i) if w.n_avail else None
            if hit is None:
                if rnd == 0:
                    (fail_caliper if w.n_avail else fail_empty).append(i)
                continue
            pairs.append([i, hit[0], hit[1]])
        dist = [p[2] for p in pairs]
        order = sorted(range(len(pairs)), key=lambda h: -dist[h] if farthest else dist[h])  # stable
        still = []
        pos = 0
        while w.n_avail and pos < len(order):
            h = order[pos]
            i, k = pairs[h][0], pairs[h][1]
            if not w.available(k):
                hit = w.nearest(i, prev=k)
                if hit is None:  # the unit drops out; MatchIt moves on to the next pair
                    if rnd == 0:
                        fail_caliper.append(i)
                    pos += 1
                    continue
                pairs[h][1], dist[h] = hit
                ci = _lower_bound(order, pos, h, dist, farthest)
                if ci != pos:
                    order[pos:ci] = order[pos + 1:ci] + [h]
                continue
            mm[u.t_rows[i], count[i]] = u.c_rows[k]
            count[i] += 1
            w.take(i, k)
            still.append(i)
            pos += 1
        alive = sorted(still)
    _record_failures(reasons, u, fail_caliper, fail_empty, stratified)


def _lower_bound(order: list, first: int, h: int, dist: list, farthest: bool) -> int:
    """std::lower_bound(order.begin() + first, order.end(), h, cmp) with MatchIt's comparators."""
    def cmp(a, b):
        return dist[a] >= dist[b] if farthest else dist[a] < dist[b]

    length = len(order) - first
    while length > 0:
        half = length >> 1
        middle = first + half
        if cmp(order[middle], h):
            first = middle + 1
            length -= half + 1
        else:
            length = half
    return first


def _match_all_at_once(mm, reasons, u: _Stratum, ratio, cal, int_abs):
    """Every treated unit takes its ``ratio`` nearest controls (with replacement)."""
    n0 = len(u.c_rows)
    k = ratio
    # the k nearest on each side, as (n1, k) arrays of local control indices (-1 = none)
    steps = np.arange(k)
    li = u.ins[:, None] - 1 - steps[None, :]
    ri = u.ins[:, None] + steps[None, :]
    l_ok, r_ok = li >= 0, ri < n0
    li_c, ri_c = np.clip(li, 0, n0 - 1), np.clip(ri, 0, n0 - 1)
    dl = np.where(l_ok, u.t_d[:, None] - u.c_d[li_c], np.inf)
    dr = np.where(r_ok, u.c_d[ri_c] - u.t_d[:, None], np.inf)
    if int_abs:
        dl, dr = np.trunc(dl), np.trunc(dr)
    # a side ends at its first control outside the caliper
    dl[np.cumsum(dl > cal, axis=1) > 0] = np.inf
    dr[np.cumsum(dr > cal, axis=1) > 0] = np.inf
    none = np.isinf(dl[:, 0]) & np.isinf(dr[:, 0])
    for r in u.t_rows[none]:
        reasons[int(r)] = REASON_CALIPER
    if k == 1 and not int_abs:
        steps_l = u.t_g - u.c_g[li_c[:, 0]]
        steps_r = u.c_g[ri_c[:, 0]] - u.t_g
        take_left = (dl[:, 0] < dr[:, 0]) | ((dl[:, 0] == dr[:, 0]) & (steps_l <= steps_r))
        pick = np.where(take_left, li_c[:, 0], ri_c[:, 0])
        hit = ~none
        mm[u.t_rows[hit], 0] = u.c_rows[pick[hit]]
        return
    if int_abs:  # MatchIt 4.5.x: k rounds of "nearer of the two sides, left on a tie"
        _compat_rounds(mm, u, dl, dr, li_c, ri_c, k, none)
        return
    for i in np.flatnonzero(~none):
        found = _walk_candidates(u.t_g[i], dl[i], dr[i], u.c_g[li_c[i]], u.c_g[ri_c[i]], li_c[i], ri_c[i], k)
        chosen = [found[j][1] for j in libstdcxx_k_smallest([f[0] for f in found], k)]
        mm[u.t_rows[i], :len(chosen)] = u.c_rows[chosen]


def _match_all_at_once_filtered(mm, reasons, u: _Stratum, k, cal, pair_filter: PairFilter):
    """As :func:`_match_all_at_once`, walking past controls that fail the pair filter."""
    n0 = len(u.c_rows)
    for i in range(len(u.t_rows)):
        t_row, di, ins = int(u.t_rows[i]), float(u.t_d[i]), int(u.ins[i])
        sides = []
        for step in (-1, 1):
            cands = []
            j = ins - 1 if step < 0 else ins
            while 0 <= j < n0 and len(cands) < k:
                d = abs(di - u.c_d[j])
                if d > cal:
                    break
                if pair_filter.ok(t_row, int(u.c_rows[j])):
                    cands.append(j)
                j += step
            sides.append(cands)
        if not sides[0] and not sides[1]:
            reasons[t_row] = REASON_CALIPER
            continue
        events = [(2 * (u.t_g[i] - u.c_g[j]) - 1, di - u.c_d[j], j, "l") for j in sides[0]]
        events += [(2 * (u.c_g[j] - u.t_g[i]), u.c_d[j] - di, j, "r") for j in sides[1]]
        found = _candidates_in_walk_order(events, k)
        chosen = [found[j][1] for j in libstdcxx_k_smallest([f[0] for f in found], k)]
        mm[t_row, :len(chosen)] = u.c_rows[chosen]


def _compat_rounds(mm, u, dl, dr, li_c, ri_c, k, none):
    n1 = len(u.t_rows)
    lp = np.zeros(n1, dtype=np.int64)
    rp = np.zeros(n1, dtype=np.int64)
    alive = ~none
    rows = np.arange(n1)
    for rnd in range(k):
        a = dl[rows, np.minimum(lp, k - 1)]
        a[lp >= k] = np.inf
        b = dr[rows, np.minimum(rp, k - 1)]
        b[rp >= k] = np.inf
        gone = np.isinf(a) & np.isinf(b)
        take_left = (a <= b) & ~gone & alive
        take_right = (a > b) & ~gone & alive
        pick = np.where(take_left, li_c[rows, np.minimum(lp, k - 1)], ri_c[rows, np.minimum(rp, k - 1)])
        got = take_left | take_right
        mm[u.t_rows[got], rnd] = u.c_rows[pick[got]]
        alive &= got
        lp += take_left
        rp += take_right


def _walk_candidates(tg, dl, dr, gl, gr, li, ri, k):
    """MatchIt's alternating walk for one treated unit: the candidates in the order found.

    The left side's t-th step is the walk's iteration 2t - 1, the right side's t-th step
    iteration 2t (step counts are positions in the global sorted order). A side stops at a
    candidate farther than ``k`` candidates already found."""
    events = [(2 * (tg - gl[j]) - 1, dl[j], li[j], "l") for j in range(k) if np.isfinite(dl[j])]
    events += [(2 * (gr[j] - tg), dr[j], ri[j], "r") for j in range(k) if np.isfinite(dr[j])]
    return _candidates_in_walk_order(events, k)


def _candidates_in_walk_order(events, k):
    """(iteration, distance, control, side) events -> the candidates MatchIt keeps, in the order found."""
    events.sort(key=lambda e: e[0])
    found: list[tuple[float, int]] = []
    stopped = set()
    for _, d, c, side in events:
        if side in stopped:
            continue
        if len(found) >= k and sum(f[0] < d for f in found) >= k:
            stopped.add(side)
            continue
        found.append((float(d), int(c)))
    return found


def libstdcxx_k_smallest(values: list[float], k: int) -> list[int]:  # noqa: C901  (libstdc++'s partial_sort, step for step, for MatchIt's tie order)
    """Indices of the ``k`` smallest ``values`` in the order MatchIt's C++ returns them.

    MatchIt keeps the candidates as found when there are at most ``k`` and they are already
    sorted; otherwise it calls ``std::partial_sort`` (more than ``k``) or ``std::sort``. Both
    decide exact ties by how libstdc++ moves elements, so that is reproduced here: the heap
    select and heap sort of ``std::partial_sort``, and the insertion sort ``std::sort`` uses on
    at most 16 elements (stable). Longer lists (``k > 8``) are sorted stably, which can order
    exact ties differently from MatchIt (the set of matches is the same).
    """
    n = len(values)
    idx = list(range(n))
    if n <= 1 or (n <= k and all(values[i] <= values[i + 1] for i in range(n - 1))):
        return idx
    if n <= k:
        return sorted(idx, key=lambda i: values[i])  # stable, as libstdc++'s insertion sort

    def less(a, b):
        return values[a] < values[b]

    def adjust(first_len, hole, value):
        top = hole
        child = hole
        while child < (first_len - 1) // 2:
            child = 2 * (child + 1)
            if less(idx[child], idx[child - 1]):
                child -= 1
            idx[hole] = idx[child]
            hole = child
        if first_len % 2 == 0 and child == (first_len - 2) // 2:
            child = 2 * (child + 1)
            idx[hole] = idx[child - 1]
            hole = child - 1
        parent = (hole - 1) // 2
        while hole > top and less(idx[parent], value):
            idx[hole] = idx[parent]
            hole = parent
            parent = (hole - 1) // 2
        idx[hole] = value

    def pop(length, result):
        value = idx[result]
        idx[result] = idx[0]
        adjust(length, 0, value)

    if k >= 2:  # make_heap on the first k
        parent = (k - 2) // 2
        while True:
            adjust(k, parent, idx[parent])
            if parent == 0:
                break
            parent -= 1
    for i in range(k, n):  # heap select
        if less(idx[i], idx[0]):
            pop(k, i)
    last = k
    while last > 1:  # sort_heap
        last -= 1
        pop(last, last)
    return idx[:k]
