"""Propensity-score matching or weighting, then the outcome analysis on the matched/weighted cohort.

As MatchIt's vignette on estimating effects recommends:

* matching: KM and log-rank on the matched cohort; Cox with cluster-robust SEs on the matched
  set (``cluster = subclass``);
* weighting: weighted KM and weighted Cox with robust (sandwich) SEs.

The second exposure group is the "treated" group of the propensity model, the first the control.
:mod:`oligomet.report.sections.propensity` builds the report from the result.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

import oligomet as om

from ...matching.balance import balance_rows
from ...report.document import clean, code_label
from ..cohort import GROUP
from ._context import Computed, Ctx, quiet

TREATED = "_ps_treated"


@dataclass(frozen=True)
class PSOutcome:
    name: str
    title: str
    entry: dict               # km (per group: n, median, CI, landmarks), logrank (unit weights only), cox
    curves: pd.DataFrame      # the (weighted) survfit table of the matched/weighted cohort


@dataclass(frozen=True)
class PropensityResult(Computed):
    options: object = None                     # the protocol's propensity options (method, ratio, caliper...)
    treated: str = ""
    control: str = ""
    sample_sizes: pd.DataFrame | None = None   # matching: rows All/Matched/Unmatched, columns control/treated
    n_unmatched_treated: int = 0
    ess: pd.DataFrame | None = None            # weighting: effective sample size per group
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)   # covariate, smd_before, smd_after, ...
    balance_labels: dict = field(default_factory=dict)            # balance row -> readable label
    max_abs_smd_after: float | None = None                        # over the covariates (not the score)
    weighted_curves: bool = False
    pseudo_population: bool = False            # the outcome weights are not all 1: weighted counts, not patients
    covariate_titles: list[str] = field(default_factory=list)
    unit: str = "months"
    unit_label: str = "Months"
    exposure_label: str = ""
    outcomes: list[PSOutcome] = field(default_factory=list)
    n_eligible: int = 0                        # patients in the cohort
    n_model: int = 0                           # patients in the propensity model (complete cases)
    missing: dict = field(default_factory=dict)   # covariate -> patients lacking it
    outside_overlap: float = 0.0               # share of the model's patients outside the common PS support


def compute_propensity(ctx: Ctx) -> PropensityResult:
    a = ctx.proto.analyses.propensity
    warnings_ = []
    control, treated = ctx.group_names[0], ctx.group_names[1]
    d = ctx.cohort.copy()
    d[TREATED] = (d[GROUP] == treated).astype(int)
    # the matching layer codes categorical columns itself (R's treatment contrasts): plain names
    terms = list(a.covariates)
    entry: dict = {"method": a.method, "treated_group": treated, "control_group": control, **_chosen_options(a)}
    sizes, n_unmatched, ess = None, 0, None
    if a.method == "match":
        m, warns = quiet(om.match, d, treatment=TREATED, covariates=terms, caliper=a.caliper, ratio=a.ratio,
                         replace=a.replace, order=a.order, seed=ctx.proto.seed, link=a.link,
                         exact=list(a.exact) or None)
        warnings_ += [f"matching: {w}" for w in warns]
        sizes = m.summary
        entry["sample_sizes"] = {str(i): {"control": r["control"], "treated": r["treated"]}
                                 for i, r in sizes.iterrows()}
        entry["caliper"] = m.caliper
        entry["n_unmatched_treated"] = n_unmatched = m.n_unmatched_treated
        bal = m.balance
        cluster = "subclass" if not a.replace else None
        outcome_frame = m.matched_data
    else:
        w, warns = quiet(om.weight, d, treatment=TREATED, covariates=terms, estimand=a.estimand,
                         stabilize=a.stabilize, trim=a.trim)
        warnings_ += [f"weighting: {w_}" for w_ in warns]
        bal = w.balance
        outcome_frame = w.data
        cluster = None
        ess = w.ess
        entry["ess"] = clean(w.ess.reset_index().rename(columns={"index": "group"}))
    bt = bal.reset_index().rename(columns={bal.index.name or "index": "covariate"})
    entry["balance"] = clean(bt)
    mx = None
    if "smd_after" in bal:
        entry["max_abs_smd_after"] = mx = float(np.nanmax(np.abs(
            bal["smd_after"].drop(index="distance", errors="ignore").to_numpy(float))))

    fitted = m if a.method == "match" else w
    support = _outside_common_support(fitted.propensity, d.loc[fitted.propensity.index, TREATED])
    ctx.adjusted = outcome_frame  # Table 1 after matching/weighting describes these rows
    entry["outcomes"] = {}
    # MatchIt's matching weights (1 for 1:1 without replacement; not 1 with ratio > 1 or replacement)
    # enter the outcome models, as its vignette on estimating effects requires
    wcol = "weights" if "weights" in outcome_frame.columns else None
    unit_weights = wcol is None or bool(np.allclose(outcome_frame[wcol].to_numpy(float), 1.0))
    outcomes = []
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        od = ctx.endpoint_data(ep, outcome_frame)
        km, _ = quiet(om.kaplan_meier, od, time=ep.time_col, event=ep.event_col, by=GROUP, weights=wcol)
        oe: dict = {"km": km_numbers(km, a.landmarks)}
        if a.method == "match" and unit_weights:  # survdiff has no weights: only for unit weights
            lr, _ = quiet(om.logrank, od, time=ep.time_col, event=ep.event_col, by=GROUP)
            oe["logrank"] = {"statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value}
        fit, warns = quiet(om.cox, od, time=ep.time_col, event=ep.event_col, covariates=[ctx.term("exposure")],
                           weights=wcol, cluster=cluster if a.method == "match" else None,
                           robust=True)
        warnings_ += [f"{ep.name} after {a.method}: {w_}" for w_ in warns]
        r = fit.summary.iloc[0]
        oe["cox"] = {"term": fit.summary.index[0], "hr": r["hr"], "hr_lower": r["hr_lower"],
                     "hr_upper": r["hr_upper"], "p": r["p"], "robust_se": r.get("robust_se", np.nan), "n": fit.n,
                     "n_events": fit.n_events}
        entry["outcomes"][ep.name] = oe
        outcomes.append(PSOutcome(ep.name, ep.title, oe, km.table))
    return PropensityResult(
        numbers=clean(entry), warnings=warnings_, options=a, treated=treated, control=control, sample_sizes=sizes,
        n_unmatched_treated=n_unmatched, ess=ess, balance=bt,
        balance_labels=label_balance_rows(bal, ctx, balance_rows(d, terms)),
        max_abs_smd_after=mx, n_eligible=len(d), n_model=len(fitted.propensity),
        missing={c: int(d[c].isna().sum()) for c in a.covariates}, outside_overlap=support,
        weighted_curves=wcol is not None, pseudo_population=not unit_weights,
        covariate_titles=[ctx.proto.covariate(c).title for c in a.covariates],
        unit=ctx.unit, unit_label=ctx.unit_label, exposure_label=ctx.proto.exposure.label, outcomes=outcomes)


def _chosen_options(a) -> dict:
    """The matching/weighting options the protocol sets away from their defaults, for results.json
    (results of protocols that do not use them stay as they were)."""
    chosen = {"link": a.link if a.link != "logit" else None, "exact": list(a.exact) or None,
              "stabilize": True if a.stabilize else None, "trim": a.trim}
    return {k: v for k, v in chosen.items() if v is not None}


def _outside_common_support(ps: pd.Series, treated: pd.Series) -> float:
    """Share of patients whose propensity score lies outside the range the other group covers."""
    p, t = ps.to_numpy(float), treated.to_numpy(int) == 1
    if not t.any() or t.all():
        return 0.0
    lo = max(p[t].min(), p[~t].min())
    hi = min(p[t].max(), p[~t].max())
    return float(np.mean((p < lo) | (p > hi)))


def km_numbers(km, landmarks) -> dict:
    """Per group of a KM fit: n, the median with its CI and, at each landmark, survival with its CI (None
    beyond follow-up): the outcome numbers of results.json, for the pooled and the federated report alike."""
    lm = km.at(landmarks) if landmarks else None
    out = {}
    for r in km.medians.itertuples(index=False):
        g = str(r.group)
        ge = {"n": int(r.n), "median": r.median, "lower": r.lower, "upper": r.upper}
        if lm is not None:
            lg = lm[lm["group"].astype(str) == g]
            ge["landmarks"] = {f"{t:g}": dict(zip(("survival", "lower", "upper"),
                                                  lg.loc[np.isclose(lg["time"], t), ["survival", "lower", "upper"]
                                                         ].iloc[0])) if np.isclose(lg["time"], t).any()
                               else {"survival": None, "lower": None, "upper": None} for t in landmarks}
        out[g] = ge
    return out


def label_balance_rows(bal: pd.DataFrame, ctx: Ctx, rows: dict[str, tuple[str, object]]) -> dict:
    """Readable labels of the balance rows, from the protocol's covariate labels. ``rows``: each row name's
    ``(column, level)``, as the matching layer built them (``balance_rows``), so nothing is guessed from the
    name; a level shows as a code label ('Wild type')."""
    labels = {"distance": "Propensity score"}
    for name, (col, level) in rows.items():
        title = ctx.proto.covariate(col).title
        labels[name] = title if level is None else f"{title}: {code_label(level)}"
    return {idx: labels[str(idx)] for idx in bal.index if str(idx) in labels}
