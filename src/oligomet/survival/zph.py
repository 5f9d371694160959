"""Test of proportional hazards after a Cox fit, as R's ``survival::cox.zph`` (3.x).

R 3.x (since survival 3.0) replaced the old approximation (which assumed the covariate
variance constant over time) by an exact score test: each covariate ``x`` gets a companion
``g(t) * x``, the Cox model's score vector ``U`` and information matrix ``H`` (2p x 2p) are
evaluated at ``(beta_hat, 0)`` without iterating, and for a term with columns ``J`` the
statistic is ``u' H_kk^{-1} u`` with ``k = (1..p, J + p)`` and ``u = (0, U_{J+p})``;
``GLOBAL`` uses all 2p rows. The first p score elements are set to zero as R does (they are
zero at the MLE up to convergence error). ``df`` is the number of columns of the term
(``GLOBAL``: p), ``p = P(chi2_df > chisq)``.

Details that decide the numbers, read from ``cox.zph`` and its C routine ``zph1.c``:

* ``g(t)`` is the transform of the rows' times, centred by its (unweighted) mean over the
  events: ``km`` = 1 - KM(t-), the left-continuous Kaplan-Meier of all the fit's rows,
  *unweighted and ignoring strata* (R calls ``survfitKM`` on ``y`` alone); ``rank`` = R's
  ``rank(times)`` (average ranks, all rows, censored included); ``identity`` = t; ``log``;
  or any callable applied to the times.
* risk-set sums use ``w * exp(eta)`` with the fitted beta; ties as the fit: Breslow, or
  Efron with the tied deaths entering in ``1/d`` steps and their weights averaged
  (``wtave = deadwt / d``), exactly as coxph's own information matrix.
* the covariates are centred by their unweighted column means (R does this for numerical
  stability; the statistic does not depend on it).
* ``fit$var`` is **not** used: the information matrix is recomputed at beta. (The ``var``
  argument is accepted for the caller's convenience and ignored.)

Computation: per event time R adds ``V_j = S2_j/S0_j - S1_j S1_j'/S0_j^2`` into three p x p
blocks weighted by 1, g, g^2. We get the same sums without per-time p x p work: the S2 part
is ``X' diag(c) X`` with a per-row weight ``c`` (cumulative sums of ``1/S0`` over the event
times a row is at risk for; Efron changes only the weight of the tied deaths at their own
time), and the S1 part is ``M' diag(v) M`` over the rows ``M`` = S1 at each (time, Efron
step). Both are exact rearrangements of R's sums.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import numpy as np
import pandas as pd

from scipy import linalg, stats

from ._fitted_arrays import RiskBlocks, fitted_arrays

__all__ = ["cox_zph", "zph_residuals", "zph_transform", "ZphResiduals"]


def _term_groups(terms, p: int) -> list[tuple[str, np.ndarray]]:
    """(name, column indices) per term. ``terms`` is a sequence of one name per column
    (columns sharing a name form one multi-df term, as a factor in R) or a mapping
    ``name -> column indices``."""
    if terms is None:
        return [(f"x{j + 1}", np.array([j])) for j in range(p)]
    if isinstance(terms, Mapping):
        groups = [(str(k), np.atleast_1d(np.asarray(v, dtype=np.int64))) for k, v in terms.items()]
    else:
        names = [str(t) for t in terms]
        if len(names) != p:
            raise ValueError(f"terms has {len(names)} names but X has {p} columns")
        order = list(dict.fromkeys(names))
        groups = [(nm, np.array([j for j in range(p) if names[j] == nm])) for nm in order]
    used = np.concatenate([g for _, g in groups]) if groups else np.array([], dtype=np.int64)
    if used.size != p or np.unique(used).size != p or used.min() < 0 or used.max() >= p:
        raise ValueError(f"terms must assign each of the {p} columns of X to exactly one term")
    return groups


def zph_transform(time: np.ndarray, event: np.ndarray, transform: str | Callable = "km",
                  start: np.ndarray | None = None) -> np.ndarray:
    """g(t) for every row, before centring: R's ``cox.zph`` ``ttimes`` (``start``: entry times of
    (start, stop] rows, for the KM transform's risk sets)."""
    t = np.asarray(time, dtype=float)
    if callable(transform):
        return np.asarray(transform(t), dtype=float).reshape(t.shape)
    if transform == "identity":
        return t.copy()
    if transform == "rank":
        return stats.rankdata(t, method="average")
    if transform == "log":
        return np.log(t)
    if transform == "km":
        # unweighted KM of all rows (no strata), read left-continuously: 1 - S(t-)
        ut, inv = np.unique(t, return_inverse=True)
        n_at = np.bincount(inv, minlength=ut.size)
        d_at = np.bincount(inv, weights=event.astype(float), minlength=ut.size)
        n_risk = np.cumsum(n_at[::-1])[::-1]
        if start is not None:
            # R's survfitKM on Surv(start, stop, event): rows that enter at or after a time are not at risk
            late = np.searchsorted(ut, np.asarray(start, dtype=float), side="right") - 1
            n_late = np.bincount(late[late >= 0], minlength=ut.size)
            n_risk = n_risk - np.cumsum(n_late[::-1])[::-1]
        surv = np.cumprod(1.0 - d_at / n_risk)
        s_before = np.concatenate(([1.0], surv[:-1]))
        return 1.0 - s_before[inv]
    raise ValueError(f"transform must be 'km', 'rank', 'identity', 'log' or a callable; got {transform!r}")


