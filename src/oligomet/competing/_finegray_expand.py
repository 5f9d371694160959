"""The Fine–Gray counting-process data of R's ``survival::finegray`` (survival 3.5-3), vectorised.

Weighted Fine–Gray (``fine_gray(weights=)``) is fitted as R users do it: ``finegray`` expands the
data, then ``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt * w, cluster = id)``.
The expansion, as ``finegray`` and its C routine (right-censored data, one stratum):

* ``G`` is the Kaplan–Meier of the censorings, unweighted, with failures placed just before
  censorings at the same time (so a subject failing at ``c`` is not at risk of censoring at ``c``);
* cut points: every censoring time, then the largest time; interval ``j`` is ``(cut[j-1], cut[j]]``,
  its probability ``G`` just after ``cut[j-1]`` (1 for the first);
* a subject failing from a competing cause at ``t`` stays in the risk set: its own row is extended to
  the first cut point >= t (weight 1), then one row per later interval that holds a failure time of
  the cause of interest, weighted ``G(interval) / G(t's interval)``. Intervals without such a failure
  are skipped (they change no risk set).

Every other subject keeps one row ``(zero, t]``; only failures of the cause of interest have
``fgstatus = 1``. ``zero`` is 0 when all times are positive, ``2 min(t) - 1`` otherwise, as R.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


#: The expanded data is fitted by a Cox model; beyond this many rows the fit takes many minutes and
#: gigabytes (20,000 patients with continuous times give 8.4 million rows and ~50 s), so refuse early.
MAX_ROWS = 50_000_000


@dataclass(frozen=True)
class Expanded:
    row: np.ndarray      # position of the subject (input row) of each output row
    start: np.ndarray
    stop: np.ndarray
    status: np.ndarray   # 1 = failure of the cause of interest
    weight: np.ndarray   # finegray's fgwt (multiply by the case weights)


def expand(t: np.ndarray, status: np.ndarray, cause: int, cencode: int) -> Expanded:
    """``t`` (already merged near ties, any order), ``status`` codes; returns finegray's rows, grouped by subject."""
    n = t.size
    censored = status == cencode
    # censoring KM: at risk at c are those with t > c, and those censored at c
    ctime = np.unique(t[censored])
    t_sorted = np.sort(t)
    later = n - np.searchsorted(t_sorted, ctime, side="right")
    ncens = np.bincount(np.searchsorted(ctime, t[censored]), minlength=ctime.size).astype(float)
    g = np.cumprod(1.0 - ncens / (later + ncens))
    cut = np.concatenate((ctime, [t.max()])) if n else np.array([0.0])
    prob = np.concatenate(([1.0], g))
    # interval of every failure time of the cause: the one that ends at the first cut point >= u
    keep = np.zeros(cut.size, dtype=bool)
    keep[np.searchsorted(cut, np.unique(t[status == cause]), side="left")] = True
    keep[0] = False                        # nobody is extended into the first interval
    kept = np.flatnonzero(keep)

    zero = 0.0 if n and t.min() > 0 else 2.0 * float(t.min(initial=0.0)) - 1.0
    extended = ~censored & (status != cause)
    j0 = np.searchsorted(cut, t, side="left")            # interval each subject's time lies in
    stop0 = np.where(extended, cut[np.minimum(j0, cut.size - 1)], t)
    # later kept intervals of each extended subject
    first_extra = np.searchsorted(kept, j0, side="right")
    n_extra = np.where(extended, kept.size - first_extra, 0)
    total = n + int(n_extra.sum())
    if total > MAX_ROWS:
        raise ValueError(f"the weighted Fine–Gray model would expand {n:,} rows to {total:,} (one row per competing "
                         f"failure and later interval holding a failure of the cause, as R's finegray); at most "
                         f"{MAX_ROWS:,} are fitted. Round the times (e.g. to whole days or months) so that fewer "
                         f"distinct failure and censoring times remain, or fit the model on a sample")
    per_subject = 1 + n_extra
    offsets = np.concatenate(([0], np.cumsum(per_subject)[:-1]))
    row = np.repeat(np.arange(n), per_subject)
    start = np.full(total, zero)
    stop = np.empty(total)
    weight = np.ones(total)
    fstatus = np.zeros(total, dtype=np.int64)
    stop[offsets] = stop0
    fstatus[offsets] = (status == cause).astype(np.int64)
    extra = np.ones(total, dtype=bool)
    extra[offsets] = False
    if extra.any():
        subj = row[extra]
        rank = np.arange(total)[extra] - offsets[subj] - 1          # 0, 1, ... within the subject
        j = kept[first_extra[subj] + rank]
        start[extra] = cut[j - 1]
        stop[extra] = cut[j]
        weight[extra] = prob[j] / prob[j0[subj]]
    return Expanded(row=row, start=start, stop=stop, status=fstatus, weight=weight)
