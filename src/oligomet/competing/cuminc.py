"""Cumulative incidence functions (Aalen–Johansen) with Gray's test, at parity with ``cmprsk::cuminc``.

``cumulative_incidence(data, time=, event=, by=)`` reproduces ``cmprsk::cuminc(ftime, fstatus,
group, strata, rho=0)`` (cmprsk 2.2-11):

* estimate: the Aalen–Johansen CIF of each cause within each group, as cmprsk's Fortran ``cinc``;
* variance: cmprsk's (Gray's) variance estimate, stepping only at failures of the cause;
* ``.at(times)``: ``cmprsk::timepoints()``'s rule (value at the last time <= t; NA beyond the
  group's largest follow-up time or before 0);
* ``.gray_test``: ``cuminc()$Tests`` (Gray's K-sample test, rho = 0 by default, optional strata).

Ties: times are first merged with :func:`oligomet.survival._ties.merge_near_ties` (R's
``aeqSurv``, as every oligomet survival estimator does, so the CIFs add up with
``kaplan_meier``); after that, equal times are tied exactly as in cmprsk: all failures of all
causes and censorings at one time are processed together, censored subjects count as at risk
at their own time. Never jittered. cmprsk itself compares raw doubles; the two only differ for
times closer than ~1.5e-8 (relative), i.e. floating-point noise.

Case weights (``weights=``, e.g. IPTW): the estimate and its standard error are R's
``survfit(Surv(time, factor(event)) ~ group, weights = w)`` (Aalen–Johansen from weighted counts,
infinitesimal-jackknife variance; see :mod:`oligomet.competing._weighted_aj`), and the count columns
of ``.table`` are sums of weights (a pseudo-population). Gray's test is not computed then: cmprsk's
``cuminc`` takes no weights and we know of no R implementation of a weighted one to check it against, so
``.gray_test`` is empty (compare weighted groups with a weighted Fine–Gray model instead).

Confidence limits: cmprsk has none. ``.table`` gives pointwise limits on the log(-log) scale,
``F^exp(±z·sqrt(var)/(F·log F))``, the transform commonly used with cmprsk output (as in R's
``tidycmprsk``, Stata's ``stcompet``); they stay within (0, 1). Where F is 0 (no failure yet)
both limits are 0; where F is 1 both are 1.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._notebook import TidyTablesHTML
from .._validation import (DroppedRows, complete_cases, event_codes, group_labels, require_conf_level, require_frame,
                           require_positive_weight, require_roles, time_array, weight_array)
from ..survival._ties import merge_near_ties
from ._aalen_johansen import count_table, distinct_times, group_curves
from ._gray import gray_statistics
from ._weighted_aj import weighted_group_curves

ALL = "all"
_INT_COLUMNS = {"group", "cause", "n_risk", "n_event", "n_competing", "n_censor"}
TABLE_COLUMNS = ["group", "cause", "time", "n_risk", "n_event", "n_competing", "n_censor", "estimate",
                 "variance", "lower", "upper"]


@dataclass(frozen=True)
class CumulativeIncidence(TidyTablesHTML):
    """Result of :func:`cumulative_incidence`.

    Attributes
    ----------
    table : DataFrame
        One row per group, cause and distinct observed time of the group (failures of any cause
        and censorings), sorted by group, cause, time. Columns: ``group`` (level of ``by``, or
        ``"all"``), ``cause`` (event code), ``time``, ``n_risk`` (number with time >= t in the
        group), ``n_event`` (failures of this cause at t), ``n_competing`` (failures of other
        causes at t), ``n_censor``, ``estimate`` (CIF just after t), ``variance`` (cmprsk's),
        ``lower``, ``upper`` (log(-log) pointwise limits at ``conf_level``). The curve is 0 before
        the first row.
    gray_test : DataFrame
        One row per cause: ``cause``, ``statistic``, ``df``, ``p`` as ``cuminc()$Tests``
        (Gray's test with ``rho``; stratified when ``strata`` was given). Empty with one group.
        Where cmprsk reports -1 (singular variance, e.g. a cause with no failure in any but one
        group), ``statistic`` and ``p`` are NaN. ``p_value``, the former name of ``p``, is kept as a
        deprecated copy: the shared R-parity checker (``shared/parity/check.py``) still reads it.
    groups, causes : list
        Group levels (R's factor order) and cause codes (ascending) that were analysed.
    n : int
        Rows analysed; ``dropped`` reports rows removed for missing ``by``/``strata``.
    weighted : bool
        Case weights were given: counts are sums of weights, the variance is survfit's
        infinitesimal jackknife and there is no Gray's test.
    """

    _html_tables = ("n", "gray_test", "table")

    table: pd.DataFrame
    gray_test: pd.DataFrame
    groups: list
    causes: list
    n: int
    conf_level: float
    dropped: DroppedRows = field(default_factory=DroppedRows)
    weighted: bool = False

    def at(self, times) -> pd.DataFrame:
        """CIF and variance at ``times``, as ``cmprsk::timepoints(cuminc(...), times)``.

        ``times`` are sorted and de-duplicated (as timepoints does). Columns ``group``, ``cause``,
        ``time``, ``estimate``, ``variance`` (as timepoints), plus ``lower``, ``upper`` (the table's
        log(-log) limits at ``conf_level``, read with the same rule). A time beyond the group's largest
        follow-up time (or negative) gives NaN, as timepoints gives NA.
        """
        tp = np.unique(np.asarray(times, dtype=float).ravel())
        if np.isnan(tp).any():
            raise ValueError("times must not contain NaN")
        out = []
        for (g, c), cur in self.table.groupby(["group", "cause"], sort=False):
            t = cur["time"].to_numpy()
            i = np.searchsorted(t, tp, side="right") - 1
            outside = (tp > t[-1]) | (tp < 0)
            cols = {"group": g, "cause": c, "time": tp}
            for name in ("estimate", "variance", "lower", "upper"):
                # before the first time the curve is 0 (estimate, variance and limits alike)
                vals = np.where(i >= 0, cur[name].to_numpy()[np.maximum(i, 0)], 0.0)
                vals[outside] = np.nan
                cols[name] = vals
            out.append(pd.DataFrame(cols))
        return pd.concat(out, ignore_index=True)

    def __str__(self) -> str:
        return (f"CumulativeIncidence: {self.n} rows, groups {self.groups}, causes {self.causes}\n"
                f"{self.gray_test.to_string(index=False) if len(self.gray_test) else ''}")


def cumulative_incidence(data: pd.DataFrame, time: str, event: str, by: str | None = None,
                         conf_level: float = 0.95, strata: str | None = None,
                         rho: float = 0.0, weights: str | None = None) -> CumulativeIncidence:
    """Cumulative incidence of each cause, per group, with Gray's test (``cmprsk::cuminc``).

    Parameters
    ----------
    data : DataFrame, one row per subject.
    time : column of follow-up times (>= 0).
    event : column of status codes: 0 = censored, 1, 2, ... = causes (non-negative integers).
    by : optional grouping column (R's ``group``); without it a single group ``"all"``.
    conf_level : level of the log(-log) pointwise limits in ``.table``.
    strata : optional column stratifying Gray's test (R's ``strata``); the CIFs are not stratified.
    rho : power of the weight ``(1 - F(t-))^rho`` in Gray's test (cmprsk default 0).
    weights : optional column of case weights (>= 0, e.g. IPTW): R's weighted multi-state ``survfit``
        (see the module notes); there is then no Gray's test, so ``strata`` and ``rho`` are refused.

    Rows with a missing ``by``/``strata`` are dropped (complete-case analysis, warned);
    missing or negative times and non-integer or negative event codes are errors.
    """
    data = require_frame(data)
    require_roles(data, time=time, event=event, group=by, strata=strata)
    require_conf_level(conf_level)
    if weights is not None and (strata is not None or rho != 0):
        raise ValueError("strata and rho only shape Gray's test, which has no weighted version (cmprsk's cuminc "
                         "takes no weights); drop them, or compare the weighted groups with fine_gray(weights=)")
    data, dropped = complete_cases(data, [by, strata], what="cumulative_incidence")
    w = weight_array(data, weights) if weights is not None else None
    t_raw = time_array(data, time)
    status = event_codes(data, event)
    if by is None:
        gcode, groups = np.zeros(t_raw.size, dtype=np.int64), [ALL]
    else:
        gcode, groups = group_labels(data, by)
    scode = group_labels(data, strata)[0] if strata is not None else None
    causes = np.unique(status[status != 0])
    if causes.size == 0:
        raise ValueError(f"event column {event!r} has no failures (all rows are censored, code 0)")
    if w is not None:
        require_positive_weight(w, "cumulative_incidence", gcode, groups, by)

    # sort once; near-tie merging keeps the order, and sorted times make distinct_times O(n)
    order = np.argsort(t_raw, kind="stable")
    t = merge_near_ties(t_raw[order])
    status, gcode = status[order], gcode[order]
    ut, inv = distinct_times(t)
    # column of each row in the count tables: 0 censored, 1..C the causes in ascending order
    col = np.searchsorted(causes, status) + 1
    col[status == 0] = 0
    ng, C = len(groups), causes.size
    z = stats.norm.ppf(0.5 + conf_level / 2)
    if w is not None:
        w = w[order]
        curves = [weighted_group_curves(inv[gcode == gi], ut.size, ut, col[gcode == gi], w[gcode == gi], C)
                  for gi in range(ng)]
        return CumulativeIncidence(table=_table(curves, groups, causes, z, weighted=True), gray_test=_no_test(),
                                   groups=list(groups), causes=[int(c) for c in causes], n=int(t.size),
                                   conf_level=conf_level, dropped=dropped, weighted=True)
    counts = count_table(inv, ut.size, gcode, ng, col, C + 1)          # (T, groups, C + 1)

    table = _table([group_curves(ut, counts[:, gi, :]) for gi in range(ng)], groups, causes, z)
    if ng < 2:
        gray = _no_test()
    else:
        if scode is None:
            strata_counts = [counts]
        else:
            scode = scode[order]
            strata_counts = [count_table(inv[scode == k], ut.size, gcode[scode == k], ng, col[scode == k], C + 1)
                             for k in np.unique(scode)]
        gray = _gray_table(strata_counts, causes, ng, rho)
    return CumulativeIncidence(table=table, gray_test=gray, groups=list(groups), causes=[int(c) for c in causes],
                               n=int(t.size), conf_level=conf_level, dropped=dropped)


def _no_test() -> pd.DataFrame:
    return pd.DataFrame({"cause": np.array([], dtype=np.int64), "statistic": np.array([], dtype=float),
                         "df": np.array([], dtype=np.int64), "p": np.array([], dtype=float),
                         "p_value": np.array([], dtype=float)})


def _table(curves, groups, causes, z, weighted: bool = False) -> pd.DataFrame:
    """The tidy table, filled column by column into preallocated arrays (per-curve frames + concat
    cost several seconds at 10^6 distinct times). Weighted counts are sums of weights (floats)."""
    C = causes.size
    sizes = [cur.time.size for cur in curves]
    N = sum(sizes) * C
    ints = {"group", "cause"} if weighted else _INT_COLUMNS
    out = {name: np.empty(N, dtype=np.int64 if name in ints else float) for name in TABLE_COLUMNS}
    gidx = np.empty(N, dtype=np.int64)
    pos = 0
    for gi, cur in enumerate(curves):
        T = cur.time.size
        nd_all = cur.n_event.sum(axis=1)
        for ci in range(C):
            sl = slice(pos, pos + T)
            est, var = cur.estimate[:, ci], cur.variance[:, ci]
            gidx[sl] = gi
            out["cause"][sl] = causes[ci]
            out["time"][sl] = cur.time
            out["n_risk"][sl] = cur.n_risk
            out["n_event"][sl] = cur.n_event[:, ci]
            out["n_competing"][sl] = nd_all - cur.n_event[:, ci]
            out["n_censor"][sl] = cur.n_censor
            out["estimate"][sl] = est
            out["variance"][sl] = var
            out["lower"][sl], out["upper"][sl] = _loglog_limits(est, var, z)
            pos += T
    labels = np.empty(len(groups), dtype=object)
    labels[:] = groups
    out["group"] = labels[gidx]
    return pd.DataFrame(out, columns=TABLE_COLUMNS, copy=False)


def _loglog_limits(est: np.ndarray, var: np.ndarray, z: float):
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        se = np.sqrt(np.maximum(var, 0.0)) / (est * np.log(est))
        lower = est ** np.exp(-z * se)
        upper = est ** np.exp(z * se)
    # F log F < 0 on (0, 1), so exp(-z se) > 1 gives the lower limit; F outside (0, 1) only by rounding
    lower = np.where(est <= 0, 0.0, np.where(est >= 1, 1.0, lower))
    upper = np.where(est <= 0, 0.0, np.where(est >= 1, 1.0, upper))
    return lower, upper


def _gray_table(strata_counts, causes, ng, rho) -> pd.DataFrame:
    rows = []
    for c, (stat, _, _) in zip(causes, gray_statistics(strata_counts, rho)):
        p = float(stats.chi2.sf(stat, ng - 1)) if np.isfinite(stat) else np.nan
        rows.append((int(c), stat, ng - 1, p))
    out = pd.DataFrame(rows, columns=["cause", "statistic", "df", "p"])
    return out.assign(p_value=out["p"])   # deprecated name of p, read by code written before issue 10
