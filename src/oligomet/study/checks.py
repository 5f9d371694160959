"""The checks a reader needs before trusting a finding: balance after matching/weighting, proportional
hazards of the exposure, complete-case loss, events per model parameter, group sizes, effective sample
size and propensity-score overlap. Each decides pass/fail against the protocol's ``[checks]``
thresholds and records the numbers; :mod:`oligomet.report.sections.checks` words them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..report.document import Check
from .analyses._context import Ctx
from .cohort import EXPOSURE_TERM
from .protocol import Protocol


def _label(ctx: Ctx, var: str) -> str:
    return ctx.proto.exposure.label if var == "exposure" else ctx.proto.covariate(var).title


def _complete_cases(ctx: Ctx, what: str, n: int, n_eligible: int, missing: dict) -> Check:
    share = (n_eligible - n) / n_eligible if n_eligible else 0.0
    limit = ctx.proto.checks.max_complete_case_loss
    return Check("complete_cases", "Complete cases", share <= limit,
                 {"analysis": what, "n": n, "n_eligible": n_eligible, "share_excluded": share, "threshold": limit,
                  "variables": {_label(ctx, v): c for v, c in missing.items() if c}})


def group_sizes(proto: Protocol, groups: dict[str, int]) -> list[Check]:
    """Every exposure group (or the whole cohort of a single-arm study) has ``min_group_size`` patients."""
    limit = proto.checks.min_group_size
    small = {g: n for g, n in groups.items() if n < limit}
    return [Check("group_size", "Group sizes", not small, {"groups": groups, "small": small, "threshold": limit})]


def cox_checks(ctx: Ctx, r) -> list[Check]:
    """Of each multivariable Cox model: complete cases, events per parameter, PH of the exposure."""
    th, out = ctx.proto.checks, []
    for e in r.endpoints:
        multi = e.models[e.models["model"] == "multivariable"]
        if multi.empty:
            continue
        n, events, k = int(multi["n"].iloc[0]), float(multi["n_events"].iloc[0]), len(multi)
        what = f"multivariable Cox model of {e.title}"
        if e.imputation is None:
            out.append(_complete_cases(ctx, what, n, e.n_eligible, e.missing))
        else:   # nobody was dropped: say what was imputed instead of reporting a 0% complete-case loss
            out.append(Check("multiple_imputation", "Missing covariates imputed", True,
                             {"analysis": what, "n": n, "m": e.imputation["m"],
                              "variables": {_label(ctx, v): c for v, c in e.missing.items() if c},
                              "max_fmi": max(e.imputation["fmi"].values(), default=0.0)}))
        out.append(Check("events_per_parameter", "Events per model parameter",
                         events / k >= th.min_events_per_parameter,
                         {"analysis": what, "events": events, "parameters": k, "per_parameter": events / k,
                          "threshold": th.min_events_per_parameter}))
        if e.zph is not None and EXPOSURE_TERM in e.zph.index:
            p = float(e.zph.loc[EXPOSURE_TERM, "p"])
            out.append(Check("proportional_hazards", "Proportional hazards of the exposure",
                             not (np.isfinite(p) and p < th.ph_p),
                             {"endpoint": e.title, "exposure": ctx.proto.exposure.label, "p": p,
                              "threshold": th.ph_p}))
    return out


def propensity_checks(ctx: Ctx, r) -> list[Check]:
    """Of the propensity-score analysis: complete cases, balance, effective sample size, overlap."""
    th = ctx.proto.checks
    adjusted = "matching" if r.options.method == "match" else "weighting"
    out = [_complete_cases(ctx, "propensity-score model", r.n_model, r.n_eligible, r.missing)]
    bal = r.balance
    if "smd_after" in bal:
        rows = bal[bal["covariate"] != "distance"]
        smd = pd.Series(rows["smd_after"].to_numpy(float), index=[r.balance_labels.get(c, str(c))
                                                                   for c in rows["covariate"]])
        bad = smd[smd.abs() > th.max_abs_smd]
        out.append(Check("balance", f"Covariate balance after {adjusted}", bad.empty,
                         {"adjustment": adjusted, "unbalanced": bad.round(6).to_dict(),
                          "max_abs_smd": float(np.nanmax(np.abs(smd.to_numpy()))) if len(smd) else None,
                          "threshold": th.max_abs_smd}))
    if r.ess is not None:
        names = {"control": r.control, "treated": r.treated}
        ess = {names.get(str(g), str(g)): {"ess": float(x["ess"]), "n": int(x["n"])} for g, x in r.ess.iterrows()}
        low = {g: v for g, v in ess.items() if v["ess"] < th.min_ess_fraction * v["n"]}
        out.append(Check("effective_sample_size", "Effective sample size of the weighted groups", not low,
                         {"groups": ess, "low": low, "threshold": th.min_ess_fraction}))
    out.append(Check("overlap", "Overlap of the propensity-score distributions",
                     r.outside_overlap <= th.max_outside_overlap,
                     {"share_outside": r.outside_overlap, "threshold": th.max_outside_overlap}))
    return out
