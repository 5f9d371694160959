"""Cox proportional-hazards regression at parity with R's ``survival::coxph`` (3.5-3).

``cox(data, time=, event=, covariates=[...])`` validates the columns, applies R's
complete-case rule and near-tie merging (``aeqSurv``), codes the covariates (see
:mod:`oligomet.survival.design`) and calls the array core in ``_cox_core`` (R's
``coxfit6`` Newton–Raphson). Robust and cluster variances are in ``_cox_robust``.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from .._validation import (TIES, complete_cases, covariate_scale, DroppedRows, event_array, require_choice,
                           require_columns, require_conf_level, require_covariate_scale, require_events, require_frame,
                           require_roles, require_start_before_stop, _rows, time_array, weight_array)
from . import _cox_core as core
from ._blas_threads import single_threaded_blas
from ._cox_robust import robust_score_test, robust_variance
from ._ties import merge_near_ties, merge_near_ties_start_stop
from .design import Design, _is_categorical, build_design, parse_covariates
from .._notebook import TidyTablesHTML

__all__ = ["cox", "cox_each", "CoxData", "CoxResult", "CoxConvergenceWarning"]

_Z975 = float(stats.norm.ppf(0.975))


class CoxConvergenceWarning(UserWarning):
    """R's coxph warnings: no convergence, or a coefficient that may be infinite (monotone likelihood)."""


