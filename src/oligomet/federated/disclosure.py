"""Disclosure control, as DataSHIELD and the national registries apply it.

* Every count that leaves a site is 0 or at least the site's ``min_count`` (default 5).
* Per-time tables: in exact mode (a site must opt in with ``exact_times: true``) they hold the site's
  exact event and censoring times and their counts, which can be 1: that is what makes the federated
  Kaplan–Meier, log-rank and Cox identical to the pooled ones, and it is documented in
  ``docs/federated.md``. In the privacy-preserving mode (the default) a site first rounds every time
  *up* to its declared grid (e.g. whole months) and then merges adjacent grid cells forward until every
  emitted cell holds 0 or at least ``min_count`` events and at least ``min_count`` patients leaving the
  risk set (events + censorings). Messages carry ``events`` and ``leaving``; the censorings are their
  difference and can be small, like the excluded counts of a flow diagram (a derived difference, as in
  DataSHIELD). No exact event time and no sent count under the threshold leaves the site then.
"""
from __future__ import annotations

import numpy as np


class SmallCell(Exception):
    """A cohort, group or block below the minimum cell count: the site refuses it."""


def _ok(x: float, k: int) -> bool:
    return x == 0 or x >= k


def require_count(n: int, k: int, what: str) -> int:
    if 0 < n < k:
        # the refusal goes to the centre: it must not carry the small count itself
        raise SmallCell(f"{what} has between 1 and {k - 1} patients, fewer than this site's minimum cell count "
                        f"of {k}")
    return int(n)


def grid_times(time: np.ndarray, event: np.ndarray, grid: float, k: int, what: str) -> np.ndarray:
    """Each row's time rounded up to ``grid`` and then moved to the end of its merged cell, so that every
    distinct output time carries, for each event code > 0 (a cause), 0 or >= ``k`` events, and >= ``k``
    rows in all (see module doc). ``event`` holds 0 (censored) or the cause code."""
    time = np.asarray(time, dtype=float)
    event = np.asarray(event, dtype=float)
    rounded = np.ceil(time / grid) * grid
    cells, inv = np.unique(rounded, return_inverse=True)
    causes = [c for c in np.unique(event) if c > 0]
    dc = np.column_stack([np.bincount(inv, weights=(event == c).astype(float), minlength=cells.size)
                          for c in causes]) if causes else np.zeros((cells.size, 1))
    d = dc.sum(axis=1)
    c = np.bincount(inv, minlength=cells.size) - d
    out_time = np.empty(cells.size)
    start, pend_d, pend_c = 0, np.zeros(dc.shape[1]), 0.0
    groups: list[tuple[int, int]] = []          # [start, stop) ranges of cells merged into one

    def ok(pd_, pc_):
        return all(_ok(x, k) for x in pd_) and pd_.sum() + pc_ >= k

    for i in range(cells.size):
        pend_d = pend_d + dc[i]
        pend_c += c[i]
        if ok(pend_d, pend_c):
            groups.append((start, i + 1))
            start, pend_d, pend_c = i + 1, np.zeros(dc.shape[1]), 0.0
    if start < cells.size:                      # a short tail: merge it backwards into earlier cells
        stop = cells.size
        while not ok(pend_d, pend_c):
            if not groups:
                raise SmallCell(f"{what}: {int(d.sum())} event(s) among {int(d.sum() + c.sum())} patients cannot "
                                f"be shown in cells of at least {k}")
            s0, _ = groups.pop()
            pend_d = pend_d + dc[s0:start].sum(axis=0)
            pend_c += c[s0:start].sum()
            start = s0
        groups.append((start, stop))
    for s0, s1 in groups:
        out_time[s0:s1] = cells[s1 - 1]
    return out_time[inv]


def check_message_counts(message, k: int, path: str = "") -> list[str]:
    """Every integer-valued count under a key of :data:`COUNT_KEYS` (``n``, ``events``, ``leaving``...) that is
    between 0 and ``k`` (exclusive): the paths of the offenders (used by the tests and by each node
    before it sends)."""
    bad: list[str] = []
    if isinstance(message, dict):
        for key, v in message.items():
            if key in COUNT_KEYS and isinstance(v, (int, float)) and 0 < v < k:
                bad.append(f"{path}.{key}={v}")
            elif key in COUNT_KEYS and isinstance(v, dict) and all(isinstance(x, (int, float)) for x in v.values()):
                bad += [f"{path}.{key}.{k2}={x}" for k2, x in v.items() if 0 < x < k]
            elif key in COUNT_KEYS and isinstance(v, list):
                flat = [(f"[{i}]", x) for i, x in enumerate(v) if not isinstance(x, list)] + \
                       [(f"[{i}][{j}]", y) for i, x in enumerate(v) if isinstance(x, list) for j, y in enumerate(x)]
                bad += [f"{path}.{key}{at}={x}" for at, x in flat if isinstance(x, (int, float)) and 0 < x < k]
            else:
                bad += check_message_counts(v, k, f"{path}.{key}")
    elif isinstance(message, list):
        for i, v in enumerate(message):
            bad += check_message_counts(v, k, f"{path}[{i}]")
    return bad


#: Keys under which a message carries patient counts (see ``docs/federated.md``).
COUNT_KEYS = {"n", "n_remaining", "events", "leaving", "count", "n_events", "events_by_cause", "counts", "missing",
              "n_known", "grades"}
