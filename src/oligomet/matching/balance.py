"""Covariate balance statistics as MatchIt 4.5.1's ``summary(m, standardize = TRUE)``.

Per covariate column (factors expanded to one 0/1 column per level, as MatchIt does):

* means by group, weighted by the matching (or IPT) weights; before = unweighted.
* ``smd``: (mean treated - mean control) / SD, where the SD is fixed, unweighted and
  taken from the *full* sample before matching: the treated group's SD for ATT, the
  control group's for ATC, ``sqrt((var_t + var_c) / 2)`` for ATE / ATO (MatchIt's
  ``pooled_sd(contribution = "equal")``, cobalt's "pooled"). Binary (0/1) variables use
  the variance ``p (1 - p)`` (no n - 1), continuous ones the sample variance. A mean
  difference below sqrt(machine eps) is reported unstandardised (it is ~0); an SD of ~0
  falls back to the pooled SD. Same rules as MatchIt's ``bal1var``.
* ``var_ratio``: weighted variance treated / control (weights normalised, n-1-type
  correction ``1 - sum(w^2)``); NaN for binary variables, as MatchIt.
* ``ecdf_mean`` / ``ecdf_max``: mean and maximum over the distinct values of
  |F_treated - F_control| of the weighted eCDFs; for binary variables both equal the
  absolute difference in proportions.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .propensity import factor_levels

_SQRT_EPS = np.sqrt(np.finfo(float).eps)

BALANCE_COLUMNS = ["mean_treated_before", "mean_control_before", "mean_treated_after", "mean_control_after",
                   "smd_before", "smd_after", "var_ratio_before", "var_ratio_after", "ecdf_mean_before",
                   "ecdf_mean_after", "ecdf_max_before", "ecdf_max_after"]


def covariate_matrix(data: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """MatchIt's balance covariates: numeric as is, bool as 0/1, factors as one dummy per level."""
    cols: dict[str, np.ndarray] = {}
    for cov in covariates:
        s = data[cov]
        if s.dtype == bool:
            cols[cov] = s.to_numpy(dtype=float)
        elif pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            cols[cov] = s.to_numpy(dtype=float)
        else:
            for lv in factor_levels(s):
                cols[f"{cov}{lv}"] = (s == lv).to_numpy(dtype=float)
    return pd.DataFrame(cols, index=data.index)


def _is_binary(x: np.ndarray) -> bool:
    return bool(np.all((x == 0) | (x == 1)))


def wvar(x: np.ndarray, binary: bool, w: np.ndarray | None = None) -> float:
    """MatchIt's ``wvar``: p(1-p) for binary, weighted sample variance otherwise."""
    w = np.ones(len(x)) if w is None else w
    sw = w.sum()
    if sw == 0:
        return np.nan
    w = w / sw
    mx = np.sum(w * x)
    if binary:
        return float(mx * (1 - mx))
    denom = 1 - np.sum(w ** 2)
    return float(np.sum(w * (x - mx) ** 2) / denom) if denom > 0 else np.nan


def _wmean(x: np.ndarray, w: np.ndarray) -> float:
    sw = w.sum()
    return float(np.sum(x * w) / sw) if sw > 0 else np.nan


def _pooled_sd_proportional(x: np.ndarray, t: np.ndarray, binary: bool) -> float:
    n = len(x)
    if binary:
        v = 0.0
        for g in (0, 1):
            sx, ng = x[t == g].sum(), (t == g).sum()
            v += sx * (1 - sx / ng) / n
        return float(np.sqrt(v))
    xc = x.copy()
    for g in (0, 1):
        xc[t == g] -= xc[t == g].mean()
    return float(np.sqrt(np.sum(xc ** 2) / (n - 2)))


def sd_denominator(x: np.ndarray, t: np.ndarray, estimand: str) -> float:
    """The fixed SD in the SMD denominator (unweighted, full sample)."""
    b = _is_binary(x)
    if estimand == "ATT":
        sd = np.sqrt(wvar(x[t == 1], b))
    elif estimand == "ATC":
        sd = np.sqrt(wvar(x[t == 0], b))
    else:
        sd = np.sqrt((wvar(x[t == 1], b) + wvar(x[t == 0], b)) / 2)
    if not np.isfinite(sd) or sd < _SQRT_EPS:
        sd = _pooled_sd_proportional(x, t, b)
    return float(sd)


def _ecdf_stats(x: np.ndarray, t: np.ndarray, w: np.ndarray, o: np.ndarray | None = None) -> tuple[float, float]:
    # MatchIt's qqsum(standardize = TRUE): cumulative difference of the group-normalised
    # weights, read at the last unit of each run of equal values. ``o`` = argsort(x), if known.
    w = w.astype(float).copy()
    for g in (0, 1):
        s = w[t == g].sum()
        w[t == g] = w[t == g] / s
    if o is None:
        o = np.argsort(x, kind="stable")
    xo, wo, to = x[o], w[o], t[o]
    signed = np.where(to == to[0], -wo, wo)
    cs = np.abs(np.cumsum(signed))
    last = np.r_[np.diff(xo) != 0, True]
    e = cs[last]
    return float(e.mean()), float(e.max())


def balance_one(x: np.ndarray, t: np.ndarray, w: np.ndarray | None, sd: float,
                order: np.ndarray | None = None) -> dict[str, float]:
    """Means, SMD, variance ratio and eCDF statistics of one column under weights ``w``."""
    w = np.ones(len(x)) if w is None else np.asarray(w, dtype=float)
    b = _is_binary(x)
    t1, t0 = t == 1, t == 0
    m1, m0 = _wmean(x[t1], w[t1]), _wmean(x[t0], w[t0])
    mdiff = m1 - m0
    too_small = (np.sum(w[t1] != 0) < 2) and (np.sum(w[t0] != 0) < 2)
    if abs(mdiff) > _SQRT_EPS:
        smd = mdiff / sd if not too_small else np.nan
    else:
        smd = mdiff
    vr = em = ex = np.nan
    if b:
        em = ex = abs(mdiff)
    elif not too_small:
        vr = wvar(x[t1], False, w[t1]) / wvar(x[t0], False, w[t0])
        # all rows, weight-0 ones included: MatchIt reads the eCDF gap at every distinct value
        # of the full sample, so unmatched units' values still count as evaluation points
        em, ex = _ecdf_stats(x, t, w, order)
    return {"mean_treated": m1, "mean_control": m0, "smd": smd, "var_ratio": vr, "ecdf_mean": em, "ecdf_max": ex}


def balance_table(X: pd.DataFrame, t: np.ndarray, weights: np.ndarray, estimand: str = "ATT",
                  distance: np.ndarray | None = None) -> pd.DataFrame:
    """Balance before (unweighted) and after (``weights``) for every column of ``X``.

    Indexed by covariate (``distance`` first when given), columns :data:`BALANCE_COLUMNS`.
    """
    cols = {} if distance is None else {"distance": np.asarray(distance, dtype=float)}
    cols.update({c: X[c].to_numpy(dtype=float) for c in X.columns})
    rows = {}
    for name, x in cols.items():
        sd = sd_denominator(x, t, estimand)
        o = None if _is_binary(x) else np.argsort(x, kind="stable")
        before = balance_one(x, t, None, sd, o)
        after = balance_one(x, t, weights, sd, o)
        rows[name] = {**{f"{k}_before": v for k, v in before.items()},
                      **{f"{k}_after": v for k, v in after.items()}}
    out = pd.DataFrame.from_dict(rows, orient="index")[BALANCE_COLUMNS]
    out.index.name = "covariate"
    return out
