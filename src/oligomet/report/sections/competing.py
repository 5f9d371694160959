"""Cumulative incidence: table by cause, curves, Gray's test, the Fine–Gray table and sentences."""
from __future__ import annotations

import pandas as pd

from ..document import (PSEUDO_NOTE, FigureItem, StudyResults, TextItem, ci, ci_p, code_label, contrast, count,
                        group_label, join_and, lower_first, num, p_text, p_value, pct)
from ..figures import cif_figure
from ..tables import ReportTable


def build_cif(doc: StudyResults, r) -> None:
    """``r``: ``unit``, ``unit_label``, ``by_group``, ``fine_gray``, ``max_time``, ``weighted`` and ``endpoints`` (each:
    ``name``, ``title``, ``cause_labels``, ``entry``, ``summary``, ``curves``, ``at_risk``, ``fine_gray``)."""
    unit = r.unit
    for e in r.endpoints:
        labels, entry = e.cause_labels, e.entry
        sec = doc.section(f"cif_{e.name}", f"{e.title}: cumulative incidence")
        sec.items += _table_and_curves(r, e)
        if entry["gray_test"]:
            sec.items.append(TextItem("Gray's test: " + "; ".join(
                f"{labels.get(int(c), c)} {p_text(v['p_value'])}" for c, v in entry["gray_test"].items()) + "."))
        incidences = []
        for g, ge in entry["groups"].items():
            c1 = ge.get("1")
            if c1 and c1.get("landmarks"):
                t, v = list(c1["landmarks"].items())[-1]
                incidences.append((t, pct(v["estimate"]) + ("" if not r.by_group else f" with {lower_first(str(g))}")))
        if incidences:
            doc.results_text.append(f"The {incidences[0][0]}-{unit[:-1]} cumulative incidence of "
                                    f"{labels.get(1, 'cause 1')} was "
                                    f"{join_and([x for _, x in incidences])}.")
        if e.fine_gray is not None:
            _fine_gray(doc, sec, e, r.weighted)
    if r.fine_gray:
        doc.methods.append("Subdistribution hazard ratios were estimated with Fine–Gray models " +
                           ("in the weighted cohort (R's finegray with a weighted coxph, robust standard errors "
                            "clustered on the patient)." if r.weighted else "(as R's cmprsk::crr)."))
    if r.weighted:
        doc.methods.append("Cumulative incidences were estimated in the propensity-weighted cohort with the weighted "
                           "Aalen–Johansen estimator treating death as a competing event (as R's survfit with "
                           "weights, infinitesimal-jackknife standard errors).")
    else:
        doc.methods.append("Cumulative incidences were estimated with the Aalen–Johansen estimator treating death "
                           "as a competing event and compared with Gray's test (as R's cmprsk).")


_WEIGHTED_NOTE = ("Weighted Aalen–Johansen estimates in the propensity-weighted cohort (as R's survfit with weights; "
                  "infinitesimal-jackknife SE); events are sums of weights (a weighted pseudo-population); ")
_NO_WEIGHTED_GRAY = ("Gray's test is not reported for the weighted curves: cmprsk's cuminc takes no weights and no "
                     "weighted version has an R reference to check it against; the weighted Fine–Gray model "
                     "compares the groups.")


def _table_and_curves(r, e) -> list:
    """The table of CIFs by cause at the landmarks and the curves, both labelled a pseudo-population when
    weighted (with the note that Gray's test is then not reported)."""
    unit = r.unit
    landmarks = [c for c in e.summary.columns if c not in ("group", "cause", "events")]
    disp = pd.DataFrame({"Group": e.summary["group"].map(group_label), "Cause": e.summary["cause"].map(code_label),
                         # weighted events are sums of weights: one decimal, not a count of patients
                         "Events (weighted)" if r.weighted else "Events":
                             e.summary["events"].map(lambda v: num(v) if r.weighted else count(v))})
    for t in landmarks:
        disp[f"{t}-{unit[:-1]} CIF"] = e.summary[t].map(pct)
    items = [ReportTable(f"cif_{e.name}", f"{e.title}: cumulative incidence by cause"
                         + (" (weighted pseudo-population)" if r.weighted else ""), e.summary, disp,
                         note=(_WEIGHTED_NOTE if r.weighted else
                               "Aalen–Johansen estimates with competing risks (as cmprsk::cuminc); ")
                         + "deaths are a competing event, not censored."),
             FigureItem(f"cif_{e.name}", f"{e.title}: cumulative incidence" + (" (weighted)" if r.weighted else ""),
                        cif_figure, _cif_caption(r, e)
                        + (f" {PSEUDO_NOTE}" if r.weighted else ""),
                        data=dict(table=e.curves, at_risk=e.at_risk, cause_labels=e.cause_labels, title=e.title,
                                  xlabel=r.unit_label, unit=unit, max_time=r.max_time,
                                  pseudo_population=r.weighted, causes=list(r.causes) or None, percent=r.percent,
                                  break_every=r.break_every, palette=r.palette))]
    return items + ([TextItem(_NO_WEIGHTED_GRAY)] if r.weighted else [])


def _cif_caption(r, e) -> str:
    """Which causes are drawn: all (line style tells them apart), or the chosen ones, naming the competing
    events left out of the figure (they are still competing events in the estimates and the table)."""
    if not r.causes:
        return "Line style: cause; colour: group; shaded: 95% CI."
    codes = sorted({int(c) for c in e.curves["cause"].unique()})
    name = e.cause_labels.get
    shown = join_and([name(c, f"cause {c}") for c in r.causes])
    hidden = [name(c, f"cause {c}") for c in codes if c not in r.causes]
    return (f"Cumulative incidence of {shown}" + (f"; {join_and(hidden)} is a competing event, not drawn"
                                                  if hidden else "") + ". Colour: group; shaded: 95% CI.")


def _fine_gray(doc: StudyResults, sec, e, weighted: bool) -> None:
    tidy = e.fine_gray
    disp = pd.DataFrame({"Variable": tidy["label"],
                         "sHR (95% CI)": [ci(x, lo, hi, 2) for x, lo, hi in
                                          tidy[["shr", "shr_lower", "shr_upper"]].itertuples(index=False)],
                         "p": tidy["p"].map(p_value)})
    cause = e.cause_labels.get(1, "cause 1")
    how = ("weighted: R's finegray + coxph with the propensity weights, robust SE clustered on the patient"
           if weighted else "as cmprsk::crr")
    sec.items.append(ReportTable(f"finegray_{e.name}", f"{e.title}: Fine–Gray model of {cause}", tidy, disp,
                                 note=f"sHR: subdistribution hazard ratio ({how}); competing events "
                                      "stay in the risk set."))
    for t in tidy.itertuples(index=False):
        if str(t.term).startswith("exposure["):
            doc.results_text.append(
                f"{'In the propensity-weighted cohort, the' if weighted else 'The'} subdistribution HR of {cause} "
                f"for {contrast(t.label)} was {ci_p(t.shr, t.shr_lower, t.shr_upper, t.p)}.")
