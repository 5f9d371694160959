"""Compiled inner loops of predictive mean matching (Numba).

Why hand-written: each missing row needs its h-th nearest donor, found by walking outwards from its
insertion point in the sorted donors (mice's C ``matchindex``). In NumPy that walk had to be spelled as
a stable sort of 2k candidate distances per row, which made n × 2k temporaries and an n × 2k sort at
every draw (about 80% of a chain's time at 15,000 rows); the walk itself reads at most k + 1 donors.

The two other loops replace sorts of every draw by linear passes: :func:`order_ties` puts the shuffled
donors into their (precomputed) groups of equal values, which is what a stable sort of the shuffled donors
does, and :func:`insertion_points` finds the targets' insertion points by one merge of the sorted targets
with the sorted donors, the result of ``np.searchsorted(ysort, target, side="left")``.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def nth_nearest(ysort, target, start, h):  # pragma: no cover - compiled
    """For each target i, the position in ``ysort`` (ascending) of its ``h[i]``-th nearest value (0 =
    nearest), walking out from ``start[i]`` (its left insertion point): the left neighbour is taken
    only when strictly closer, so ties go right, as mice does."""
    n1 = ysort.size
    out = np.empty(target.size, dtype=np.int64)
    for i in range(target.size):
        t = target[i]
        right, left = start[i], start[i] - 1
        pos = right
        for _ in range(h[i] + 1):
            if left >= 0 and (right >= n1 or t - ysort[left] < ysort[right] - t):
                pos = left
                left -= 1
            else:
                pos = right
                right += 1
        out[i] = pos
    return out


@nb.njit(cache=True, nogil=True)
def order_ties(shuffle, group, starts):  # pragma: no cover - compiled
    """The donors in ascending order of value, equal values in the order they appear in ``shuffle``: the
    result of ``shuffle[np.argsort(donor[shuffle], kind="stable")]``, from each donor's ``group`` (its
    run of equal values in ascending order, numbered from 0) and each group's first sorted position."""
    cursor = starts.copy()
    out = np.empty(shuffle.size, dtype=np.int64)
    for i in range(shuffle.size):
        j = shuffle[i]
        g = group[j]
        out[cursor[g]] = j
        cursor[g] += 1
    return out


@nb.njit(cache=True, nogil=True)
def insertion_points(ysort, target, target_order):  # pragma: no cover - compiled
    """``np.searchsorted(ysort, target, side="left")`` (NaN sorting last, as NumPy) by one merge pass:
    ``target_order`` lists the targets in ascending order (NaN last, as ``np.argsort``)."""
    n1 = ysort.size
    out = np.empty(target.size, dtype=np.int64)
    j = 0
    for i in target_order:
        t = target[i]
        if t == t:
            while j < n1 and ysort[j] < t:
                j += 1
        else:   # NaN: after every number, before the first NaN
            while j < n1 and ysort[j] == ysort[j]:
                j += 1
        out[i] = j
    return out
