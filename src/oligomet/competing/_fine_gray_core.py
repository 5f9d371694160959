"""Array core of the Fine–Gray model as ``cmprsk::crr`` computes it (one censoring group, fixed covariates).

cmprsk's Fortran (``crrfsv``, ``crrf``, ``crrvv``, ``crrfit`` in ``src/crr.f``) loops over all
subjects for every failure time, O(n^2) per Newton step, and the variance routine is
O(n^2)-O(n^3). The sums involved are all cumulative over sorted time, so here they are
written with cumulative sums: O(n p^2) per step. Notation (rows sorted by time):

* ``G(t-)``: Kaplan–Meier of the censoring distribution just before t (crr uses survfit's KM
  evaluated at ``t * (1 - 100 eps)``; at t = 0 that is G(0), a quirk kept here).
* Risk set at a failure time u of the cause: everyone with t >= u, weight ``w = exp(x b)``, plus
  everyone who failed from a *competing* cause before u, weight ``w G(u-)/G(t-)``.
* Per distinct failure time u_k with d_k failures: ``S0_k, S1_k``, ``xbar_k = S1_k/S0_k``.

Covariates are centred by the caller; score, information, log-likelihood and the sandwich
variance are invariant to centring and to the constant subtracted from ``x b`` below
(which keeps ``exp`` from overflowing), so the numbers are crr's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Prepared:
    """Data sorted by time, with the pieces that do not depend on the coefficients."""

    x: np.ndarray          # (n, p) centred covariates, sorted by time
    ici: np.ndarray        # (n,) 0 censored, 1 failure of the cause, 2 competing failure
    gm: np.ndarray         # (n,) G(t_i-)
    first: np.ndarray      # (K,) index of the first row with t >= u_k
    d: np.ndarray          # (K,) failures of the cause at u_k
    gu: np.ndarray         # (K,) G(u_k-)
    fail_k: np.ndarray     # (n_fail,) distinct-time index of each failure row
    pos_k: np.ndarray      # (n,) number of failure times u_k <= t_i
    cens_first: np.ndarray  # (L,) first row index of each distinct censoring time s_l
    cens_n: np.ndarray     # (L,) censorings at s_l
    cens_risk: np.ndarray  # (L,) number with t >= s_l
    row_cens: np.ndarray   # (n,) number of censoring times s_l <= t_i
    uft: np.ndarray        # (K,) distinct failure times


def prepare(time: np.ndarray, ici: np.ndarray, x: np.ndarray) -> Prepared:
    """``time`` sorted ascending; ``ici`` coded 0/1/2; ``x`` (n, p), already centred."""
    n = time.size
    ut, first_idx, inv = np.unique(time, return_index=True, return_inverse=True)
    at_risk = n - first_idx                                  # number with t >= tau_m
    cens = np.bincount(inv, weights=(ici == 0), minlength=ut.size)
    g = np.cumprod(1.0 - cens / at_risk)                     # censoring KM at tau_m
    g_minus = np.concatenate(([1.0], g[:-1]))
    gm = g_minus[inv]
    gm[time == 0] = g[0] if ut[0] == 0 else 1.0             # crr evaluates at 0*(1-100eps) = 0
    fail = ici == 1
    uft = np.unique(time[fail])
    first = np.searchsorted(time, uft, side="left")
    d = np.bincount(np.searchsorted(uft, time[fail]), minlength=uft.size).astype(float)
    gu = gm[first]
    fail_k = np.searchsorted(uft, time[fail])
    pos_k = np.searchsorted(uft, time, side="right")
    has_c = cens > 0
    cens_first = first_idx[has_c]
    cens_n = cens[has_c]
    cens_risk = at_risk[has_c].astype(float)
    row_cens = np.searchsorted(ut[has_c], time, side="right")
    return Prepared(x=x, ici=ici, gm=gm, first=first, d=d, gu=gu, fail_k=fail_k, pos_k=pos_k,
                    cens_first=cens_first, cens_n=cens_n, cens_risk=cens_risk, row_cens=row_cens, uft=uft)


def _risk_sums(P: Prepared, b: np.ndarray):
    """w (shifted exp(xb)), shift, S0 (K,), S1 (K, p) over crr's weighted risk sets."""
    eta = P.x @ b
    shift = float(eta.max()) if eta.size else 0.0
    w = np.exp(eta - shift)
    wx = w[:, None] * P.x
    # rows still at risk (t >= u_k): reverse cumulative sums, read at the first row of u_k
    r0 = np.cumsum(w[::-1])[::-1]
    r1 = np.cumsum(wx[::-1], axis=0)[::-1]
    # competing failures before u_k, weighted by G(u_k-)/G(t-): forward sums over rows < first_k
    comp = (P.ici == 2) / P.gm
    q0 = np.concatenate(([0.0], np.cumsum(w * comp)))
    q1 = np.vstack([np.zeros((1, P.x.shape[1])), np.cumsum(wx * comp[:, None], axis=0)])
    s0 = r0[P.first] + P.gu * q0[P.first]
    s1 = r1[P.first] + P.gu[:, None] * q1[P.first]
    return w, shift, eta, s0, s1


