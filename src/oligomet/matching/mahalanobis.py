"""Mahalanobis-distance nearest-neighbour matching, as MatchIt's ``distance = "mahalanobis"`` and ``mahvars``.

The covariates are turned into coordinates in which the Euclidean distance is the Mahalanobis
distance (MatchIt's ``transform_covariates``): factors as one column per level divided by
sqrt(2), constant columns dropped, each column standardised, then multiplied by a square root
of the inverse of the pooled within-group covariance (Rubin 1980, optmatch), from R's pivoted
Cholesky (LAPACK ``dpstrf``, as ``chol(pivot = TRUE)``). A near-singular covariance gets the
SVD generalized inverse, as in MatchIt.

The walk (MatchIt's ``find_control_mahcovs``): units sorted by the first coordinate; from each
treated unit, alternately one position left and right; a side stops once the squared gap in
that coordinate alone exceeds the ``k``-th best squared distance found (no unit farther along
can be nearer). A control of another exact stratum, outside the propensity-score caliper, or
failing the anti-exact or covariate-caliper conditions is passed over. The candidates are kept
sorted by squared distance; for one match a later candidate at an equal distance replaces the
earlier one, as MatchIt's code does.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.linalg
from scipy.linalg import lapack

from .._validation import group_labels
from .greedy import REASON_CALIPER, REASON_DISCARDED, REASON_NO_CONTROL_LEFT, PairFilter

_SQRT_EPS = np.sqrt(np.finfo(float).eps)


def mahalanobis_coordinates(frame: pd.DataFrame, columns: list[str], t: np.ndarray,
                            discarded: np.ndarray) -> np.ndarray:
    """Rows of coordinates whose Euclidean distances are the Mahalanobis distances."""
    cols = []
    for c in columns:
        s = frame[c]
        if s.dtype == bool or (pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype)):
            cols.append(s.to_numpy(dtype=float))
        else:  # every level, / sqrt(2): contrasts(x, contrasts = FALSE) / sqrt(2)
            cols += [(s == lv).to_numpy(dtype=float) / np.sqrt(2) for lv in group_labels(frame, c)[1]]
    X = np.column_stack(cols)
    varies = np.abs(X.max(axis=0) - X.min(axis=0)) >= _SQRT_EPS
    if not varies.any():  # MatchIt falls back to the Euclidean distance on the first column
        return X[:, :1].copy()
    X = X[:, varies]
    X = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)  # scale()
    keep = ~discarded
    Xk, tk = X[keep], t[keep]
    centred = Xk.copy()
    for g in np.unique(tk):
        centred[tk == g] -= centred[tk == g].mean(axis=0)
    n = len(Xk)
    var = np.cov(centred, rowvar=False, ddof=1).reshape(X.shape[1], X.shape[1]) * (n - 1) / (n - len(np.unique(tk)))
    inv = None
    if np.linalg.det(var) > 1e-8:
        try:
            inv = np.linalg.solve(var, np.eye(len(var)))
        except np.linalg.LinAlgError:
            inv = None
    if inv is None:
        u, d, vt = scipy.linalg.svd(var)
        pos = d > max(1e-8 * d[0], 0.0)
        inv = (vt[pos].T / d[pos]) @ u[:, pos].T
    ch, piv, rank, _ = lapack.dpstrf(inv, tol=-1.0, lower=0)
    ch = np.triu(ch)
    ch[rank:, rank:] = 0.0  # R's chol(pivot = TRUE) zeroes the block beyond the rank
    ch = ch[:, np.argsort(piv - 1)]  # ch[, order(pivot)]
    out = np.zeros((X.shape[0], ch.shape[0]))
    for j in range(X.shape[1]):  # X %*% t(ch), column by column (identical rows stay identical)
        out += X[:, [j]] * ch[:, j][None, :]
    return out


def mahalanobis_match(coords: np.ndarray, t: np.ndarray, t_order: np.ndarray, ratio: int, reuse_max: int,
                      eligible: np.ndarray, strata: np.ndarray | None, ps_distance: np.ndarray | None,
                      caliper: float | None, pair_filter: PairFilter | None) -> tuple[np.ndarray, dict[int, str]]:
    """MatchIt's ``nn_matchC_mahcovs``; ``mm`` (n, ratio) of control row positions and reasons.

    With exact strata MatchIt matches each stratum on its own (its own sorted order, so its own walk),
    which decides exact distance ties differently from one walk over all units; so does this."""
    n = len(t)
    mm = np.full((n, ratio), -1, dtype=np.int64)
    reasons = {int(r): REASON_DISCARDED for r in np.flatnonzero((t == 1) & ~eligible)}
    if strata is None:
        groups = [np.arange(n)]
    else:
        keys = np.unique(strata, return_inverse=True)[1]
        groups = [np.flatnonzero(keys == k) for k in np.unique(keys)]
    rank = np.empty(n, dtype=np.int64)
    rank[t_order] = np.arange(len(t_order))
    for rows in groups:
        sub_t = t[rows]
        if not (sub_t == 1).any():
            continue
        if not (eligible[rows] & (sub_t == 0)).any():
            reasons.update({int(r): "no control in exact stratum" for r in rows[(sub_t == 1) & eligible[rows]]})
            continue
        treated = rows[sub_t == 1]
        order = np.searchsorted(rows, treated[np.argsort(rank[treated], kind="stable")])
        sub_mm, sub_reasons = _walk_stratum(coords[rows], sub_t, order, ratio, reuse_max, eligible[rows],
                                            None if ps_distance is None else ps_distance[rows], caliper,
                                            None if pair_filter is None else _SubFilter(pair_filter, rows))
        hit = sub_mm >= 0
        mm[rows] = np.where(hit, rows[np.clip(sub_mm, 0, None)], -1)
        reasons.update({int(rows[i]): why for i, why in sub_reasons.items()})
    return mm, reasons


class _SubFilter:
    """A pair filter addressed by positions within one stratum."""

    def __init__(self, pf: PairFilter, rows: np.ndarray):
        self.pf, self.rows = pf, rows

    def ok(self, i: int, j: int) -> bool:
        return self.pf.ok(int(self.rows[i]), int(self.rows[j]))


def _walk_stratum(coords, t, t_order, ratio, reuse_max, eligible, ps_distance, caliper, pair_filter):  # noqa: C901  (MatchIt's nearest-neighbour loop, kept step for step beside the C++)
    n = len(t)
    n1 = int((t == 1).sum())
    mv = coords[:, 0]
    srt = np.argsort(mv, kind="stable")  # R's order(match_var)
    pos = np.empty(n, dtype=np.int64)
    pos[srt] = np.arange(n)
    ok = eligible.copy()
    mm = np.full((n, ratio), -1, dtype=np.int64)
    reasons: dict[int, str] = {}
    srt_l, mv_l = srt.tolist(), mv.tolist()
    rows = coords.tolist()
    t_l = t.tolist()
    cal = np.inf if caliper is None else caliper

    def find(ti: int, k: int, mine: set) -> list[int]:  # noqa: C901  (MatchIt's nearest-neighbour loop, kept step for step beside the C++)
        iil = iir = int(pos[ti])
        l_stop = r_stop = False
        left = False
        found: list[tuple[int, float]] = []
        mv_i = mv_l[ti]
        while not (l_stop and r_stop):
            left = False if l_stop else True if r_stop else not left
            if left:
                if iil <= 0:
                    l_stop = True
                    continue
                iil -= 1
                z = srt_l[iil]
            else:
                if iir >= n - 1:
                    r_stop = True
                    continue
                iir += 1
                z = srt_l[iir]
            if not ok[z] or t_l[z] != 0 or z in mine:
                continue
            gap = (mv_i - mv_l[z]) ** 2
            if len(found) == k and found[-1][1] < gap:
                if left:
                    l_stop = True
                else:
                    r_stop = True
                continue
            if ps_distance is not None and abs(ps_distance[ti] - ps_distance[z]) > cal:
                continue
            if pair_filter is not None and not pair_filter.ok(ti, z):
                continue
            d = 0.0  # summed in column order, as MatchIt's euc_dist_sq (numpy's pairwise sum rounds differently)
            for a, b in zip(rows[ti], rows[z]):
                d += (a - b) * (a - b)
            if not np.isfinite(d):
                continue
            if not found:
                found.append((z, d))
            elif d > found[-1][1]:
                if len(found) < k:
                    found.append((z, d))
            elif k == 1:
                found[0] = (z, d)
            else:
                if len(found) == k:
                    found.pop()
                if d > found[-1][1]:
                    found.append((z, d))
                else:  # std::lower_bound: before the first candidate not nearer
                    j = next(i for i, f in enumerate(found) if not f[1] < d)
                    found.insert(j, (z, d))
        return [z for z, _ in found]

    order = t_order  # positions of the treated units, in processing order
    if reuse_max < n1:  # MatchIt compares with the stratum's own number of treated units
        times = np.zeros(n, dtype=np.int64)
        allowed = np.where(t == 1, ratio, reuse_max)
        for r in range(ratio):
            for ti in order:
                if not ok[t == 0].any():
                    break
                if not ok[ti]:
                    continue
                got = find(int(ti), 1, set(mm[ti, :r][mm[ti, :r] >= 0].tolist()) if r else set())
                if not got:
                    ok[ti] = False
                    if r == 0:
                        reasons[int(ti)] = REASON_CALIPER if ok[t == 0].any() else REASON_NO_CONTROL_LEFT
                    continue
                mm[ti, r] = got[0]
                for u in (got[0], int(ti)):
                    times[u] += 1
                    if times[u] >= allowed[u]:
                        ok[u] = False
    else:
        for ti in order:
            if ok[ti]:
                got = find(int(ti), ratio, set())
                mm[ti, :len(got)] = got
                if not got:
                    reasons[int(ti)] = REASON_CALIPER
    return mm, reasons
