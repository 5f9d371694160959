"""Baseline hazard and predicted survival after a Cox fit, as R's ``survfit.coxph`` (survival 3.x).

R's defaults, which these functions follow:

* ``stype = 2``: survival is ``exp(-H)``, not the Kalbfleisch-Prentice product;
* ``ctype`` follows the fit's ties: Breslow (``ctype = 1``) hazard increment
  ``dN / S0`` with ``dN`` the weighted number of events and ``S0 = sum w exp(lp)`` over
  the risk set; Efron (``ctype = 2``) increment ``dN * mean_{j=0..d-1} 1/(S0 - (j/d) S0_dead)``,
  ``d`` the unweighted number of tied events (R's ``agsurv`` / ``agsurv5.c``);
* a predicted curve for covariates ``x`` is ``S(t | x) = exp(-H0(t) exp((x - c) beta))`` with
  the baseline ``H0`` computed at the centring ``c``; the product does not depend on ``c``.
  The *reported* baseline (``survfit(fit)`` without newdata, ``basehaz(fit)``) is the curve
  at ``c = fit$means``: the case-weighted column means, except 0 for a column whose values
  are all in {-1, 0, 1} (coxph's ``nocenter``); :func:`r_means` computes it;
* one curve per stratum; the curve has a row at every distinct time of the stratum (event
  or censoring), as ``survfit`` does.

``std_err`` (optional, when ``var`` is given) is R's ``survfit.coxph`` standard error of the
cumulative hazard, which includes the uncertainty of beta:
``sqrt((sum varhaz + dt' V dt) * risk^2)`` with ``dt = sum (dH x - xbar dH)``; the
confidence band is R's default ``conf.type = "log"``: ``S exp(-/+ z std_err)``, capped at 1.
Pass ``fit$var`` (R uses the robust variance when the fit is robust).

Inputs are complete-case, near-tie merged arrays of the fit's rows; strata as integer codes; ``start``
(optional) the entry times of (start, stop] rows, whose stops are ``time``.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ._fitted_arrays import RiskBlocks, fitted_arrays

__all__ = ["cox_survival", "cox_survival_table", "cumulative_hazard", "r_means"]


def r_means(X, weights=None) -> np.ndarray:
    """R's ``coxph()$means``: weighted column means, 0 for columns with all values in {-1, 0, 1}."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    w = np.ones(X.shape[0]) if weights is None else np.asarray(weights, dtype=float).ravel()
    means = (w @ X) / w.sum()
    nocenter = np.all(np.isin(X, (-1.0, 0.0, 1.0)), axis=0)
    means[nocenter] = 0.0
    return means


def _inputs(time, event, X, beta, strata, weights, ties):
    t, e, X, beta, w = fitted_arrays(time, event, X, beta, weights, ties)
    # strata keep the caller's integer codes: newstrata refer to the same codes
    s = np.zeros(t.size, dtype=np.int64) if strata is None else np.asarray(strata).ravel().astype(np.int64)
    if s.size != t.size:
        raise ValueError("strata must have one value per row")
    return t, e, X, beta, s, w


def _curves(t, e, X, beta, s, w, efron: bool, center: np.ndarray, with_var: bool, start=None) -> dict:
    """Per (stratum, distinct time) block: R's agsurv quantities at risk score exp((x - center) beta).

    With ``start`` ((start, stop] rows, ``t`` the stops) a row is at risk at a block's time only after it
    entered: its weights are taken off the risk sets of the blocks at or before its start."""
    n, p = X.shape
    order = np.lexsort((t, s))
    t, e, s, w, X = t[order], e[order], s[order], w[order], X[order]
    if start is not None:
        start = np.asarray(start, dtype=float).ravel()[order]
    lp = (X - center) @ beta
    shift = lp.max() if n else 0.0               # guards exp() overflow; undone below
    r = w * np.exp(lp - shift)

    rb = RiskBlocks(s, t, start)
    nevent = rb.sums(w * e)
    ncens = rb.sums(w * (1 - e))
    ndeath = rb.sums(e).astype(np.int64)
    at_risk = rb.at_risk
    S0 = at_risk(r)
    nrisk_w = at_risk(w)
    S0d = rb.sums(r * e)

    # Efron: one row per (block, j = 0..d-1) with denominator S0 - (j/d) S0_dead
    _, blk, frac, dd = rb.efron_steps(ndeath, efron)
    den = S0[blk] - frac * S0d[blk]
    # mean over the d steps (Breslow: all steps equal 1/S0, the mean is 1/S0)
    sum1 = np.bincount(blk, weights=1.0 / den / dd, minlength=rb.nb)
    hazard = nevent * sum1
    out = dict(order=order, stratum=rb.stratum, time=rb.time, n_risk=nrisk_w, n_event=nevent,
               n_censor=ncens, hazard=hazard * np.exp(-shift), cumhaz=rb.fwd_within(hazard) * np.exp(-shift),
               shift=shift)
    if with_var:
        rx = r[:, None] * X
        S1 = at_risk(rx)
        S1d = rb.sums(rx * e[:, None])
        sum2 = np.bincount(blk, weights=1.0 / den ** 2 / dd, minlength=rb.nb)
        num = S1[blk] - frac[:, None] * S1d[blk]
        xbar = np.stack([np.bincount(blk, weights=num[:, k] / den ** 2 / dd, minlength=rb.nb) for k in range(p)],
                        axis=1) * nevent[:, None]
        # undo the exp shift: hazard-like terms scale by exp(-shift), their squares by exp(-2 shift)
        out["varhaz"] = nevent * sum2 * np.exp(-2 * shift)
        out["xbar"] = xbar * np.exp(-shift)
        out["fwd_within"] = rb.fwd_within
    return out