@dataclass(frozen=True, eq=False)
class CoxResult(TidyTablesHTML):
    """A fitted Cox model (R: ``coxph``).

    Attributes
    ----------
    summary : DataFrame indexed by term. Columns ``coef`` (log hazard ratio), ``se`` (model-based,
        R's ``sqrt(diag(fit$naive.var))`` when robust), ``robust_se`` (only with ``robust``/``cluster``),
        ``z``, ``p`` (two-sided Wald), ``hr`` = exp(coef), ``hr_lower``, ``hr_upper`` (95 % Wald CI).
        With robust/cluster, ``z``, ``p`` and the CI use the robust SE, as R's ``summary.coxph``.
    loglik : array ``[null, final]`` partial log-likelihoods (R's ``fit$loglik``).
    n, n_events : rows analysed and number of events (unweighted, as R's ``fit$n`` / ``fit$nevent``).
    tests : DataFrame indexed ``likelihood_ratio``, ``wald``, ``score`` (plus ``robust_score`` when robust),
        columns ``statistic``, ``df``, ``p``. ``wald`` is R's ``fit$wald.test``, which uses the robust
        variance when robust; ``score`` is the model-based score test at beta = 0 (``fit$score``);
        ``robust_score`` is R's ``fit$rscore``.
    var : DataFrame, the variance matrix used for inference (robust when robust); ``naive_var`` the model-based.
    dropped : :class:`~oligomet.DroppedRows` from complete-case handling (R's ``na.action``).
    iterations, converged, ties, terms.
    concordance : R's ``fit$concordance["concordance"]`` (computed on first access).
    """

    _html_tables = ("n", "n_events", "summary", "tests")

    summary: pd.DataFrame
    loglik: np.ndarray
    n: int
    n_events: int
    tests: pd.DataFrame
    var: pd.DataFrame
    naive_var: pd.DataFrame
    dropped: DroppedRows
    iterations: int
    converged: bool
    ties: str
    robust: bool
    design: Design = field(repr=False)
    strata_columns: tuple = ()
    # analysed data, kept for concordance, zph and predictions: time/event/strata/weights in the analysed row
    # order; the design as the fit's sorted, centred copy (``_Xs``, rows ``_order``) with its ``_means``
    _time: np.ndarray = field(default=None, repr=False)
    _event: np.ndarray = field(default=None, repr=False)
    _Xs: np.ndarray = field(default=None, repr=False)
    _order: np.ndarray = field(default=None, repr=False)
    _means: np.ndarray = field(default=None, repr=False)
    _strata: np.ndarray | None = field(default=None, repr=False)
    _strata_levels: tuple = field(default=(), repr=False)
    _weights: np.ndarray | None = field(default=None, repr=False)
    _start: np.ndarray | None = field(default=None, repr=False)   # entry times of a (start, stop] fit
    # residuals: the fit's sorted problem (work buffers released) and the analysed rows' labels
    _problem: core.CoxProblem | None = field(default=None, repr=False)
    _row_index: pd.Index | None = field(default=None, repr=False)

    @property
    def terms(self) -> list[str]:
        return list(self.summary.index)

    @property
    def coef(self) -> np.ndarray:
        return self.summary["coef"].to_numpy()

    @property
    def linear_predictor(self) -> np.ndarray:
        """R's ``fit$linear.predictors``: (x − means) · beta, rows in the analysed order.

        Accumulated column by column with elementwise NumPy operations on the centred design, rather than
        with a BLAS gemv: SIMD kernels round the vector lanes and the tail differently, which would give
        rows with identical covariates slightly different predictors and change the concordance's tie
        counts. Rows with identical covariates have identical centred rows, hence identical predictors.
        """
        coef = self.coef
        lp_sorted = np.zeros(self._Xs.shape[0])
        for j in range(coef.size):
            lp_sorted += self._Xs[:, j] * coef[j]
        lp = np.empty_like(lp_sorted)
        lp[self._order] = lp_sorted
        return lp

    @cached_property
    def _X(self) -> np.ndarray:
        """The design in the analysed row order, rebuilt from the fit's centred copy (within an ulp of the
        data: ``(x − mean) + mean``). Only zph and predictions need it; the fit itself never made it."""
        X = np.empty_like(self._Xs)
        X[self._order] = self._Xs + self._means
        return X

    @cached_property
    def concordance(self) -> float:
        from .concordance import concordance_index
        return float(concordance_index(self._time, self._event, self.linear_predictor, strata=self._strata,
                                       weights=self._weights, start=self._start))

    def zph(self, transform: str = "km") -> pd.DataFrame:
        """Test of proportional hazards, R 3.x ``cox.zph(fit, transform=)``: index covariates + ``GLOBAL``
        (a categorical covariate is one multi-df row, as R),
        columns ``chisq``, ``df``, ``p``. Uses the model-based variance, as R."""
        from .zph import cox_zph
        # One name per design column, repeated for a factor's dummies: R tests a factor jointly (k-1 df).
        per_column = [t.column for t in self.design.terms for _ in t.names]
        return cox_zph(self._time, self._event, self._X, self.coef, self.naive_var.to_numpy(), per_column,
                       strata=self._strata, weights=self._weights, ties=self.ties, transform=transform,
                       start=self._start)

    def residuals(self, type: str = "martingale", collapse=None, weighted: bool | None = None) -> pd.DataFrame:
        """Residuals as R's ``residuals(fit, type=, collapse=, weighted=)``: ``"martingale"`` (default),
        ``"deviance"``, ``"score"``, ``"schoenfeld"``, ``"scaledsch"``, ``"dfbeta"``, ``"dfbetas"``.

        A tidy DataFrame keyed by the analysed rows' index (Schoenfeld types: one row per event, with
        ``time``). ``collapse``: an id per row (e.g. ``data["id"]``) to sum the rows of each id. ``weighted``
        defaults to R's (True for dfbeta/dfbetas only). See :mod:`oligomet.survival.residuals`."""
        from .residuals import cox_residuals
        return cox_residuals(self, type, collapse=collapse, weighted=weighted)

    def _residual_problem(self) -> core.CoxProblem:
        """The fit's sorted problem; rebuilt from the analysed arrays if the result was made without it."""
        if self._problem is not None:
            return self._problem
        with single_threaded_blas():
            return core.prepare(self._time, self._event, self._X, strata=self._strata, weights=self._weights,
                                ties=self.ties, start=self._start)

    def predict_survival(self, newdata: pd.DataFrame, times: Sequence[float], conf_int: bool = False,
                         conf_level: float = 0.95) -> pd.DataFrame:
        """Predicted survival curves, as R's ``survfit(fit, newdata)`` evaluated at ``times``.

        Returns a DataFrame indexed by time with one column per ``newdata`` row (labelled by its index).
        With strata, ``newdata`` must also hold the strata column(s); each row uses its own stratum's
        baseline hazard.

        With ``conf_int=True`` the result is long and tidy instead, as ``summary(survfit(fit, newdata),
        times)``: columns ``profile`` (the ``newdata`` index label), ``time``, ``survival``, ``std_err``
        (standard error of the survival, R's summary scale), ``lower`` and ``upper`` (R's default
        log-type band at ``conf_level``). The variance is the fit's ``var`` (robust for a robust fit, as R).
        Before the first event time survival is 1 with std_err 0; after the last follow-up all are NaN.
        """
        from .baseline import cox_survival, cox_survival_table
        newdata = require_frame(newdata)
        newX = self.design.matrix(newdata)
        newstrata = None
        if self.strata_columns:
            require_columns(newdata, list(self.strata_columns), "strata column")
            keys = _strata_keys(newdata, list(self.strata_columns))
            lookup = {k: i for i, k in enumerate(self._strata_levels)}
            bad = [i for i, k in enumerate(keys) if k not in lookup]
            if bad:
                raise ValueError(f"newdata strata at {_rows(newdata.index[bad])} were not in the fitted data")
            newstrata = np.array([lookup[k] for k in keys], dtype=np.int64)
        times = np.atleast_1d(np.asarray(times, dtype=float))
        if conf_int:
            require_conf_level(conf_level)
            tab = cox_survival_table(self._time, self._event, self._X, self.coef, self.var.to_numpy(),
                                     strata=self._strata, weights=self._weights, ties=self.ties, newX=newX,
                                     times=times, newstrata=newstrata, conf_level=conf_level, start=self._start)
            tab["std_err"] = tab["std_err"] * tab["survival"]  # cumulative-hazard scale -> survival scale
            tab["profile"] = newdata.index.to_numpy()[tab["profile"].to_numpy()]
            return tab
        surv = cox_survival(self._time, self._event, self._X, self.coef, strata=self._strata,
                            weights=self._weights, ties=self.ties, newX=newX, times=times, newstrata=newstrata,
                            start=self._start)
        return pd.DataFrame(np.asarray(surv, dtype=float).reshape(times.size, len(newdata)),
                            index=pd.Index(times, name="time"), columns=newdata.index)

    def __str__(self) -> str:
        t = self.tests
        lines = [f"Cox model ({self.ties} ties): n = {self.n}, events = {self.n_events}"
                 + (f", {self.dropped}" if self.dropped.n else ""),
                 self.summary.to_string(float_format=lambda v: f"{v:.4g}"),
                 *(f"{name}: {row.statistic:.4g} on {row.df:g} df, p = {row.p:.3g}" for name, row in t.iterrows())]
        return "\n".join(lines)


