"""Log-rank tests: the G-rho family as R's ``survival::survdiff`` (3.5-3), and the trend test.

* ``logrank(d, time="t", event="s", by="g", strata="x", rho=r)`` is
  ``survdiff(Surv(t, s) ~ g + strata(x), data=d, rho=r)``. rho = 0 is the log-rank
  test, rho = 1 the Peto-Peto modification of the Gehan-Wilcoxon test. The weight at an
  event time is S(t-)^rho, with S the Kaplan-Meier of the pooled data *within the
  stratum*, as survdiff computes it. Observed and expected counts are weighted by it.
* The statistic uses only groups with E > 0, drops the first of them and solves with
  the variance sub-matrix (R's ``solve``); df = (number of groups with E > 0) - 1.
* ``logrank_trend`` is the 1-df test for trend over ordered groups:
  (s'(O - E))^2 / (s' V s), with O, E, V from survdiff and scores s (1..k by default,
  in level order). The R fixture script checks it against that formula on survdiff's
  own ``obs``, ``exp`` and ``var``.
* Near-tied times are merged first (R's ``timefix=TRUE``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import DroppedRows, event_array, require_events, require_frame, require_roles, time_array
from . import _km_core as core
from .kaplan_meier import prepare
from .._notebook import TidyTablesHTML


@dataclass(frozen=True)
class LogrankResult(TidyTablesHTML):
    """Result of :func:`logrank`.

    ``observed``, ``expected`` (weighted, summed over strata) and the rows/columns of
    ``variance`` follow ``groups`` (R's level order). ``table`` has columns ``group``,
    ``n``, ``observed``, ``expected``, ``oe2_e`` = (O-E)^2/E and ``oe2_v`` = (O-E)^2/V
    (V the diagonal of ``variance``), as R prints them.
    """

    _html_tables = ("statistic", "df", "p_value")

    statistic: float
    df: int
    p_value: float
    observed: np.ndarray
    expected: np.ndarray
    variance: np.ndarray
    groups: list
    table: pd.DataFrame
    rho: float
    by: str
    strata: str | None = None
    observed_by_stratum: pd.DataFrame | None = None
    expected_by_stratum: pd.DataFrame | None = None
    dropped: DroppedRows = field(default_factory=DroppedRows)

    def __str__(self) -> str:
        name = "log-rank" if self.rho == 0 else f"G-rho (rho={self.rho:g})"
        strat = f", stratified by {self.strata}" if self.strata else ""
        return (f"{name} test of {self.by}{strat}: chi-square {self.statistic:.4g} on {self.df} df, "
                f"p = {self.p_value:.4g}")


@dataclass(frozen=True)
class TrendResult:
    """Result of :func:`logrank_trend`: the 1-df test for trend with the given ``scores``."""

    statistic: float
    df: int
    p_value: float
    scores: np.ndarray
    groups: list
    observed: np.ndarray
    expected: np.ndarray
    rho: float
    dropped: DroppedRows = field(default_factory=DroppedRows)

    def __str__(self) -> str:
        return f"test for trend: chi-square {self.statistic:.4g} on 1 df, p = {self.p_value:.4g}"


def _prepare(data, time, event, by, strata, rho, what):
    if by is None:
        raise ValueError(f"{what} needs a grouping column (by=)")
    if not np.isfinite(rho) or rho < 0:
        raise ValueError(f"rho must be a finite number >= 0; got {rho!r}")
    require_roles(require_frame(data), time=time, event=event, group=by, strata=strata)
    frame, dropped, (codes, scodes), (levels, slevels), _ = prepare(data, [time, event], [by, strata], what=what)
    t = time_array(frame, time)
    e = event_array(frame, event)
    require_events(e, event, f"the {what} test compares observed with expected events and", "cannot be computed")
    present = np.bincount(codes, minlength=len(levels)) > 0
    if present.sum() < 2:
        only = [lv for lv, p in zip(levels, present) if p]
        raise ValueError(f"group column {by!r} has a single group ({', '.join(map(repr, only)) or 'none'}) in the "
                         f"{len(frame)} analysed rows; a log-rank test needs at least two groups")
    if not present.all():  # unused categories: R's strata() drops them
        keep = np.flatnonzero(present)
        remap = np.full(len(levels), -1)
        remap[keep] = np.arange(keep.size)
        codes, levels = remap[codes], [levels[i] for i in keep]
    if strata is None:
        slevels = [None]
    fit = core.logrank_fit(t, e, codes, len(levels), scodes, len(slevels), float(rho))
    if (fit.expected > 0).sum() < 2:
        # survdiff would report 0 degrees of freedom and no p-value
        raise ValueError(f"no event occurred while two or more groups of {by!r} were at risk, so the groups cannot "
                         f"be compared (expected events: {dict(zip(map(str, levels), fit.expected.round(3)))}); "
                         "check the follow-up of each group")
    return fit, levels, slevels, dropped


def logrank(data: pd.DataFrame, time: str, event: str, by: str, strata: str | None = None,
            rho: float = 0) -> LogrankResult:
    """G-rho test of equal survival across the groups of ``by``, as R's ``survdiff``.

    ``strata``: optional column; the test is then stratified (O, E, V summed over
    strata, each stratum with its own risk sets and its own pooled KM for rho != 0).
    Rows with a missing ``by`` or ``strata`` are dropped (complete-case, reported).
    """
    fit, levels, slevels, dropped = _prepare(data, time, event, by, strata, rho, "logrank")
    chi, df = core.chisq_test(fit.observed, fit.expected, fit.variance)
    p = float(stats.chi2.sf(chi, df)) if df > 0 else float("nan")
    o, e, v = fit.observed, fit.expected, np.diag(fit.variance)
    with np.errstate(divide="ignore", invalid="ignore"):
        table = pd.DataFrame({"group": levels, "n": fit.n, "observed": o, "expected": e,
                              "oe2_e": (o - e) ** 2 / e, "oe2_v": (o - e) ** 2 / v})
    by_s = {}
    if strata is not None:
        for name, arr in (("observed", fit.observed_by_stratum), ("expected", fit.expected_by_stratum)):
            by_s[name] = pd.DataFrame(arr, index=pd.Index(slevels, name=strata), columns=levels)
    return LogrankResult(statistic=chi, df=df, p_value=p, observed=o, expected=e, variance=fit.variance,
                         groups=list(levels), table=table, rho=float(rho), by=by, strata=strata,
                         observed_by_stratum=by_s.get("observed"), expected_by_stratum=by_s.get("expected"),
                         dropped=dropped)


def logrank_trend(data: pd.DataFrame, time: str, event: str, by: str, scores: Sequence[float] | None = None,
                  strata: str | None = None, rho: float = 0) -> TrendResult:
    """Test for trend over the ordered groups of ``by`` (1 df).

    statistic = (s'(O - E))^2 / (s' V s), with O, E, V of :func:`logrank` (same
    ``strata`` and ``rho``) and ``scores`` s, one per group in level order (default
    1, 2, ..., k). Give ``by`` as an ordered pandas Categorical, or numbers, so that
    the level order is the clinical order.
    """
    fit, levels, _, dropped = _prepare(data, time, event, by, strata, rho, "logrank_trend")
    if scores is None:
        s = np.arange(1, len(levels) + 1, dtype=float)
    else:
        s = np.asarray(scores, dtype=float).ravel()
        if s.size != len(levels):
            raise ValueError(f"scores has {s.size} values but group column {by!r} has {len(levels)} groups "
                             f"({', '.join(map(repr, levels))}); give one score per group in this order")
        if not np.all(np.isfinite(s)):
            raise ValueError(f"scores must be finite numbers; got {list(s)}")
    u = float(s @ (fit.observed - fit.expected))
    var = float(s @ fit.variance @ s)
    if var <= 0:
        raise ValueError(f"the trend test's variance is 0 for group column {by!r}: the scores are constant or "
                         f"there are no events where groups overlap")
    chi = u * u / var
    return TrendResult(statistic=chi, df=1, p_value=float(stats.chi2.sf(chi, 1)), scores=s, groups=list(levels),
                       observed=fit.observed, expected=fit.expected, rho=float(rho), dropped=dropped)