def objective(P: Prepared, b: np.ndarray) -> float:
    """crr's objective: minus the log pseudo-likelihood (``crrf``)."""
    _, shift, eta, s0, _ = _risk_sums(P, b)
    with np.errstate(divide="ignore"):
        return float(-eta[P.ici == 1].sum() + (P.d * (np.log(s0) + shift)).sum())


def _weights_per_row(P: Prepared, per_k: np.ndarray) -> np.ndarray:
    """For each row i: sum over k with u_k <= t_i of per_k, plus, for competing failures,
    G(t_i-)^-1 sum over k with u_k > t_i of G(u_k-) per_k (rows of per_k may be vectors)."""
    zero = np.zeros((1,) + per_k.shape[1:])
    cum = np.concatenate([zero, np.cumsum(per_k, axis=0)])          # cum[j] = sum_{k<j}
    gcum = np.concatenate([zero, np.cumsum(P.gu.reshape((-1,) + (1,) * (per_k.ndim - 1)) * per_k, axis=0)])
    before = cum[P.pos_k]
    later = (gcum[-1] - gcum[P.pos_k])
    comp = ((P.ici == 2) / P.gm).reshape((-1,) + (1,) * (per_k.ndim - 1))
    return before + comp * later


def derivatives(P: Prepared, b: np.ndarray):
    """Objective, its gradient (minus the score) and Hessian (the information), as ``crrfsv``."""
    w, shift, eta, s0, s1 = _risk_sums(P, b)
    fail = P.ici == 1
    f = float(-eta[fail].sum() + (P.d * (np.log(s0) + shift)).sum())
    xbar = s1 / s0[:, None]
    grad = -P.x[fail].sum(axis=0) + (P.d[:, None] * xbar).sum(axis=0)
    # information = sum_k d_k (S2_k/S0_k - xbar xbar'): the S2 part regrouped per row
    c = _weights_per_row(P, P.d / s0)
    h = (P.x * (w * c)[:, None]).T @ P.x - (xbar * P.d[:, None]).T @ xbar
    return f, grad, h


def score_terms(P: Prepared, b: np.ndarray) -> np.ndarray:
    """Per-row influence terms eta_i + psi_i of crr's sandwich variance (``crrvv``), shape (n, p)."""
    w, _, _, s0, s1 = _risk_sums(P, b)
    p = P.x.shape[1]
    fail = P.ici == 1
    xbar = s1 / s0[:, None]
    # eta_i: dN_i part minus the d Lambda-hat part summed over failure times where i is at risk
    a = _weights_per_row(P, P.d / s0)
    bvec = _weights_per_row(P, (P.d / s0)[:, None] * xbar)
    eta = -w[:, None] * (P.x * a[:, None] - bvec)
    eta[fail] += P.x[fail] - xbar[P.fail_k]
    # psi_i: the censoring-martingale part. q(s) for each censoring time s:
    #   q(s) = R1(s) H0(s) - R0(s) H1(s), where R. sum competing failures before s (weight w/G(t-))
    #   and H. sum failure times u_k >= s (weight d_k G(u_k-)/S0_k, times xbar_k for H1).
    if P.cens_first.size:
        comp = (P.ici == 2) / P.gm
        r0 = np.concatenate(([0.0], np.cumsum(w * comp)))[P.cens_first]
        r1 = np.vstack([np.zeros((1, p)), np.cumsum((w * comp)[:, None] * P.x, axis=0)])[P.cens_first]
        hk0 = P.d * P.gu / s0
        hk1 = hk0[:, None] * xbar
        h0 = np.concatenate((np.cumsum(hk0[::-1])[::-1], [0.0]))
        h1 = np.vstack([np.cumsum(hk1[::-1], axis=0)[::-1], np.zeros((1, p))])
        kpos = np.searchsorted(P.first, P.cens_first, side="left")   # first u_k >= s
        q = r1 * h0[kpos][:, None] - r0[:, None] * h1[kpos]
        inc = -(P.cens_n / P.cens_risk ** 2)[:, None] * q
        cum = np.vstack([np.zeros((1, p)), np.cumsum(inc, axis=0)])
        psi = cum[P.row_cens]
        cens_rows = np.flatnonzero(P.ici == 0)
        lpos = P.row_cens[cens_rows] - 1                                 # its own censoring time
        psi[cens_rows] += q[lpos] / P.cens_risk[lpos][:, None]
        eta += psi
    return eta


def baseline_jumps(P: Prepared, b: np.ndarray, xmean: np.ndarray) -> np.ndarray:
    """crr's ``bfitj``: d_k / S0_k with uncentred covariates (jumps of the baseline cumulative subhazard)."""
    _, shift, _, s0, _ = _risk_sums(P, b)
    return P.d / (s0 * np.exp(shift + float(xmean @ b)))
