"""Array core of the cumulative incidence with case weights, as R's ``survfit`` for a multi-state event.

``survfit(Surv(time, factor(event)) ~ group, weights = w)`` (survival 3.5-3) estimates the
Aalen–Johansen curves from weighted counts: ``Y(t) = sum w_i [t_i >= t]``, ``d_k(t) = sum w_i
[t_i = t, cause k]``; ``S(t) = prod (1 - d(t)/Y(t))`` (all causes) and
``F_k(t) = sum_{s <= t} S(s-) d_k(s)/Y(s)``. With unit weights this is cmprsk's estimate.

The standard error is survfit's infinitesimal jackknife (its only variance for multi-state curves):
``var F_k(t) = sum_i (w_i U_ik(t))^2`` with ``U_ik = dF_k/dw_i``. Differentiating the two
recursions gives, for subject i at distinct time index ``tau_i`` (our derivation; survfit builds
the n x T influence matrix instead):

* ``U_ik(t_J) = B_k(J)`` for ``J < tau_i``, where ``B_k(J) = sum_{j<=J} S_j- h_kj (A_{j-1} - 1/Y_j)``,
  ``h_kj = d_kj/Y_j`` and ``A_j = sum_{l<=j} h_l / (Y_l (1 - h_l))`` (Greenwood's sum, weighted);
* ``U_ik(t_J) = c_ik + beta_i F_k(J)`` for ``J >= tau_i``, with ``beta_i = A_{tau-1} - 1/Y_tau`` after a
  failure and ``A_tau`` after a censoring, ``c_ik = B_k(tau) + [cause k] S_tau-/Y_tau - beta_i F_k(tau)``.

So the variance needs only cumulative sums over time of ``w_i^2``, ``w_i^2 c``, ``w_i^2 c beta`` and
``w_i^2 beta^2``: O(n + T) per cause instead of survfit's O(n T).
"""
from __future__ import annotations

import numpy as np

from ._aalen_johansen import GroupCurves


def weighted_group_curves(inv: np.ndarray, n_times: int, times: np.ndarray, col: np.ndarray, w: np.ndarray,
                          n_causes: int) -> GroupCurves:
    """CIF of every cause for one group, with weighted counts and survfit's IJ variance.

    ``inv``: distinct-time index of each row of the group (into ``times``, (n_times,) ascending, shared by
    all groups); ``col``: 0 censored, 1..C the causes; ``w``: case weights (>= 0). Times where the group
    has no row are dropped.
    """
    present = np.bincount(inv, minlength=n_times) > 0
    new_index = np.cumsum(present) - 1
    inv, ut = new_index[inv], times[present]
    T, C = ut.size, n_causes
    d = np.stack([np.bincount(inv, w * (col == k + 1), T) for k in range(C)], axis=1)   # (T, C)
    n_censor = np.bincount(inv, w * (col == 0), T)
    y = np.bincount(inv, w, T)[::-1].cumsum()[::-1]            # weighted number at risk at t
    with np.errstate(divide="ignore", invalid="ignore"):
        hk = np.where(y[:, None] > 0, d / y[:, None], 0.0)
        h = hk.sum(axis=1)
        s_minus = np.concatenate(([1.0], np.cumprod(1.0 - h)[:-1]))
        F = np.cumsum(s_minus[:, None] * hk, axis=0)
        # h = 1 only at the group's last time when nobody is censored there; no later term needs A there
        g = np.where((h < 1) & (y > 0), h / (y * (1.0 - h)), 0.0)
        inv_y = np.where(y > 0, 1.0 / y, 0.0)
    A = np.cumsum(g)
    A_before = np.concatenate(([0.0], A[:-1]))
    B = np.cumsum(s_minus[:, None] * hk * (A_before - inv_y)[:, None], axis=0)
    failed = col > 0
    beta = np.where(failed, A_before[inv] - inv_y[inv], A[inv])
    w2 = w * w
    # sum of w_i^2 over subjects still at risk after t_J (their U is the common B_k(J))
    later = w2.sum() - np.cumsum(np.bincount(inv, w2, T))
    var = np.empty((T, C))
    for k in range(C):
        c = B[inv, k] + (col == k + 1) * s_minus[inv] * inv_y[inv] - F[inv, k] * beta
        p0 = np.cumsum(np.bincount(inv, w2 * c * c, T))
        p1 = np.cumsum(np.bincount(inv, w2 * c * beta, T))
        p2 = np.cumsum(np.bincount(inv, w2 * beta * beta, T))
        var[:, k] = B[:, k] ** 2 * later + p0 + 2.0 * F[:, k] * p1 + F[:, k] ** 2 * p2
    return GroupCurves(time=ut, n_risk=y, n_event=d, n_censor=n_censor, estimate=F,
                       variance=np.maximum(var, 0.0))
