"""Propensity-score matching or weighting, then the outcome analysis on the matched/weighted cohort.

As MatchIt's vignette on estimating effects recommends:

* matching: KM and log-rank on the matched cohort; Cox with cluster-robust SEs on the matched
  set (``cluster = subclass``);
* weighting: weighted KM and weighted Cox with robust (sandwich) SEs.

The second exposure group is the "treated" group of the propensity model, the first the control.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

import oligomet as om

from ...report.figures import km_figure
from ...report.figures.love import love_plot
from ...report.tables import ReportTable
from ..cohort import GROUP
from ...report.document import FigureItem, TextItem, ci, clean, lower_first, num, p_text, pct
from ._context import Ctx, quiet

TREATED = "_ps_treated"


def run_propensity(ctx: Ctx) -> None:
    a = ctx.proto.analyses.propensity
    res = ctx.results
    control, treated = ctx.group_names[0], ctx.group_names[1]
    d = ctx.cohort.copy()
    d[TREATED] = (d[GROUP] == treated).astype(int)
    # the matching layer codes categorical columns itself (R's treatment contrasts): plain names
    terms = list(a.covariates)
    sec = res.section("propensity", "Propensity-score analysis")
    entry: dict = {"method": a.method, "treated_group": treated, "control_group": control}
    if a.method == "match":
        m, warns = quiet(om.match, d, treatment=TREATED, covariates=terms, caliper=a.caliper, ratio=a.ratio,
                         replace=a.replace, order=a.order, seed=ctx.proto.seed)
        res.warnings += [f"matching: {w}" for w in warns]
        md = m.matched_data
        s = m.summary
        entry["sample_sizes"] = {str(i): {"control": r["control"], "treated": r["treated"]} for i, r in s.iterrows()}
        entry["caliper"] = m.caliper
        entry["n_unmatched_treated"] = m.n_unmatched_treated
        bal = m.balance
        cluster = "subclass" if not a.replace else None
        desc = (f"1:{a.ratio} nearest-neighbour matching on the propensity score (logistic regression; greedy, "
                f"{a.order} first, {'with' if a.replace else 'without'} replacement"
                + (f", caliper {a.caliper:g} SD of the score" if a.caliper else "") + ", as MatchIt 4.5)")
        sec.items.append(TextItem(
            f"{desc}: {int(s.loc['Matched', 'treated'])} {treated} and {int(s.loc['Matched', 'control'])} "
            f"{control} patients matched; {m.n_unmatched_treated} {treated} patients left unmatched."))
        outcome_frame = md
        res.results_text.append(
            f"After propensity-score matching, {int(s.loc['Matched', 'treated'])} {treated} patients were matched "
            f"to {int(s.loc['Matched', 'control'])} {control} patients.")
    else:
        w, warns = quiet(om.weight, d, treatment=TREATED, covariates=terms, estimand=a.estimand)
        res.warnings += [f"weighting: {w_}" for w_ in warns]
        bal = w.balance
        outcome_frame = w.data
        cluster = None
        entry["ess"] = clean(w.ess.reset_index().rename(columns={"index": "group"}))
        desc = f"propensity-score weighting ({'overlap weights' if a.estimand == 'ATO' else 'IPTW'}, {a.estimand})"
        sec.items.append(TextItem(f"{desc}; effective sample sizes: " + ", ".join(
            f"{idx} {num(r['ess'])}" for idx, r in w.ess.iterrows()) + "."))
    entry["balance"] = clean(bal.reset_index().rename(columns={bal.index.name or "index": "covariate"}))
    bt = bal.reset_index().rename(columns={bal.index.name or "index": "covariate"})
    cols = [c for c in ("covariate", "smd_before", "smd_after", "var_ratio_before", "var_ratio_after") if c in bt]
    bdisp = bt[cols].copy()
    for c in cols[1:]:
        bdisp[c] = bdisp[c].map(lambda x: "" if pd.isna(x) else f"{x:.3f}")
    sec.items.append(ReportTable("balance", "Covariate balance before and after " +
                                 ("matching" if a.method == "match" else "weighting"), bt, bdisp,
                                 note="SMD: standardised mean difference (MatchIt's summary(standardize = TRUE)); "
                                      "|SMD| < 0.1 is usually taken as balanced."))
    sec.items.append(FigureItem("love", "Love plot", love_plot, "Absolute SMD before (open) and after (filled); "
                                                                "dashed line at 0.1.",
                                data=dict(balance=bal, labels=_love_labels(bal, ctx),
                                          title="Balance before and after " +
                                                ("matching" if a.method == "match" else "weighting"))))
    if "smd_after" in bal:
        mx = float(np.nanmax(np.abs(bal["smd_after"].drop(index="distance", errors="ignore").to_numpy(float))))
        entry["max_abs_smd_after"] = mx
        res.results_text.append(f"The largest absolute SMD after {'matching' if a.method == 'match' else 'weighting'}"
                                f" was {mx:.3f}.")

    ctx.adjusted = outcome_frame  # Table 1 after matching/weighting describes these rows
    entry["outcomes"] = {}
    # MatchIt's matching weights (1 for 1:1 without replacement; not 1 with ratio > 1 or replacement)
    # enter the outcome models, as its vignette on estimating effects requires
    wcol = "weights" if "weights" in outcome_frame.columns else None
    unit_weights = wcol is None or bool(np.allclose(outcome_frame[wcol].to_numpy(float), 1.0))
    for name in a.endpoints:
        ep = ctx.proto.endpoint(name)
        od = ctx.endpoint_data(ep, outcome_frame)
        km, _ = quiet(om.kaplan_meier, od, time=ep.time_col, event=ep.event_col, by=GROUP, weights=wcol)
        oe: dict = {"km": {}}
        lm = km.at(a.landmarks) if a.landmarks else None
        for r in km.medians.itertuples(index=False):
            g = str(r.group)
            ge = {"n": int(r.n), "median": r.median, "lower": r.lower, "upper": r.upper}
            if lm is not None:
                lg = lm[lm["group"].astype(str) == g]
                ge["landmarks"] = {f"{t:g}": dict(zip(("survival", "lower", "upper"),
                                                      lg.loc[np.isclose(lg["time"], t), ["survival", "lower", "upper"]
                                                             ].iloc[0])) if np.isclose(lg["time"], t).any()
                                   else {"survival": None, "lower": None, "upper": None} for t in a.landmarks}
            oe["km"][g] = ge
        if a.method == "match" and unit_weights:  # survdiff has no weights: only for unit weights
            lr, _ = quiet(om.logrank, od, time=ep.time_col, event=ep.event_col, by=GROUP)
            oe["logrank"] = {"statistic": lr.statistic, "df": lr.df, "p_value": lr.p_value}
        fit, warns = quiet(om.cox, od, time=ep.time_col, event=ep.event_col, covariates=[ctx.term("exposure")],
                           weights=wcol, cluster=cluster if a.method == "match" else None,
                           robust=True)
        res.warnings += [f"{ep.name} after {a.method}: {w_}" for w_ in warns]
        r = fit.summary.iloc[0]
        oe["cox"] = {"term": fit.summary.index[0], "hr": r["hr"], "hr_lower": r["hr_lower"],
                     "hr_upper": r["hr_upper"], "p": r["p"], "robust_se": r.get("robust_se", np.nan), "n": fit.n,
                     "n_events": fit.n_events}
        entry["outcomes"][ep.name] = oe
        title = f"{ep.title} in the {'matched' if a.method == 'match' else 'weighted'} cohort"
        sec.items.append(FigureItem(f"km_{ep.name}_{a.method}", title, km_figure,
                                    "Kaplan–Meier curves" + (" (weighted)" if wcol else "") + " with 95% CIs.",
                                    data=dict(table=km.table, title=title, xlabel=ctx.unit_label, unit=ctx.unit,
                                              legend_title=ctx.proto.exposure.label, max_time=a.max_time)))
        lines = []
        for g, ge in oe["km"].items():
            lms = ", ".join(f"{t}-{ctx.unit[:-1]} {pct(v['survival'])}" for t, v in ge.get("landmarks", {}).items()
                            if v["survival"] is not None)
            lines.append(f"{g}: median {ci(ge['median'], ge['lower'], ge['upper'])}" + (f"; {lms}" if lms else ""))
        sec.items.append(TextItem(f"{title}: " + "; ".join(lines) +
                                  (f"; log-rank {p_text(oe['logrank']['p_value'])}" if "logrank" in oe else "") +
                                  f"; HR {ci(r['hr'], r['hr_lower'], r['hr_upper'], 2)} "
                                  f"({'cluster-robust SE on the matched set' if a.method == 'match' else 'robust SE'}),"
                                  f" {p_text(r['p'])}."))
        cohort_word = "matched" if a.method == "match" else "weighted"
        sentence = f"In the {cohort_word} cohort, {lower_first(ep.title)}"
        if a.landmarks:  # the rate at the last landmark per group, e.g. 5-year DFS 36% vs 21%
            t = f"{a.landmarks[-1]:g}"
            sentence += f" at {t} {ctx.unit} was " + " vs ".join(
                f"{pct(ge['landmarks'][t]['survival'])} ({g})" for g, ge in oe["km"].items())
        else:
            sentence += " had medians of " + " vs ".join(
                f"{ci(ge['median'], ge['lower'], ge['upper'])} {ctx.unit} ({g})" for g, ge in oe["km"].items())
        if "logrank" in oe:
            sentence += f" (log-rank {p_text(oe['logrank']['p_value'])})"
        res.results_text.append(sentence + f"; HR {ci(r['hr'], r['hr_lower'], r['hr_upper'], 2)}, {p_text(r['p'])}.")
    res.numbers["propensity"] = clean(entry)
    res.methods.append(
        f"Confounding by indication was addressed with {desc}, on " + ", ".join(
            ctx.proto.covariate(c).title for c in a.covariates) +
        "; outcomes were compared on the " + ("matched cohort with Kaplan–Meier, log-rank and Cox models with "
                                             "cluster-robust standard errors on the matched sets."
                                             if a.method == "match" else
                                             "weighted cohort with weighted Kaplan–Meier and weighted Cox models "
                                             "with robust standard errors."))


def _love_labels(bal: pd.DataFrame, ctx: Ctx) -> dict:
    """The love plot's row labels, from the protocol's covariate labels."""
    labels = {c.column: c.title for c in ctx.proto.covariates}
    # balance rows of a categorical covariate are the column name followed by the level, as
    # MatchIt names them ("raswild_type"); the longest matching column name wins
    full = {}
    for idx in bal.index:
        name = str(idx)
        for col in sorted(labels, key=len, reverse=True):
            if name == col:
                full[idx] = labels[col]
                break
            if name.startswith(col):
                full[idx] = f"{labels[col]}: {name[len(col):].strip('[]_')}"
                break
    return full
