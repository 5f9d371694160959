"""Kaplan–Meier (medians, quantiles, landmark rates, curves), log-rank, median follow-up: computed as
tidy frames and plain numbers; :mod:`oligomet.report.sections.survival` turns them into the report."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import oligomet as om

from ...report.document import clean
from ._context import Computed, Ctx, quiet


@dataclass(frozen=True)
class KMEndpoint:
    name: str
    title: str
    ylabel: str | None
    landmarks: list
    entry: dict            # per-group numbers (NaN kept; results.json gets them cleaned)
    tidy: pd.DataFrame     # medians (+ landmark rates), one row per group
    curves: pd.DataFrame   # the survfit-style table the curves are drawn from


@dataclass(frozen=True)
class KMResult(Computed):
    unit: str = "months"
    unit_label: str = "Months"
    exposure_label: str | None = None
    quantiles: list = field(default_factory=list)
    max_time: float | None = None
    n_cohort: int = 0
    endpoints: list[KMEndpoint] = field(default_factory=list)
    annotate: str = "none"            # "logrank" / "hr": that analysis' builder writes its number into the curves
    percent: bool = False
    break_every: float | None = None
    palette: str = "default"


def compute_km(ctx: Ctx) -> KMResult:
    a = ctx.proto.analyses.km
    by = ctx.group_col if a.by_group else None
    numbers, warnings_, endpoints = {}, [], []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep)
        km, warns = quiet(om.kaplan_meier, d, time=ep.time_col, event=ep.event_col, by=by, conf_type=a.conf_type)
        warnings_ += [f"KM {ep.name}: {w}" for w in warns]
        med = km.medians
        entry: dict = {"n_undefined": int(len(ctx.cohort) - len(d)), "groups": {}}
        q = km.quantile(a.quantiles) if a.quantiles else None
        landmarks = ep.landmarks if ep.landmarks is not None else a.landmarks
        lm = km.at(landmarks, extend=False) if landmarks else None
        for r in med.itertuples(index=False):
            g = str(r.group)
            ge = {"n": int(r.n), "n_events": float(r.n_events), "median": r.median, "lower": r.lower,
                  "upper": r.upper}
            if q is not None:
                qg = q[q["group"].astype(str) == g]
                ge["quantiles"] = {f"{qq:g}": {"time": t, "lower": lo, "upper": hi}
                                   for qq, t, lo, hi in qg[["quantile", "time", "lower", "upper"]].itertuples(
                                       index=False)}
            if lm is not None:
                lg = lm[lm["group"].astype(str) == g]
                ge["landmarks"] = {}
                for t in landmarks:
                    hit = lg[np.isclose(lg["time"], t)]
                    if len(hit):
                        s, lo, hi = hit.iloc[0][["survival", "lower", "upper"]]
                        ge["landmarks"][f"{t:g}"] = {"survival": s, "lower": lo, "upper": hi}
                    else:  # beyond the group's last follow-up time: not estimable
                        ge["landmarks"][f"{t:g}"] = {"survival": None, "lower": None, "upper": None}
            entry["groups"][g] = ge
        numbers[ep.name] = clean(entry)
        tidy = med.copy()
        if lm is not None:
            wide = lm.pivot_table(index="group", columns="time", values="survival", observed=False)
            wide.columns = [f"rate_{c:g}" for c in wide.columns]
            tidy = tidy.merge(wide.reset_index(), on="group", how="left")
        endpoints.append(KMEndpoint(ep.name, ep.title, ep.ylabel, list(landmarks or []), entry, tidy, km.table))
    return KMResult(numbers=numbers, warnings=warnings_, unit=ctx.unit, unit_label=ctx.unit_label,
                    exposure_label=ctx.proto.exposure.label if by else None, quantiles=list(a.quantiles),
                    max_time=a.max_time, n_cohort=len(ctx.cohort), endpoints=endpoints, annotate=a.annotate,
                    percent=a.percent, break_every=a.break_every, palette=a.palette)


@dataclass(frozen=True)
class LogrankResult(Computed):
    rho: float = 0.0
    tests: pd.DataFrame = field(default_factory=pd.DataFrame)  # endpoint, title, statistic, df, p


def compute_logrank(ctx: Ctx) -> LogrankResult:
    a = ctx.proto.analyses.logrank
    numbers, warnings_, rows = {}, [], []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep)
        lr, warns = quiet(om.logrank, d, time=ep.time_col, event=ep.event_col, by=ctx.group_col, rho=a.rho)
        warnings_ += [f"log-rank {ep.name}: {w}" for w in warns]
        numbers[ep.name] = clean({"statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value,
                                  "observed": dict(zip(map(str, lr.groups), lr.observed)),
                                  "expected": dict(zip(map(str, lr.groups), lr.expected))})
        rows.append({"endpoint": ep.name, "title": ep.title, "statistic": lr.statistic, "df": lr.df,
                     "p": lr.p_value})
    return LogrankResult(numbers=numbers, warnings=warnings_, rho=a.rho, tests=pd.DataFrame(rows))


@dataclass(frozen=True)
class FollowupResult(Computed):
    unit: str = "months"
    followup: dict = field(default_factory=dict)


def compute_followup(ctx: Ctx) -> FollowupResult:
    a = ctx.proto.analyses.followup
    ep = ctx.proto.endpoint(a.endpoint)
    d = ctx.endpoint_data(ep)
    fu = om.median_followup(d, time=ep.time_col, event=ep.event_col, details=True)
    numbers = clean({"endpoint": ep.name, "median": fu.median, "lower": fu.lower, "upper": fu.upper,
                     "q25": fu.q25, "q75": fu.q75, "n": fu.n})
    return FollowupResult(numbers=numbers, unit=ctx.unit, followup=numbers)
