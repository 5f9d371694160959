"""Helpers shared by the post-fit array functions (``baseline``, ``zph``) that take a fitted Cox model
as plain arrays: input checks, and the (stratum, time) blocks of the sorted rows."""
from __future__ import annotations

import numpy as np
from .._validation import TIES, require_choice


def fitted_arrays(time, event, X, beta, weights, ties: str):
    """Return ``(t, e, X, beta, w)`` as float arrays (X two-dimensional), or raise ValueError."""
    t = np.asarray(time, dtype=float).ravel()
    n = t.size
    e = np.asarray(event, dtype=float).ravel()
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    beta = np.asarray(beta, dtype=float).ravel()
    if e.size != n or X.shape[0] != n:
        raise ValueError(f"time ({n}), event ({e.size}) and X ({X.shape[0]} rows) must have the same length")
    if beta.size != X.shape[1]:
        raise ValueError(f"beta has {beta.size} values but X has {X.shape[1]} columns")
    if not np.isin(e, (0.0, 1.0)).all():
        raise ValueError("event must be 0/1")
    require_choice("ties", ties, TIES)
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    if w.size != n:
        raise ValueError("weights must have one value per row")
    return t, e, X, beta, w


def tie_blocks(strata: np.ndarray, time: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For rows sorted by (stratum, time): flags of the first row of each stratum and of each
    (stratum, time) block, the units in which risk sets and tied deaths are counted."""
    n = time.size
    new_s = np.empty(n, dtype=bool)
    new_s[:1] = True
    new_s[1:] = strata[1:] != strata[:-1]
    new_b = new_s.copy()
    new_b[1:] |= time[1:] != time[:-1]
    return new_s, new_b


def last_at_or_before(key_strata: np.ndarray, key_time: np.ndarray, q_strata: np.ndarray,
                      q_time: np.ndarray) -> np.ndarray:
    """For keys sorted by (stratum, time): the index of the last key of each query's stratum with
    time <= the query's time, or -1. Vectorised (one sort of all the times), so many strata cost nothing
    extra: used to find the last event time before a (start, stop] row's entry."""
    if key_time.size == 0:
        return np.full(q_time.size, -1, dtype=np.int64)
    _, rank = np.unique(np.concatenate([key_time, q_time]), return_inverse=True)
    rank = rank.ravel().astype(np.int64)
    m = int(rank.max()) + 1
    ks = np.asarray(key_strata, dtype=np.int64)
    qs = np.asarray(q_strata, dtype=np.int64)
    idx = np.searchsorted(ks * m + rank[:key_time.size], qs * m + rank[key_time.size:], side="right") - 1
    ok = idx >= 0
    ok[ok] &= ks[idx[ok]] == qs[ok]
    return np.where(ok, idx, -1)


class RiskBlocks:
    """The (stratum, time) blocks of rows sorted by (stratum, time), and the risk-set arithmetic on them that
    the post-fit code shares: per-block sums, cumulative sums within a stratum (backward: the risk set at a
    block is every row of its stratum at or after it; forward: what has accumulated up to it), delayed entry
    of (start, stop] rows, and the Efron steps of tied deaths.

    ``strata``, ``time`` and ``start`` (or None) are in the sorted order of the rows."""

    def __init__(self, strata: np.ndarray, time: np.ndarray, start: np.ndarray | None = None):
        _, new_b = tie_blocks(strata, time)
        self.bstart = np.flatnonzero(new_b)
        self.nb = self.bstart.size
        self.block_of_row = np.cumsum(new_b) - 1
        self.stratum = strata[self.bstart]
        self.time = time[self.bstart]
        first = np.concatenate(([True], self.stratum[1:] != self.stratum[:-1]))
        self.stratum_of_block = np.cumsum(first) - 1
        self.sstart = np.flatnonzero(first)                  # first block of each stratum
        self.send = np.append(self.sstart[1:], self.nb)      # first block of the next stratum
        # (start, stop] rows: the last block at or before each row's entry (-1: entered before the first block);
        # such a row is not at risk at those blocks
        self.entry = None if start is None else last_at_or_before(self.stratum, self.time, strata, start)

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-block sums of per-row ``values`` (rows first axis)."""
        return np.add.reduceat(values, self.bstart, axis=0)

    def rev_within(self, a: np.ndarray) -> np.ndarray:
        """Backward cumulative sums of per-block ``a`` within each stratum."""
        c = np.cumsum(a[::-1], axis=0)[::-1]
        tail = np.concatenate((c, np.zeros((1,) + a.shape[1:])))[self.send]
        return c - tail[self.stratum_of_block]

    def fwd_within(self, a: np.ndarray) -> np.ndarray:
        """Forward cumulative sums of per-block ``a`` within each stratum."""
        c = np.cumsum(a, axis=0)
        head = np.concatenate((np.zeros((1,) + a.shape[1:]), c))[self.sstart]
        return c - head[self.stratum_of_block]

    def at_risk(self, values: np.ndarray) -> np.ndarray:
        """Σ of per-row ``values`` over the risk set of each block: rows with stop >= its time, less those not
        yet entered."""
        total = self.rev_within(self.sums(values))
        if self.entry is not None:
            entered = self.entry >= 0
            late = np.zeros((self.nb,) + values.shape[1:])
            np.add.at(late, self.entry[entered], values[entered])
            total = total - self.rev_within(late)
        return total

    def before_entry(self, per_block_cumulative: np.ndarray) -> np.ndarray:
        """For each row, the forward cumulative value (last axis: blocks) at its entry block (0 for rows that
        entered before the first block, and for every row without (start, stop] data)."""
        if self.entry is None:
            return np.zeros(per_block_cumulative.shape[:-1] + (self.block_of_row.size,))
        return np.where(self.entry >= 0, per_block_cumulative[..., np.maximum(self.entry, 0)], 0.0)

    @staticmethod
    def efron_steps(deaths_per_block: np.ndarray, efron: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """One row per (event block, tied death j = 0..d-1): ``(event blocks, block of each step, j/d (the share
        of the tied deaths already taken out of the risk set; 0 for Breslow), d of each step)``."""
        ev = np.flatnonzero(deaths_per_block > 0)
        d = deaths_per_block[ev]
        blk = np.repeat(ev, d)
        j = np.arange(blk.size) - np.repeat(np.cumsum(d) - d, d)
        dd = np.repeat(d, d).astype(float)
        return ev, blk, (j / dd if efron else np.zeros(blk.size)), dd
