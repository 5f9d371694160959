"""The weighted Fine–Gray model of ``finegray`` + weighted ``coxph`` without expanding the data.

In finegray's expanded data (:mod:`._finegray_expand`) a subject's rows only change its weight over
time: at a failure time ``u`` of the cause, subject i is in the risk set with weight

* ``w_i`` while ``t_i >= u``;
* ``w_i G(u-) / G(t_i-)`` after a competing failure at ``t_i < u`` (finegray's ``fgwt * w``);

so coxph's weighted (Efron or Breslow) partial likelihood, its information and its score residuals
(clustered on the subject for the robust variance) are sums over the failure times of the same
risk-set sums as crr's (:mod:`._fine_gray_core`), with case weights and finegray's ``G``. They are
computed here with cumulative sums over sorted time: O(n p^2) per Newton step, instead of a Cox fit
on finegray's ``n_competing x n_failure_times`` rows. (Checked against R's finegray + coxph at 1e-8:
tests/competing/test_weighted_parity.py.) finegray's expansion, for reference: a competing failure's
row is extended to the next censoring time, then one row per later interval between censoring times
that holds a failure of the cause, weighted ``G(interval) / G(t_i-)``. Notation (rows sorted by time,
failures of the cause first among equal times):

* ``a_i(u)``: the weight above; ``r_i = exp(x_i b)``;
* per failure time ``u_k`` with ``d_k`` failures (set ``D_k``): ``S0_k = sum_i a_i(u_k) r_i`` (and S1,
  S2 with x, x x'), ``E0_k = sum_{D_k} w_i r_i`` (E1, E2), ``wmean_k = sum_{D_k} w_i / d_k``;
* Efron: for ``j = 0..d_k-1``, ``den = S0 - (j/d) E0``, ``m = (S1 - (j/d) E1) / den``; the log
  likelihood is ``sum_{failures} w x b - sum_{k,j} wmean_k log(den)``. Breslow: ``j/d`` taken as 0.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Weighted:
    x: np.ndarray        # (n, p) centred covariates, sorted
    w: np.ndarray        # (n,) case weights
    competing: np.ndarray  # (n,) bool: a competing failure
    inv_g: np.ndarray    # (n,) 1 / G(t_i-) for competing failures, else 0
    failed: np.ndarray   # (n,) bool: a failure of the cause
    first: np.ndarray    # (K,) first row with t >= u_k
    gu: np.ndarray       # (K,) G(u_k-)
    pos: np.ndarray      # (n,) number of failure times u_k <= t_i
    fail_k: np.ndarray   # (n_fail,) failure-time index of each failure row
    pair_k: np.ndarray   # (n_fail,) Efron terms: failure-time index of each term ...
    frac: np.ndarray     # ... and its j / d_k (0 for Breslow)
    d: np.ndarray        # (K,) failures at u_k (count)
    wmean: np.ndarray    # (K,) mean case weight of the failures at u_k
    uft: np.ndarray      # (K,) distinct failure times of the cause


def censoring_km(t: np.ndarray, censored: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """finegray's ``G``: the distinct censoring times and G just after each. finegray places failures
    before censorings at the same time, so at risk of censoring at c are those with t > c and those
    censored at c (crr's G also counts failures at c)."""
    ctime = np.unique(t[censored])
    later = t.size - np.searchsorted(np.sort(t), ctime, side="right")
    ncens = np.bincount(np.searchsorted(ctime, t[censored]), minlength=ctime.size).astype(float)
    return ctime, np.cumprod(1.0 - ncens / (later + ncens))


def g_before(t: np.ndarray, censored: np.ndarray):
    """``times -> G(times-)``: finegray's G just before each time (censorings at that time not yet counted)."""
    ctime, g = censoring_km(t, censored)
    steps = np.concatenate(([1.0], g))
    return lambda times: steps[np.searchsorted(ctime, times, side="left")]


def prepare(t: np.ndarray, ici: np.ndarray, x: np.ndarray, w: np.ndarray, g_minus, ties: str) -> Weighted:
    """``t`` sorted with failures of the cause first among equal times; ``ici`` 0/1/2 (censored, cause,
    competing); ``x`` centred; ``g_minus(times)`` finegray's G just before each time."""
    failed, competing = ici == 1, ici == 2
    uft = np.unique(t[failed])
    first = np.searchsorted(t, uft, side="left")
    fail_k = np.searchsorted(uft, t[failed])
    d = np.bincount(fail_k, minlength=uft.size).astype(float)
    wmean = np.bincount(fail_k, weights=w[failed], minlength=uft.size) / d
    # Efron's j = 0..d_k-1 for each failure time: one term per failure row
    rank = np.arange(fail_k.size) - np.searchsorted(fail_k, fail_k, side="left")
    frac = rank / d[fail_k] if ties == "efron" else np.zeros(fail_k.size)
    inv_g = np.zeros(t.size)
    inv_g[competing] = 1.0 / g_minus(t[competing])
    return Weighted(x=x, w=w, competing=competing, inv_g=inv_g, failed=failed, first=first, gu=g_minus(uft),
                    pos=np.searchsorted(uft, t, side="right"), fail_k=fail_k, pair_k=fail_k, frac=frac, d=d,
                    wmean=wmean, uft=uft)


def _per_row(P: Weighted, per_k: np.ndarray) -> np.ndarray:
    """For each row i, sum over failure times of ``a_i(u_k) / w_i * per_k``: the times with u_k <= t_i, plus,
    after a competing failure, the later ones weighted G(u_k-)/G(t_i-)."""
    shape = (-1,) + (1,) * (per_k.ndim - 1)
    zero = np.zeros((1,) + per_k.shape[1:])
    cum = np.concatenate([zero, np.cumsum(per_k, axis=0)])
    gcum = np.concatenate([zero, np.cumsum(P.gu.reshape(shape) * per_k, axis=0)])
    return cum[P.pos] + P.inv_g.reshape((-1,) + (1,) * (per_k.ndim - 1)) * (gcum[-1] - gcum[P.pos])


def _sums(P: Weighted, b: np.ndarray):
    eta = P.x @ b
    shift = float(eta.max()) if eta.size else 0.0
    wr = P.w * np.exp(eta - shift)
    wrx = wr[:, None] * P.x
    r0 = np.cumsum(wr[::-1])[::-1]
    r1 = np.cumsum(wrx[::-1], axis=0)[::-1]
    c0 = np.concatenate(([0.0], np.cumsum(wr * P.inv_g)))
    c1 = np.vstack([np.zeros((1, P.x.shape[1])), np.cumsum(wrx * P.inv_g[:, None], axis=0)])
    s0 = r0[P.first] + P.gu * c0[P.first]
    s1 = r1[P.first] + P.gu[:, None] * c1[P.first]
    e0 = np.bincount(P.fail_k, weights=wr[P.failed], minlength=P.d.size)
    e1 = np.stack([np.bincount(P.fail_k, weights=wrx[P.failed, j], minlength=P.d.size)
                   for j in range(P.x.shape[1])], axis=1)
    k, f = P.pair_k, P.frac
    den = s0[k] - f * e0[k]
    m = (s1[k] - f[:, None] * e1[k]) / den[:, None]
    return eta, shift, wr, den, m


def loglik(P: Weighted, b: np.ndarray) -> float:
    eta, shift, _, den, _ = _sums(P, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        return float((P.w * eta)[P.failed].sum() - (P.wmean[P.pair_k] * (np.log(den) + shift)).sum())


def derivatives(P: Weighted, b: np.ndarray):
    """Log partial likelihood, its gradient and the information (minus the Hessian), as coxph."""
    eta, shift, wr, den, m = _sums(P, b)
    k, f, wm = P.pair_k, P.frac, P.wmean[P.pair_k]
    ll = float((P.w * eta)[P.failed].sum() - (wm * (np.log(den) + shift)).sum())
    grad = (P.w[P.failed, None] * P.x[P.failed]).sum(axis=0) - (wm[:, None] * m).sum(axis=0)
    K = P.d.size
    c = np.bincount(k, weights=wm / den, minlength=K)                 # coefficient of S2_k
    e = np.bincount(k, weights=wm * f / den, minlength=K)             # coefficient of E2_k
    row = wr * _per_row(P, c)
    row[P.failed] -= wr[P.failed] * e[P.fail_k]
    info = (P.x * row[:, None]).T @ P.x - (m * wm[:, None]).T @ m
    return ll, grad, info


def score_residuals(P: Weighted, b: np.ndarray) -> np.ndarray:
    """coxph's weighted score residuals summed over each subject's rows, shape (n, p) (Efron as coxph's
    ``agscore``: a failure's own term at its time is down-weighted by 1 - j/d)."""
    _, _, wr, den, m = _sums(P, b)
    k, f, K = P.pair_k, P.frac, P.d.size
    hz = P.wmean[k] / den
    p = P.x.shape[1]

    def per_k(values, weights):
        return np.stack([np.bincount(k, weights=weights * values[:, j], minlength=K) for j in range(p)], axis=1)

    h0 = np.bincount(k, weights=hz, minlength=K)
    h1 = per_k(m, hz)
    own0 = np.bincount(k, weights=hz * f, minlength=K)                # the part a failure does not carry
    own1 = per_k(m, hz * f)
    mean_m = per_k(m, 1.0 / P.d[k])
    a0 = _per_row(P, h0)
    a1 = _per_row(P, h1)
    fk = P.fail_k
    a0[P.failed] -= own0[fk]
    a1[P.failed] -= own1[fk]
    u = -wr[:, None] * (P.x * a0[:, None] - a1)
    u[P.failed] += P.w[P.failed, None] * (P.x[P.failed] - mean_m[fk])
    return u


def baseline_jumps(P: Weighted, b: np.ndarray, xmean: np.ndarray) -> np.ndarray:
    """Jumps of the baseline cumulative subdistribution hazard at covariates 0, as ``survfit(coxph)``
    (with Efron ties its Efron-type hazard: ``sum_j wmean_k / den_j``)."""
    _, shift, _, den, _ = _sums(P, b)
    jumps = np.bincount(P.pair_k, weights=P.wmean[P.pair_k] / den, minlength=P.d.size)
    return jumps / np.exp(shift + float(xmean @ b))


def newton(P: Weighted, p: int, max_iter: int = 20, eps: float = 1e-9):
    """coxph's Newton–Raphson from 0: step halving while the log likelihood falls, convergence at
    ``|1 - loglik_old / loglik_new| <= eps``. Returns (b, converged, iterations)."""
    b = np.zeros(p)
    ll = loglik(P, b)
    for it in range(1, max_iter + 1):
        _, grad, info = derivatives(P, b)
        new = b + np.linalg.solve(info, grad)
        ll_new = loglik(P, new)
        for _ in range(30):
            if np.isfinite(ll_new) and ll_new >= ll:
                break
            new = (new + b) / 2
            ll_new = loglik(P, new)
        done = abs(1.0 - ll / ll_new) <= eps
        b, ll = new, ll_new
        if done:
            return b, True, it
    return b, False, max_iter
