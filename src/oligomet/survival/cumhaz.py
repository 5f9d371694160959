"""Cumulative hazard curves at parity with R's ``survfit(..., ctype = 1 | 2)`` (survival 3.5-3).

R equivalences (checked against fixtures written by R, tests/reference/rmst/):

* ``cumulative_hazard(d, time="t", event="s", by="g", ctype=1)`` is
  ``survfit(Surv(t, s) ~ g, data=d, ctype=1)``: ``cumhaz`` is its ``$cumhaz`` and ``std_chaz`` its
  ``$std.chaz``, one row per distinct time per group (``summary(fit, censored=TRUE)``'s rows).
* ``ctype=1``, Nelson-Aalen: H(t) = sum over event times of d / n (weighted d and n); variance
  sum d / n^2.
* ``ctype=2``, Fleming-Harrington: tied events are taken to happen one after another, each removing
  its share of the weight: with m tied events of total weight d among weight n at risk, the
  increment is sum_{j=0}^{m-1} (d/m) / (n - j d/m), and the variance sum (d/m) / (n - j d/m)^2.
  Without ties both ctypes agree.
* Robust variance (R's default for non-integer weights, or ``id`` with repeated events; ``robust=``
  forces it): R's infinitesimal jackknife, sqrt(sum over patients of their influence^2). The influence
  of a patient on H(t) is sum_{s<=t} [dN(s) a(s) - Y(s) r(s)] with a = 1/n, r = d/n^2 (ctype 1) and,
  for ctype 2, R's per-event derivatives of the tied-event sum (survfitkm.c).
* ``lower``/``upper`` are the band R's ``plot(fit, cumhaz=TRUE)`` draws:
  ``survfit_confint(cumhaz, std.chaz, logse=FALSE, conf.type, ulimit=FALSE)``. ``conf_type="plain"``
  (R's default there): H -+ z se, the lower limit kept >= 0. ``"log"``: H exp(-+ z se / H), NaN where
  H = 0.
* (start, stop] rows (``start=``), weights and ``id=`` as :func:`~oligomet.kaplan_meier`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import special

from .._validation import DroppedRows, require_choice, require_conf_level
from . import _km_core as core
from .kaplan_meier import curve_data, group_column
from .._notebook import TidyTablesHTML

CONF_TYPES = ("plain", "log", "none")
_CTYPES = {1: 1, 2: 2, "nelson-aalen": 1, "fleming-harrington": 2}


@dataclass(frozen=True)
class CumulativeHazard(TidyTablesHTML):
    """Result of :func:`cumulative_hazard`.

    Attributes
    ----------
    table : DataFrame
        ``group`` (only when ``by`` was given), ``time``, ``n_risk``, ``n_event``, ``n_censor``,
        ``cumhaz``, ``std_chaz``, ``lower``, ``upper``: one row per distinct time per group.
    ctype : 1 (Nelson-Aalen) or 2 (Fleming-Harrington).
    robust : whether ``std_chaz`` is the infinitesimal-jackknife (robust) SE.
    dropped : rows removed for a missing ``by``, ``id`` or weight.
    """

    _html_tables = ("table",)

    table: pd.DataFrame
    ctype: int
    conf_type: str
    conf_level: float
    robust: bool
    dropped: DroppedRows = field(default_factory=DroppedRows)

    def at(self, times: float | Sequence[float]) -> pd.DataFrame:
        """H at given times (its value at the last time <= t; 0 before a group's first time).

        Columns ``group`` (when ``by`` was given), ``time``, ``cumhaz``, ``std_chaz``, ``lower``, ``upper``.
        Times after a group's last time are dropped, as R's ``summary(fit, times=)`` does.
        """
        ts = np.sort(np.atleast_1d(np.asarray(times, dtype=float)))
        tab = self.table
        parts = [(None, tab)] if "group" not in tab.columns else list(tab.groupby("group", sort=False, observed=True))
        frames = []
        for label, g in parts:
            t = g["time"].to_numpy()
            tt = ts[ts <= t[-1]]
            i = np.searchsorted(t, tt, side="right") - 1
            out = {"time": tt}
            for col in ("cumhaz", "std_chaz", "lower", "upper"):
                v = g[col].to_numpy()
                before = 0.0 if col in ("cumhaz", "std_chaz") or self.conf_type == "plain" else np.nan
                out[col] = np.where(i >= 0, v[np.maximum(i, 0)], before)
            frame = pd.DataFrame(out)
            if label is not None:
                frame.insert(0, "group", label)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


_EXPAND_UP_TO = 32   # cells with more tied events use the closed forms (digamma / trigamma) for the plain variance


def hazard_increments(rs: core.RiskSets, ctype: int, robust: bool = False, expand_up_to: int = _EXPAND_UP_TO):
    """Per cell: the hazard increment, its (model-based) variance, and the influence coefficients
    ``a`` (per unit weight of an event row) and ``r`` (per unit weight at risk) for the robust variance.

    ctype 2 sums over each cell's m tied events k = 1..m, with b_k = 1 / (n - d + k d/m) (the weight at
    risk as the k-th event happens). Written out, that costs O(number of events); for cells with more
    than ``expand_up_to`` ties, and when the robust coefficients are not needed, the sums come from
    b_k = (m/d) / (c + k), c = m (n - d) / d: sum b = (m/d) (psi(c+m+1) - psi(c+1)) and
    sum b^2 = (m/d)^2 (psi'(c+1) - psi'(c+m+1)), accurate to ~1e-11 relative where they are used.
    (The robust ``a`` also needs sum k b_k^2, whose closed form cancels badly: always written out.)
    """
    d, n, m = rs.d, rs.n, rs.m
    ev = d > 0
    if ctype == 1:
        with np.errstate(divide="ignore", invalid="ignore"):
            haz = np.where(ev, d / n, 0.0)
            r = np.where(ev, d / (n * n), 0.0)
            a = np.where(ev, 1.0 / n, 0.0)
        return haz, r, a, r
    cells = np.flatnonzero(ev & (m > 0))
    mm = m[cells].astype(np.int64)
    dc, nc = d[cells], n[cells]
    share = dc / mm                                       # weight of one of the m tied events
    sum_b, sum_b2, sum_kb2 = np.zeros(cells.size), np.zeros(cells.size), np.zeros(cells.size)
    expand = np.ones(cells.size, dtype=bool) if robust else mm <= expand_up_to
    if expand.any():
        sel = np.flatnonzero(expand)
        me = mm[sel]
        idx = np.repeat(np.arange(sel.size), me)
        k = np.arange(idx.size) - np.repeat(np.cumsum(me) - me, me) + 1.0        # 1..m within each cell
        frac = k / me[idx]
        b = 1.0 / ((nc - dc)[sel][idx] + frac * dc[sel][idx])
        for out, x in ((sum_b, b), (sum_b2, b * b), (sum_kb2, b * b * frac)):
            out[sel] = np.bincount(idx, weights=x, minlength=sel.size)
    if not expand.all():
        sel = np.flatnonzero(~expand)
        scale = mm[sel] / dc[sel]
        c = (nc - dc)[sel] * scale
        sum_b[sel] = scale * (special.digamma(c + mm[sel] + 1) - special.digamma(c + 1))
        sum_b2[sel] = scale ** 2 * (special.polygamma(1, c + 1) - special.polygamma(1, c + mm[sel] + 1))
    mean_b = sum_b / mm
    b2 = sum_b2 * share
    haz, var, a, r = (np.zeros(d.size) for _ in range(4))
    haz[cells] = dc * mean_b
    var[cells] = b2
    a[cells] = mean_b + b2 - sum_kb2 * share
    r[cells] = b2
    return haz, var, a, r


def cumulative_hazard(data: pd.DataFrame, time: str, event: str, by: str | None = None, ctype: int | str = 1,
                      conf_type: str = "plain", conf_level: float = 0.95, weights=None, robust: bool | None = None,
                      start: str | None = None, id: str | None = None) -> CumulativeHazard:
    """Cumulative hazard per group of ``by``: Nelson-Aalen (``ctype=1``) or Fleming-Harrington (``ctype=2``).

    Parameters are those of :func:`~oligomet.kaplan_meier`, plus ``ctype`` (1, 2, "nelson-aalen" or
    "fleming-harrington") and ``conf_type`` in ("plain", "log", "none") for the band of H; see the
    module docstring for R's definitions. Returns a :class:`CumulativeHazard`.
    """
    key = ctype.lower() if isinstance(ctype, str) else ctype
    if key not in _CTYPES:
        raise ValueError(f"ctype must be 1 (Nelson-Aalen) or 2 (Fleming-Harrington); got {ctype!r}")
    ctype = _CTYPES[key]
    require_choice("conf_type", conf_type, CONF_TYPES)
    require_conf_level(conf_level)
    cd = curve_data(data, time, event, by, weights, robust, start, id, what="cumulative_hazard")
    rs = core.risk_sets(cd.time, cd.event, cd.codes, len(cd.levels), cd.weights, cd.entry)
    haz, var, a, r = hazard_increments(rs, ctype, robust=cd.robust)
    H = core.cumsum_within(rs.cells, haz)
    if cd.robust:
        var_h = core.influence_variance(rs, a, r, cd.cluster)
    else:
        var_h = core.cumsum_within(rs.cells, var)
    se = np.sqrt(var_h)
    if conf_type == "none":
        lower = upper = np.full_like(H, np.nan)
    else:
        lower, upper = core.confidence_band(H, se, conf_type, conf_level, logse=False, ulimit=False)
    n_censor = cd.censored_counts(rs.cells)
    table = pd.DataFrame({"time": rs.cells.time, "n_risk": rs.n, "n_event": rs.d,
                          "n_censor": rs.total - rs.d if n_censor is None else n_censor,
                          "cumhaz": H, "std_chaz": se, "lower": lower, "upper": upper})
    if by is not None:
        table.insert(0, "group", group_column(rs.cells.block, cd.levels))
    return CumulativeHazard(table=table, ctype=ctype, conf_type=conf_type, conf_level=conf_level,
                            robust=cd.robust, dropped=cd.dropped)
