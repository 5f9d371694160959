"""Covariate balance statistics as MatchIt 4.7.2's ``summary(m, standardize = TRUE)``.

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

from .._validation import group_labels

_SQRT_EPS = np.sqrt(np.finfo(float).eps)

BALANCE_COLUMNS = ["mean_treated_before", "mean_control_before", "mean_treated_after", "mean_control_after",
                   "smd_before", "smd_after", "var_ratio_before", "var_ratio_after", "ecdf_mean_before",
                   "ecdf_mean_after", "ecdf_max_before", "ecdf_max_after"]


def balance_rows(data: pd.DataFrame, covariates: list[str]) -> dict[str, tuple[str, object]]:
    """The balance table's row names, each with its ``(column, level)``: a numeric or bool covariate is one row
    (level None), a factor one row per level, named as MatchIt names it (the column then the level)."""
    rows: dict[str, tuple[str, object]] = {}
    for cov in covariates:
        s = data[cov]
        if s.dtype == bool or pd.api.types.is_numeric_dtype(s) and not isinstance(s.dtype, pd.CategoricalDtype):
            rows[cov] = (cov, None)
        else:
            rows.update({f"{cov}{lv}": (cov, lv) for lv in group_labels(data, cov)[1]})
    return rows


def covariate_matrix(data: pd.DataFrame, covariates: list[str]) -> pd.DataFrame:
    """MatchIt's balance covariates: numeric as is, bool as 0/1, factors as one dummy per level."""
    cols = {name: (data[cov].to_numpy(dtype=float) if level is None else (data[cov] == level).to_numpy(dtype=float))
            for name, (cov, level) in balance_rows(data, covariates).items()}
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


class _Column:
    """Per-column work shared by the before / after statistics: binary flag and distinct values."""

    def __init__(self, x: np.ndarray, t: np.ndarray):
        self.x = x
        self.t = t
        self.binary = _is_binary(x)
        if not self.binary:
            # eCDFs are read at each distinct value: sort once, reuse for every weighting
            _, self.inv = np.unique(x, return_inverse=True)
            self.n_unique = int(self.inv.max()) + 1


def _group_moments(c: _Column, w: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per group (index 0 = control, 1 = treated): sum of weights, weighted mean, MatchIt's wvar."""
    sw = np.bincount(c.t, weights=w, minlength=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.bincount(c.t, weights=w * c.x, minlength=2) / sw
        if c.binary:
            var = mean * (1 - mean)
        else:
            # two-pass (deviations from the group mean) to avoid cancellation on large values
            ss = np.bincount(c.t, weights=w * (c.x - mean[c.t]) ** 2, minlength=2) / sw
            q = np.bincount(c.t, weights=w * w, minlength=2) / sw ** 2
            var = np.where(1 - q > 0, ss / (1 - q), np.nan)
    return sw, mean, var


def _ecdf_stats(c: _Column, w: np.ndarray) -> tuple[float, float]:
    # MatchIt's qqsum(standardize = TRUE): |F_treated - F_control| of the group-normalised weighted
    # eCDFs, read at every distinct value of the full sample (zero-weight rows included).
    f1 = np.cumsum(np.bincount(c.inv, weights=w * (c.t == 1), minlength=c.n_unique))
    f0 = np.cumsum(np.bincount(c.inv, weights=w * (c.t == 0), minlength=c.n_unique))
    e = np.abs(f1 / f1[-1] - f0 / f0[-1])
    return float(e.mean()), float(e.max())


def balance_one(c: _Column, w: np.ndarray | None, sd: float) -> dict[str, float]:
    """Means, SMD, variance ratio and eCDF statistics of one column under weights ``w``."""
    w = np.ones(len(c.x)) if w is None else np.asarray(w, dtype=float)
    sw, mean, var = _group_moments(c, w)
    m1, m0 = float(mean[1]), float(mean[0])
    mdiff = m1 - m0
    nz = np.bincount(c.t, weights=(w != 0).astype(float), minlength=2)
    too_small = nz[1] < 2 and nz[0] < 2
    if abs(mdiff) > _SQRT_EPS:
        smd = mdiff / sd if not too_small else np.nan
    else:
        smd = mdiff
    vr = em = ex = np.nan
    if c.binary:
        em = ex = abs(mdiff)
    elif not too_small:
        vr = float(var[1] / var[0])
        em, ex = _ecdf_stats(c, w)
    return {"mean_treated": m1, "mean_control": m0, "smd": smd, "var_ratio": vr, "ecdf_mean": em, "ecdf_max": ex}


def balance_table(X: pd.DataFrame, t: np.ndarray, weights: np.ndarray, estimand: str = "ATT",
                  distance: np.ndarray | None = None) -> pd.DataFrame:
    """Balance before (unweighted) and after (``weights``) for every column of ``X``.

    Indexed by covariate (``distance`` first when given), columns :data:`BALANCE_COLUMNS`.
    """
    cols = {} if distance is None else {"distance": np.asarray(distance, dtype=float)}
    cols.update({c: X[c].to_numpy(dtype=float) for c in X.columns})
    rows = {}
    t = np.asarray(t, dtype=np.int64)
    for name, x in cols.items():
        sd = sd_denominator(x, t, estimand)
        c = _Column(x, t)
        before = balance_one(c, None, sd)
        after = balance_one(c, weights, sd)
        rows[name] = {**{f"{k}_before": v for k, v in before.items()},
                      **{f"{k}_after": v for k, v in after.items()}}
    out = pd.DataFrame.from_dict(rows, orient="index")[BALANCE_COLUMNS]
    out.index.name = "covariate"
    return out
