"""Helpers shared by the post-fit array functions (``baseline``, ``zph``) that take a fitted Cox model
as plain arrays: input checks, and the (stratum, time) blocks of the sorted rows."""
from __future__ import annotations

import numpy as np


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
    if ties not in ("efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")
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
