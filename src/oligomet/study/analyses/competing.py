"""Cumulative incidence (Aalen–Johansen, cmprsk) per group and cause, with Gray's test, and the
Fine–Gray model of cause 1; :mod:`oligomet.report.sections.competing` builds the report from it.

When the study weights its exposure groups (``[analyses.propensity] method = "weight"``) and the CIF is
by group and ``adjusted``, both run in the weighted cohort: the weighted Aalen–Johansen estimate (R's
weighted multi-state ``survfit``) and the weighted Fine–Gray model (``finegray`` + weighted ``coxph``).
Gray's test has no weighted version, so none is reported then."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import oligomet as om

from ...report.document import clean
from ._context import Computed, Ctx, quiet


@dataclass(frozen=True)
class CIFEndpoint:
    name: str
    title: str
    cause_labels: dict                  # cause code -> label
    entry: dict                         # per group and cause: events, final value, landmarks; Gray's test
    summary: pd.DataFrame               # group, cause (label), events, one column per landmark time (estimate)
    curves: pd.DataFrame                # the cuminc table the curves are drawn from
    at_risk: pd.DataFrame               # group, time, n_risk (of the first cause)
    fine_gray: pd.DataFrame | None = None   # term, label, coef, se, p, shr, shr_lower, shr_upper


@dataclass(frozen=True)
class CIFResult(Computed):
    unit: str = "months"
    unit_label: str = "Months"
    by_group: bool = False
    fine_gray: bool = False
    max_time: float | None = None
    weighted: bool = False                 # the propensity weights: counts are a pseudo-population
    endpoints: list[CIFEndpoint] = field(default_factory=list)
    causes: list = field(default_factory=list)   # the causes drawn; empty: all
    percent: bool = False
    break_every: float | None = None
    palette: str = "default"


def compute_cif(ctx: Ctx) -> CIFResult:
    a = ctx.proto.analyses.cif
    numbers, warnings_, endpoints = {}, [], []
    by = ctx.group_col if a.by_group else None
    frame, weights = ctx.weighted_cohort(a.adjusted and by is not None)
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        d = ctx.endpoint_data(ep, frame)
        cif, warns = quiet(om.cumulative_incidence, d, time=ep.time_col, event=ep.event_col, by=by, weights=weights)
        warnings_ += [f"CIF {ep.name}: {w}" for w in warns]
        labels = {int(k): v for k, v in ep.cause_labels.items()} if ep.cause_labels else {}
        entry: dict = {"groups": {}, "gray_test": {}}
        if weights is not None:
            entry["weighted"] = True
        at = cif.at(a.landmarks) if a.landmarks else None
        tab = cif.table
        rows = []
        for (g, c), cur in tab.groupby(["group", "cause"], sort=False, observed=True):
            ge = entry["groups"].setdefault(str(g), {})
            ce = {"n_events": float(cur["n_event"].sum()), "final": float(cur["estimate"].iloc[-1])}
            events = float(cur["n_event"].sum())   # a sum of weights when weighted
            row = {"group": str(g), "cause": labels.get(int(c), str(c)),
                   "events": round(events, 1) if weights is not None else int(events)}
            if at is not None:
                ac = at[(at["group"].astype(str) == str(g)) & (at["cause"] == c)]
                ce["landmarks"] = {}
                for t in a.landmarks:
                    hit = ac[np.isclose(ac["time"], t)]
                    est = float(hit["estimate"].iloc[0]) if len(hit) else float("nan")
                    var = float(hit["variance"].iloc[0]) if len(hit) else float("nan")
                    ce["landmarks"][f"{t:g}"] = {"estimate": est, "variance": var}
                    row[f"{t:g}"] = est
            ge[str(int(c))] = ce
            rows.append(row)
        if len(cif.gray_test):
            for r in cif.gray_test.itertuples(index=False):
                entry["gray_test"][str(int(r.cause))] = {"statistic": r.statistic, "df": r.df, "p_value": r.p}
        fg = None
        if a.fine_gray:
            fg, fg_numbers, warns = _fine_gray(ctx, ep, d, weights)
            warnings_ += warns
            entry.update(fg_numbers)
        numbers[ep.name] = clean(entry)
        first_cause = tab[tab["cause"] == tab["cause"].min()]
        endpoints.append(CIFEndpoint(ep.name, ep.title, labels, entry, pd.DataFrame(rows), tab,
                                     first_cause[["group", "time", "n_risk"]], fg))
    return CIFResult(numbers=numbers, warnings=warnings_, unit=ctx.unit, unit_label=ctx.unit_label,
                     by_group=by is not None, fine_gray=a.fine_gray, max_time=a.max_time,
                     weighted=weights is not None, endpoints=endpoints, causes=list(a.causes), percent=a.percent,
                     break_every=a.break_every, palette=a.palette)


def _fine_gray(ctx: Ctx, ep, d: pd.DataFrame, weights: str | None) -> tuple[pd.DataFrame, dict, list[str]]:
    """Fine–Gray model of cause 1: exposure (0/1 columns per non-reference group) + covariates, weighted
    by ``weights`` when given; returns its tidy summary, its numbers and the estimator's warnings."""
    a = ctx.proto.analyses.cif
    d = d.copy()
    cols = []
    if ctx.group_col is not None:
        for g in ctx.group_names[1:]:
            name = f"exposure[{g}]"
            d[name] = (d[ctx.group_col] == g).astype(float)
            cols.append(name)
    for col in a.covariates:
        cov = ctx.proto.covariate(col)
        if cov.type != "categorical":
            cols.append(col)
            continue
        # 0/1 columns per non-reference level, so the protocol's reference level is honoured
        levels = sorted(d[col].dropna().unique(), key=str)
        ref = cov.reference if cov.reference is not None else levels[0]
        for lv in levels:
            if lv != ref:
                name = f"{col}[{lv}]"
                d[name] = (d[col] == lv).astype(float).where(d[col].notna())
                cols.append(name)
    fg, warns = quiet(om.fine_gray, d, time=ep.time_col, event=ep.event_col, covariates=cols, cause=1,
                      weights=weights)
    s = fg.summary
    numbers = {"fine_gray": {str(t): {k: r[k] for k in ("coef", "se", "p", "shr", "shr_lower", "shr_upper")}
                             for t, r in s.iterrows()},
               "fine_gray_n": fg.n}
    tidy = s.reset_index().rename(columns={s.index.name or "index": "term"})
    tidy.insert(1, "label", [ctx.term_label(str(t)) for t in s.index])
    return tidy, numbers, [f"Fine–Gray {ep.name}: {w}" for w in warns]
