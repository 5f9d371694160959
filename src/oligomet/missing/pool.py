"""Rubin's rules, as ``mice::pool`` (mice 3.15, ``rule = "rubin1987"``) and ``summary(pool, conf.int = TRUE)``.

For each term, from the m estimates Q_l and their squared standard errors U_l:

* pooled estimate Q = mean(Q_l); within-imputation variance U = mean(U_l);
  between-imputation variance B = var(Q_l) (denominator m - 1); total variance T = U + (1 + 1/m) B;
* riv = (1 + 1/m) B / U (relative increase in variance); lambda = (1 + 1/m) B / T;
* Barnard-Rubin degrees of freedom, with lambda floored at 1e-4 as mice does:
  nu_old = (m - 1) / lambda^2, nu_obs = (nu_com + 1) / (nu_com + 3) nu_com (1 - lambda),
  df = nu_old nu_obs / (nu_old + nu_obs) (nu_old when nu_com is infinite);
* fmi = (riv + 2 / (df + 3)) / (riv + 1);
* se = sqrt(T), statistic = Q / se, p = 2 P(t_df > |statistic|) (df floored at 0.001), CI = Q +- t_{df} se.

The complete-data degrees of freedom nu_com (``dfcom``) default to mice's choice: for a Cox model the
number of events minus the number of coefficients (mice's rule for ``coxph``); for a logistic model the
residual df, n - p (``glm``'s ``df.residual``); for a Fine-Gray model, as for Cox, the number of events of
the cause minus p (mice has no rule for ``crr``: pass ``dfcom=`` to choose another). A Cox model fitted
with a robust variance is pooled with its robust SEs, as mice pools broom's ``robust.se``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import require_columns, require_conf_level, require_frame
from ..competing.finegray import FineGray, fine_gray
from ..matching.propensity import PropensityWarning, fit_logistic
from ..survival.cox import CoxResult, cox_each
from ..survival.design import build_design, parse_covariates
from .._notebook import TidyTablesHTML

__all__ = ["pool", "pool_cox", "pool_fine_gray", "pool_logistic", "logistic", "LogisticModel", "PooledResult",
           "rubin"]

_RATIO = {"cox": "hr", "fine_gray": "shr", "logistic": "or"}


@dataclass(frozen=True)
class LogisticModel:
    """A logistic regression fitted by R's ``glm.fit`` (:func:`oligomet.matching.propensity.fit_logistic`).

    ``summary``: indexed by term (``(Intercept)`` first; covariates coded and named as in ``cox``), columns
    ``coef``, ``se`` (``summary.glm``'s, from the last IRLS iteration's weights), ``z``, ``p``, ``or`` =
    exp(coef), ``or_lower``, ``or_upper`` (95 % Wald). ``n`` rows, ``df_residual`` = n - p.
    """

    summary: pd.DataFrame
    n: int
    df_residual: int
    deviance: float
    converged: bool


def logistic(data: pd.DataFrame, outcome: str, covariates: str | Sequence[str]) -> LogisticModel:
    """Logistic regression of a 0/1 (or True/False) ``outcome``, as R's ``glm(outcome ~ ..., binomial)``.

    Used to pool logistic models over imputed datasets (:func:`pool_logistic`). Rows with a missing
    value are an error here: on imputed data there are none, and on other data silent dropping would
    hide them.
    """
    data = require_frame(data)
    specs = parse_covariates(covariates)
    columns = list(dict.fromkeys(c for s in specs for c in s.sources))
    require_columns(data, [outcome], "outcome column")
    require_columns(data, columns, "covariate")
    na = data[[outcome, *columns]].isna().any()
    if na.any():
        raise ValueError(f"logistic: missing values in {', '.join(map(repr, na.index[na]))}; impute them first "
                         f"(oligomet.impute) or drop those rows explicitly")
    y = pd.to_numeric(data[outcome].astype(float) if data[outcome].dtype == bool else data[outcome],
                      errors="coerce").to_numpy(dtype=float)
    bad = ~np.isin(y, (0.0, 1.0))
    if bad.any():
        raise ValueError(f"logistic: outcome {outcome!r} must be 0/1 or True/False; found "
                         f"{sorted({repr(v) for v in data[outcome][bad].head(5)})}")
    design = build_design(data, specs)
    X = np.column_stack([np.ones(len(data)), design.matrix(data)])
    names = ["(Intercept)", *design.names]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PropensityWarning)
        fit = fit_logistic(X, y, names)
    for w in caught:
        warnings.warn(f"logistic model: {str(w.message).replace('propensity model: ', '')}", w.category,
                      stacklevel=2)
    coef = fit.coef.to_numpy()
    if np.isnan(coef).any():
        raise ValueError(f"logistic: term(s) {', '.join(repr(n) for n, c in zip(names, coef) if np.isnan(c))} are "
                         f"constant or collinear with other terms; remove them")
    r = np.linalg.qr(X * np.sqrt(fit.working_weights)[:, None], mode="r")
    rinv = np.linalg.inv(r)
    se = np.sqrt(np.sum(rinv * rinv, axis=1))        # sqrt(diag((R'R)^-1)) = row norms of R^-1
    z = coef / se
    q = float(stats.norm.ppf(0.975))
    summary = pd.DataFrame({"coef": coef, "se": se, "z": z, "p": 2 * stats.norm.sf(np.abs(z)), "or": np.exp(coef),
                            "or_lower": np.exp(coef - q * se), "or_upper": np.exp(coef + q * se)},
                           index=pd.Index(names, name="term"))
    return LogisticModel(summary=summary, n=len(data), df_residual=len(data) - len(names), deviance=fit.deviance,
                         converged=fit.converged)


@dataclass(frozen=True)
class PooledResult(TidyTablesHTML):
    """Rubin's rules over m fits (R: ``pool()`` and ``summary(pool, conf.int = TRUE)``).

    ``summary``: indexed by term, columns ``estimate``, ``se``, ``statistic``, ``df``, ``p``, ``lower``,
    ``upper`` (``conf_level`` t-interval), the ratio and its limits for known models (``hr``/``shr``/``or``,
    ``*_lower``, ``*_upper``: exp of the estimate and limits), then ``riv``, ``lambda``, ``fmi``, ``ubar``,
    ``b``, ``t``, ``dfcom``, ``m``. ``per_imputation``: tidy ``imputation``, ``term``, ``estimate``, ``se``.
    """

    _html_tables = ("m", "model", "summary")

    summary: pd.DataFrame
    per_imputation: pd.DataFrame
    m: int
    model: str
    conf_level: float

    def __str__(self) -> str:
        cols = [c for c in ("estimate", "se", "df", "p", "lower", "upper", "fmi") if c in self.summary]
        return (f"Pooled {self.model} model over m = {self.m} imputations (Rubin's rules)\n"
                + self.summary[cols].to_string(float_format=lambda v: f"{v:.4g}"))


def rubin(estimates: np.ndarray, variances: np.ndarray, dfcom: float | np.ndarray = np.inf,
          terms: Sequence[str] | None = None, conf_level: float = 0.95) -> pd.DataFrame:
    """Rubin's rules on an (m, p) array of estimates and one of their variances (squared SEs)."""
    q = np.atleast_2d(np.asarray(estimates, dtype=float))
    u = np.atleast_2d(np.asarray(variances, dtype=float))
    if q.shape != u.shape:
        raise ValueError(f"estimates {q.shape} and variances {u.shape} must have the same shape")
    m = q.shape[0]
    if m < 2:
        raise ValueError(f"pooling needs at least 2 imputed datasets, got m = {m}: with one there is no "
                         f"between-imputation variance (impute with m >= 2; 20 or more is usual)")
    require_conf_level(conf_level)
    bad = ~np.isfinite(q) | ~np.isfinite(u) | (u < 0)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        name = terms[j] if terms is not None else j
        raise ValueError(f"term {name!r} has a non-finite estimate or variance in imputation(s) "
                         f"{(np.flatnonzero(bad[:, j]) + 1).tolist()}")
    dfcom = np.broadcast_to(np.asarray(dfcom, dtype=float), q.shape[1:]).copy()
    qbar = q.mean(axis=0)
    ubar = u.mean(axis=0)
    b = q.var(axis=0, ddof=1)
    t = ubar + (1 + 1 / m) * b
    df = barnard_rubin(m, b, t, dfcom)
    with np.errstate(divide="ignore", invalid="ignore"):
        riv = (1 + 1 / m) * b / ubar
        lam = (1 + 1 / m) * b / t
        fmi = (riv + 2 / (df + 3)) / (riv + 1)
        se = np.sqrt(t)
        stat = qbar / se
    p = 2 * stats.t.sf(np.abs(stat), np.maximum(df, 0.001))
    crit = stats.t.ppf(0.5 + conf_level / 2, df)
    out = pd.DataFrame({"estimate": qbar, "se": se, "statistic": stat, "df": df, "p": p,
                        "lower": qbar - crit * se, "upper": qbar + crit * se, "riv": riv, "lambda": lam,
                        "fmi": fmi, "ubar": ubar, "b": b, "t": t, "dfcom": dfcom, "m": m},
                       index=pd.Index(list(terms) if terms is not None else range(q.shape[1]), name="term"))
    return out