def cumulative_hazard(time, event, X, beta, strata=None, weights=None, ties: str = "efron",
                      center=None, var=None, conf_level: float = 0.95, start=None) -> pd.DataFrame:
    """Baseline cumulative hazard, as R's ``survfit(fit)`` / ``basehaz(fit, centered=TRUE)``.

    Returns one row per stratum and distinct time (events and censorings), columns ``strata``
    (integer code), ``time``, ``n_risk`` (weighted), ``n_event`` (weighted), ``n_censor``,
    ``cumhaz`` and ``survival`` = exp(-cumhaz), for the covariate profile ``center`` (default
    R's ``fit$means``, see :func:`r_means`). With ``var`` (the fit's variance matrix), also
    ``std_err`` (of the cumulative hazard, as R's ``survfit.coxph``) and the log-type
    confidence band ``lower``, ``upper`` at ``conf_level``.
    """
    t, e, X, beta, s, w = _inputs(time, event, X, beta, strata, weights, ties)
    if t.size == 0:
        raise ValueError("no rows")
    c = r_means(X, w) if center is None else np.asarray(center, dtype=float).ravel()
    cur = _curves(t, e, X, beta, s, w, ties == "efron", c, with_var=var is not None, start=start)
    frame = pd.DataFrame({"strata": cur["stratum"], "time": cur["time"], "n_risk": cur["n_risk"],
                          "n_event": cur["n_event"], "n_censor": cur["n_censor"], "cumhaz": cur["cumhaz"]})
    frame["survival"] = np.exp(-frame["cumhaz"].to_numpy())
    if var is not None:
        se = _std_err(cur, np.asarray(var, dtype=float), c[None, :], c, beta)[:, 0]
        frame["std_err"] = se
        z = stats.norm.ppf(0.5 + conf_level / 2)
        surv = frame["survival"].to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            frame["lower"] = np.exp(np.log(surv) - z * se)
            frame["upper"] = np.minimum(np.exp(np.log(surv) + z * se), 1.0)
    return frame


def _std_err(cur, V, newX, center, beta):
    """(n_blocks, n_new) std err of the cumulative hazard per new profile (R's coxsurv.fit)."""
    fwd = cur["fwd_within"]
    hz, xbar = cur["hazard"], cur["xbar"]          # xbar: risk-weighted mean of x (uncentred) times dH
    base = fwd(cur["varhaz"])
    out = np.empty((hz.size, newX.shape[0]))
    for k, x2 in enumerate(newX):
        dt = fwd(hz[:, None] * x2[None, :] - xbar)
        risk2 = np.exp((x2 - center) @ beta)
        out[:, k] = np.sqrt((base + np.einsum("ij,jk,ik->i", dt, V, dt)) * risk2 ** 2)
    return out


def _new_profiles(X, s, newX, newstrata, center):
    if newX is None:
        newX = center[None, :]
    newX = np.asarray(newX, dtype=float)
    if newX.ndim == 1:
        newX = newX[None, :] if X.shape[1] > 1 or newX.size == 1 else newX[:, None]
    if newX.shape[1] != X.shape[1]:
        raise ValueError(f"newX has {newX.shape[1]} columns but X has {X.shape[1]}")
    codes = np.unique(s)
    if newstrata is None:
        if codes.size > 1:
            raise ValueError("the fit has strata: give newstrata (one stratum code per row of newX)")
        ns = np.full(newX.shape[0], codes[0] if codes.size else 0, dtype=np.int64)
    else:
        ns = np.asarray(newstrata).ravel().astype(np.int64)
        if ns.size != newX.shape[0]:
            raise ValueError(f"newstrata has {ns.size} values but newX has {newX.shape[0]} rows")
        unknown = ~np.isin(ns, codes)
        if unknown.any():
            raise ValueError(f"newstrata codes {sorted(set(ns[unknown].tolist()))} are not strata of the fit")
    return newX, ns