def _score_and_information(time, event, X, eta, weights, strata, gtime, efron: bool, schoenfeld: bool = False,
                           start=None):
    """Second half of the score vector (p) and the full 2p x 2p information at (beta, 0).

    With ``schoenfeld``, also the rows of the events in (stratum, time) order and their
    Schoenfeld residuals ``x - xbar`` (Efron: xbar is the mean over the d steps, as zph1.c).
    """
    n, p = X.shape
    order = np.lexsort((time, strata))
    t, d, s = time[order], event[order], strata[order]
    x = X[order]
    w = weights[order]
    g = gtime[order]
    r = w * np.exp(eta[order])

    rb = RiskBlocks(s, t, None if start is None else np.asarray(start, dtype=float)[order])
    nb = rb.nb
    rx = r[:, None] * x
    b_dr = rb.sums(r * d)
    b_drx = rb.sums(rx * d[:, None])
    b_dw = rb.sums(w * d)
    b_dwx = rb.sums((w * d)[:, None] * x)
    b_nd = rb.sums(d).astype(np.int64)
    b_g = g[rb.bstart]
    S0 = rb.at_risk(r)      # risk-set sums at each block ((start, stop] rows: R's zph2)
    S1 = rb.at_risk(rx)

    # one row per (event block, Efron step): f = 1 - j/d, the fraction of the tied deaths still in
    ev, blk, frac, ndr = rb.efron_steps(b_nd, efron)
    nd = b_nd[ev]
    wtave = b_dw[ev] / nd
    f = 1.0 - frac          # R adds the deaths back in 1/d steps: same set of fractions
    # Breslow: one "step" per death, each with the full risk set and weight wtave -> d * wtave = deadwt
    den = S0[blk] - (1.0 - f) * b_dr[blk]
    S1k = S1[blk] - (1.0 - f)[:, None] * b_drx[blk]
    c = np.repeat(wtave, nd)
    gk = b_g[blk]

    # score, time-weighted half: sum_deaths g w x - sum_steps g c S1/den
    u2 = (b_g[ev, None] * b_dwx[ev]).sum(axis=0) - ((gk * c / den)[:, None] * S1k).sum(axis=0)

    # S2 part: per-row weight = sum over the event times the row is at risk for of h(g) c/den,
    # with the row's own death time counted at weight f (Efron)
    inv = c / den
    A = np.empty((3, nb))
    B = np.empty((3, nb))
    for k in range(3):
        hk = gk ** k
        A[k] = np.bincount(blk, weights=hk * inv, minlength=nb)
        B[k] = np.bincount(blk, weights=hk * inv * f, minlength=nb)
    # cumulative over blocks within stratum, forward in time (rows at risk at all earlier event times)
    cumA = rb.fwd_within(A.T).T
    rowA = cumA[:, rb.block_of_row] - d[None, :] * (A - B)[:, rb.block_of_row]
    rowA -= rb.before_entry(cumA)     # the event times before the row entered
    info = np.zeros((2 * p, 2 * p))
    m_w = c / den ** 2
    for k, (i0, j0) in enumerate(((0, 0), (0, p), (p, p))):
        cw = r * rowA[k]
        blkmat = (x * cw[:, None]).T @ x - (S1k * (m_w * gk ** k)[:, None]).T @ S1k
        info[i0:i0 + p, j0:j0 + p] = blkmat
    info[p:, :p] = info[:p, p:].T
    if not schoenfeld:
        return u2, info
    xbar = np.stack([np.bincount(blk, weights=S1k[:, k] / den / ndr, minlength=nb) for k in range(p)], axis=1)
    ev_rows = np.flatnonzero(d)
    resid = x[ev_rows] - xbar[rb.block_of_row[ev_rows]]
    return u2, info, order[ev_rows], resid


