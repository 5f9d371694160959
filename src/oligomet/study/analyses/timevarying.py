"""Time-varying exposure in a Cox model: follow-up split at the exposure time (``om.time_dependent``, R's
``tmerge`` + ``tdc``), so the exposed contribute unexposed time until they are exposed (no immortal time),
and ``om.cox(start=, cluster=patient_id)`` with the robust SE. The naive model that codes the exposure as
known at time zero is fitted beside it, to show the size of the immortal-time bias.
:mod:`oligomet.report.sections.timevarying` turns the result into a table and sentences."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import oligomet as om

from ...report.document import clean
from ._context import Computed, Ctx, quiet
from .landmark import _labelled, exposure_time_column

EXPOSED = "exposed_tv"      # the time-varying 0/1 indicator
EVER = "exposed_ever"       # the naive baseline coding: exposed at any time during follow-up
ID = "patient_id"


@dataclass(frozen=True)
class TimeVaryingEndpoint:
    name: str
    title: str
    models: pd.DataFrame       # model ("time-varying", "baseline (immortal-time biased)"), term, hr, CI, p
    n_patients: int
    n_exposed: int             # exposed during follow-up
    n_rows: int                # (start, stop] rows
    n_zero_time: int           # patients with follow-up 0, who cannot form an interval (left out, counted)


@dataclass(frozen=True)
class TimeVaryingResult(Computed):
    label: str = ""
    exposure_time: str = ""
    endpoints: list[TimeVaryingEndpoint] = field(default_factory=list)


def check_time_varying(ctx: Ctx) -> None:
    """What ``run`` checks before any analysis (and ``validate-protocol``): the exposure-time column."""
    exposure_time_column(ctx, "time_varying")


def split_rows(ctx: Ctx, ep) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """(patients with follow-up > 0 and the naive indicator, their (start, stop] rows, patients left out)."""
    col = exposure_time_column(ctx, "time_varying")
    d = ctx.endpoint_data(ep)
    positive = d[ep.time_col] > 0
    d = d.loc[positive]
    when = pd.to_numeric(d[col], errors="coerce")
    d = d.assign(**{EVER: (when.notna() & (when < d[ep.time_col])).astype(np.int64)})
    rows = om.time_dependent(d, time=ep.time_col, event=ep.event_col, switches={EXPOSED: col})
    return d, rows, int((~positive).sum())


def compute_time_varying(ctx: Ctx) -> TimeVaryingResult:
    a = ctx.proto.analyses.time_varying
    terms = [ctx.term(c) for c in a.covariates]
    numbers, warnings_, endpoints = {}, [], []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d, rows, n_zero = split_rows(ctx, ep)
        tv, warns = quiet(om.cox, rows, time="stop", event=ep.event_col, start="start",
                          covariates=[EXPOSED] + terms, cluster=ID)
        warnings_ += [f"time-varying Cox {ep.name}: {w}" for w in warns]
        naive, warns = quiet(om.cox, d, time=ep.time_col, event=ep.event_col, covariates=[EVER] + terms)
        warnings_ += [f"baseline-coded Cox {ep.name}: {w}" for w in warns]
        frames = []
        for model, fit, term in (("time-varying", tv, EXPOSED), ("baseline (immortal-time biased)", naive, EVER)):
            frames.append(_labelled(fit.summary, ctx, a.label, term).assign(model=model, n=fit.n,
                                                                            n_events=fit.n_events))
        models = pd.concat(frames, ignore_index=True)
        numbers[ep.name] = clean({
            "n_patients": len(d), "n_exposed": int(d[EVER].sum()), "n_rows": len(rows), "n_zero_time": n_zero,
            **{key: {str(r["term"]): {k: r[k] for k in ("coef", "se", "hr", "hr_lower", "hr_upper", "p")}
                     for r in models[models["model"] == model].to_dict("records")}
               for key, model in (("time_varying", "time-varying"), ("baseline", "baseline (immortal-time biased)"))}})
        endpoints.append(TimeVaryingEndpoint(ep.name, ep.title, models, len(d), int(d[EVER].sum()), len(rows),
                                             n_zero))
    return TimeVaryingResult(numbers=numbers, warnings=warnings_, label=a.label, exposure_time=a.exposure_time,
                             endpoints=endpoints)