def _times(times):
    if times is None:
        raise ValueError("times is required")
    at = np.atleast_1d(np.asarray(times, dtype=float)).ravel()
    if np.isnan(at).any():
        raise ValueError("times has NaN values")
    return at


def _lookup(cur, code, at):
    """Block index of the last curve time <= t in stratum ``code`` (-1 before the first time) and
    a mask of the times after the stratum's last time."""
    blocks = np.flatnonzero(cur["stratum"] == code)
    ct = cur["time"][blocks]
    idx = np.searchsorted(ct, at, side="right") - 1
    return np.where(idx >= 0, blocks[np.maximum(idx, 0)], -1), at > ct[-1]


def cox_survival(time, event, X, beta, strata=None, weights=None, ties: str = "efron", newX=None, times=None,
                 newstrata=None, start=None) -> np.ndarray:
    """Predicted survival, R's ``survfit(fit, newdata)``, read at ``times``: shape (n_times, n_new).

    Each column is one row of ``newX`` (uncentred covariates, same columns as ``X``); with
    strata, ``newstrata`` gives each new row's stratum code (required when there is more
    than one stratum). The value at ``t`` is the curve's value at the last curve time <= t,
    1 before the first time, and NaN after the stratum's last observed time (R's
    ``summary(survfit, times)`` does not extrapolate past follow-up). ``newX=None`` means the
    baseline profile ``fit$means``.
    """
    t, e, X, beta, s, w = _inputs(time, event, X, beta, strata, weights, ties)
    at = _times(times)
    c = r_means(X, w)
    newX, ns = _new_profiles(X, s, newX, newstrata, c)
    cur = _curves(t, e, X, beta, s, w, ties == "efron", c, with_var=False, start=start)
    risk2 = np.exp((newX - c) @ beta)
    out = np.empty((at.size, newX.shape[0]))
    for code in np.unique(ns):
        bi, after = _lookup(cur, code, at)
        H = np.where(bi >= 0, cur["cumhaz"][np.maximum(bi, 0)], 0.0)
        H[after] = np.nan
        cols = np.flatnonzero(ns == code)
        out[:, cols] = np.exp(-np.outer(H, risk2[cols]))
    return out


def cox_survival_table(time, event, X, beta, var, strata=None, weights=None, ties: str = "efron", newX=None,
                       times=None, newstrata=None, conf_level: float = 0.95, start=None) -> pd.DataFrame:
    """Predicted survival with R's standard error and confidence band, long format.

    Same curves as :func:`cox_survival`; ``var`` is the fit's variance matrix (R uses
    ``fit$var``, the robust one for a robust fit). Columns: ``profile`` (row of ``newX``),
    ``time``, ``survival``, ``std_err`` (of the cumulative hazard, R's ``survfit.coxph``
    ``std.err``), ``lower``, ``upper`` (R's default ``conf.type = "log"``). Before the first
    curve time survival is 1 with std_err 0; after the stratum's last time all are NaN.
    """
    t, e, X, beta, s, w = _inputs(time, event, X, beta, strata, weights, ties)
    at = _times(times)
    V = np.asarray(var, dtype=float).reshape(X.shape[1], X.shape[1])
    c = r_means(X, w)
    newX, ns = _new_profiles(X, s, newX, newstrata, c)
    cur = _curves(t, e, X, beta, s, w, ties == "efron", c, with_var=True, start=start)
    risk2 = np.exp((newX - c) @ beta)
    surv = np.empty((at.size, newX.shape[0]))
    se = np.empty_like(surv)
    for code in np.unique(ns):
        bi, after = _lookup(cur, code, at)
        cols = np.flatnonzero(ns == code)
        H = np.where(bi >= 0, cur["cumhaz"][np.maximum(bi, 0)], 0.0)
        blk_se = _std_err(cur, V, newX[cols], c, beta)          # (n_blocks, n_cols)
        S = np.where((bi >= 0)[:, None], blk_se[np.maximum(bi, 0)], 0.0)
        surv[:, cols] = np.exp(-np.outer(H, risk2[cols]))
        se[:, cols] = S
        surv[np.ix_(after, cols)] = np.nan
        se[np.ix_(after, cols)] = np.nan
    z = stats.norm.ppf(0.5 + conf_level / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.exp(np.log(surv) - z * se)
        upper = np.minimum(np.exp(np.log(surv) + z * se), 1.0)
    n_new = newX.shape[0]
    return pd.DataFrame({"profile": np.tile(np.arange(n_new), at.size), "time": np.repeat(at, n_new),
                         "survival": surv.ravel(), "std_err": se.ravel(), "lower": lower.ravel(),
                         "upper": upper.ravel()})
