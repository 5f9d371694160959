"""Kaplan–Meier, log-rank and median follow-up: tables, curves and sentences."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..document import (FigureItem, StudyResults, TextItem, ci, count, group_label, join_and, lower_first, num, p_text,
                        p_value, pct)
from ..figures import km_figure
from ..tables import ReportTable


def _months(x, unit: str) -> str:
    return "not reached" if x is None or not np.isfinite(x) else f"{num(x)} {unit}"


def _median_sentence(e, unit: str, by_group: bool) -> str:
    """'Median disease-free survival was 44.2 months (95% CI 36.8–54.2) with upfront ablation and 16.9 months
    (95% CI 13.9–22.1) with delayed ablation.' One group: the last landmark rate too."""
    parts = []
    for g, ge in e.entry["groups"].items():
        text = _months(ge["median"], unit) if not parts else _months(ge["median"], "").strip()  # the unit once
        if np.isfinite(ge["median"] if ge["median"] is not None else np.nan):
            text += f" ({'' if parts else '95% CI '}{num(ge['lower'])}–{num(ge['upper'])})"
        if by_group:
            text += f" with {lower_first(str(g))}"
        elif ge.get("landmarks"):
            t, v = list(ge["landmarks"].items())[-1]
            if v["survival"] is not None:
                text += f"; the {t}-{unit[:-1]} rate was {pct(v['survival'])}"
        parts.append(text)
    return f"Median {lower_first(e.title)} was {join_and(parts)}."


def build_km(doc: StudyResults, r) -> None:
    """``r``: ``unit``, ``unit_label``, ``exposure_label`` (None when not by group), ``quantiles``,
    ``max_time``, ``n_cohort`` and ``endpoints`` (each: ``name``, ``title``, ``ylabel``, ``entry``
    (per-group numbers), ``landmarks``, ``tidy`` and ``curves``)."""
    unit = r.unit
    for e in r.endpoints:
        sec = doc.section(f"survival_{e.name}", e.title)
        entry = e.entry
        if entry["n_undefined"]:
            sec.items.append(TextItem(
                f"{entry['n_undefined']} of {r.n_cohort} patients have no {lower_first(e.title)} "
                f"(the endpoint is undefined for them, e.g. no index treatment or no curative local treatment) and "
                f"are not in this analysis."))
        rows = []
        for g, ge in entry["groups"].items():
            row = {"Group": group_label(g), "N": count(ge["n"]), "Events": count(ge["n_events"]),
                   f"Median, {unit} (95% CI)": ci(ge["median"], ge["lower"], ge["upper"])}
            qs = ge.get("quantiles")
            if qs is not None and set(r.quantiles) >= {0.25, 0.75}:
                row["IQR"] = f"{num(qs['0.25']['time'])}–{num(qs['0.75']['time'])}"
            for t, v in (ge.get("landmarks") or {}).items() if e.landmarks else ():
                # beyond the group's last follow-up time: not estimable
                # '82.3 (81.4–83.2)' under a '%' heading, as journals print rates: narrower than '82.3% (81.4%–83.2%)'
                row[f"{t}-{unit[:-1]} rate, % (95% CI)"] = (
                    "NE" if v["survival"] is None else ci(*(100 * v[k] for k in ("survival", "lower", "upper"))))
            rows.append(row)
        sec.items.append(ReportTable(f"km_{e.name}", f"{e.title}: Kaplan–Meier estimates", e.tidy, pd.DataFrame(rows),
                                     note="Medians and CIs as R's quantile.survfit (log CI); rates at landmark "
                                          "times with pointwise log CIs. NR: not reached; NE: not estimable "
                                          "(no patient followed that long)."))
        sec.items.append(FigureItem(f"km_{e.name}", f"{e.title}: Kaplan–Meier curves", km_figure,
                                    "Shaded: pointwise 95% CI; ticks: censored; table: number at risk.",
                                    data=dict(table=e.curves, title=f"{e.title}", xlabel=r.unit_label, unit=unit,
                                              ylabel=e.ylabel or "Survival probability",
                                              legend_title=r.exposure_label, max_time=r.max_time,
                                              annotate=r.annotate, annotation=None, percent=r.percent,
                                              break_every=r.break_every, palette=r.palette)))
        doc.results_text.append(_median_sentence(e, unit, r.exposure_label is not None))
    doc.methods.append(
        "Survival was estimated with the Kaplan–Meier method; medians and their 95% CIs follow R's "
        "quantile.survfit (log-transformed pointwise CIs), and landmark rates are reported with pointwise CIs.")


