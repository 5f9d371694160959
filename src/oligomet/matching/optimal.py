"""Optimal pair (1:k) matching on the distance, as MatchIt's ``method = "optimal"``.

MatchIt hands the problem to optmatch's ``pairmatch``, a minimum-cost flow: every treated unit
gets ``k`` distinct controls and the sum of the |distance differences| over all pairs is as small
as possible. It is the same problem as a rectangular assignment with each treated unit's row
repeated ``k`` times, which SciPy's ``linear_sum_assignment`` (a Jonker-Volgenant shortest
augmenting path solver) solves exactly; per exact stratum, since pairs never cross strata.

Optimal matchings are not unique when distances tie, so the pairs can differ from optmatch's
while the total distance is the same. With fewer controls than ``k`` per treated unit, as many
slots as there are controls are filled (those left empty are reported as "no control left").
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from .greedy import REASON_DISCARDED, REASON_NO_CONTROL_LEFT, REASON_NO_CONTROL_STRATUM


def optimal_match(dist: np.ndarray, t: np.ndarray, ratio: int, strata: np.ndarray | None,
                  eligible: np.ndarray) -> tuple[np.ndarray, dict[int, str]]:
    """``mm`` (n, ratio) of matched control row positions (-1 = none) and reasons for unmatched treated."""
    n = len(dist)
    mm = np.full((n, ratio), -1, dtype=np.int64)
    reasons = {int(r): REASON_DISCARDED for r in np.flatnonzero((t == 1) & ~eligible)}
    keys = np.zeros(n, dtype=np.int64) if strata is None else np.unique(strata, return_inverse=True)[1]
    for key in np.unique(keys[eligible]):
        rows = np.flatnonzero(eligible & (keys == key))
        tr, cr = rows[t[rows] == 1], rows[t[rows] == 0]
        if not len(tr):
            continue
        if not len(cr):
            reasons.update({int(r): REASON_NO_CONTROL_STRATUM for r in tr})
            continue
        slots = np.repeat(tr, ratio)  # treated unit i fills slots i*k ... i*k + k-1
        cost = np.abs(dist[slots][:, None] - dist[cr][None, :])
        s_idx, c_idx = linear_sum_assignment(cost)
        got = np.full(len(slots), -1, dtype=np.int64)
        got[s_idx] = cr[c_idx]
        per_t = got.reshape(len(tr), ratio)
        # each treated unit's controls, nearest first (ties in data order), filled slots first
        d = np.where(per_t >= 0, np.abs(dist[np.clip(per_t, 0, None)] - dist[tr][:, None]), np.inf)
        order = np.lexsort((np.where(per_t >= 0, per_t, n), d), axis=1)
        mm[tr] = np.take_along_axis(per_t, order, axis=1)
        for r in tr[(per_t < 0).all(axis=1)]:
            reasons[int(r)] = REASON_NO_CONTROL_LEFT
    return mm, reasons


def total_distance(mm: np.ndarray, dist: np.ndarray) -> float:
    """Sum of |distance differences| over all matched pairs of ``mm``."""
    t_rows, k = np.nonzero(mm >= 0)
    return float(np.abs(dist[t_rows] - dist[mm[t_rows, k]]).sum())