def _strata_keys(frame: pd.DataFrame, cols: list[str]) -> list[tuple]:
    from .design import _level_key
    return [tuple(_level_key(v) for v in row) for row in frame[cols].itertuples(index=False, name=None)]


def _strata_codes(frame: pd.DataFrame, cols: list[str]) -> tuple[np.ndarray, tuple]:
    """Integer codes of the strata combinations (vectorised) and their level keys, for newdata lookup."""
    idx = pd.MultiIndex.from_frame(frame[cols])
    try:
        codes, uniques = idx.factorize(sort=True)
    except TypeError:  # mixed types that do not sort: order does not matter for the fit
        codes, uniques = idx.factorize(sort=False)
    from .design import _level_key
    levels = tuple(tuple(_level_key(v) for v in u) for u in uniques)
    return np.asarray(codes, dtype=np.int64), levels


def _as_list(x) -> list[str]:
    if x is None:
        return []
    return [x] if isinstance(x, str) else list(x)


def cox(data: pd.DataFrame, time: str, event: str, covariates: str | Sequence[str], ties: str = "efron",
        strata: str | Sequence[str] | None = None, weights: str | None = None, cluster: str | None = None,
        robust: bool | None = None, max_iter: int = core.ITER_MAX, start: str | None = None) -> CoxResult:
    """Fit a Cox proportional-hazards model, as R's ``coxph(Surv(time, event) ~ covariates, ...)``.

    Parameters
    ----------
    data : one row per subject.
    time, event : follow-up time (>= 0) and event indicator (0/1 or bool). NaN or negative times and other
        event codes are a ``ValueError`` (not silently dropped).
    covariates : column names and/or terms, or a formula string such as ``"age + C(rx)"``. Numeric columns
        enter as-is. Non-numeric columns (string, category, bool) and ``C(col)`` terms are dummy-coded with
        treatment contrasts, **reference = first level** (sorted values, or the categorical's order, as R's
        ``factor``); ``C(col, ref="x")`` sets another reference. Dummy terms are named ``"{col}[{level}]"``,
        e.g. ``rx[Lev]``. See :mod:`oligomet.survival.design`.
    ties : ``"efron"`` (R's default) or ``"breslow"``.
    strata : column(s); separate baseline hazards per combination (R's ``strata()``).
    weights : column of case weights (> 0), R's ``weights=``.
    cluster : column of cluster ids; implies the robust (grouped-dfbeta sandwich) variance, as R's
        ``cluster(id)`` in the formula (always, even with ``robust=False``, where R would ignore the cluster).
    robust : robust variance without clusters (each row its own cluster; R's ``robust = TRUE``). The default
        ``None`` follows R: robust when a cluster is given or when some case weight is not an integer.
    start : column of entry times for counting-process data, R's ``Surv(start, time, event)``: each row is at
        risk on ``(start, time]``. This gives time-varying covariates (one row per interval in which the
        covariates are constant, e.g. before and after a local treatment, which avoids immortal-time bias)
        and delayed entry (left truncation). Use ``cluster=`` with the patient id when patients have several
        rows and a robust SE is wanted, as in R. ``start`` must be >= 0 and < ``time`` on every row
        (R drops such rows with a warning; here they are an error). The concordance, ``zph`` and
        ``predict_survival`` use the rows at risk at each time, as R.
    max_iter : Newton–Raphson iterations allowed (R's ``coxph.control(iter.max = 20)``). When they run out,
        R's warning is issued (R stays silent for ``max_iter <= 1``) and ``.converged`` is False;
        ``.iterations`` counts the steps taken (R's ``fit$iter`` reports ``iter.max + 1`` in that case).

    Notes
    -----
    Parity with R's ``coxph`` (survival 3.5-3): complete-case analysis over the covariate, strata, weight
    and cluster columns (the count and columns are in ``.dropped``; a ``CompleteCaseWarning`` is issued);
    near-tied times merged as ``aeqSurv``; Newton–Raphson from beta = 0 with R's centring and scaling,
    step-halving, convergence at ``|1 − loglik_old/loglik_new| <= 1e-9``, at most 20 iterations; R's
    warnings for non-convergence and "Loglik converged before variable ...; coefficient may be infinite"
    (a :class:`CoxConvergenceWarning`). Collinear covariates, where R would return ``NA`` coefficients,
    raise a ``ValueError`` naming the terms involved; so does a constant covariate.
    """
    data = require_frame(data)
    model = _Model.of(data, time, event, covariates, ties, strata, weights, cluster, start)
    a, pr = _problem(data, model)
    a.cols = None                                    # the core holds the sorted, centred design from here on
    return _result(a, pr, model, robust, max_iter)