def _check(time, event, X, beta, strata, weights, ties, terms):
    t, e, X, beta, w = fitted_arrays(time, event, X, beta, weights, ties)
    n, p = X.shape
    if not e.any():
        raise ValueError("cox_zph needs at least one event")
    s = np.zeros(n, dtype=np.int64) if strata is None else np.unique(np.asarray(strata).ravel(),
                                                                      return_inverse=True)[1].ravel()
    if s.size != n:
        raise ValueError("strata must have one value per row")
    groups = _term_groups(terms, p)

    return t, e, X, beta, s, w, groups


def cox_zph(time, event, X, beta, var=None, terms=None, strata=None, weights=None, ties: str = "efron",
            transform: str | Callable = "km", start=None) -> pd.DataFrame:
    """R 3.x ``cox.zph(fit, transform=)``: score tests of proportional hazards, per term and global.

    Parameters
    ----------
    time, event : complete-case, near-tie merged arrays of the fit's rows.
    X : (n, p) uncentred design matrix of the fit.
    beta : (p,) fitted coefficients.
    var : ignored (R recomputes the information at beta); accepted for call compatibility.
    terms : one name per column of X (columns sharing a name are one multi-df term, like a factor
        in R), or a mapping ``term -> column indices``. Default: ``x1 .. xp``.
    strata : integer stratum codes, or None.
    weights : case weights, or None.
    ties : ``"efron"`` or ``"breslow"``, as the fit.
    transform : ``"km"`` (R's default), ``"rank"``, ``"identity"``, ``"log"`` or a callable of time.
    start : entry times of (start, stop] rows (``time`` being the stops), as R's ``zph2``; or None.

    Returns
    -------
    DataFrame indexed by term names plus ``GLOBAL``; columns ``chisq``, ``df``, ``p``.
    """
    t, e, X, beta, s, w, groups = _check(time, event, X, beta, strata, weights, ties, terms)
    p = X.shape[1]
    tt = zph_transform(t, e, transform, start)
    if not np.all(np.isfinite(tt[e == 1])):
        raise ValueError(f"transform {transform!r} gives non-finite values at event times")
    gtime = tt - tt[e == 1].mean()
    Xc = X - X.mean(axis=0)                 # R's zph1 centring (unweighted)
    eta = Xc @ beta
    eta = eta - eta.max()                   # a constant shift cancels in every risk set
    u2, imat = _score_and_information(t, e.astype(bool), Xc, eta, w, s, gtime, efron=(ties == "efron"), start=start)

    def score_test(cols: np.ndarray) -> float:
        kk = np.concatenate((np.arange(p), cols + p))
        u = np.concatenate((np.zeros(p), u2[cols]))
        try:
            sol = linalg.solve(imat[np.ix_(kk, kk)], u, assume_a="sym")
        except (linalg.LinAlgError, ValueError) as exc:
            raise ValueError(f"cox_zph: the information matrix is singular ({exc})") from exc
        return float(sol @ u)

    names, chisq, df = [], [], []
    for name, cols in groups:
        names.append(name)
        chisq.append(score_test(cols))
        df.append(cols.size)
    names.append("GLOBAL")
    chisq.append(score_test(np.arange(p)))
    df.append(p)
    chisq = np.asarray(chisq)
    df = np.asarray(df, dtype=np.int64)
    return pd.DataFrame({"chisq": chisq, "df": df, "p": stats.chi2.sf(chisq, df)},
                        index=pd.Index(names, name="term"))


