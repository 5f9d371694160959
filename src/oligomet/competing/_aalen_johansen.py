"""Array core of the cumulative incidence (Aalen–Johansen) estimate with cmprsk's variance.

This is our NumPy formulation of the algorithm in cmprsk's Fortran routine ``cinc``
(cmprsk 2.2-11, ``src/cincsub.f``): the estimate jumps by ``S(t-) * d_k(t) / n(t)`` at each
time with ``d_k`` failures of cause k, where ``S`` is the all-cause Kaplan–Meier; the
variance is Gray's delta-method estimate, accumulated in three running sums (cmprsk's
``v1, v2, v3``) over *all* failure times, and recorded only at times where cause k fails.
Times are compared for exact equality (after near-tie merging by the caller); tied
failures of several causes at one time are handled together, never jittered.

The loop in ``cinc`` is sequential, but every quantity in it is a cumulative sum or product
over the distinct times, so it is computed here with ``np.cumsum``/``np.cumprod`` over all
causes at once: O(n log n) for the sort, O(n_times * n_causes) after that.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GroupCurves:
    """Per distinct time of one group (ascending): counts and, per cause (columns), CIF and variance."""

    time: np.ndarray        # (T,)
    n_risk: np.ndarray      # (T,) number with time >= t
    n_event: np.ndarray     # (T, C) failures of each cause at t
    n_censor: np.ndarray    # (T,)
    estimate: np.ndarray    # (T, C) CIF just after t (right-continuous)
    variance: np.ndarray    # (T, C) cmprsk's variance, carried forward between failures of the cause


def _t5(d: np.ndarray, rs: np.ndarray) -> np.ndarray:
    """cmprsk's tie correction 1 - (d-1)/(n-1) for d > 1 tied failures (1 otherwise)."""
    out = np.ones_like(rs, dtype=float)
    many = d > 1
    out[many] = 1.0 - (d[many] - 1.0) / (rs[many] - 1.0)
    return out


def distinct_times(time: np.ndarray):
    """``np.unique(time, return_inverse=True)``, in O(n) when ``time`` is already sorted (our callers sort once)."""
    if time.size and np.all(time[1:] >= time[:-1]):
        new = np.empty(time.size, dtype=bool)
        new[0] = True
        np.not_equal(time[1:], time[:-1], out=new[1:])
        return time[new], np.cumsum(new) - 1
    return np.unique(time, return_inverse=True)


def count_table(inv: np.ndarray, n_times: int, group: np.ndarray, n_groups: int, col: np.ndarray,
                n_cols: int) -> np.ndarray:
    """Counts per (distinct time, group, column) as a float (T, G, K) array, in one ``bincount`` pass.

    ``inv``: distinct-time index of each row; ``group``: 0..G-1; ``col``: 0 = censored, 1..K-1 = causes.
    """
    key = (inv * n_groups + group) * n_cols + col
    return np.bincount(key, minlength=n_times * n_groups * n_cols).reshape(n_times, n_groups, n_cols).astype(float)


def group_curves(times: np.ndarray, counts: np.ndarray) -> GroupCurves:
    """CIF of every cause for one group from its counts per distinct time.

    ``times`` (T,) ascending; ``counts`` (T, C+1): column 0 censored, 1..C the causes. Times where
    the group has no row are dropped here.
    """
    at_t = counts.sum(axis=1)
    present = at_t > 0
    ut, counts, at_t = times[present], counts[present], at_t[present]
    T, C = ut.size, counts.shape[1] - 1
    n_censor = counts[:, 0]
    d = counts[:, 1:]                       # (T, C)
    nd = d.sum(axis=1)                      # all-cause failures
    rs = at_t[::-1].cumsum()[::-1]          # number at risk at t (time >= t)

    # all-cause KM: fk before t, fkn after t
    fkn = np.cumprod((rs - nd) / rs)
    fk = np.concatenate(([1.0], fkn[:-1]))

    F = np.cumsum(fk[:, None] * d / rs[:, None], axis=0)   # (T, C)

    # Gray's variance: for cause k, d1 = d[:, k], d2 = nd - d1 (competing failures at t).
    event = nd > 0
    safe_fkn = np.where(fkn > 0, fkn, 1.0)
    t3_all = np.where(fkn > 0, 1.0 / safe_fkn, 0.0)
    var = np.zeros((T, C))
    for k in range(C):
        d1 = d[:, k]
        d2 = nd - d1
        Fk = F[:, k]
        # contribution of competing failures (skipped once the all-cause KM reaches 0)
        use2 = event & (d2 > 0) & (fkn > 0)
        t6 = fk * fk * _t5(d2, rs) * d2 / (rs * rs)
        t4 = Fk * t3_all
        w2 = np.where(use2, t6, 0.0)
        v1 = t4 * t4 * w2
        v2 = t3_all * t4 * w2
        v3 = t3_all * t3_all * w2
        # contribution of failures of cause k
        use1 = event & (d1 > 0)
        t6 = fk * fk * _t5(d1, rs) * d1 / (rs * rs)
        t4 = 1.0 + t3_all * Fk
        w1 = np.where(use1, t6, 0.0)
        v1 = v1 + t4 * t4 * w1
        v2 = v2 + t3_all * t4 * w1
        v3 = v3 + t3_all * t3_all * w1
        v1, v2, v3 = np.cumsum(v1), np.cumsum(v2), np.cumsum(v3)
        rec = v1 + Fk * Fk * v3 - 2.0 * Fk * v2
        # recorded only where cause k fails, carried forward in between (cmprsk's step output)
        idx = np.where(use1, np.arange(T), 0)
        np.maximum.accumulate(idx, out=idx)
        var[:, k] = np.where(np.maximum.accumulate(use1), rec[idx], 0.0)
    return GroupCurves(time=ut, n_risk=rs, n_event=d, n_censor=n_censor, estimate=F, variance=var)
