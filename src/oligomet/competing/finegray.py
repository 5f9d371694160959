"""Fine–Gray proportional subdistribution hazards regression, at parity with ``cmprsk::crr``.

``fine_gray(data, time=, event=, covariates=[...], cause=1, cencode=0)`` reproduces
``cmprsk::crr(ftime, fstatus, cov1, failcode=cause, cencode=cencode)`` (cmprsk 2.2-11) with
its defaults ``gtol = 1e-6, maxiter = 10``:

* the censoring distribution is the Kaplan–Meier of the censorings over all rows (crr's
  single ``cengroup``), evaluated just before each time;
* the estimate maximises crr's censoring-weighted pseudo log-likelihood with crr's Newton
  iterations (start at 0, step halving with the same Armijo rule, the same convergence test);
* ``se`` is crr's sandwich ``var = I^-1 (sum_i (eta_i + psi_i)^{x2}) I^-1``, including the
  term for the estimated censoring distribution (``psi``);
* ``predict_cif`` is ``predict.crr``: ``1 - exp(-cumsum(exp(x b) * bfitj))``.

With case weights (``weights=``, e.g. IPTW) there is no crr to follow (it takes none): the model
is the one R users fit: ``survival::finegray`` to expand the data and a weighted
``coxph(Surv(fgstart, fgstop, fgstatus) ~ x, weights = fgwt * w, cluster = id)`` on it. Its estimate,
robust (sandwich) SE clustered on the subject, Efron (default, ``ties=``) or Breslow ties and
``predict_cif`` (``1 - survfit(fit, newdata)``) are computed without the expansion, from the same
risk-set sums as crr's (see :mod:`oligomet.competing._weighted_fine_gray_core`).

Times are merged with ``merge_near_ties`` first (as elsewhere in oligomet); crr itself
compares raw doubles, so the two differ only for times closer than ~1.5e-8 relative.
Each Newton step is O(n p^2) (cumulative sums over the weighted risk sets), where crr's
Fortran is O(n^2); see :mod:`oligomet.competing._fine_gray_core`.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._notebook import TidyTablesHTML
from .._validation import (DroppedRows, complete_cases, covariate_scale, event_codes, require_columns,
                           require_conf_level, require_covariate_scale, require_frame, require_positive_weight,
                           require_roles, time_array, weight_array)
from ..survival._ties import merge_near_ties
from ..survival.design import Design, build_design, parse_covariates
from . import _fine_gray_core as core
from . import _weighted_fine_gray_core as wcore

GTOL = 1e-6
MAXITER = 10


def _bool_as_numeric(frame: pd.DataFrame, columns) -> pd.DataFrame:
    """crr takes a numeric matrix: a bool column enters as its 0/1 values under its own name
    (survival/design.py would make a ``col[True]`` dummy, as R's model.matrix does for coxph)."""
    bools = [c for c in dict.fromkeys(columns) if pd.api.types.is_bool_dtype(frame[c])]
    return frame.assign(**{c: frame[c].astype(float) for c in bools}) if bools else frame


def _matrix(design: Design, frame: pd.DataFrame) -> np.ndarray:
    x = design.matrix(_bool_as_numeric(frame, [t.column for t in design.terms
                                               if t.expr is None and not t.parts and not t.categorical]))
    bad = ~np.isfinite(x)
    if bad.any():
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise ValueError(f"covariate {design.names[j]!r} is not finite numeric at row(s) "
                         f"{list(frame.index[bad[:, j]][:10])}")
    return x


@dataclass(frozen=True)
class FineGray(TidyTablesHTML):
    """Result of :func:`fine_gray`.

    Attributes
    ----------
    summary : DataFrame indexed by term (``col`` or ``col[level]``) with ``coef``, ``se`` (crr's
        sandwich), ``z``, ``p`` (two-sided normal), ``shr`` (= exp(coef), subdistribution hazard
        ratio), ``shr_lower``, ``shr_upper`` (Wald limits at ``conf_level``), as ``summary.crr``.
    loglik, loglik_null : crr's pseudo log-likelihood at the estimate and at 0 (``$loglik``, ``$loglik.null``).
    n : rows analysed; ``dropped`` the rows removed for missing covariates.
    converged : crr's convergence flag; ``iterations`` Newton steps taken.
    var : (p, p) sandwich variance (crr's ``$var``); ``information`` crr's ``$inf``.
    baseline : DataFrame with ``time`` (distinct failure times of the cause, crr's ``$uftime``) and
        ``hazard_jump`` (crr's ``$bfitj``; weighted: the jumps of ``survfit(coxph)``'s baseline hazard).
    weighted : fitted with case weights (finegray + weighted coxph): ``var`` is the robust variance,
        ``information`` the inverse of coxph's model-based variance, ``loglik`` coxph's partial
        log-likelihood.
    """

    _html_tables = ("n", "n_events", "cause", "summary")

    summary: pd.DataFrame
    loglik: float
    loglik_null: float
    n: int
    n_events: int
    converged: bool
    iterations: int
    var: np.ndarray
    information: np.ndarray
    baseline: pd.DataFrame
    cause: int
    conf_level: float
    design: Design | None = None
    dropped: DroppedRows = field(default_factory=DroppedRows)
    weighted: bool = False

    def predict_cif(self, newdata: pd.DataFrame, times=None) -> pd.DataFrame:
        """Predicted CIF of the cause for covariate profiles, as ``predict.crr``.

        ``newdata`` holds the covariate columns (one profile per row). Returns a tidy frame with
        ``profile`` (the row label of ``newdata``), ``time`` and ``cif``. Without ``times`` the
        times are the distinct failure times (predict.crr's first column); with ``times`` the step
        function is read at each time (0 before the first failure time).
        """
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        require_columns(newdata, self.design.columns, "covariate")
        for term in self.design.terms:
            if term.categorical and term.expr is None:   # expression levels are checked by encode()
                unknown = ~newdata[term.column].isin(term.levels).to_numpy()
                if unknown.any():
                    raise ValueError(f"newdata column {term.column!r} has levels not in the fitted data at rows "
                                     f"{list(newdata.index[unknown][:10])}; fitted levels: {list(term.levels)}")
        x = _matrix(self.design, newdata)
        coef = self.summary["coef"].to_numpy()
        cumhaz = np.cumsum(self.baseline["hazard_jump"].to_numpy())
        uft = self.baseline["time"].to_numpy()
        if times is None:
            tp, idx = uft, np.arange(uft.size)
        else:
            tp = np.asarray(times, dtype=float).ravel()
            idx = np.searchsorted(uft, tp, side="right") - 1
        base = np.where(idx >= 0, cumhaz[np.maximum(idx, 0)], 0.0)
        risk = np.exp(x @ coef)
        cif = 1.0 - np.exp(-np.outer(risk, base))
        return pd.DataFrame({"profile": np.repeat(newdata.index.to_numpy(), tp.size),
                             "time": np.tile(tp, len(newdata)), "cif": cif.ravel()})

    def __str__(self) -> str:
        return (f"Fine-Gray model for cause {self.cause}: n = {self.n}, events = {self.n_events}, "
                f"converged = {self.converged}\n{self.summary.to_string()}")


def fine_gray(data: pd.DataFrame, time: str, event: str, covariates: list[str], cause: int = 1,
              cencode: int = 0, conf_level: float = 0.95, maxiter: int = MAXITER, gtol: float = GTOL,
              weights: str | None = None, ties: str | None = None) -> FineGray:
    """Fine–Gray subdistribution hazards model for ``cause`` (``cmprsk::crr``).

    Parameters
    ----------
    data : DataFrame, one row per subject.
    time, event : follow-up time (>= 0) and status code (non-negative integers): ``cencode`` =
        censored, ``cause`` = the failure of interest, any other code = a competing failure.
    covariates : columns or ``C(col, ref=...)`` terms, coded by :mod:`oligomet.survival.design` as in
        ``cox``: numeric as they are, others dummy coded (first level reference, terms named
        ``col[level]``); bool columns enter as 0/1 under their own name, as crr's numeric matrix. Rows with a missing
        covariate are dropped (warned).
    cause, cencode : crr's ``failcode`` and ``cencode``.
    conf_level : level of the ``shr`` limits. ``maxiter``, ``gtol``: crr's Newton controls.
    weights : optional column of case weights (>= 0, e.g. IPTW): the model is then R's ``finegray`` +
        weighted ``coxph`` with the robust SE clustered on the subject (crr takes no weights).
    ties : weighted fits only: ``"efron"`` (coxph's default) or ``"breslow"``; crr's own fit is Breslow's.
    """
    data = require_frame(data)
    specs = parse_covariates(covariates)
    if not specs:
        raise ValueError("fine_gray needs at least one covariate")
    columns = list(dict.fromkeys(c for sp in specs for c in sp.sources))
    require_roles(data, time=time, event=event, covariate=columns)
    require_conf_level(conf_level)
    _check_ties(weights, ties)
    data, dropped = complete_cases(data, columns, what="fine_gray")
    w = weight_array(data, weights) if weights is not None else None
    t = merge_near_ties(time_array(data, time))
    if t.size and not (t > 0).any():
        raise ValueError(f"time column {time!r} is 0 on all {t.size} rows: there is no follow-up, so the "
                         "subdistribution hazards cannot be estimated; check the origin and end dates")
    status = event_codes(data, event)
    if cause == cencode:
        raise ValueError(f"cause ({cause!r}) and cencode ({cencode!r}) must differ")
    if not (status == cause).any():
        present = sorted(set(status.tolist()) - {cencode})
        raise ValueError(f"cause {cause!r} never occurs in event column {event!r}; failure codes present: {present}")
    design = build_design(_bool_as_numeric(data, [sp.column for sp in specs if sp.plain and not sp.categorical]),
                          specs)
    x = _matrix(design, data)
    require_covariate_scale(design.names, *covariate_scale(x), "fine_gray")
    if w is not None:
        require_positive_weight(w, "fine_gray")
        return _weighted(data, design, x, t, status, w, cause, cencode, conf_level, ties or "efron", dropped)

    order = np.argsort(t, kind="stable")   # crr: d[order(d$ftime), ]
    t, status, x = t[order], status[order], x[order]
    ici = np.where(status == cencode, 0, np.where(status == cause, 1, 2)).astype(np.int64)
    xmean = x.mean(axis=0)
    P = core.prepare(t, ici, x - xmean)

    names = design.names

    def fit():
        b, converged, it = _newton(P, np.zeros(x.shape[1]), maxiter, gtol)
        f, _, h = core.derivatives(P, b)
        return b, converged, it, -f, h

    # crr only flags non-convergence ($converged); a flag nobody reads is easy to miss in a report
    b, converged, it, ll, h, hinv = _estimate(fit, names, f"fine_gray did not converge in {maxiter} Newton "
                                                          f"iterations (crr's gtol = {gtol})", stacklevel=3)
    u = core.score_terms(P, b)
    var = hinv @ (u.T @ u) @ hinv
    summary = _summary(b, var, names, conf_level)
    baseline = pd.DataFrame({"time": P.uft, "hazard_jump": core.baseline_jumps(P, b, xmean)})
    return FineGray(summary=summary, loglik=ll, loglik_null=-core.objective(P, np.zeros_like(b)), n=int(t.size),
                    n_events=int((ici == 1).sum()), converged=converged, iterations=it, var=var, information=h,
                    baseline=baseline, cause=int(cause), conf_level=conf_level, design=design, dropped=dropped)


def _estimate(fit, names: list[str], not_converged: str, stacklevel: int):
    """Run ``fit() -> (b, converged, iterations, loglik, information)``; returns those and the inverse
    information. A singular information is an error naming the terms; non-convergence a warning."""
    try:
        b, converged, it, ll, info = fit()
        inverse = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        raise ValueError(f"the information matrix is singular: a covariate among {names} is constant in the "
                         f"risk sets or collinear with others") from None
    if not converged:
        warnings.warn(f"{not_converged}; the estimates are not reliable", RuntimeWarning, stacklevel=stacklevel)
    return b, converged, it, ll, info, inverse


def _summary(b: np.ndarray, var: np.ndarray, names: list[str], conf_level: float) -> pd.DataFrame:
    """summary.crr's table from the coefficients and their (sandwich) variance."""
    se = np.sqrt(np.diag(var))
    degenerate = ~(np.isfinite(se) & (se > 0))
    if degenerate.any():
        # crr would print NaN z and p; every row then carries the same information (e.g. all fail together)
        raise ValueError(f"the variance of {', '.join(repr(names[j]) for j in np.flatnonzero(degenerate))} is "
                         f"{'0' if np.isfinite(se[degenerate]).all() else 'not finite'}: the data hold no "
                         f"information to compare subjects (e.g. every subject fails at the same time); check "
                         f"the time and event columns")
    z = b / se
    q = stats.norm.ppf(0.5 + conf_level / 2)
    return pd.DataFrame({"coef": b, "se": se, "z": z, "p": 2 * stats.norm.sf(np.abs(z)), "shr": np.exp(b),
                         "shr_lower": np.exp(b - q * se), "shr_upper": np.exp(b + q * se)},
                        index=pd.Index(names, name="term"))


def _check_ties(weights: str | None, ties: str | None) -> None:
    if weights is None and ties is not None:
        raise ValueError("ties applies to weighted fits only (finegray + coxph); crr's unweighted fit uses "
                         "Breslow's risk sets")
    if ties not in (None, "efron", "breslow"):
        raise ValueError(f"ties must be 'efron' or 'breslow', got {ties!r}")


def _weighted(data, design, x, t, status, w, cause, cencode, conf_level, ties, dropped) -> FineGray:
    """finegray + weighted coxph (robust SE clustered on the subject), without expanding the data."""
    ici = np.where(status == cencode, 0, np.where(status == cause, 1, 2)).astype(np.int64)
    order = np.lexsort((ici != 1, t))        # failures of the cause first among equal times
    t, ici, x, w = t[order], ici[order], x[order], w[order]
    xmean = x.mean(axis=0)
    P = wcore.prepare(t, ici, x - xmean, w, wcore.g_before(t, ici == 0), ties)
    names = design.names

    def fit():
        b, converged, it = wcore.newton(P, x.shape[1])
        ll, _, info = wcore.derivatives(P, b)
        return b, converged, it, ll, info

    b, converged, it, ll, info, naive = _estimate(fit, names, "the weighted fine_gray (coxph's Newton–Raphson) did "
                                                              "not converge in 20 iterations", stacklevel=4)
    u = wcore.score_residuals(P, b)
    var = naive @ (u.T @ u) @ naive          # coxph's robust variance, clustered on the subject
    summary = _summary(b, var, names, conf_level)
    baseline = pd.DataFrame({"time": P.uft, "hazard_jump": wcore.baseline_jumps(P, b, xmean)})
    return FineGray(summary=summary, loglik=ll, loglik_null=wcore.loglik(P, np.zeros_like(b)), n=int(t.size),
                    n_events=int((ici == 1).sum()), converged=converged, iterations=it, var=var, information=info,
                    baseline=baseline, cause=int(cause), conf_level=conf_level, design=design, dropped=dropped,
                    weighted=True)


def _newton(P: core.Prepared, b: np.ndarray, maxiter: int, gtol: float):
    """crr's Newton–Raphson with backtracking, step for step (same tests, same constants)."""
    it = 0
    for ll in range(maxiter + 1):
        f, g, h = core.derivatives(P, b)
        if np.max(np.abs(g) * np.maximum(np.abs(b), 1.0)) < max(abs(f), 1.0) * gtol:
            return b, True, ll
        if ll == maxiter:
            return b, False, ll
        sc = -np.linalg.solve(h, g)
        bn = b + sc
        fbn = core.objective(P, bn)
        i = 0
        while not np.isfinite(fbn) or fbn > f + 1e-4 * float(sc @ g):
            i += 1
            sc = sc * 0.5
            bn = b + sc
            fbn = core.objective(P, bn)
            if i > 20:
                break
        if i > 20:
            return b, False, ll
        b = bn
        it = ll + 1
    return b, False, it
