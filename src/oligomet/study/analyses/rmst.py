"""Restricted mean survival time up to tau (``om.rmst``): per group, with the difference and ratio between
groups (survRM2's ``rmst2``); on the IPTW-weighted cohort when the protocol weights by the propensity score
(the variance is then the infinitesimal jackknife, as R's weighted survfit).
:mod:`oligomet.report.sections.rmst` turns the result into a table and sentences."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

import oligomet as om

from ...report.document import clean
from ..cohort import _err
from ._context import Computed, Ctx, quiet


@dataclass(frozen=True)
class RMSTEndpoint:
    name: str
    title: str
    table: pd.DataFrame        # om.rmst(...).table: one row per group
    contrasts: pd.DataFrame    # om.rmst(...).contrasts: difference, ratio, rmtl_ratio vs the reference


@dataclass(frozen=True)
class RMSTResult(Computed):
    tau: float = 0.0
    unit: str = "months"
    weighted: bool = False
    variance: str = "greenwood"
    endpoints: list[RMSTEndpoint] = field(default_factory=list)


def rmst_frame(ctx: Ctx) -> tuple[pd.DataFrame, str | None]:
    """The rows the RMST is computed on, and their weight column: the IPTW-weighted cohort when the
    protocol weights by the propensity score (and ``adjusted``), else the cohort."""
    a = ctx.proto.analyses.rmst
    return ctx.weighted_cohort(a.adjusted and a.by_group)


def _rmst(ctx: Ctx, ep, frame: pd.DataFrame, weights: str | None):
    """``om.rmst`` of one endpoint; a ``tau`` beyond a group's follow-up is a protocol error at ``tau``."""
    a = ctx.proto.analyses.rmst
    by = ctx.group_col if a.by_group else None
    try:
        return quiet(om.rmst, ctx.endpoint_data(ep, frame), time=ep.time_col, event=ep.event_col, by=by, tau=a.tau,
                     weights=weights)
    except ValueError as exc:   # tau beyond a group's follow-up: the protocol's tau does not fit the data
        raise _err(ctx.proto, ("analyses", "rmst", "tau"), f"{ep.name}: {exc}") from None


def check_rmst(ctx: Ctx) -> None:
    """What ``run`` checks before any analysis (and ``validate-protocol``): ``tau`` within the follow-up of every
    group (on the unweighted cohort: the weights are not known yet, and do not move the last follow-up time)."""
    for name in ctx.proto.analyses.rmst.endpoints:
        _rmst(ctx, ctx.proto.endpoint(name), ctx.cohort, None)


def compute_rmst(ctx: Ctx) -> RMSTResult:
    a = ctx.proto.analyses.rmst
    frame, weights = rmst_frame(ctx)
    numbers, warnings_, endpoints, variance = {}, [], [], "greenwood"
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        r, warns = _rmst(ctx, ep, frame, weights)
        warnings_ += [f"RMST {ep.name}: {w}" for w in warns]
        variance = r.variance
        numbers[ep.name] = clean({
            "tau": r.tau, "variance": r.variance, "weighted": weights is not None,
            "groups": {str(g["group"]): {k: g[k] for k in ("n", "n_events", "rmst", "std_err", "lower", "upper",
                                                            "rmtl")} for g in r.table.to_dict("records")},
            "contrasts": {f"{c['measure']}: {c['group']} vs {c['reference']}":
                          {**{k: c[k] for k in ("estimate", "std_err", "lower", "upper")}, "p_value": c["p"]}
                          for c in r.contrasts.to_dict("records")}})
        endpoints.append(RMSTEndpoint(ep.name, ep.title, r.table, r.contrasts))
    return RMSTResult(numbers=numbers, warnings=warnings_, tau=float(a.tau), unit=ctx.unit,
                      weighted=weights is not None, variance=variance, endpoints=endpoints)
