"""Restricted mean survival time (RMST) up to tau, per group and between groups.

R equivalences (checked against fixtures written by R, tests/reference/rmst/):

* ``rmst(d, time="t", event="s", by="g", tau=365).table``: ``rmst`` and ``std_err`` are
  ``summary(survfit(Surv(t, s) ~ g, data=d), rmean=365)$table[, c("rmean", "se(rmean)")]``, i.e. what
  ``print(fit, rmean=365)`` shows: the area under the Kaplan-Meier curve from 0 to tau, and the
  Greenwood-type variance sum_k A_k^2 d_k / (n_k (n_k - d_k)) over the event times t_k <= tau, where
  A_k is the area under the curve from t_k to tau (a term with n_k = d_k counts 0, as in R). This is
  also survRM2's ``rmst1``. ``lower``/``upper``: rmst -+ z se (survRM2). ``rmtl`` = tau - rmst, the
  restricted mean time lost, with the same SE.
* ``.contrasts``: each group against the reference (the first level, or ``reference=``), with
  survRM2's ``rmst2`` formulas. Difference: rmst_g - rmst_ref, SE sqrt(v_g + v_ref), normal CI and
  two-sided p. Ratio: on the log scale, SE sqrt(v_g / rmst_g^2 + v_ref / rmst_ref^2), CI exp(log
  ratio -+ z SE). RMTL ratio likewise with tau - rmst. (With ``id`` and a patient in two groups, the
  robust covariance of the two estimates is subtracted; otherwise it is 0.)
* Weights (IPTW-adjusted RMST): the weighted Kaplan-Meier per group. With non-integer weights the
  variance is, by default (``robust=None``, R's survfit rule), the infinitesimal jackknife (IJ) of the
  RMST: each patient's influence on S(t) -- R's ``survfit(..., weights=, robust=TRUE,
  influence=TRUE)$influence.surv`` -- integrated from 0 to tau, squared and summed (the same as R's
  ``residuals(fit, times=tau, type="rmst", weighted=TRUE)``). Why: the Greenwood formula treats
  weights as counts of patients, so with IPTW weights it understates or overstates the sampling
  variance depending on the scale of the weights; the IJ (sandwich) variance is the one R's survfit
  uses for the weighted curve itself. Like R it treats the weights as known (the propensity model's
  own uncertainty is ignored, which is usually conservative for the ATE). ``robust=False`` gives the
  number ``print(fit, rmean=tau)`` prints for a weighted fit (Greenwood with weighted counts).
* tau: must lie within each group's follow-up. A tau after a group's last time is an error naming
  the group and its last time, unless that group's curve has dropped to 0 there (then the area is
  known up to any tau, as survRM2 allows). Default (tau=None): survRM2's rule, the smallest last time
  among the groups whose curve has not reached 0 (the largest last time when all have). A tau
  before the first time gives rmst = tau with SE 0 (R's summary refuses it).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import DroppedRows, require_conf_level, require_positive_finite
from . import _km_core as core
from .kaplan_meier import curve_data
from .._notebook import TidyTablesHTML


@dataclass(frozen=True)
class RMST(TidyTablesHTML):
    """Result of :func:`rmst`.

    Attributes
    ----------
    table : DataFrame
        One row per group: ``group``, ``n`` (rows), ``n_events`` (weighted), ``tau``, ``rmst``,
        ``std_err``, ``lower``, ``upper``, ``rmtl`` (tau - rmst), ``rmtl_lower``, ``rmtl_upper``.
    contrasts : DataFrame
        One row per (group other than the reference, measure): ``group``, ``reference``, ``measure``
        ("difference", "ratio" or "rmtl_ratio"), ``estimate``, ``std_err`` (of the difference, or of
        the log ratio), ``lower``, ``upper``, ``p``. Empty with a single group.
    tau, conf_level : as used.
    variance : "greenwood" (R's print.survfit / survRM2) or "ij" (infinitesimal jackknife, robust).
    dropped : rows removed for a missing ``by``, ``id`` or weight.
    """

    _html_tables = ("tau", "table", "contrasts")

    table: pd.DataFrame
    contrasts: pd.DataFrame
    tau: float
    conf_level: float
    variance: str
    dropped: DroppedRows = field(default_factory=DroppedRows)

    def __str__(self) -> str:
        lines = [f"Restricted mean survival time up to {self.tau:g} ({self.variance} variance, "
                 f"{self.conf_level:.0%} CI)"]
        for r in self.table.itertuples(index=False):
            lines.append(f"  {r.group}: {r.rmst:.4g} (SE {r.std_err:.3g}; {r.lower:.4g} to {r.upper:.4g})")
        for r in self.contrasts.itertuples(index=False):
            lines.append(f"  {r.measure} {r.group} vs {r.reference}: {r.estimate:.4g} "
                         f"({r.lower:.4g} to {r.upper:.4g}), p = {r.p:.3g}")
        return "\n".join(lines)


def rmst(data: pd.DataFrame, time: str, event: str, by: str | None = None, tau: float | None = None,
         weights=None, robust: bool | None = None, conf_level: float = 0.95, reference=None,
         start: str | None = None, id: str | None = None) -> RMST:
    """Restricted mean survival time up to ``tau`` per group of ``by``, and contrasts between groups.

    Parameters
    ----------
    data, time, event, by, weights, start, id : as :func:`~oligomet.kaplan_meier`.
    tau : the truncation time (same unit as ``time``); None: survRM2's default (module docstring).
    robust : None: the infinitesimal-jackknife variance when some weight is not an integer (IPTW) or
        ``id`` has repeated events, as R's survfit; True / False force it.
    conf_level : level of the CIs of the RMSTs and of the contrasts.
    reference : the group the others are compared with (default: the first level).

    See the module docstring for R's definitions and the variance used. Returns an :class:`RMST`.
    """
    require_conf_level(conf_level)
    if tau is not None:
        require_positive_finite("tau", tau, f" (a time in the unit of {time!r})")
    cd = curve_data(data, time, event, by, weights, robust, start, id, what="rmst")
    rs = core.risk_sets(cd.time, cd.event, cd.codes, len(cd.levels), cd.weights, cd.entry)
    surv, greenwood = core.km_curve(rs)
    present = np.flatnonzero(np.diff(rs.cells.starts) > 0)          # levels with rows (R drops empty ones)
    last = rs.cells.starts[present + 1] - 1
    tau = _check_tau(tau, [cd.levels[g] for g in present], rs.cells.time[last], surv[last], by)

    area_after = _areas(rs.cells, surv, tau)                         # A_k: area from cell k's time to tau
    first = rs.cells.time[rs.cells.starts[present]]
    est = np.minimum(first, tau) + area_after[rs.cells.starts[present]]
    if cd.robust:
        cov = _ij_covariance(rs, area_after, greenwood, cd.cluster, len(cd.levels))[np.ix_(present, present)]
        var = np.diag(cov).copy()
    else:
        per_cell = core.cumsum_within(rs.cells, area_after ** 2 * greenwood)
        var = per_cell[last]
        cov = np.diag(var)
    se = np.sqrt(var)
    z = stats.norm.ppf(1 - (1 - conf_level) / 2)
    labels = [cd.levels[g] for g in present]
    table = pd.DataFrame({"group": labels, "n": cd.counts[present].astype(int),
                          "n_events": np.bincount(rs.cells.block, weights=rs.d, minlength=len(cd.levels))[present],
                          "tau": float(tau), "rmst": est, "std_err": se, "lower": est - z * se, "upper": est + z * se,
                          "rmtl": tau - est, "rmtl_lower": tau - est - z * se, "rmtl_upper": tau - est + z * se})
    contrasts = _contrasts(labels, est, cov, tau, z, reference)
    return RMST(table=table, contrasts=contrasts, tau=float(tau), conf_level=conf_level,
                variance="ij" if cd.robust else "greenwood", dropped=cd.dropped)


def _check_tau(tau, labels: list, last_time: np.ndarray, last_surv: np.ndarray, by) -> float:
    """tau within every group's follow-up (or after a curve that reached 0); None -> survRM2's default."""
    open_ended = last_surv > 0
    if tau is None:
        return float(last_time[open_ended].min() if open_ended.any() else last_time.max())
    beyond = open_ended & (tau > last_time)
    if beyond.any():
        what = "group" if by is not None else "the data"
        problems = "; ".join(f"{what} {lab!r}: last follow-up time {t:g} (survival there {s:.4g})"
                             for lab, t, s in zip(np.asarray(labels, dtype=object)[beyond], last_time[beyond],
                                                  last_surv[beyond]))
        limit = last_time[open_ended].min()
        raise ValueError(f"tau = {tau:g} is beyond the last follow-up time in {problems}. The survival curve is "
                         f"unknown after it, so the restricted mean up to tau is not estimable: choose tau <= "
                         f"{limit:g} (the earliest last follow-up among the groups whose curve has not reached 0)")
    return float(tau)


def _areas(cells: core.Cells, surv: np.ndarray, tau: float) -> np.ndarray:
    """Per cell: the area under S from the cell's time to tau (0 for cells at or after tau)."""
    t = cells.time
    nxt = np.empty_like(t)
    nxt[:-1] = t[1:]
    ends = cells.starts[1:][np.diff(cells.starts) > 0] - 1
    nxt[ends] = np.inf                                   # S stays at its last value after a group's last time
    rect = np.maximum(np.minimum(nxt, tau) - t, 0.0) * surv
    return core.reverse_cumsum_within(cells, rect)


def _ij_covariance(rs: core.RiskSets, area_after: np.ndarray, greenwood: np.ndarray, cluster, ngroup: int):
    """Infinitesimal-jackknife covariance matrix of the groups' RMSTs.

    The influence of a patient on S(t) is -S(t) U(t), U its influence on the KM's log-scale hazard
    sum (``core.row_influence``); integrated over (0, tau] each hazard increment at s is weighted by
    the area A(s) from s to tau, so the RMST influence is the same running sum with a and r multiplied
    by A. Patients are rows, or the ``cluster`` codes (``id``); a patient only appears in two groups'
    estimates when ``id`` spans groups.
    """
    with np.errstate(divide="ignore"):
        a = np.where(rs.surviving > 0, 1.0 / rs.surviving, 0.0)
    final, _, _ = core.row_influence(rs, a * area_after, greenwood * area_after)
    group = rs.cells.block[rs.cells.of_row]
    if cluster is None:
        return np.diag(np.bincount(group, weights=final ** 2, minlength=ngroup))
    ncl = int(cluster.max()) + 1
    per = np.bincount(cluster * ngroup + group, weights=final, minlength=ncl * ngroup).reshape(ncl, ngroup)
    return per.T @ per


def _contrasts(labels: list, est: np.ndarray, cov: np.ndarray, tau: float, z: float, reference) -> pd.DataFrame:
    cols = ["group", "reference", "measure", "estimate", "std_err", "lower", "upper", "p"]
    if len(labels) < 2:
        return pd.DataFrame(columns=cols)
    if reference is None:
        ref = 0
    else:
        matches = [i for i, lab in enumerate(labels) if lab == reference or str(lab) == str(reference)]
        if not matches:
            raise ValueError(f"reference {reference!r} is not a group; groups are {labels}")
        ref = matches[0]
    rows = []
    lost = tau - est
    for g in range(len(labels)):
        if g == ref:
            continue
        vg, vr, c = cov[g, g], cov[ref, ref], cov[g, ref]
        diff_se = np.sqrt(vg + vr - 2 * c)
        with np.errstate(divide="ignore", invalid="ignore"):
            log_ratio_se = np.sqrt(vg / est[g] ** 2 + vr / est[ref] ** 2 - 2 * c / (est[g] * est[ref]))
            log_lost_se = np.sqrt(vg / lost[g] ** 2 + vr / lost[ref] ** 2 - 2 * c / (lost[g] * lost[ref]))
            for measure, value, se, log in (("difference", est[g] - est[ref], diff_se, False),
                                            ("ratio", np.log(est[g] / est[ref]), log_ratio_se, True),
                                            ("rmtl_ratio", np.log(lost[g] / lost[ref]), log_lost_se, True)):
                lo, hi = value - z * se, value + z * se
                p = 2 * stats.norm.sf(abs(value) / se)
                back = np.exp if log else (lambda x: x)
                rows.append({"group": labels[g], "reference": labels[ref], "measure": measure,
                             "estimate": back(value), "std_err": se, "lower": back(lo), "upper": back(hi),
                             "p": p})
    return pd.DataFrame(rows, columns=cols)