def cox_each(datasets: Sequence[pd.DataFrame], time: str, event: str, covariates: str | Sequence[str],
             ties: str = "efron", strata: str | Sequence[str] | None = None, weights: str | None = None,
             cluster: str | None = None, robust: bool | None = None, max_iter: int = core.ITER_MAX,
             start: str | None = None) -> list[CoxResult]:
    """One Cox model fitted on each of several datasets: ``[cox(d, ...) for d in datasets]``, the same results
    (to the bit), with the work the datasets have in common done once.

    Meant for datasets that differ in a few covariate columns, such as the completed datasets of a multiple
    imputation (:func:`oligomet.pool_cox` uses it). When a dataset's time, event, strata, weights, cluster and
    start columns equal the first dataset's and neither has rows with missing model values, the sort by time
    and the risk-set structure (:func:`~oligomet.survival._cox_core.risk_sets`) are the first dataset's, and
    every term whose columns equal the first dataset's keeps its coding and design columns. Otherwise that
    dataset gets a plain :func:`cox` fit. Parameters as :func:`cox`.
    """
    datasets = [require_frame(d) for d in datasets]
    if not datasets:
        return []
    options = dict(ties=ties, strata=strata, weights=weights, cluster=cluster, robust=robust, max_iter=max_iter,
                   start=start)
    first = datasets[0]
    model = _Model.of(first, time, event, covariates, ties, strata, weights, cluster, start)
    a, pr = _problem(first, model)
    fits = [_result(a, pr, model, robust, max_iter)]
    shared_rows = a.frame is first     # no rows dropped: the risk sets describe every row of the data
    for d in datasets[1:]:
        other = _shared_problem(d, first, a, model) if shared_rows else None
        fits.append(cox(d, time, event, covariates, **options) if other is None
                    else _result(*other, model, robust, max_iter))
    return fits


class CoxData:
    """Several Cox models on one data frame: ``CoxData(data).cox(time=, event=, covariates=, ...)`` is
    ``cox(data, ...)`` (the same result, to the bit), with what the fits have in common computed once: the time
    and event arrays validated on every row, the near-tie merged times and strata codes, and, for fits that
    analyse every row (no missing value dropped), the sort order and risk sets. For a univariable screen, a
    multivariable model and the like. ``data`` must not be modified while it is used."""

    def __init__(self, data: pd.DataFrame):
        self.data = require_frame(data)
        self._made: dict = {}

    def once(self, key, make):
        """``make()``, computed on the first call with ``key`` only (numbers are never written to afterwards)."""
        if key not in self._made:
            made = make()
            for arr in made if isinstance(made, tuple) else (made,):
                if isinstance(arr, np.ndarray):
                    arr.flags.writeable = False       # shared by the fits: a write would be a bug, make it loud
            self._made[key] = made
        return self._made[key]

    def cox(self, time: str, event: str, covariates: str | Sequence[str], ties: str = "efron",
            strata: str | Sequence[str] | None = None, weights: str | None = None, cluster: str | None = None,
            robust: bool | None = None, max_iter: int = core.ITER_MAX, start: str | None = None) -> CoxResult:
        """:func:`cox` on this data; parameters as there."""
        model = _Model.of(self.data, time, event, covariates, ties, strata, weights, cluster, start, shared=self)
        a, pr = _problem(self.data, model)
        a.cols = None
        return _result(a, pr, model, robust, max_iter)


