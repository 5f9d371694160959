"""Propensity-score analysis: design sentence, balance table, love plot, outcome curves and sentences."""
from __future__ import annotations

import pandas as pd

from ..document import (PSEUDO_NOTE, FigureItem, StudyResults, TextItem, ci, ci_p, contrast, count, join_and,
                        lower_first, num, p_text, pct)
from ..figures import km_figure
from ..figures.love import love_plot
from ..tables import ReportTable
from .cohort import add_matched_cohort


def _design(a) -> str:
    if a.method == "match":
        scale = "the logit of the score" if a.link == "linear.logit" else "the score"
        return (f"1:{a.ratio} nearest-neighbour matching on {scale} (logistic regression; greedy, "
                f"{a.order} first, {'with' if a.replace else 'without'} replacement"
                + (f", caliper {a.caliper:g} SD of {scale}" if a.caliper else "")
                + (f", exactly within {join_and(list(a.exact))}" if a.exact else "") + ", as MatchIt 4.7.2)")
    extra = (["stabilised"] if a.stabilize else []) + \
        ([f"weights truncated at the {a.trim:g} quantile" if a.trim < 1 else f"weights capped at {a.trim:g}"]
         if a.trim is not None else [])
    return (f"propensity-score weighting ({'overlap weights' if a.estimand == 'ATO' else 'IPTW'}, {a.estimand}"
            + "".join(f"; {x}" for x in extra) + ")")


def _outcome_sentence(r, matching: bool, hrs: list[str]) -> str:
    """'After propensity-score matching (178 vs 178 patients; largest |SMD| 0.09), the HR for delayed vs upfront
    ablation was 1.48 (95% CI 1.17–1.86; p < 0.001) for disease-free survival and ...'."""
    design = []
    if matching:
        s = r.sample_sizes
        design.append(f"{count(s.loc['Matched', 'treated'])} vs {count(s.loc['Matched', 'control'])} patients")
    if r.max_abs_smd_after is not None:
        design.append(f"largest |SMD| {r.max_abs_smd_after:.2f}")
    how = "matching" if matching else "weighting"
    return (f"After propensity-score {how}" + (f" ({'; '.join(design)})" if design else "") +
            f", the HR for {contrast(f'{r.treated} vs {r.control}')} was {join_and(hrs)}.")


def build_propensity(doc: StudyResults, r) -> None:
    """``r``: see :class:`oligomet.study.analyses.propensity.PropensityResult` (read by attribute)."""
    a = r.options
    matching = a.method == "match"
    adjusted = "matching" if matching else "weighting"
    sec = doc.section("propensity", "Propensity-score analysis")
    desc = _design(a)
    if matching:
        s = r.sample_sizes
        sec.items.append(TextItem(
            f"{desc}: {int(s.loc['Matched', 'treated'])} {r.treated} and {int(s.loc['Matched', 'control'])} "
            f"{r.control} patients matched; {r.n_unmatched_treated} {r.treated} patients left unmatched."))
        add_matched_cohort(doc, {r.control: int(s.loc["Matched", "control"]),
                                 r.treated: int(s.loc["Matched", "treated"])}, f"Matched (1:{a.ratio})")
    else:
        sec.items.append(TextItem(f"{desc}; effective sample sizes: " + ", ".join(
            f"{idx} {num(e['ess'])}" for idx, e in r.ess.iterrows()) + "."))
    bt = r.balance
    cols = [c for c in ("covariate", "smd_before", "smd_after", "var_ratio_before", "var_ratio_after") if c in bt]
    bdisp = bt[cols].copy()
    bdisp["covariate"] = bdisp["covariate"].map(lambda c: r.balance_labels.get(c, c))
    for c in cols[1:]:
        bdisp[c] = bdisp[c].map(lambda x: "" if pd.isna(x) else f"{x:.3f}")
    bdisp = bdisp.rename(columns={"covariate": "Covariate", "smd_before": "SMD before", "smd_after": "SMD after",
                                  "var_ratio_before": "Variance ratio before",
                                  "var_ratio_after": "Variance ratio after"})
    sec.items.append(ReportTable("balance", f"Covariate balance before and after {adjusted}", bt, bdisp,
                                 note="SMD: standardised mean difference (MatchIt's summary(standardize = TRUE)); "
                                      "|SMD| < 0.1 is usually taken as balanced."))
    sec.items.append(FigureItem("love", "Love plot", love_plot, "Absolute SMD before (open) and after (filled); "
                                                                "dashed line at 0.1.",
                                data=dict(balance=bt.set_index("covariate").rename_axis(None),
                                          labels=r.balance_labels, title=f"Balance before and after {adjusted}")))
    cohort_word = "matched" if matching else "weighted"
    hrs = []
    for o in r.outcomes:
        oe, cx = o.entry, o.entry["cox"]
        title = f"{o.title} in the {cohort_word} cohort"
        sec.items.append(FigureItem(f"km_{o.name}_{a.method}", title, km_figure,
                                    "Kaplan–Meier curves" + (" (weighted)" if r.weighted_curves else "") +
                                    " with 95% CIs." + (f" {PSEUDO_NOTE}" if r.pseudo_population else ""),
                                    data=dict(table=o.curves, title=title, xlabel=r.unit_label, unit=r.unit,
                                              legend_title=r.exposure_label, max_time=a.max_time,
                                              pseudo_population=r.pseudo_population)))
        lines = []
        for g, ge in oe["km"].items():
            lms = ", ".join(f"{t}-{r.unit[:-1]} {pct(v['survival'])}" for t, v in ge.get("landmarks", {}).items()
                            if v["survival"] is not None)
            lines.append(f"{g}: median {ci(ge['median'], ge['lower'], ge['upper'])}" + (f"; {lms}" if lms else ""))
        sec.items.append(TextItem(f"{title}: " + "; ".join(lines) +
                                  (f"; log-rank {p_text(oe['logrank']['p_value'])}" if "logrank" in oe else "") +
                                  f"; HR {ci(cx['hr'], cx['hr_lower'], cx['hr_upper'], 2)} "
                                  f"({'cluster-robust SE on the matched set' if matching else 'robust SE'}),"
                                  f" {p_text(cx['p'])}."))
        hrs.append(f"{ci_p(cx['hr'], cx['hr_lower'], cx['hr_upper'], cx['p'])} for {lower_first(o.title)}")
    if hrs:
        sentence = _outcome_sentence(r, matching, hrs)
        (doc.results_text.append if doc.results_text.n_lead else doc.results_text.lead)(sentence)
    doc.methods.append(
        f"Confounding by indication was addressed with {desc}, on " + ", ".join(r.covariate_titles) +
        "; outcomes were compared on the " + ("matched cohort with Kaplan–Meier, log-rank and Cox models with "
                                             "cluster-robust standard errors on the matched sets."
                                             if matching else
                                             "weighted cohort with weighted Kaplan–Meier and weighted Cox models "
                                             "with robust standard errors."))