def barnard_rubin(m: int, b: np.ndarray, t: np.ndarray, dfcom: np.ndarray) -> np.ndarray:
    """Barnard & Rubin (1999) small-sample degrees of freedom, as ``mice:::barnard.rubin``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lam = np.maximum((1 + 1 / m) * b / t, 1e-4)
        dfold = (m - 1) / lam ** 2
        dfobs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
        return np.where(np.isinf(dfcom), dfold, dfold * dfobs / (dfold + dfobs))


def _estimates(fit) -> tuple[str, list[str], np.ndarray, np.ndarray, float]:
    """(model kind, terms, estimates, standard errors, mice's default dfcom) of one fit."""
    if isinstance(fit, CoxResult):
        s = fit.summary
        se = s["robust_se"] if "robust_se" in s else s["se"]
        return "cox", list(s.index), s["coef"].to_numpy(), se.to_numpy(), max(fit.n_events - len(s), 1)
    if isinstance(fit, FineGray):
        s = fit.summary
        return "fine_gray", list(s.index), s["coef"].to_numpy(), s["se"].to_numpy(), max(fit.n_events - len(s), 1)
    if isinstance(fit, LogisticModel):
        s = fit.summary
        return "logistic", list(s.index), s["coef"].to_numpy(), s["se"].to_numpy(), max(fit.df_residual, 1)
    raise TypeError(f"pool() takes fits of oligomet.cox, oligomet.fine_gray or oligomet.missing.logistic; got "
                    f"{type(fit).__name__}. For other estimates use oligomet.missing.rubin(estimates, variances)")


def pool(fits: Iterable, dfcom: float | None = None, conf_level: float = 0.95) -> PooledResult:
    """Pool m fitted models with Rubin's rules, as ``mice::pool(fits)``; see the module docstring.

    ``fits``: a list of :class:`~oligomet.survival.cox.CoxResult`, :class:`~oligomet.competing.finegray.FineGray`
    or :class:`LogisticModel`, one per imputed dataset, all of one kind with the same terms.
    ``dfcom``: complete-data degrees of freedom (default: mice's rule, see the module docstring; it is
    taken from the first fit, as mice does).
    """
    fits = list(fits)
    if len(fits) < 2:
        raise ValueError(f"pooling needs at least 2 fits (one per imputed dataset), got {len(fits)}")
    parts = [_estimates(f) for f in fits]
    kind, terms = parts[0][0], parts[0][1]
    for i, (k, t, *_rest) in enumerate(parts[1:], start=2):
        if k != kind:
            raise ValueError(f"fit {i} is a {k} model, fit 1 a {kind} model: pool fits of one model")
        if t != terms:
            raise ValueError(f"fit {i} has terms {t}, fit 1 has {terms}: every imputed dataset must give the same "
                             f"terms (a category missing from one imputation changes the dummies; check the "
                             f"categorical covariates)")
    if kind == "cox" and len({bool(f.robust) for f in fits}) > 1:
        raise ValueError("some Cox fits use the robust variance and some do not; fit them all alike")
    q = np.array([p[2] for p in parts])
    se = np.array([p[3] for p in parts])
    df_com = parts[0][4] if dfcom is None else max(float(dfcom), 1.0)
    out = rubin(q, se ** 2, df_com, terms, conf_level)
    name = _RATIO[kind]
    at = out.columns.get_loc("upper") + 1
    for j, (col, vals) in enumerate([(name, out["estimate"]), (f"{name}_lower", out["lower"]),
                                     (f"{name}_upper", out["upper"])]):
        out.insert(at + j, col, np.exp(vals))
    per = pd.DataFrame({"imputation": np.repeat(np.arange(1, len(fits) + 1), len(terms)),
                        "term": np.tile(terms, len(fits)), "estimate": q.ravel(), "se": se.ravel()})
    return PooledResult(summary=out, per_imputation=per, m=len(fits), model=kind, conf_level=conf_level)


def _datasets(imputed) -> list[pd.DataFrame]:
    from .mice import Imputation
    if isinstance(imputed, Imputation):
        return list(imputed.datasets)
    datasets = list(imputed)
    if not all(isinstance(d, pd.DataFrame) for d in datasets):
        raise TypeError("expected the result of oligomet.impute or a list of completed DataFrames")
    return datasets


def pool_cox(imputed, time: str, event: str, covariates, dfcom: float | None = None, conf_level: float = 0.95,
             **cox_options) -> PooledResult:
    """Fit ``oligomet.cox`` on every completed dataset and pool with Rubin's rules (``pool(with(imp, coxph(...)))``).

    The fits are :func:`~oligomet.survival.cox.cox_each`'s: the datasets share their times and events, so the
    sort and the risk sets are made once; the results are those of separate ``cox`` fits."""
    return pool(cox_each(_datasets(imputed), time=time, event=event, covariates=covariates, **cox_options),
                dfcom=dfcom, conf_level=conf_level)


def pool_fine_gray(imputed, time: str, event: str, covariates, dfcom: float | None = None,
                   conf_level: float = 0.95, **fine_gray_options) -> PooledResult:
    """Fit ``oligomet.fine_gray`` on every completed dataset and pool with Rubin's rules."""
    return pool([fine_gray(d, time=time, event=event, covariates=covariates, **fine_gray_options)
                 for d in _datasets(imputed)], dfcom=dfcom, conf_level=conf_level)


def pool_logistic(imputed, outcome: str, covariates, dfcom: float | None = None,
                  conf_level: float = 0.95) -> PooledResult:
    """Fit :func:`logistic` on every completed dataset and pool with Rubin's rules (``glm(binomial)``)."""
    return pool([logistic(d, outcome, covariates) for d in _datasets(imputed)], dfcom=dfcom, conf_level=conf_level)