@dataclass(frozen=True)
class ZphResiduals:
    """Scaled Schoenfeld residuals for plotting, as R's ``cox.zph`` ``$y``, ``$x``, ``$time``, ``$var``.

    ``table``: one row per event in (stratum, time) order; columns ``time``, ``g`` (the
    transformed time, R's ``$x``), ``strata`` (code), then one column per term holding
    ``beta + scaled residual`` (R's ``$y``; a multi-column term is combined with its
    coefficients and centred at 1, as R). NaN where the term does not vary in the event's
    stratum. ``var``: R's ``$var``, the inverse of the per-event average information, used by
    ``plot.cox.zph`` for its confidence band. A smooth of a term's column against ``g`` that is
    not flat suggests a time-varying effect.
    """

    table: pd.DataFrame
    var: pd.DataFrame


def zph_residuals(time, event, X, beta, terms=None, strata=None, weights=None, ties: str = "efron",
                  transform: str | Callable = "km", start=None) -> ZphResiduals:
    """R 3.x ``cox.zph(fit, transform=)``'s scaled Schoenfeld residuals (``$y``) for PH plots.

    Same arguments as :func:`cox_zph`. Follows R step by step: residuals ``x - xbar`` at each
    event, per-stratum scaling by the inverse of ``imat / (number of events)`` restricted to
    the covariates that vary in the stratum, then ``+ beta``.
    """
    t, e, X, beta, s, w, groups = _check(time, event, X, beta, strata, weights, ties, terms)
    n, p = X.shape
    tt = zph_transform(t, e, transform, start)
    gtime = tt - tt[e == 1].mean()
    Xc = X - X.mean(axis=0)
    eta = Xc @ beta
    eta = eta - eta.max()
    _, imat, ev_rows, sres = _score_and_information(t, e.astype(bool), Xc, eta, w, s, gtime,
                                                    efron=(ties == "efron"), schoenfeld=True, start=start)
    # used[stratum, column]: events in the stratum if the column varies there, else 0 (zph1.c)
    codes = np.unique(s)
    used = np.zeros((codes.size, p), dtype=np.int64)
    for i, code in enumerate(codes):
        rows = s == code
        nev = int(e[rows].sum())
        varies = np.any(X[rows] != X[rows][0], axis=0)
        used[i] = np.where(varies, nev, 0)
    for _, cols in groups:               # a multi-column term: all its columns count if any does
        if cols.size > 1 and np.any(used[:, cols] == 0):
            used[:, cols] = used[:, cols].max(axis=1, keepdims=True)
    wtmat = sum(np.minimum.outer(u, u) for u in used)
    vmean = imat[:p, :p] / np.where(wtmat == 0, 1, wtmat)
    nterm = len(groups)
    multi = any(cols.size > 1 for _, cols in groups)
    if multi:
        temp = np.zeros((p, nterm))
        for i, (_, cols) in enumerate(groups):
            temp[cols, i] = 1.0 if cols.size == 1 else beta[cols]
        sres = sres @ temp
        vmean = temp.T @ vmean @ temp
        used = used[:, [cols[0] for _, cols in groups]]
    else:
        order_cols = np.concatenate([cols for _, cols in groups])
        sres = sres[:, order_cols]
        vmean = vmean[np.ix_(order_cols, order_cols)]
        used = used[:, order_cols]
    sres = sres.copy()
    # R assigns residual rows to strata by counting max(used) rows per stratum, in stratum order
    sgrp = np.repeat(np.arange(codes.size), used.max(axis=1))
    for i in range(codes.size):
        k = np.flatnonzero(used[i] > 0)
        if k.size == 0:
            continue
        j = np.flatnonzero(sgrp == i)
        sres[np.ix_(j, k)] = linalg.solve(vmean[np.ix_(k, k)], sres[np.ix_(j, k)].T, assume_a="sym").T
        other = np.setdiff1d(np.arange(nterm), k)
        sres[np.ix_(j, other)] = np.nan
    for i, (_, cols) in enumerate(groups):
        sres[:, i] += beta[cols[0]] if cols.size == 1 else 1.0
    names = [nm for nm, _ in groups]
    table = pd.DataFrame({"time": t[ev_rows], "g": tt[ev_rows], "strata": s[ev_rows]})
    for i, nm in enumerate(names):
        table[nm] = sres[:, i]
    return ZphResiduals(table=table, var=pd.DataFrame(linalg.inv(vmean), index=names, columns=names))
