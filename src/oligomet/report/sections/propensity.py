"""Propensity-score analysis: design sentence, balance table, love plot, outcome curves and sentences."""
from __future__ import annotations

import pandas as pd

from ..document import FigureItem, StudyResults, TextItem, ci, lower_first, num, p_text, pct
from ..figures import km_figure
from ..figures.love import love_plot
from ..tables import ReportTable


def _design(a) -> str:
    if a.method == "match":
        return (f"1:{a.ratio} nearest-neighbour matching on the propensity score (logistic regression; greedy, "
                f"{a.order} first, {'with' if a.replace else 'without'} replacement"
                + (f", caliper {a.caliper:g} SD of the score" if a.caliper else "") + ", as MatchIt 4.5)")
    return f"propensity-score weighting ({'overlap weights' if a.estimand == 'ATO' else 'IPTW'}, {a.estimand})"


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
        doc.results_text.append(
            f"After propensity-score matching, {int(s.loc['Matched', 'treated'])} {r.treated} patients were matched "
            f"to {int(s.loc['Matched', 'control'])} {r.control} patients.")
    else:
        sec.items.append(TextItem(f"{desc}; effective sample sizes: " + ", ".join(
            f"{idx} {num(e['ess'])}" for idx, e in r.ess.iterrows()) + "."))
    bt = r.balance
    cols = [c for c in ("covariate", "smd_before", "smd_after", "var_ratio_before", "var_ratio_after") if c in bt]
    bdisp = bt[cols].copy()
    for c in cols[1:]:
        bdisp[c] = bdisp[c].map(lambda x: "" if pd.isna(x) else f"{x:.3f}")
    sec.items.append(ReportTable("balance", f"Covariate balance before and after {adjusted}", bt, bdisp,
                                 note="SMD: standardised mean difference (MatchIt's summary(standardize = TRUE)); "
                                      "|SMD| < 0.1 is usually taken as balanced."))
    sec.items.append(FigureItem("love", "Love plot", love_plot, "Absolute SMD before (open) and after (filled); "
                                                                "dashed line at 0.1.",
                                data=dict(balance=bt.set_index("covariate").rename_axis(None),
                                          labels=r.balance_labels, title=f"Balance before and after {adjusted}")))
    if r.max_abs_smd_after is not None:
        doc.results_text.append(f"The largest absolute SMD after {adjusted} was {r.max_abs_smd_after:.3f}.")
    cohort_word = "matched" if matching else "weighted"
    for o in r.outcomes:
        oe, cx = o.entry, o.entry["cox"]
        title = f"{o.title} in the {cohort_word} cohort"
        sec.items.append(FigureItem(f"km_{o.name}_{a.method}", title, km_figure,
                                    "Kaplan–Meier curves" + (" (weighted)" if r.weighted_curves else "") +
                                    " with 95% CIs.",
                                    data=dict(table=o.curves, title=title, xlabel=r.unit_label, unit=r.unit,
                                              legend_title=r.exposure_label, max_time=a.max_time)))
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
        sentence = f"In the {cohort_word} cohort, {lower_first(o.title)}"
        if a.landmarks:  # the rate at the last landmark per group, e.g. 5-year DFS 36% vs 21%
            t = f"{a.landmarks[-1]:g}"
            sentence += f" at {t} {r.unit} was " + " vs ".join(
                f"{pct(ge['landmarks'][t]['survival'])} ({g})" for g, ge in oe["km"].items())
        else:
            sentence += " had medians of " + " vs ".join(
                f"{ci(ge['median'], ge['lower'], ge['upper'])} {r.unit} ({g})" for g, ge in oe["km"].items())
        if "logrank" in oe:
            sentence += f" (log-rank {p_text(oe['logrank']['p_value'])})"
        doc.results_text.append(sentence + f"; HR {ci(cx['hr'], cx['hr_lower'], cx['hr_upper'], 2)}, "
                                           f"{p_text(cx['p'])}.")
    doc.methods.append(
        f"Confounding by indication was addressed with {desc}, on " + ", ".join(r.covariate_titles) +
        "; outcomes were compared on the " + ("matched cohort with Kaplan–Meier, log-rank and Cox models with "
                                             "cluster-robust standard errors on the matched sets."
                                             if matching else
                                             "weighted cohort with weighted Kaplan–Meier and weighted Cox models "
                                             "with robust standard errors."))
