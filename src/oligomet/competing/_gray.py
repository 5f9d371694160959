"""Array core of Gray's K-sample test for cumulative incidence (Gray 1988, Ann. Stat. 16:1141).

Our NumPy formulation of cmprsk's Fortran ``crstm``/``crst`` (cmprsk 2.2-11/12): the score
for groups 1..K-1 compares each group's cause-specific failures with their expectation
under a common subdistribution hazard, weighted by ``(1 - F(t-))^rho``; its variance is
Gray's estimate built from the running matrices ``c``, ``v2``, ``v3`` of ``crst``. Strata
add their scores and variances (``cuminc(..., strata=)``).

``crst`` walks the distinct times one by one. Every quantity it updates is a cumulative
sum or product over time, so here all times of a stratum are processed at once as
(T, K) and (T, K-1, K) arrays, in blocks of times to bound memory. We include cmprsk
2.2-12's guard that skips ``c`` updates when the increment is exactly 0 (which otherwise
produces NaN once the pooled CIF reaches 1); the results are otherwise identical.
"""
from __future__ import annotations

import numpy as np

_BLOCK = 1 << 16  # times per block for the (T, K-1, K) arrays


def _stratum(cnt: np.ndarray, rho: float):
    """Score (ng-1,) and variance (ng-1, ng-1) for one stratum.

    ``cnt`` (T, ng, 3): per distinct time (ascending) and group, the number censored, failed from
    the cause tested, failed from another cause.
    """
    ng = cnt.shape[1]
    ng1 = ng - 1
    tot = cnt.sum(axis=2)                                  # (T, ng) all rows at t
    rs = tot[::-1].cumsum(axis=0)[::-1]                    # at risk at t, per group
    d1g, d2g = cnt[:, :, 1], cnt[:, :, 2]
    nd1, nd2 = d1g.sum(axis=1), d2g.sum(axis=1)
    # only times with a failure enter crst's computations; censor-only times just shrink rs
    keep = (nd1 + nd2) > 0
    rs, d1g, d2g, nd1, nd2 = rs[keep], d1g[keep], d2g[keep], nd1[keep], nd2[keep]
    T = rs.shape[0]
    if T == 0:
        return np.zeros(ng1), np.zeros((ng1, ng1))
    alive = rs > 0
    safe_rs = np.where(alive, rs, 1.0)
    td = d1g + d2g
    # per-group all-cause KM (left- and right-continuous) and cause CIF, frozen once a group is empty
    step = np.where(alive, (safe_rs - td) / safe_rs, 1.0)
    skm = np.cumprod(step, axis=0)
    skmm = np.vstack([np.ones((1, ng)), skm[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        t1 = np.where(alive, rs / skmm, 0.0)               # rs/skmm; 0 for empty groups
        f1 = np.cumsum(np.where(alive, skmm * d1g / safe_rs, 0.0), axis=0)
    f1m = np.vstack([np.zeros((1, ng)), f1[:-1]])
    tr = t1.sum(axis=1)
    tq = (t1 * (1.0 - f1m)).sum(axis=1)
    f = np.cumsum(nd1 / tr)
    fm = np.concatenate(([0.0], f[:-1]))
    fb = (1.0 - fm) ** rho

    # score for groups 1..ng-1
    with np.errstate(divide="ignore", invalid="ignore"):
        sc = fb[:, None] * (d1g[:, :ng1] - nd1[:, None] * t1[:, :ng1] * (1.0 - f1m[:, :ng1]) / tq[:, None])
    s = np.where(alive[:, :ng1], sc, 0.0).sum(axis=0)

    # increments of c: a * nd1 / (tr (1 - fm)), with a = fb (diag(t1) - t1 t1'/tr) below
    with np.errstate(divide="ignore", invalid="ignore"):
        cfac = np.where(nd1 > 0, nd1 / (tr * (1.0 - fm)), 0.0)

    # terms for failures of the cause (nd1 > 0) and of other causes, per group k
    with np.errstate(divide="ignore", invalid="ignore"):
        t4a = np.where(skm > 0, 1.0 - (1.0 - f)[:, None] / skm, 1.0)
        many = nd1 > 1
        t5a = np.ones((T, ng))
        t5a[many] = 1.0 - (nd1[many, None] - 1.0) / (tr[many, None] * skmm[many] - 1.0)
        t3a = np.where(alive & (nd1 > 0)[:, None], t5a * skmm * nd1[:, None] / (tr[:, None] * safe_rs), 0.0)
        use_b = (skm > 0) & (d2g > 0)
        t4b = np.where(use_b, (1.0 - f)[:, None] / np.where(skm > 0, skm, 1.0), 0.0)
        t5b = np.where(d2g > 1, 1.0 - (d2g - 1.0) / (safe_rs - 1.0), 1.0)
        t3b = np.where(use_b, t5b * skmm ** 2 * d2g / safe_rs ** 2, 0.0)
    t4a = np.where(np.isfinite(t4a), t4a, 0.0)
    t3a = np.where(np.isfinite(t3a), t3a, 0.0)
    t3b = np.where(np.isfinite(t3b), t3b, 0.0)

    v3 = (t4a ** 2 * t3a).sum(axis=0) + (t4b ** 2 * t3b).sum(axis=0)
    v2 = np.zeros((ng1, ng))
    v = np.zeros((ng1, ng1))
    c_carry = np.zeros((ng1, ng))
    eye = np.eye(ng)[:ng1]                                 # rows 1..ng-1 of the identity
    for lo in range(0, T, _BLOCK):
        hi = min(T, lo + _BLOCK)
        tt1 = t1[lo:hi]
        # a[t, i, k] for i < ng1 (crst only ever uses those rows)
        a = fb[lo:hi, None, None] * (tt1[:, None, :] * eye[None] -
                                     tt1[:, :ng1, None] * tt1[:, None, :] / tr[lo:hi, None, None])
        c = np.cumsum(a * cfac[lo:hi, None, None], axis=0) + c_carry
        c_carry = c[-1]
        # failures of the cause: M = a - t4 c
        M = a - t4a[lo:hi, None, :] * c
        w = t3a[lo:hi]
        v2 += np.einsum("tik,tk->ik", M, t4a[lo:hi] * w)
        v += _weighted_gram(M, w)
        # failures of other causes: N = t4 c
        N = t4b[lo:hi, None, :] * c
        w = t3b[lo:hi]
        v2 -= np.einsum("tik,tk->ik", N, t4b[lo:hi] * w)
        v += _weighted_gram(N, w)
    c = c_carry
    v += (c * v3[None, :]) @ c.T + c @ v2.T + v2 @ c.T
    return s, v


def _weighted_gram(M: np.ndarray, w: np.ndarray) -> np.ndarray:
    """sum over t, k of M[t, i, k] M[t, j, k] w[t, k], as one matrix product (BLAS) instead of a 3-operand einsum."""
    A = M.transpose(1, 0, 2).reshape(M.shape[1], -1)
    return (A * w.reshape(-1)) @ A.T


def gray_statistic(strata_counts: list[np.ndarray], cause_col: int, rho: float = 0.0):
    """Gray's statistic s' V^-1 s for one cause, or NaN if V is singular (cmprsk returns -1 then).

    ``strata_counts``: per stratum, counts (T, ng, C+1) by distinct time, group and column
    (0 censored, 1..C causes); ``cause_col`` is the column of the cause tested. Returns
    (statistic, score, variance).
    """
    ng = strata_counts[0].shape[1]
    s = np.zeros(ng - 1)
    v = np.zeros((ng - 1, ng - 1))
    for cnt in strata_counts:
        failed = cnt[:, :, 1:].sum(axis=2)
        cause = cnt[:, :, cause_col]
        ss, vv = _stratum(np.stack([cnt[:, :, 0], cause, failed - cause], axis=2), rho)
        s += ss
        v += vv
    if not _full_rank(v):
        return np.nan, s, v
    return float(s @ np.linalg.solve(v, s)), s, v


def _full_rank(v: np.ndarray, tol: float = 1e-7) -> bool:
    """Rank check in the spirit of R's ``qr()`` (LINPACK dqrdc2, tol 1e-7 relative to column norms)."""
    if not np.all(np.isfinite(v)):
        return False
    norms = np.linalg.norm(v, axis=0)
    if np.any(norms == 0):
        return False
    r = np.linalg.qr(v / norms, mode="r")
    return bool(np.all(np.abs(np.diag(r)) > tol))
