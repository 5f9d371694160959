"""Array core of Gray's K-sample test for cumulative incidence (Gray 1988, Ann. Stat. 16:1141).

Our NumPy formulation of cmprsk's Fortran ``crstm``/``crst`` (cmprsk 2.2-11/12): the score
for groups 1..K-1 compares each group's cause-specific failures with their expectation
under a common subdistribution hazard, weighted by ``(1 - F(t-))^rho``; its variance is
Gray's estimate built from the running matrices ``c``, ``v2``, ``v3`` of ``crst``. Strata
add their scores and variances (``cuminc(..., strata=)``).

``crst`` walks the distinct times one by one. Every quantity it updates is a cumulative
sum or product over time, so here the times of a stratum are processed as (K, block) arrays,
blocks of times at a time with the running sums carried over, looping only over the K groups. We include cmprsk
2.2-12's guard that skips ``c`` updates when the increment is exactly 0 (which otherwise
produces NaN once the pooled CIF reaches 1); the results are otherwise identical.
"""
from __future__ import annotations

import numpy as np

class _RiskSets:
    """The cause-independent part of one stratum: times with any failure, per group (rows) and time
    (columns, contiguous): number at risk, all-cause KM before/after t, and rs/KM(t-)."""

    def __init__(self, cnt: np.ndarray):
        # cnt (T, ng, C+1): counts by distinct time (ascending), group, column (0 censored, 1..C causes)
        fail = cnt[:, :, 1:].sum(axis=2)
        rs_all = cnt.sum(axis=2)[::-1].cumsum(axis=0)[::-1]   # at risk at t, per group
        # only times with a failure enter crst's computations; censor-only times just shrink rs
        keep = np.flatnonzero(fail.sum(axis=1) > 0)
        self.n_times = keep.size
        self.rs = np.ascontiguousarray(rs_all[keep].T)       # (ng, T)
        self.cause = np.ascontiguousarray(cnt[keep, :, 1:].transpose(2, 1, 0))   # (C, ng, T)
        self.fail = np.ascontiguousarray(fail[keep].T)       # (ng, T) all causes
        self.alive = self.rs > 0
        self.safe_rs = np.where(self.alive, self.rs, 1.0)
        # per-group all-cause KM, right- (skm) and left-continuous (skmm), frozen once a group is empty
        self.skm = np.cumprod(np.where(self.alive, (self.safe_rs - self.fail) / self.safe_rs, 1.0), axis=1)
        self.skmm = np.empty_like(self.skm)
        self.skmm[:, :1] = 1.0
        self.skmm[:, 1:] = self.skm[:, :-1]
        with np.errstate(divide="ignore", invalid="ignore"):
            self.t1 = np.where(self.alive, self.rs / self.skmm, 0.0)   # rs/skmm; 0 for empty groups
        self.tr = self.t1.sum(axis=0)


_BLOCK = 1 << 13  # times per block: keeps the temporaries of the per-cause pass in cache


