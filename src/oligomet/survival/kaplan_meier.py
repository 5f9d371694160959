"""Kaplan-Meier survival curves at parity with R's ``survival::survfit`` (3.5-3).

R equivalences (what the tests check against fixtures written by R):

* ``kaplan_meier(d, time="t", event="s", by="g")`` is ``survfit(Surv(t, s) ~ g, data=d)``
  with ``conf.type`` = ``conf_type`` and ``conf.int`` = ``conf_level``.
* ``.table`` is ``summary(fit, censored=TRUE)``: one row per distinct time (event or
  censoring) per group. ``std_err`` is R's ``fit$std.err``: the Greenwood SE of the
  cumulative hazard, sqrt(sum d / (n (n - d))), **not** the SE of S. Where S drops to 0
  it is NaN (R's object holds Inf there, its ``summary()`` NaN), and the CI is NaN, as in R.
* Near-tied times are merged first (R's ``aeqSurv``, ``timefix=TRUE``).
* Weights: ``n_risk``, ``n_event``, ``n_censor`` are weighted sums and S uses them, as R.
  With integer weights (frequency weights) the SE is Greenwood. With non-integer
  weights R's default is ``robust=TRUE``: ``std_err`` is then the infinitesimal-jackknife
  SE **of S** and the CI is built from it; pass ``robust=False`` for R's
  ``survfit(..., robust=FALSE)`` (weighted Greenwood).
* ``id=`` is ``survfit(..., id=)``: with the robust SE (R's default when a patient has more than one
  event) each patient's rows form one cluster of the infinitesimal jackknife (``robust=TRUE``).
* ``.medians`` / ``.quantile(q)`` are ``quantile(fit, q)`` (quantile.survfit), including
  its midpoint rule for flat stretches at exactly 1 - q and its CI: where the pointwise
  bands cross 1 - q. NaN when not reached.
* ``.at(times)`` is ``summary(fit, times=times)``: the curve at the last time <= t (1
  before the first time); ``n_risk`` at the first time >= t. Times after a group's last
  time are dropped, as R does, unless ``extend=True``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np
import pandas as pd

from .._validation import (complete_cases, DroppedRows, event_array, group_labels, require_choice, require_columns,
                           require_conf_level, require_frame, require_positive_weight, require_roles,
                           require_start_before_stop, _sort_key, time_array, weight_array)
from . import _km_core as core
from ._ties import merge_near_ties_start_stop
from .._notebook import TidyTablesHTML

CONF_TYPES = core.CONF_TYPES
_QUANTILE_TOL = float(np.sqrt(np.finfo(float).eps))  # quantile.survfit's default tolerance
_ALL = "all"


def check_conf(conf_type: str, conf_level: float) -> str:
    """The one place where conf_type / conf_level are validated (R's spellings accepted)."""
    ct = {"log-log": "log-log", "loglog": "log-log", "log_log": "log-log"}.get(conf_type, conf_type)
    require_choice("conf_type", ct, CONF_TYPES)
    require_conf_level(conf_level)
    return ct


def weights_from(data: pd.DataFrame, weights) -> np.ndarray | None:
    """Weights given as a column name or an array-like of one value per row."""
    if weights is None:
        return None
    if isinstance(weights, str):
        return weight_array(data, weights)
    w = np.asarray(weights, dtype=float).ravel()
    if w.size != len(data):
        raise ValueError(f"weights has {w.size} values but data has {len(data)} rows; give one weight per row "
                         f"or the name of a weights column")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        rows = ", ".join(repr(x) for x in list(data.index[bad])[:10])
        raise ValueError(f"weights must be finite and >= 0; bad values at rows {rows}")
    return w


def group_codes(data: pd.DataFrame, column: str) -> tuple[np.ndarray, list]:
    """Integer codes (-1 = missing) and levels in R's factor order, as ``_validation.group_labels``.

    Same levels and order as group_labels (categories in their order; otherwise numbers
    before strings, each sorted), but through one ``pd.factorize`` pass: at 10^6 string
    labels, group_labels' ``unique`` + ``Categorical`` costs several times more.
    """
    require_columns(data, [column], "group column")
    col = data[column]
    if isinstance(col.dtype, pd.CategoricalDtype):
        return group_labels(data, column)
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    values = uniques.tolist()  # Python scalars, as group_labels returns
    order = sorted(range(len(values)), key=lambda i: _sort_key(values[i]))
    remap = np.empty(len(values) + 1, dtype=np.int64)
    remap[np.asarray(order, dtype=np.int64)] = np.arange(len(values))
    remap[-1] = -1
    return remap[codes], [values[i] for i in order]


def prepare(data: pd.DataFrame, columns: list, by: list, weights=None, what: str = "analysis"):
    """Complete-case handling plus group coding, with the costly pandas NA scan only when needed.

    Returns (frame, dropped, codes per ``by`` column, levels per ``by`` column, weights array).
    ``columns`` are all the columns used (checked to exist); ``by`` the grouping columns
    (None entries allowed); ``weights`` a column name, an array or None.
    """
    data = require_frame(data)
    wcol = weights if isinstance(weights, str) else None
    require_columns(data, [c for c in columns if c is not None] + [c for c in by if c is not None]
                    + ([wcol] if wcol else []))
    w_arr = weights_from(data, weights) if weights is not None and wcol is None else None
    coded = [group_codes(data, c) if c is not None else (None, None) for c in by]
    missing = np.zeros(len(data), dtype=bool)
    for codes, _ in coded:
        if codes is not None:
            missing |= codes < 0
    if wcol is not None:
        missing |= data[wcol].isna().to_numpy()
    dropped = DroppedRows()
    frame = data
    if missing.any():
        frame, dropped = complete_cases(data, [c for c in by if c is not None] + ([wcol] if wcol else []),
                                        what=what)
        coded = [group_codes(frame, c) if c is not None else (None, None) for c in by]
        if w_arr is not None:
            w_arr = w_arr[~missing]
    w = weight_array(frame, wcol) if wcol is not None else w_arr
    return frame, dropped, [c for c, _ in coded], [lv for _, lv in coded], w


@dataclass(frozen=True)
class CurveData:
    """Validated arrays of one survival-curve analysis: what ``kaplan_meier``, ``cumulative_hazard``
    and ``rmst`` share (complete cases, group codes, (start, stop] entries, R's robust default)."""

    time: np.ndarray
    event: np.ndarray
    entry: np.ndarray | None
    weights: np.ndarray | None
    codes: np.ndarray | None
    levels: list
    counts: np.ndarray          # rows per level
    cluster: np.ndarray | None  # id codes when the robust variance is grouped by id
    ids: np.ndarray | None      # id codes whenever id= is given
    robust: bool
    dropped: DroppedRows

    def censored_counts(self, cells: core.Cells) -> np.ndarray | None:
        """R's ``n.censor`` with ``id`` and (start, stop] rows: only the last row of a subject's run of
        contiguous rows is a censoring (the others continue). None when every censored row counts."""
        if self.ids is None or self.entry is None:
            return None
        ends = core.run_ends(self.ids, self.entry, self.time)
        w = np.ones_like(self.time) if self.weights is None else self.weights
        return core.cell_sums(cells, w * (1.0 - self.event) * ends)[:, 0]


def curve_data(data: pd.DataFrame, time: str, event: str, by: str | None, weights, robust: bool | None,
               start: str | None, id: str | None, what: str) -> CurveData:
    """Check and code the inputs of a survival curve (see :func:`kaplan_meier` for the arguments).

    ``robust=None`` follows R's ``survfit``: the infinitesimal-jackknife variance when some weight is
    not an integer, or when ``id`` is given and some id has more than one event; Greenwood otherwise.
    With ``id`` the robust variance sums each patient's rows first (R's ``id=`` / ``cluster=``).
    Rows with a missing ``by``, ``id`` or weight are dropped (complete cases, with a warning).
    """
    # ids need no R level order: factorize them (sorting 10^5+ labels would cost more than the fit),
    # unless some are missing, when prepare's complete-case path (with its warning) drops those rows.
    require_roles(require_frame(data), time=time, event=event, group=by, start=start, id=id,
                  weights=weights if isinstance(weights, str) else None)
    id_missing = id is not None and id in getattr(data, "columns", ()) and bool(data[id].isna().any())
    frame, dropped, coded, level_lists, w = prepare(data, [time, event] + ([id] if id else []),
                                                    [by, id] if id_missing else [by], weights, what=what)
    codes, levels = coded[0], level_lists[0]
    ids = pd.factorize(frame[id])[0].astype(np.int64) if id is not None else None
    t = time_array(frame, time)
    e = event_array(frame, event)
    if t.size == 0:
        raise ValueError(f"no rows left to analyse (time column {time!r})")
    entry = None
    if start is not None:
        require_columns(frame, [start], "start column")
        entry, t = merge_near_ties_start_stop(time_array(frame, start), t)
        require_start_before_stop(frame, start, time, entry, t)
    if by is None:
        levels = [_ALL]
    if w is not None:
        require_positive_weight(w, what, codes, levels, by)
    if robust is None:
        robust = (w is not None and bool(np.any(w != np.floor(w)))) or (
            ids is not None and (e == 1).any() and int(np.bincount(ids[e == 1]).max()) > 1)
    counts = np.bincount(codes, minlength=len(levels)) if codes is not None else np.array([t.size])
    return CurveData(time=t, event=e, entry=entry, weights=w, codes=codes, levels=levels, counts=counts,
                     cluster=ids if robust else None, ids=ids, robust=bool(robust), dropped=dropped)


@dataclass(frozen=True)
class _Curve:
    """One group's curve, as the arrays R's survfit object holds."""

    label: object
    time: np.ndarray
    n_risk: np.ndarray
    n_event: np.ndarray
    n_censor: np.ndarray
    survival: np.ndarray
    std_err: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    n: int


@dataclass(frozen=True)
class KaplanMeier(TidyTablesHTML):
    """Result of :func:`kaplan_meier`.

    Attributes
    ----------
    table : DataFrame
        ``group`` (only when ``by`` was given), ``time``, ``n_risk``, ``n_event``,
        ``n_censor``, ``survival``, ``std_err``, ``lower``, ``upper``: one row per distinct
        observed time per group (R's ``summary(fit, censored=TRUE)``).
    medians : DataFrame
        ``group`` ("all" without ``by``), ``n``, ``n_events``, ``median``, ``lower``, ``upper``.
    summary : DataFrame
        ``group``, ``n`` (rows), ``n_events`` (weighted), ``median``, ``lower``, ``upper``
        (same numbers as ``medians``; kept for tables).
    dropped : DroppedRows
        Rows removed for a missing ``by`` or weight (complete-case analysis).
    """

    _html_tables = ("medians", "table")

    table: pd.DataFrame
    medians: pd.DataFrame
    conf_type: str
    conf_level: float
    robust: bool
    dropped: DroppedRows = field(default_factory=DroppedRows)
    _curves: tuple = field(default=(), repr=False)
    _by: str | None = field(default=None, repr=False)

    @property
    def groups(self) -> list:
        return [c.label for c in self._curves]

    @property
    def summary(self) -> pd.DataFrame:
        return self.medians.copy()

    def quantile(self, q: float | Sequence[float] = (0.25, 0.5, 0.75)) -> pd.DataFrame:
        """Survival-time quantiles as R's ``quantile(fit, q)``.

        R's quantile q is the time where S drops to 1 - q (q = 0.5 is the median;
        q = 0.25 and 0.75 give the IQR of survival times). Columns: ``group``,
        ``quantile``, ``time``, ``lower``, ``upper``; NaN where not reached.
        """
        qs = np.atleast_1d(np.asarray(q, dtype=float))
        if np.any(np.isnan(qs)) or np.any((qs < 0) | (qs > 1)):
            raise ValueError(f"quantiles must lie in [0, 1]; got {list(qs)}")
        rows = []
        for c in self._curves:
            est, lo, hi = _quantiles(c, qs, self.conf_type)
            rows.append(pd.DataFrame({"group": c.label, "quantile": qs, "time": est, "lower": lo, "upper": hi}))
        return pd.concat(rows, ignore_index=True)

    def at(self, times: float | Sequence[float], extend: bool = False) -> pd.DataFrame:
        """The curves at given times, as R's ``summary(fit, times=times, extend=extend)``.

        Columns ``group``, ``time``, ``n_risk``, ``n_event`` (events in (previous time,
        time], as R), ``survival``, ``std_err``, ``lower``, ``upper``. Before a group's
        first time S = 1; after its last time the row is dropped unless ``extend``
        (then S stays at its last value and ``n_risk`` is 0).
        """
        ts = np.sort(np.atleast_1d(np.asarray(times, dtype=float)))
        ts = ts[np.isfinite(ts)]
        frames = []
        for c in self._curves:
            tt = ts if extend else ts[ts <= c.time[-1]]
            i1 = np.searchsorted(c.time, tt, side="right") - 1       # last time <= t (-1: before the first)
            i2 = np.searchsorted(c.time, tt, side="left")             # first time >= t
            before = i1 < 0
            j = np.maximum(i1, 0)
            surv = np.where(before, 1.0, c.survival[j])
            se = np.where(before, 0.0, c.std_err[j])
            lo = np.where(before, 1.0 if self.conf_type != "none" else np.nan, c.lower[j])
            hi = np.where(before, 1.0 if self.conf_type != "none" else np.nan, c.upper[j])
            n_risk = np.concatenate([c.n_risk, [0.0]])[i2]
            cum_ev = np.concatenate([[0.0], np.cumsum(c.n_event)])[i1 + 1]
            n_event = np.diff(np.concatenate([[0.0], cum_ev]))
            frames.append(pd.DataFrame({"group": c.label, "time": tt, "n_risk": n_risk, "n_event": n_event,
                                        "survival": surv, "std_err": se, "lower": lo, "upper": hi}))
        return pd.concat(frames, ignore_index=True)

    def risk_table(self, times: float | Sequence[float]) -> pd.DataFrame:
        """Numbers at risk for the table under a KM plot.

        Columns ``group``, ``time``, ``n_risk`` (weighted number with time >= t, as
        R's ``summary(fit, times=)``; 0 after the last time), ``n_events`` and
        ``n_censored`` (cumulative up to and including t).
        """
        ts = np.sort(np.atleast_1d(np.asarray(times, dtype=float)))
        frames = []
        for c in self._curves:
            i1 = np.searchsorted(c.time, ts, side="right")
            i2 = np.searchsorted(c.time, ts, side="left")
            frames.append(pd.DataFrame({
                "group": c.label, "time": ts,
                "n_risk": np.concatenate([c.n_risk, [0.0]])[i2],
                "n_events": np.concatenate([[0.0], np.cumsum(c.n_event)])[i1],
                "n_censored": np.concatenate([[0.0], np.cumsum(c.n_censor)])[i1]}))
        return pd.concat(frames, ignore_index=True)

    def __str__(self) -> str:
        m = self.medians
        lines = [f"Kaplan-Meier ({self.conf_type} CI, {self.conf_level:.0%})"]
        for r in m.itertuples(index=False):
            lines.append(f"  {r.group}: n={r.n}, events={r.n_events:g}, median {r.median:g} "
                         f"({r.lower:g} to {r.upper:g})")
        return "\n".join(lines)


def _quantiles(c: _Curve, qs: np.ndarray, conf_type: str):
    x = np.concatenate([[min(0.0, c.time[0])], c.time])
    est = core.find_quantile(x, np.concatenate([[0.0], 1 - c.survival]), qs, _QUANTILE_TOL)
    if conf_type == "none":
        nan = np.full(qs.shape, np.nan)
        return est, nan, nan.copy()
    lo = core.find_quantile(x, np.concatenate([[0.0], 1 - c.lower]), qs, _QUANTILE_TOL)
    hi = core.find_quantile(x, np.concatenate([[0.0], 1 - c.upper]), qs, _QUANTILE_TOL)
    return est, lo, hi


def kaplan_meier(data: pd.DataFrame, time: str, event: str, by: str | None = None, conf_type: str = "log",
                 conf_level: float = 0.95, weights=None, robust: bool | None = None,
                 start: str | None = None, id: str | None = None) -> KaplanMeier:
    """Kaplan-Meier estimate of survival, per group of ``by``, as R's ``survfit``.

    Parameters
    ----------
    data : DataFrame, one row per patient.
    time, event : column names. ``time`` >= 0 (NaN or negative is an error); ``event`` in
        {0, 1, True, False}.
    by : optional grouping column; groups are ordered as R's factor levels.
    conf_type : "log" (R's default), "log-log", "plain", "logit", "arcsin" or "none" (R's ``conf.type``).
    conf_level : confidence level of the pointwise bands and the quantile CIs.
    weights : column name or array of case weights (>= 0).
    robust : None follows R: robust (infinitesimal jackknife) SE when some weight is not
        an integer, Greenwood otherwise. True / False force it.
    start : column of entry times, R's ``Surv(start, time, event)``: each row is at risk on
        ``(start, time]`` (delayed entry / left truncation, or several rows per patient). ``start``
        must be >= 0 and < ``time``.
    id : column identifying the patient when a patient has several rows, R's ``survfit(..., id=)``. With
        ``robust`` the variance is then the grouped (cluster) infinitesimal jackknife: each patient's
        influence is the sum over their rows, as R's ``survfit(..., id=, robust=TRUE)``; ``robust=None``
        turns it on when some patient has more than one event (R's default). With (start, stop] rows,
        ``n_censor`` counts only the last row of a patient's run of contiguous rows, as R.

    Rows with a missing ``by``, ``id`` or weight are dropped (reported in ``.dropped`` and a
    :class:`~oligomet.CompleteCaseWarning`); see the module docstring for R's rules.
    """
    conf_type = check_conf(conf_type, conf_level)
    cd = curve_data(data, time, event, by, weights, robust, start, id, what="kaplan_meier")
    levels, robust, dropped, counts = cd.levels, cd.robust, cd.dropped, cd.counts
    fit = core.km_fit(cd.time, cd.event, cd.codes, len(levels), cd.weights, robust=robust, start=cd.entry,
                      cluster=cd.cluster)
    lower, upper = core.confidence_band(fit.survival, fit.std_err, conf_type, conf_level, logse=fit.logse)
    n_censor = cd.censored_counts(fit.cells)
    if n_censor is not None:
        fit = replace(fit, n_censor=n_censor)

    curves, med_rows = [], []
    s = fit.cells.starts
    for g, label in enumerate(levels):
        sl = slice(s[g], s[g + 1])
        if s[g] == s[g + 1]:
            continue  # a category level with no rows (R drops it too)
        c = _Curve(label=label, time=fit.cells.time[sl], n_risk=fit.n_risk[sl], n_event=fit.n_event[sl],
                   n_censor=fit.n_censor[sl], survival=fit.survival[sl], std_err=fit.std_err[sl],
                   lower=lower[sl], upper=upper[sl], n=int(counts[g]))
        curves.append(c)
        est, lo, hi = _quantiles(c, np.array([0.5]), conf_type)
        med_rows.append({"group": label, "n": c.n, "n_events": float(c.n_event.sum()), "median": est[0],
                         "lower": lo[0], "upper": hi[0]})

    table = pd.DataFrame({"time": fit.cells.time, "n_risk": fit.n_risk, "n_event": fit.n_event,
                          "n_censor": fit.n_censor, "survival": fit.survival, "std_err": fit.std_err,
                          "lower": lower, "upper": upper})
    if by is not None:
        table.insert(0, "group", group_column(fit.cells.block, levels))
    return KaplanMeier(table=table, medians=pd.DataFrame(med_rows), conf_type=conf_type, conf_level=conf_level,
                       robust=robust, dropped=dropped, _curves=tuple(curves), _by=by)


def group_column(block: np.ndarray, levels: list):
    """The ``group`` column of a per-cell table: a Categorical in R's level order when possible."""
    if _categorical_ok(levels):
        return pd.Categorical.from_codes(block, categories=levels)
    return np.asarray(levels, dtype=object)[block]


def _categorical_ok(levels: list) -> bool:
    # A Categorical keeps R's level order when sorting; only possible with distinct, hashable labels.
    try:
        return len(set(levels)) == len(levels)
    except TypeError:
        return False
