"""Subclassification on the propensity score, as MatchIt's ``method = "subclass"``.

Units are put into ``k`` subclasses by quantiles of the distance (among the treated for the
ATT, the controls for the ATC, everyone for the ATE; R's ``quantile`` type 7), as
``findInterval(..., all.inside = TRUE)``. A subclass that lacks treated or control units is
filled by "scooting" the nearest unit of that group from a neighbouring subclass (MatchIt's
``subclass_scootC``), so every subclass holds at least ``min_n`` of each. Subclasses are then
numbered 1, 2, ... in order. Weights (ATT): 1 for treated, ``n_treated(s) / n_control(s)`` for
the controls of subclass ``s``; then, as ``matchit(normalize = TRUE)``, the non-zero weights of
each group are rescaled to average 1.
"""
from __future__ import annotations

import warnings

import numpy as np


def subclassify(dist: np.ndarray, t: np.ndarray, eligible: np.ndarray, n_subclass: int, min_n: int,
                estimand: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(subclass per row, 0 = none; weights; the cut points) for the distance ``dist``."""
    probs = np.linspace(0.0, 1.0, n_subclass + 1)
    base = {"ATT": dist[t == 1], "ATC": dist[t == 0]}.get(estimand, dist)
    cuts = np.quantile(base, probs)  # R's quantile type 7
    sub = np.zeros(len(dist), dtype=np.int64)
    inside = np.searchsorted(cuts, dist[eligible], side="right")  # findInterval
    sub[eligible] = np.clip(inside, 1, len(cuts) - 1)  # all.inside = TRUE
    if len(np.unique(sub[eligible])) < n_subclass:
        warnings.warn("due to discreteness in the distance measure, fewer subclasses were generated than were "
                      "requested", UserWarning, stacklevel=4)
    if min_n == 0:
        both = np.intersect1d(sub[eligible & (t == 1)], sub[eligible & (t == 0)])
        sub[eligible & ~np.isin(sub, both)] = 0
    else:
        sub[eligible] = _scoot(sub[eligible], t[eligible], dist[eligible], min_n)
    present = np.unique(sub[sub > 0])
    sub[sub > 0] = np.searchsorted(present, sub[sub > 0]) + 1  # renumber 1..k
    return sub, _weights(sub, t, estimand), cuts


def _weights(sub: np.ndarray, t: np.ndarray, estimand: str) -> np.ndarray:
    k = int(sub.max())
    n1 = np.bincount(sub[(t == 1) & (sub > 0)], minlength=k + 1).astype(float)
    n0 = np.bincount(sub[(t == 0) & (sub > 0)], minlength=k + 1).astype(float)
    w = np.zeros(len(sub))
    i1, i0 = (t == 1) & (sub > 0), (t == 0) & (sub > 0)
    if not i1.any() or not i0.any():
        raise ValueError("subclass: no subclass holds both treated and control units")
    with np.errstate(divide="ignore", invalid="ignore"):
        if estimand == "ATT":
            w[i1], w[i0] = 1.0, (n1 / n0)[sub[i0]]
        elif estimand == "ATC":
            w[i1], w[i0] = (n0 / n1)[sub[i1]], 1.0
        else:
            w[i1], w[i0] = 1.0 + (n0 / n1)[sub[i1]], 1.0 + (n1 / n0)[sub[i0]]
    for g in (0, 1):  # matchit(normalize = TRUE): non-zero weights of each group average 1
        m = (t == g) & (w > 0)
        w[m] *= m.sum() / w[m].sum()
    return w


def _scoot(sub: np.ndarray, t: np.ndarray, x: np.ndarray, min_n: int) -> np.ndarray:
    """Move units between neighbouring subclasses until each holds ``min_n`` treated and controls.

    MatchIt's ``subclass_scootC``: the first subclass short of a group takes the unit of that group
    whose distance is nearest to it from the nearest non-empty subclass on one side; the side is
    the left unless the surplus (units beyond one) weighted by 1 / signed subclass distance says
    right. Each round of ``min_n`` then lowers every count by one, so the next round looks for
    the next unit.
    """
    levels = np.unique(sub)
    nsub = len(levels)
    counts = np.array([[np.sum((t == g) & (sub == s)) for s in levels] for g in (0, 1)])
    if (counts >= min_n).all():
        return sub
    if (counts.sum(axis=1) < nsub * min_n).any():
        raise ValueError(f"subclass: not enough units to fit {min_n} treated and control unit(s) in each subclass")
    code = np.searchsorted(levels, sub)
    for g in np.unique(t):  # each group on its own: moving treated units never changes control counts
        rows = np.flatnonzero(t == g)
        tab = np.bincount(code[rows], minlength=nsub).astype(float)
        for _ in range(min_n):
            while tab.min() <= 0:
                s = int(np.flatnonzero(tab == 0)[0]) if (tab == 0).any() else int(np.argmin(tab))
                if s == nsub - 1:
                    left = True
                elif s == 0:
                    left = False
                else:
                    score = sum((tab[s2] - 1) / (s2 - s) for s2 in range(nsub) if tab[s2] > 1 and s2 != s)
                    left = score <= 0
                s2 = next((j for j in (range(s - 1, -1, -1) if left else range(s + 1, nsub)) if tab[j] > 0))
                members = rows[code[rows] == s2]
                xs = x[members]
                # the first member with the largest x (moving right-to-left) or the smallest (left-to-right),
                # ties going to the last one in data order, as the C++ loop's `<` / `>` tests do
                best = members[len(xs) - 1 - int(np.argmax(xs[::-1]))] if left else \
                    members[len(xs) - 1 - int(np.argmin(xs[::-1]))]
                code[best] = s
                tab[s] += 1
                tab[s2] -= 1
            tab -= 1
    return levels[code]