def _stratum(R: _RiskSets, cause: int, rho: float, block: int | None = None):
    """Score (ng-1,) and variance (ng-1, ng-1) of one stratum for cause index ``cause`` (0-based).

    Times are processed in blocks; the running sums of crst (per-group CIF ``f1``, pooled CIF ``f``,
    the matrix ``c``) are carried from block to block, the rest is elementwise.
    """
    ng = R.rs.shape[0]
    ng1 = ng - 1
    s = np.zeros(ng1)
    v = np.zeros((ng1, ng1))
    v2 = np.zeros((ng1, ng))
    v3 = np.zeros(ng)
    c_carry = np.zeros((ng1, ng))
    f1_carry = np.zeros(ng)
    f_carry = 0.0
    block = block or _BLOCK
    for lo in range(0, R.n_times, block):
        hi = min(R.n_times, lo + block)
        alive, safe_rs, skm, skmm, t1, tr = (x[..., lo:hi] for x in (R.alive, R.safe_rs, R.skm, R.skmm, R.t1, R.tr))
        d1g = R.cause[cause, :, lo:hi]
        d2g = R.fail[:, lo:hi] - d1g
        nd1 = d1g.sum(axis=0)
        # per-group CIF of the cause (f1m before t, f1 after) and pooled CIF (fm, f), carried over blocks
        f1 = np.cumsum(np.where(alive, skmm * d1g / safe_rs, 0.0), axis=1)
        f1 += f1_carry[:, None]
        f1m = np.empty_like(f1)
        f1m[:, 0] = f1_carry
        f1m[:, 1:] = f1[:, :-1]
        f1_carry = f1[:, -1].copy()
        f = np.cumsum(nd1 / tr) + f_carry
        fm = np.empty_like(f)
        fm[0] = f_carry
        fm[1:] = f[:-1]
        f_carry = f[-1]
        tq = (t1 * (1.0 - f1m)).sum(axis=0)
        fb = (1.0 - fm) ** rho if rho else np.ones(hi - lo)

        with np.errstate(divide="ignore", invalid="ignore"):
            # score for groups 1..ng-1
            sc = fb * (d1g[:ng1] - nd1 * t1[:ng1] * (1.0 - f1m[:ng1]) / tq)
            # increments of c are a * nd1 / (tr (1 - fm)), with a = fb (diag(t1) - t1 t1'/tr)
            cfac = np.where(nd1 > 0, nd1 / (tr * (1.0 - fm)), 0.0)
            # terms for failures of the cause (nd1 > 0) and of other causes, per group k
            t4a = np.where(skm > 0, 1.0 - (1.0 - f) / skm, 1.0)
            t5a = np.where(nd1 > 1, 1.0 - (nd1 - 1.0) / (tr * skmm - 1.0), 1.0)
            t3a = np.where(alive & (nd1 > 0), t5a * skmm * nd1 / (tr * safe_rs), 0.0)
            use_b = (skm > 0) & (d2g > 0)
            t4b = np.where(use_b, (1.0 - f) / np.where(skm > 0, skm, 1.0), 0.0)
            t5b = np.where(d2g > 1, 1.0 - (d2g - 1.0) / (safe_rs - 1.0), 1.0)
            t3b = np.where(use_b, t5b * skmm ** 2 * d2g / safe_rs ** 2, 0.0)
        s += np.where(alive[:ng1], sc, 0.0).sum(axis=1)
        t4a[~np.isfinite(t4a)] = 0.0
        t3a[~np.isfinite(t3a)] = 0.0
        t3b[~np.isfinite(t3b)] = 0.0
        v3 += (t4a ** 2 * t3a).sum(axis=1) + (t4b ** 2 * t3b).sum(axis=1)
        w_t1 = fb / tr
        for k in range(ng):
            # a[i, k, t] for i < ng1 (crst only uses those rows), then the running c[i, k, t]
            a = -t1[:ng1] * (w_t1 * t1[k])
            if k < ng1:
                a[k] += fb * t1[k]
            c = np.cumsum(a * cfac, axis=1)
            c += c_carry[:, k, None]
            c_carry[:, k] = c[:, -1]
            # failures of the cause: M = a - t4 c ; failures of other causes: N = t4 c
            # (plain einsum, not BLAS: multithreaded BLAS on these thin products is slower here)
            M = a - t4a[k] * c
            v2[:, k] += np.einsum("it,t->i", M, t4a[k] * t3a[k])
            v += np.einsum("it,jt,t->ij", M, M, t3a[k])
            N = t4b[k] * c
            v2[:, k] -= np.einsum("it,t->i", N, t4b[k] * t3b[k])
            v += np.einsum("it,jt,t->ij", N, N, t3b[k])
    c = c_carry
    v += (c * v3[None, :]) @ c.T + c @ v2.T + v2 @ c.T
    return s, v


def gray_statistics(strata_counts: list[np.ndarray], rho: float = 0.0) -> list[tuple]:
    """Gray's statistic s' V^-1 s for each cause, NaN where V is singular (cmprsk returns -1 then).

    ``strata_counts``: per stratum, counts (T, ng, C+1) by distinct time, group and column
    (0 censored, 1..C causes). Returns, per cause in column order, (statistic, score, variance).
    """
    ng, n_causes = strata_counts[0].shape[1], strata_counts[0].shape[2] - 1
    risk_sets = [_RiskSets(cnt) for cnt in strata_counts]
    out = []
    for cause in range(n_causes):
        s = np.zeros(ng - 1)
        v = np.zeros((ng - 1, ng - 1))
        for R in risk_sets:
            ss, vv = _stratum(R, cause, rho)
            s += ss
            v += vv
        stat = float(s @ np.linalg.solve(v, s)) if _full_rank(v) else np.nan
        out.append((stat, s, v))
    return out


def _full_rank(v: np.ndarray, tol: float = 1e-7) -> bool:
    """Rank check in the spirit of R's ``qr()`` (LINPACK dqrdc2, tol 1e-7 relative to column norms)."""
    if not np.all(np.isfinite(v)):
        return False
    norms = np.linalg.norm(v, axis=0)
    if np.any(norms == 0):
        return False
    r = np.linalg.qr(v / norms, mode="r")
    return bool(np.all(np.abs(np.diag(r)) > tol))