@dataclass(frozen=True)
class _Model:
    """A validated call of :func:`cox`: the model's terms and the columns of each role."""

    specs: list
    time: str
    event: str
    ties: str
    strata: list
    weights: str | None
    cluster: str | None
    start: str | None
    cov_cols: list            # the columns the covariate terms read
    cc_cols: list             # every column whose missing values drop a row (R's na.omit)
    t_all: np.ndarray         # time and event, validated on every row
    ev_all: np.ndarray
    shared: "CoxData | None" = None   # what fits on the same data frame compute once

    @classmethod
    def of(cls, data, time, event, covariates, ties, strata, weights, cluster, start,
           shared: "CoxData | None" = None) -> "_Model":
        require_choice("ties", ties, TIES)
        specs = parse_covariates(covariates)
        strata_cols = _as_list(strata)
        cov_cols = list(dict.fromkeys(c for s in specs for c in s.sources))
        require_roles(data, time=time, event=event, covariate=cov_cols, strata=strata_cols, weights=weights,
                      cluster=cluster, start=start)
        # time/event are validated on every row: a missing or negative time is a derivation bug, not a
        # missing value to drop quietly (see _validation's policy)
        once = shared.once if shared is not None else (lambda key, make: make())
        t_all = once(("time", time), lambda: time_array(data, time))
        ev_all = once(("event", event), lambda: event_array(data, event))
        cc_cols = [c for c in dict.fromkeys([*cov_cols, *strata_cols, weights, cluster]) if c is not None]
        return cls(specs, time, event, ties, strata_cols, weights, cluster, start, cov_cols, cc_cols, t_all, ev_all,
                   shared)

    @property
    def design_columns(self) -> list[str]:
        """The columns the risk sets are built from (all but the covariates)."""
        return [c for c in (self.time, self.event, *self.strata, self.weights, self.cluster, self.start)
                if c is not None]


def _problem(data: pd.DataFrame, model: _Model) -> tuple["_Analysed", core.CoxProblem]:
    """The analysed rows and the core's sorted problem (complete cases, coding, scale checks)."""
    others = [c for c in model.cc_cols if c not in model.cov_cols]
    # Fast route for large numeric designs: hand the core views of the data's columns (no n × p copy, no
    # per-column NaN pass); the core's column sums meet any NaN/inf, and then the general route runs instead.
    fast = all(s.plain and not s.categorical and not _is_categorical(data[s.column]) for s in model.specs) \
        and not any(data[c].hasnans for c in others)
    a = _analysed(data, model, fast=fast)
    if model.shared is not None and a.frame is data:   # every row analysed: the risk sets of the data's rows
        a.rs = model.shared.once(("risk_sets", model.time, model.event, tuple(model.strata), model.weights,
                                  model.start, model.ties),
                                 lambda: core.risk_sets(a.t, a.ev, strata=a.strata, weights=a.w, ties=model.ties,
                                                        start=a.start))
    try:
        pr = a.prepare(model.ties)
    except core.NonFiniteDesign:
        if fast:
            a = _analysed(data, model, fast=False)
        try:
            pr = a.prepare(model.ties)
        except core.NonFiniteDesign:
            # finite values whose sums overflow: say which covariate and how to rescale it
            require_covariate_scale(a.design.names, *covariate_scale(a.cols), "cox")
            raise
    _check_scale(a, pr)
    return a, pr


def _check_scale(a: "_Analysed", pr: core.CoxProblem) -> None:
    mad, means = pr.absdev / pr.w.sum(), pr.means
    if not (np.isfinite(mad).all() and np.isfinite(means).all()):   # overflowed sums: measure it from the columns
        mad, means = covariate_scale(a.cols if isinstance(a.cols, np.ndarray) else np.column_stack(a.cols))
    require_covariate_scale(a.design.names, mad, means, "cox")


def _same_column(x: pd.Series, y: pd.Series) -> bool:
    """Whether two columns code alike in every model: the same dtype and the same values (floats to the bit;
    object columns only when they hold strings, where equal values are equal levels)."""
    if x is y:
        return True
    if x.dtype != y.dtype or len(x) != len(y):
        return False
    if _same_memory(x, y):
        return True                                    # e.g. a column a completed dataset did not impute
    if isinstance(x.dtype, pd.CategoricalDtype):
        return list(x.cat.categories) == list(y.cat.categories) and bool(np.array_equal(x.cat.codes, y.cat.codes))
    if x.dtype.kind == "f":
        return bool(np.array_equal(x.to_numpy().view(np.int64), y.to_numpy().view(np.int64)))
    if x.dtype == object and pd.api.types.infer_dtype(x, skipna=True) != "string":
        return False                                   # 1, 1.0 and True are equal values but different levels
    return bool(x.equals(y))


def _buffers(x: pd.Series) -> list[np.ndarray] | None:
    """The arrays holding a column's values (NumPy, masked and categorical columns); None for other kinds."""
    arr = x.array
    if isinstance(arr, pd.arrays.NumpyExtensionArray):
        return [arr.to_numpy()]
    if isinstance(arr, (pd.arrays.IntegerArray, pd.arrays.FloatingArray, pd.arrays.BooleanArray)):
        parts = [getattr(arr, "_data", None), getattr(arr, "_mask", None)]   # pandas' values and missing flags
        return parts if all(isinstance(a, np.ndarray) for a in parts) else None
    if isinstance(arr, pd.Categorical):
        return [arr.codes]
    return None


