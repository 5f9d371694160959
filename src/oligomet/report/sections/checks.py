"""The "Checks" panel and the cautions in the results paragraph: each check worded for the reader."""
from __future__ import annotations

from ..document import Check, StudyResults, count, lower_first, num, p_text, pct


def _names(values: dict, fmt) -> str:
    return ", ".join(fmt(k, v) for k, v in values.items())


def describe(c: Check) -> str:
    """One sentence: what was found, with its numbers, and what it means for the estimate."""
    v = c.values
    if c.name == "balance":
        if c.passed:
            return f"All covariates balanced after {v['adjustment']} (|SMD| ≤ {v['threshold']:g})."
        return (f"Covariates unbalanced after {v['adjustment']} (|SMD| > {v['threshold']:g}): "
                f"{_names(v['unbalanced'], lambda k, x: f'{k} (SMD {x:.2f})')}; the adjusted comparison may still "
                f"be confounded by them.")
    if c.name == "proportional_hazards":
        if c.passed:
            return f"{v['endpoint']}: no evidence against proportional hazards for {lower_first(v['exposure'])} " \
                   f"(cox.zph {p_text(v['p'])})."
        return (f"{v['endpoint']}: the hazards of {lower_first(v['exposure'])} are not proportional (cox.zph "
                f"{p_text(v['p'])}), so the hazard ratio is an average over follow-up; read it with the "
                f"Kaplan–Meier curves, and prefer a time-split Cox model or restricted mean survival time (RMST).")
    if c.name == "complete_cases":
        text = (f"The {v['analysis']} analysed {count(v['n'])} of {count(v['n_eligible'])} eligible patients "
                f"({pct(v['share_excluded'])} excluded")
        if v["variables"]:
            text += " for missing " + _names(v["variables"], lambda k, x: f"{lower_first(k)} ({count(x)})")
        text += ")"
        return text + (f"; more than {pct(v['threshold'], 0)} lost to missing data can bias the estimates."
                       if not c.passed else ".")
    if c.name == "multiple_imputation":
        return (f"The {v['analysis']} analysed all {count(v['n'])} eligible patients: missing "
                + _names(v["variables"], lambda k, x: f"{lower_first(k)} ({count(x)})")
                + f" were multiply imputed (m = {v['m']}) and the estimates pooled by Rubin's rules (largest fraction "
                  f"of missing information {num(v['max_fmi'])}).")
    if c.name == "events_per_parameter":
        text = (f"The {v['analysis']} has {count(v['events'])} events for {v['parameters']} parameters "
                f"({num(v['per_parameter'])} per parameter")
        return text + (f"; fewer than {v['threshold']:g} make its estimates unstable." if not c.passed else ").")
    if c.name == "group_size":
        if c.passed:
            return f"Every group has at least {v['threshold']} patients."
        return (f"Small group{'s' if len(v['small']) > 1 else ''} (fewer than {v['threshold']} patients): "
                f"{_names(v['small'], lambda k, x: f'{k} (n = {x})')}; its estimates are imprecise.")
    if c.name == "effective_sample_size":
        groups = v["low"] if not c.passed else v["groups"]
        text = _names(groups, lambda k, x: f"{k} {num(x['ess'])} of {count(x['n'])}")
        if c.passed:
            return f"Effective sample sizes after weighting: {text}."
        return (f"Extreme weights: the effective sample size is below {pct(v['threshold'], 0)} of n ({text}); a "
                f"few patients dominate the weighted estimates.")
    if c.name == "overlap":
        text = f"{pct(v['share_outside'])} of patients have a propensity score outside the range of the other group"
        return text + (" (the groups barely overlap: the comparison extrapolates beyond comparable patients)."
                       if not c.passed else ".")
    return c.title + (": passed." if c.passed else ": failed.")


def build_checks(doc: StudyResults, checks: list[Check]) -> None:
    """File the checks for the panel; a failed check also cautions the results paragraph, after the
    sentences of the analysis it qualifies."""
    for c in checks:
        doc.checks.append(c)
        if not c.passed:
            doc.results_text.caution(f"Caution: {describe(c)}")
