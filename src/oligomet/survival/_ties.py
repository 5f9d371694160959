"""Deterministic merging of floating-point near-ties, as R's ``survival::aeqSurv``.

Times that differ by less than ``sqrt(machine epsilon)`` (absolutely, or relative
to the mean absolute time) are treated as tied and replaced by the smallest time
of their run. R applies this in ``survfit``, ``coxph``, ``survdiff`` and
``concordance`` since survival 2.39; times computed as differences of dates in
days/30.4375 otherwise produce spurious distinct event times. We never jitter.
"""
from __future__ import annotations

import numpy as np

TOLERANCE = float(np.sqrt(np.finfo(float).eps))


def merge_near_ties(time: np.ndarray, tolerance: float = TOLERANCE) -> np.ndarray:
    """Return ``time`` with near-tied values replaced by the first value of their run."""
    t = np.asarray(time, dtype=float)
    if t.size and tolerance < 1:
        # Whole-number times (days) differ by at least 1, which counts as a near-tie only if the mean
        # time exceeds 1/tolerance (~6.7e7); then no sort is needed to know nothing merges.
        big = np.abs(t).max()
        if np.isfinite(big) and big * tolerance < 1 and np.array_equal(t, np.round(t)):
            return t
    finite = t[np.isfinite(t)]
    if finite.size < 2:
        return t
    y, inverse = np.unique(finite, return_inverse=True)
    if y.size < 2:
        return t
    dy = np.diff(y)
    scale = np.mean(np.abs(y))
    tied = (dy <= tolerance) | ((dy / scale) <= tolerance if scale > 0 else False)
    if not tied.any():
        return t
    starts = np.concatenate(([True], ~tied))
    run = np.cumsum(starts) - 1                     # run of each distinct value
    out = t.copy()
    # via the unique values' inverse map: a binary search per row is ~3× slower at 10⁶ rows
    out[np.isfinite(t)] = y[starts][run[inverse.ravel()]]
    return out


def merge_near_ties_start_stop(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Near-ties merged over the start and stop times together, as R's ``aeqSurv`` on ``Surv(start, stop, event)``."""
    merged = merge_near_ties(np.concatenate([start, stop]))
    return merged[:start.size], merged[start.size:]