def _same_memory(x: pd.Series, y: pd.Series) -> bool:
    """Whether two columns of one dtype read the very same memory (a column shared by shallow copies of a
    frame, as the completed datasets of an imputation share the columns they did not impute): then their values
    are equal without being compared. False when this cannot be told cheaply."""
    bx, by = _buffers(x), _buffers(y)
    if bx is None or by is None or len(bx) != len(by):
        return False
    if isinstance(x.dtype, pd.CategoricalDtype) and not x.cat.categories.equals(y.cat.categories):
        return False
    for a, b in zip(bx, by):
        ia, ib = a.__array_interface__, b.__array_interface__
        if (ia["data"][0] != ib["data"][0] or a.strides != b.strides or a.shape != b.shape or a.dtype != b.dtype
                or a.size == 0):
            return False
    return True


def _shared_problem(d: pd.DataFrame, first: pd.DataFrame, a: "_Analysed", model: _Model):
    """``d``'s analysed rows and problem built on ``first``'s risk sets and unchanged terms (see
    :func:`cox_each`); None when ``d`` needs a fit of its own."""
    if len(d) != len(first) or not all(c in d.columns for c in model.cc_cols + model.design_columns):
        return None
    if not all(_same_column(d[c], first[c]) for c in model.design_columns):
        return None
    same = {c: _same_column(d[c], first[c]) for c in model.cov_cols}
    changed = [c for c, ok in same.items() if not ok]
    if any(d[c].hasnans for c in changed):
        return None                                    # rows would be dropped: other risk sets
    known = {s.text: t for s, t in zip(model.specs, a.design.terms) if all(same[c] for c in s.sources)}
    design = build_design(d, model.specs, known=known)
    if design.names != a.design.names:
        return None
    new_terms = [t for t, s in zip(design.terms, model.specs) if s.text not in known]
    fresh = Design(tuple(new_terms))
    new_cols = fresh.column_arrays(d)    # the columns of fresh.matrix(d), without its copy of the frame
    old_cols = a.cols if isinstance(a.cols, list) else [a.cols[:, j] for j in range(a.cols.shape[1])]
    cols, j, k = [], 0, 0
    for t, s in zip(design.terms, model.specs):
        width = len(t.names)
        if s.text in known:
            cols.extend(old_cols[j:j + width])
        else:
            cols.extend(new_cols[k:k + width])
            k += width
        j += width
    try:
        with single_threaded_blas():
            pr = core.problem(a.rs, cols)
    except core.NonFiniteDesign:
        return None                                    # infinite values: cox() says where
    mine = replace(a, frame=d, design=design, cols=cols)
    _check_scale(mine, pr)
    return mine, pr


def _result(a: "_Analysed", pr: core.CoxProblem, model: _Model, robust: bool | None, max_iter: int) -> CoxResult:
    """Fit the problem and assemble the result (R's coxph after coxph.fit)."""
    frame, dropped, design, w, s_codes, s_levels, t, ev, entry = (a.frame, a.dropped, a.design, a.w, a.strata,
                                                                  a.strata_levels, a.t, a.ev, a.start)
    names = design.names
    cluster = model.cluster
    ties = model.ties

    if robust is None:
        robust = w is not None and bool(np.any(w != np.floor(w)))
    c_codes = None
    if cluster is not None:
        c_codes = pd.factorize(frame[cluster], sort=True)[0].astype(np.int64)
        robust = True

    with single_threaded_blas():
        _check_constant(pr, names, len(frame))
        fit = core.fit(pr, max_iter=max_iter)
        _check_singular(fit, pr, names)
        _warn_convergence(fit, pr, names, max_iter)
        coef = fit.coef
        naive = fit.var
        var = robust_variance(pr, coef, naive, c_codes) if robust else naive
        rscore = robust_score_test(pr, c_codes) if robust else None
    pr._buf.clear()                                  # kept for residuals(): release the fit's work arrays
    se = np.sqrt(np.diag(naive))
    use_se = np.sqrt(np.diag(var))
    z = coef / use_se
    idx = _index(tuple(names), "term")
    columns = {"coef": coef, "se": se}
    if robust:
        columns["robust_se"] = use_se
    columns["z"] = z
    columns["p"] = 2 * _norm_sf(np.abs(z))
    with np.errstate(over="ignore"):  # an infinite coefficient (separation) gives inf, as R; already warned
        columns["hr"] = np.exp(coef)
        columns["hr_lower"] = np.exp(coef - _Z975 * use_se)
        columns["hr_upper"] = np.exp(coef + _Z975 * use_se)
    summary = _float_frame(columns, idx.copy())

    df = int(np.sum(~fit.singular))
    rows = {"likelihood_ratio": 2 * (fit.loglik[1] - fit.loglik[0]),
            "wald": core.wald_statistic(var, coef),
            "score": fit.score_test}
    if robust:
        rows["robust_score"] = rscore
    statistic = np.array(list(rows.values()), dtype=float)
    tests = pd.DataFrame({"statistic": statistic, "df": np.full(statistic.size, df, dtype=np.int64),
                          "p": _chi2_sf(statistic, df)}, index=_index(tuple(rows), "test"))

    return CoxResult(summary=summary, loglik=fit.loglik, n=len(frame), n_events=int(ev.sum()), tests=tests,
                     var=_float_frame(var, idx, idx), naive_var=_float_frame(naive, idx, idx),
                     dropped=dropped, iterations=fit.iterations, converged=fit.converged, ties=ties, robust=robust,
                     design=design, strata_columns=tuple(model.strata), _time=t, _event=ev, _Xs=pr.X,
                     _order=pr.order, _means=pr.means, _strata=s_codes, _strata_levels=s_levels, _weights=w,
                     _start=entry, _problem=pr, _row_index=frame.index)


