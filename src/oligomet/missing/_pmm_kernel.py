"""Compiled inner loops of predictive mean matching (Numba).

Why hand-written: each missing row needs its h-th nearest donor, found by walking outwards from its
insertion point in the sorted donors (mice's C ``matchindex``). In NumPy that walk had to be spelled as
a stable sort of 2k candidate distances per row, which made n × 2k temporaries and an n × 2k sort at
every draw (about 80% of a chain's time at 15,000 rows); the walk itself reads at most k + 1 donors.

The other loops replace sorts of every draw by linear passes: :func:`order_ties` puts the shuffled
donors into their (precomputed) groups of equal values, which is what a stable sort of the shuffled donors
does, and :func:`insertion_points` finds the targets' insertion points by one merge of the sorted targets
with the sorted donors, the result of ``np.searchsorted(ysort, target, side="left")``. With the donors'
:func:`bucket_starts` (made once per set of donors) :func:`bucketed_insertion_points` finds the same
positions without sorting the targets.
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True, inline="always")
def _nth_from(ysort, t, start, h):  # pragma: no cover - compiled
    """The position of the ``h``-th nearest value (0 = nearest) to ``t`` in ``ysort``, walking out from ``start``."""
    n1 = ysort.size
    right, left = start, start - 1
    pos = right
    for _ in range(h + 1):
        if left >= 0 and (right >= n1 or t - ysort[left] < ysort[right] - t):
            pos = left
            left -= 1
        else:
            pos = right
            right += 1
    return pos


@nb.njit(cache=True, nogil=True)
def nth_nearest(ysort, target, start, h):  # pragma: no cover - compiled
    """For each target i, the position in ``ysort`` (ascending) of its ``h[i]``-th nearest value (0 =
    nearest), walking out from ``start[i]`` (its left insertion point): the left neighbour is taken
    only when strictly closer, so ties go right, as mice does."""
    out = np.empty(target.size, dtype=np.int64)
    for i in range(target.size):
        out[i] = _nth_from(ysort, target[i], start[i], h[i])
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


@nb.njit(cache=True, nogil=True, inline="always")
def _bucket(v, lo, scale, n_buckets):  # pragma: no cover - compiled
    """The bucket of a value >= ``lo``: floor((v − lo) · scale), at most ``n_buckets − 1``. Non-decreasing in
    ``v`` (a difference and a product by a positive number, each rounded, never reverse an order)."""
    x = (v - lo) * scale
    return n_buckets - 1 if x >= n_buckets - 1 else int(x)


@nb.njit(cache=True, nogil=True)
def bucket_starts(ysort, n_finite, lo, scale, n_buckets):  # pragma: no cover - compiled
    """``out[b]`` = the first position of the ascending, NaN-free ``ysort[:n_finite]`` whose bucket is >= b
    (``n_finite`` for none), for b = 0 … n_buckets."""
    out = np.empty(n_buckets + 1, dtype=np.int64)
    b = 0
    for j in range(n_finite):
        fb = _bucket(ysort[j], lo, scale, n_buckets)
        while b <= fb:
            out[b] = j
            b += 1
    while b <= n_buckets:
        out[b] = n_finite
        b += 1
    return out


@nb.njit(cache=True, nogil=True, inline="always")
def _bucketed_insertion_point(ysort, t, starts, n_finite, lo, scale):  # pragma: no cover - compiled
    """``np.searchsorted(ysort, t, side="left")`` (NaN last) from the donors' :func:`bucket_starts`: a donor in
    a lower bucket than the target's is smaller than it and one in a higher bucket is larger, so the first
    donor not smaller than the target lies between its bucket's start and the next bucket's; a binary
    search there finds it."""
    if t != t:                          # NaN: after every number, before the first NaN
        return n_finite
    if t < lo:
        return 0
    b = _bucket(t, lo, scale, starts.size - 1)
    left, right = starts[b], starts[b + 1]
    while left < right:                 # first position in [left, right) not below t, else right
        mid = (left + right) >> 1
        if ysort[mid] < t:
            left = mid + 1
        else:
            right = mid
    return left


@nb.njit(cache=True, nogil=True)
def bucketed_insertion_points(ysort, target, starts, n_finite, lo, scale):  # pragma: no cover - compiled
    """:func:`insertion_points` from the donors' :func:`bucket_starts`, without sorting the targets."""
    out = np.empty(target.size, dtype=np.int64)
    for i in range(target.size):
        out[i] = _bucketed_insertion_point(ysort, target[i], starts, n_finite, lo, scale)
    return out


@nb.njit(cache=True, nogil=True)
def bucketed_nth_nearest(ysort, target, h, starts, n_finite, lo, scale):  # pragma: no cover - compiled
    """``nth_nearest(ysort, target, bucketed_insertion_points(...), h)`` in one pass over the targets."""
    out = np.empty(target.size, dtype=np.int64)
    for i in range(target.size):
        t = target[i]
        out[i] = _nth_from(ysort, t, _bucketed_insertion_point(ysort, t, starts, n_finite, lo, scale), h[i])
    return out
