"""Landmark analysis (``om.landmark``): patients alive and event-free at the landmark, exposed when the
protocol's exposure-time column is at or before it, followed from the landmark: Kaplan–Meier by exposure
and a Cox model of the exposure (with the listed covariates). The excluded patients are counted, per reason.
:mod:`oligomet.report.sections.landmark` turns the result into tables, curves and sentences."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

import oligomet as om

from ...report.document import clean
from ..cohort import _err
from ._context import Computed, Ctx, quiet

EXPOSED = "landmark_exposed"     # the 0/1 indicator om.landmark adds
ARM = "landmark_arm"             # its text twin, for the curves


def arms(label: str) -> tuple[str, str]:
    return (f"no {label[:1].lower() + label[1:]}", label)


@dataclass(frozen=True)
class LandmarkEndpoint:
    name: str
    title: str
    excluded: pd.DataFrame     # reason, n
    n_at_risk: int
    km: pd.DataFrame           # medians per arm
    curves: pd.DataFrame       # survfit table of the curves from the landmark
    cox: pd.DataFrame          # summary of the Cox model (terms, hr, CI, p)
    exposure_term: str = EXPOSED


@dataclass(frozen=True)
class LandmarkResult(Computed):
    at: float = 0.0
    unit: str = "months"
    unit_label: str = "Months"
    label: str = ""
    exposure_time: str = ""
    endpoints: list[LandmarkEndpoint] = field(default_factory=list)


def exposure_time_column(ctx: Ctx, key: str) -> str:
    col = getattr(ctx.proto.analyses, key).exposure_time
    if col not in ctx.cohort.columns:
        raise _err(ctx.proto, ("analyses", key, "exposure_time"),
                   f"unknown column {col!r} (the time of the exposure from the origin); available columns: "
                   f"{', '.join(map(str, ctx.cohort.columns))}")
    return col


def landmark_cohort(ctx: Ctx, ep) -> om.survival.landmark.LandmarkData:
    """``om.landmark`` of the endpoint's rows, a protocol error naming ``at`` when it does not fit the data."""
    a = ctx.proto.analyses.landmark
    col = exposure_time_column(ctx, "landmark")
    try:
        return om.landmark(ctx.endpoint_data(ep), at=a.at, time=ep.time_col, event=ep.event_col,
                           exposures={EXPOSED: col})
    except ValueError as exc:    # e.g. a landmark after all events
        raise _err(ctx.proto, ("analyses", "landmark", "at"), f"{ep.name}: {exc}") from None


def _labelled(summary: pd.DataFrame, ctx: Ctx, label: str, exposure: str = EXPOSED) -> pd.DataFrame:
    """The Cox summary as a tidy frame with ``term`` and a readable ``label`` (the exposure: the protocol's)."""
    t = summary.reset_index()
    t = t.rename(columns={t.columns[0]: "term"})
    return t.assign(label=[label if str(x) == exposure else ctx.term_label(str(x))
                           for x in t["term"]])


def at_risk(ctx: Ctx, ep):
    """The landmark data of one endpoint and its rows with the arm; a protocol error at ``at`` when every patient
    at risk is in one arm."""
    a = ctx.proto.analyses.landmark
    names = arms(a.label)
    lm = landmark_cohort(ctx, ep)
    d = lm.data.assign(**{ARM: pd.Categorical.from_codes(lm.data[EXPOSED].to_numpy(), categories=list(names))})
    if d[EXPOSED].nunique() < 2:
        raise _err(ctx.proto, ("analyses", "landmark", "at"),
                   f"{ep.name}: at the landmark {a.at:g} every one of the {len(d)} patients at risk is "
                   f"{names[int(d[EXPOSED].iloc[0])]}; there is nothing to compare (choose another landmark)")
    return lm, d


def check_landmark(ctx: Ctx) -> None:
    """What ``run`` checks before any analysis (and ``validate-protocol``): the column and the landmark."""
    for name in ctx.proto.analyses.landmark.endpoints:
        at_risk(ctx, ctx.proto.endpoint(name))


def compute_landmark(ctx: Ctx) -> LandmarkResult:
    a = ctx.proto.analyses.landmark
    numbers, warnings_, endpoints = {}, [], []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        lm, d = at_risk(ctx, ep)
        km, warns = quiet(om.kaplan_meier, d, time=ep.time_col, event=ep.event_col, by=ARM)
        warnings_ += [f"landmark {ep.name} KM: {w}" for w in warns]
        fit, warns = quiet(om.cox, d, time=ep.time_col, event=ep.event_col,
                           covariates=[EXPOSED] + [ctx.term(c) for c in a.covariates])
        warnings_ += [f"landmark {ep.name} Cox: {w}" for w in warns]
        s = fit.summary
        numbers[ep.name] = clean({
            "at": lm.at, "n_at_risk": len(d), "excluded": dict(zip(lm.excluded["reason"], lm.excluded["n"])),
            "arms": {str(r.group): {"n": int(r.n), "n_events": float(r.n_events), "median": r.median,
                                    "lower": r.lower, "upper": r.upper} for r in km.medians.itertuples(index=False)},
            "cox": {str(t): {k: r[k] for k in ("coef", "se", "hr", "hr_lower", "hr_upper", "p")}
                    for t, r in s.iterrows()},
            "cox_n": fit.n, "cox_n_events": fit.n_events})
        endpoints.append(LandmarkEndpoint(ep.name, ep.title, lm.excluded, len(d), km.medians, km.table,
                                          _labelled(s, ctx, a.label)))
    return LandmarkResult(numbers=numbers, warnings=warnings_, at=a.at, unit=ctx.unit, unit_label=ctx.unit_label,
                          label=a.label, exposure_time=a.exposure_time, endpoints=endpoints)