_INDEXES: dict = {}


def _index(labels: tuple, name: str | None = None) -> pd.Index:
    """``pd.Index(labels, name=name)``: a new Index object on the labels' stored array (made once per label set;
    a string Index costs ~0.1 ms to build from Python strings, a fit needs four)."""
    key = (labels, name)
    idx = _INDEXES.get(key)
    if idx is None:
        if len(_INDEXES) > 256:
            _INDEXES.clear()
        idx = _INDEXES[key] = pd.Index(list(labels), name=name)
    return idx.copy()


def _float_frame(values, index: pd.Index, columns=None) -> pd.DataFrame:
    """A float DataFrame made in one step: from a dict of equal-length columns (their order kept) or from an
    (n, p) matrix. The values are the arrays' own; one block instead of a column inserted at a time."""
    if isinstance(values, dict):
        columns = _index(tuple(values))
        values = np.column_stack(list(values.values())) if values else np.empty((len(index), 0))
    return pd.DataFrame(np.array(values, dtype=float, order="F"), index=index, columns=columns, copy=False)


def _norm_sf(x: np.ndarray) -> np.ndarray:
    """``stats.norm.sf(x)`` without the distribution object's argument handling: SciPy computes it as
    ``special.ndtr(-x)`` (NaN stays NaN, ±inf give 0 and 1, as ``sf``)."""
    return special.ndtr(-np.asarray(x, dtype=float))


def _chi2_sf(x: np.ndarray, df) -> np.ndarray:
    """``stats.chi2.sf(x, df)``: SciPy's ``special.chdtrc(df, x)`` inside the support (df > 0, x > 0); the
    distribution object (its rules for the boundary, NaN and invalid df) otherwise."""
    x = np.asarray(x, dtype=float)
    if df > 0 and np.all(x > 0) and np.all(np.isfinite(x)):
        return special.chdtrc(float(df), x)
    return stats.chi2.sf(x, df)


@dataclass
class _Analysed:
    """The rows a Cox model analyses, as arrays for the core."""

    frame: pd.DataFrame
    dropped: DroppedRows
    design: Design
    cols: object                 # list of column arrays (fast route) or an (n, p) matrix
    t: np.ndarray
    ev: np.ndarray
    w: np.ndarray | None
    strata: np.ndarray | None
    strata_levels: tuple
    start: np.ndarray | None = None
    rs: core.RiskSets | None = None     # the sort order and risk sets, once prepared

    def prepare(self, ties: str) -> core.CoxProblem:
        with single_threaded_blas():
            core._as_columns(self.cols)         # a design without columns is refused before any sorting
            if self.rs is None:
                self.rs = core.risk_sets(self.t, self.ev, strata=self.strata, weights=self.w, ties=ties,
                                         start=self.start)
            return core.problem(self.rs, self.cols)


