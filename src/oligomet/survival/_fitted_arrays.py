"""Checks shared by the post-fit array functions (``baseline``, ``zph``) that take a fitted Cox model
as plain arrays: time, event, design matrix and coefficients, plus optional weights."""
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