def build_logrank(doc: StudyResults, r) -> None:
    """``r``: ``rho`` and ``tests``, a tidy frame with ``endpoint`` (name), ``title``, ``statistic``, ``df``, ``p``."""
    for t in r.tests.itertuples(index=False):
        doc.section(f"survival_{t.endpoint}", t.title).items.append(
            TextItem(f"Log-rank test{'' if r.rho == 0 else f' (G-rho, rho = {r.rho:g})'}: "
                     f"χ² = {t.statistic:.2f} on {t.df} df, {p_text(t.p)}."))
    for t in r.tests.itertuples(index=False):
        test = "Log-rank" if r.rho == 0 else f"G-rho (rho = {r.rho:g})"
        annotate_km(doc, t.endpoint, "logrank", f"{test} {p_text(t.p)}")
    if len(r.tests):
        doc.results_text.append(_logrank_sentence(r.tests))
    tidy = pd.DataFrame({"endpoint": r.tests["title"], "chisq": r.tests["statistic"], "df": r.tests["df"],
                         "p": r.tests["p"]}) if len(r.tests) else pd.DataFrame()
    disp = (tidy.assign(chisq=tidy["chisq"].map(lambda x: f"{x:.2f}"), p=tidy["p"].map(p_value))
            .rename(columns={"endpoint": "Endpoint", "chisq": "χ²"}) if len(tidy) else tidy)
    doc.section("tests", "Group comparisons").items.append(
        ReportTable("logrank", "Log-rank tests between exposure groups", tidy, disp))
    doc.methods.append("Groups were compared with the log-rank test (R's survdiff).")


def _logrank_sentence(tests: pd.DataFrame) -> str:
    """A difference where p < 0.05; otherwise 'no significant difference was found' (never 'did not differ':
    a non-significant test does not show the groups equivalent)."""
    named = {t.title: f"{lower_first(t.title)} ({'log-rank ' if i == 0 else ''}{p_text(t.p)})"
             for i, t in enumerate(tests.itertuples())}
    sig = [named[t.title] for t in tests.itertuples() if t.p < 0.05]
    ns = [named[t.title] for t in tests.itertuples() if not t.p < 0.05]
    text = []
    if sig:
        text.append(f"The groups differed in {join_and(sig)}")
    if ns:
        text.append(f"no significant difference was found in {join_and(ns)}")
    out = "; ".join(text)
    return out[0].upper() + out[1:] + "."


def annotate_km(doc: StudyResults, endpoint: str, source: str, text: str) -> None:
    """Write ``text`` into the KM curves of ``endpoint`` when their protocol asks for the number of
    ``source`` (``[analyses.km] annotate``): the number comes from the analysis that computed it, whose
    builder runs after the KM one, so the figure specification is completed here before it is drawn."""
    for s in doc.sections:
        for item in s.items:
            if isinstance(item, FigureItem) and item.name == f"km_{endpoint}" and item.data.get("annotate") == source:
                item.data["annotation"] = text


def build_followup(doc: StudyResults, r) -> None:
    """``r``: ``unit`` and ``followup`` (median, lower, upper, q25, q75 of the reverse Kaplan–Meier)."""
    fu = r.followup
    text = (f"Median follow-up (reverse Kaplan–Meier) was {num(fu['median'])} {r.unit} "
            f"(95% CI: {num(fu['lower'])}–{num(fu['upper'])}; IQR {num(fu['q25'])}–{num(fu['q75'])}).")
    doc.section("cohort", "Study cohort").items.append(TextItem(text))
    doc.results_text.append(f"The median follow-up was {num(fu['median'])} {r.unit}.")
    doc.methods.append("Follow-up was summarised with the reverse Kaplan–Meier method.")