def _analysed(data, model: _Model, fast: bool) -> _Analysed:
    """Complete cases (R's na.omit) and the design; ``fast`` skips both checks for numeric columns whose
    NaNs the core will detect (see ``cox``)."""
    specs, cc_cols, time, event, weights = model.specs, model.cc_cols, model.time, model.event, model.weights
    start, strata_cols = model.start, model.strata
    frame, dropped = data, DroppedRows()
    if fast:
        design = build_design(data, specs)
        cols = design.column_arrays(data)
    else:
        if any(data[c].hasnans for c in cc_cols):
            frame, dropped = complete_cases(data, cc_cols, what="cox", stacklevel=5)  # -> cox's caller
        if len(frame) == 0:
            raise ValueError("no complete rows left after dropping missing values in "
                             f"{', '.join(dropped.by_column)}")
        design = build_design(frame, specs)
        cols = design.matrix(frame)
        bad = ~np.isfinite(cols)
        if bad.any():
            j = int(np.flatnonzero(bad.any(axis=0))[0])
            raise ValueError(f"covariate {design.names[j]!r} has infinite values at "
                             f"{_rows(frame.index[bad[:, j]])}")
    once = model.shared.once if model.shared is not None and frame is data else (lambda key, make: make())
    if frame is data:   # no rows dropped: reuse the arrays validated on every row
        t, ev = model.t_all, model.ev_all
    else:
        t, ev = time_array(frame, time), event_array(frame, event)
    entry = None
    if start is None:
        t = once(("merged", time), lambda: merge_near_ties(t))
    else:
        entry, t = merge_near_ties_start_stop(time_array(frame, start), t)
        require_start_before_stop(frame, start, time, entry, t)
    require_events(ev, event, "a Cox model", "cannot be fitted")
    w = None
    if weights is not None:
        w = weight_array(frame, weights)
        zero = w <= 0
        if zero.any():
            raise ValueError(f"weights column {weights!r} must be > 0 (as R's coxph); zero weights at "
                             f"{_rows(frame.index[zero])}")
    s_codes, s_levels = None, ()
    if strata_cols:
        s_codes, s_levels = once(("strata", *strata_cols), lambda: _strata_codes(frame, strata_cols))
    return _Analysed(frame, dropped, design, cols, t, ev, w, s_codes, s_levels, entry)


def _check_constant(pr: core.CoxProblem, names: list[str], n_rows: int) -> None:
    # Σ w|x − mean| (from the core's centring pass) is ~0 only for constant columns; confirm those exactly on the
    # centred copy (equal values minus the same mean stay equal).
    suspect = np.flatnonzero(pr.absdev <= 1e-10 * (np.abs(pr.means) + 1.0) * pr.w.sum())
    const = [j for j in suspect if pr.X[:, j].min() == pr.X[:, j].max()]
    if const:
        desc = ", ".join(f"{names[j]!r} (always {pr.X[0, j] + pr.means[j]:g})" for j in const)
        raise ValueError(f"covariate(s) {desc} are constant in the {n_rows} analysed rows and cannot be "
                         "estimated; remove them or check the filter")


def _check_singular(fit: core.CoxFit, pr: core.CoxProblem, names: list[str]) -> None:
    """R would return NA coefficients ("X matrix deemed to be singular"); we stop and name the terms."""
    sing = fit.singular | (np.diag(fit.var) == 0)
    if not sing.any():
        return
    # Explain each redundant column by the others: weighted least squares on the centred design.
    Xc, w = pr.X, pr.w
    keep = np.flatnonzero(~sing)
    parts = []
    sw = np.sqrt(w)[:, None]
    for j in np.flatnonzero(sing):
        coef_, *_ = np.linalg.lstsq(Xc[:, keep] * sw, Xc[:, j] * sw[:, 0], rcond=None)
        # a term is involved when its share of the redundant column is not negligible (scale-free measure)
        share = np.abs(coef_) * np.sqrt(np.sum(w[:, None] * Xc[:, keep] ** 2, axis=0))
        share /= max(np.sqrt(np.sum(w * Xc[:, j] ** 2)), np.finfo(float).tiny)
        involved = [names[k] for k, c in zip(keep, share) if c > 1e-6]
        parts.append(f"{names[j]!r} is a linear combination of {', '.join(map(repr, involved)) or 'the others'}")
    raise ValueError("covariates are collinear (rank-deficient design; R would give NA coefficients): "
                     + "; ".join(parts) + ". Remove one of the collinear terms.")


def _warn_convergence(fit: core.CoxFit, pr: core.CoxProblem, names: list[str], max_iter: int) -> None:
    # Same tests and wording as R's coxph.fit, which stays silent when iter.max <= 1 (forced single steps).
    if max_iter <= 1:
        return
    infs = np.abs(fit.u @ fit.var)
    if not fit.converged:
        warnings.warn("Ran out of iterations and did not converge", CoxConvergenceWarning, stacklevel=4)
        lp = pr.X @ fit.coef                       # centred design: x·beta − mean·beta
        if np.max(lp) > 500 or not np.all(np.isfinite(infs)):
            warnings.warn("one or more coefficients may be infinite", CoxConvergenceWarning, stacklevel=4)
        return
    flag = ~np.isfinite(fit.u) | ((infs > core.EPS) & (infs > core.TOLER_INF * np.abs(fit.coef)))
    if flag.any():
        which = ", ".join(names[j] for j in np.flatnonzero(flag))
        warnings.warn(f"Loglik converged before variable {which}; coefficient may be infinite.",
                      CoxConvergenceWarning, stacklevel=4)
