"""Concordance pairs with subjects not yet at risk, for (start, stop] data.

For counting-process data a pair (i, j) is comparable only when j is at risk at i's event time:
``start_j < t_i <= stop_j``. The usual count (``concordance._counts`` on the stop times) takes every
j with ``stop_j >= t_i``; the pairs with ``start_j >= t_i`` (j enters later, hence also stops later)
are then taken off. They are counted here: a dominance count of the events against the entry times,
split by the risk comparison, with a Fenwick tree over risk ranks. A compiled loop, because each event
queries the rows entered so far (O(n log n); NumPy has no Fenwick tree).
"""
from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def _not_entered(ev_stratum, ev_time, ev_rank, ev_w,  # pragma: no cover - compiled
                 row_stratum, row_start, row_rank, row_w, n_rank):
    """Weighted counts (concordant, discordant, tied.x) of pairs (event i, row j) in the same stratum with
    ``start_j >= t_i``. Events sorted by (stratum, time descending), rows by (stratum, start descending)."""
    tree = np.zeros(n_rank + 1)
    equal = np.zeros(n_rank)
    conc = disc = tied = 0.0
    p = 0
    n_rows = row_start.size
    inserted = np.empty(n_rows, dtype=np.int64)
    n_ins = 0
    stratum = -1
    total = 0.0
    for i in range(ev_time.size):
        if ev_stratum[i] != stratum:                 # new stratum: empty the tree of the previous one
            for q in range(n_ins):
                k = inserted[q]
                wq = -row_w[k]
                equal[row_rank[k]] += wq
                pos = row_rank[k] + 1
                while pos <= n_rank:
                    tree[pos] += wq
                    pos += pos & (-pos)
            n_ins = 0
            total = 0.0
            stratum = ev_stratum[i]
            while p < n_rows and row_stratum[p] < stratum:
                p += 1
        while p < n_rows and row_stratum[p] == stratum and row_start[p] >= ev_time[i]:
            wq = row_w[p]
            equal[row_rank[p]] += wq
            total += wq
            pos = row_rank[p] + 1
            while pos <= n_rank:
                tree[pos] += wq
                pos += pos & (-pos)
            inserted[n_ins] = p
            n_ins += 1
            p += 1
        below = 0.0
        pos = ev_rank[i]                             # ranks 0 .. rank-1 are below
        while pos > 0:
            below += tree[pos]
            pos -= pos & (-pos)
        eq = equal[ev_rank[i]]
        wi = ev_w[i]
        conc += wi * below
        tied += wi * eq
        disc += wi * (total - below - eq)
    return conc, disc, tied


def not_entered_counts(t, e, start, risk_rank, n_rank, s, w) -> np.ndarray:
    """(concordant, discordant, tied.x) over pairs whose second member had not entered at the event time."""
    ev = np.flatnonzero(e)
    ev = ev[np.lexsort((-t[ev], s[ev]))]
    rows = np.lexsort((-start, s))
    c = _not_entered(s[ev].astype(np.int64), t[ev], risk_rank[ev].astype(np.int64), w[ev],
                     s[rows].astype(np.int64), start[rows], risk_rank[rows].astype(np.int64), w[rows], n_rank)
    return np.array(c)
