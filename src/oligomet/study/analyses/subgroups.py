"""Exposure effect within subgroups, with the likelihood-ratio test of the interaction.

For each subgroup variable S (a column's levels, or in/out of a ``where`` split) and endpoint:

* per level: Cox of the exposure (plus the subgroup's ``covariates``) on that level's patients;
* interaction: on the complete cases of exposure, S and the covariates, the model
  ``exposure + S + covariates + exposure × S`` against ``exposure + S + covariates``;
  LR = 2 (loglik_full − loglik_reduced) on (#exposure dummies × #S dummies) df,
  the test R gives with ``anova(coxph(... exposure * S ...), coxph(... exposure + S ...))``.

The product columns are built here as 0/1 numbers (the Cox design accepts no interaction terms).

When the study weights its exposure groups (``[analyses.propensity] method = "weight"``), every model
runs in the weighted cohort with the propensity weights and robust SEs (as the propensity step's
outcome model). A likelihood-ratio test needs a true likelihood, which a weighted fit is not, so the
interaction is then the robust Wald test of the product terms, ``b' V^-1 b`` with coxph's robust ``V``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

import oligomet as om

from ..cohort import EXPOSURE_TERM, GROUP, condition_mask
from ...report.document import clean
from ._context import Computed, Ctx, quiet

SUB = "_subgroup"


def _levels(ctx: Ctx, sg, i: int) -> pd.Series:
    if sg.column is not None:
        if sg.column not in ctx.cohort.columns:
            from ..cohort import _err

            raise _err(ctx.proto, ("analyses", "subgroups", i, "column"),
                       f"unknown column {sg.column!r}; available columns: {', '.join(ctx.cohort.columns)}")
        s = ctx.cohort[sg.column]
        if pd.api.types.is_numeric_dtype(s) and set(s.dropna().unique()) <= {0, 1}:
            s = s.map({1: "yes", 0: "no"})  # a binary column reads better as yes / no
        return s.astype(object).where(s.notna(), None)
    m = pd.Series(True, index=ctx.cohort.index, dtype="boolean")
    for ci_, cond in enumerate(sg.where):
        m &= condition_mask(ctx.cohort, cond, ctx.proto, ("analyses", "subgroups", i, "where", ci_))
    return m.map({True: "yes", False: "no"}).astype(object).where(m.notna(), None)


def _dummies(values: pd.Series, prefix: str) -> pd.DataFrame:
    levels = sorted(values.dropna().unique(), key=str)
    if values.dtype.name == "category":
        levels = [lv for lv in values.cat.categories if lv in set(values.dropna())]
    return pd.DataFrame({f"{prefix}{k}": (values == lv).astype(float) for k, lv in enumerate(levels[1:])},
                        index=values.index), levels


def interaction_test(d: pd.DataFrame, time: str, event: str, covariate_terms: list[str], ties: str = "efron",
                     weights: str | None = None):
    """LR test of exposure × subgroup (robust Wald test with ``weights``); ``d`` has ``exposure_group``,
    ``_subgroup`` and the covariates. Returns (statistic, df, p)."""
    cols = [GROUP, SUB] + [t for t in covariate_terms]
    base = d.dropna(subset=[c for c in cols if c in d.columns and not c.startswith("C(")])
    e, _ = _dummies(base[GROUP], "_e")
    s, _ = _dummies(base[SUB], "_s")
    prods = pd.DataFrame({f"{a}x{b}": e[a] * s[b] for a in e for b in s}, index=base.index)
    frame = pd.concat([base, e, s, prods], axis=1)
    reduced = list(e) + list(s) + covariate_terms
    full = reduced + list(prods)
    df = prods.shape[1]
    if weights is not None:
        f_full, _ = quiet(om.cox, frame, time=time, event=event, covariates=full, ties=ties, weights=weights,
                          robust=True)
        b = f_full.summary.loc[list(prods), "coef"].to_numpy()
        v = f_full.var.loc[list(prods), list(prods)].to_numpy()
        wald = float(b @ np.linalg.solve(v, b))
        return wald, df, float(stats.chi2.sf(wald, df))
    f_red, _ = quiet(om.cox, frame, time=time, event=event, covariates=reduced, ties=ties)
    f_full, _ = quiet(om.cox, frame, time=time, event=event, covariates=full, ties=ties)
    lr = 2.0 * (float(f_full.loglik[-1]) - float(f_red.loglik[-1]))
    return max(lr, 0.0), df, float(stats.chi2.sf(max(lr, 0.0), df))


@dataclass(frozen=True)
class SubgroupTable:
    name: str
    key: str                        # file-name stem
    rows: pd.DataFrame              # endpoint, subgroup, level, label, n, hr, hr_lower, hr_upper, p, p_interaction
    interactions: list = field(default_factory=list)   # (endpoint title, p) of each interaction test


@dataclass(frozen=True)
class SubgroupsResult(Computed):
    exposure_label: str = ""
    weighted: bool = False                 # in the propensity-weighted cohort (robust Wald interaction tests)
    subgroups: list[SubgroupTable] = field(default_factory=list)


def compute_subgroups(ctx: Ctx) -> SubgroupsResult:
    store, tables = {}, []
    frame, weights = ctx.weighted_cohort()
    weighting = {"weights": weights, "robust": True} if weights is not None else {}
    for i, sg in enumerate(ctx.proto.analyses.subgroups):
        lv = _levels(ctx, sg, i)
        d = frame.assign(**{SUB: lv})
        cov_terms = [ctx.term(c) for c in sg.covariates]
        entry = store.setdefault(sg.name, {})
        rows, interactions = [], []
        for name in sg.endpoints:
            ep = ctx.proto.endpoint(name)
            de = ctx.endpoint_data(ep, d)
            de = de[de[SUB].notna()]
            ee: dict = {"levels": {}, **({"weighted": True} if weights is not None else {})}
            for level in sorted(de[SUB].unique(), key=str):
                part = de[de[SUB] == level]
                if part[GROUP].nunique() < 2 or part[ep.event_col].sum() == 0:
                    ee["levels"][str(level)] = {"n": len(part), "hr": None, "note": "one group or no events"}
                    continue
                fit, _ = quiet(om.cox, part, time=ep.time_col, event=ep.event_col,
                               covariates=[ctx.term("exposure")] + cov_terms, **weighting)
                for term, r in fit.summary.iterrows():
                    if term.startswith(f"{EXPOSURE_TERM}["):
                        ee["levels"][str(level)] = {"n": fit.n, "n_events": fit.n_events, "term": term,
                                                    "hr": r["hr"], "hr_lower": r["hr_lower"],
                                                    "hr_upper": r["hr_upper"], "p": r["p"]}
                        rows.append({"endpoint": ep.title, "subgroup": sg.name, "level": str(level),
                                     "label": f"{ep.title} · {sg.name}: {level}", "n": fit.n,
                                     "hr": r["hr"], "hr_lower": r["hr_lower"], "hr_upper": r["hr_upper"],
                                     "p": r["p"]})
                        break
            if de[SUB].nunique() >= 2 and de[GROUP].nunique() >= 2:
                lr, df, p = interaction_test(de, ep.time_col, ep.event_col, cov_terms, weights=weights)
                ee["interaction"] = {"statistic": lr, "df": df, "p": p}
                if weights is not None:
                    ee["interaction"]["test"] = "robust Wald"
                for r in rows:
                    if r["endpoint"] == ep.title and r["subgroup"] == sg.name:
                        r["p_interaction"] = p
                interactions.append((ep.title, p))
            entry[ep.name] = ee
        key = "".join(ch if ch.isalnum() else "_" for ch in sg.name.lower()).strip("_")
        tables.append(SubgroupTable(sg.name, key, pd.DataFrame(rows), interactions))
    return SubgroupsResult(numbers=clean(store), exposure_label=ctx.proto.exposure.label,
                           weighted=weights is not None, subgroups=tables)
