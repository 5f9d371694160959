"""Board quality: concordance of the tumor board's decisions with its rules (table), and survival after a
concordant vs a discordant decision (KM curves, crude and adjusted HR), with the confounding caveat."""
from __future__ import annotations

import pandas as pd

from ..document import FigureItem, StudyResults, TextItem, ci, join_and, p_text, p_value, pct
from ..figures import km_figure
from ..tables import ReportTable

CAVEAT = ("Confounding by indication: the board departs from its rules for patients it judges different "
          "(frailer, more comorbid, with disease the rules did not foresee, or who declined), so patients with a "
          "discordant decision differ from the others in ways the registry records only in part. The survival "
          "difference describes the board's practice; it is not the effect of following the rules, and the "
          "adjusted hazard ratio removes only the confounding by the covariates it names.")


def build_board_quality(doc: StudyResults, r) -> None:
    """``r``: ``period``, ``unit``, counts (``n_decisions``, ``n_superseded``, ``n_outside``,
    ``n_no_followup``), ``adjusted_for``, ``concordance``, ``km_medians``, ``km_curves``,
    ``hazard_ratios`` and ``notes``."""
    sec = doc.section("board_quality", "Tumor board decisions: concordance with the rules and outcomes")
    counted = (f"{r.n_decisions} board decisions on patients of the cohort"
               + (f" ({r.n_superseded} earlier records replaced by corrections are not counted)"
                  if r.n_superseded else "")
               + (f"; {r.n_outside} decisions on patients outside the cohort are left out" if r.n_outside else "")
               + ".")
    sec.items.append(TextItem(counted))
    if not r.n_decisions:
        return
    c = r.concordance
    rows = [{"site": x.site, r.period: x.period, "decisions": x.n, "concordant": x.n_concordant,
             "share (95% CI)": f"{pct(x.share)} ({pct(x.lower)}–{pct(x.upper)})"} for x in c.itertuples(index=False)]
    sec.items.append(ReportTable("board_concordance", f"Decisions concordant with the rules, per site and {r.period}",
                                 c, pd.DataFrame(rows),
                                 note="Concordant: the chosen option is one of the options of the rules that "
                                      "fired for the case. Wilson score 95% CI (R's prop.test, correct = FALSE)."))
    overall = c[c["site"] == "All sites"]
    if len(overall):
        k, n = int(overall["n_concordant"].sum()), int(overall["n"].sum())
        doc.results_text.append(f"Of {n} tumor board decisions, {k} ({pct(k / n)}) followed the rules.")
    if len(r.km_curves):
        sec.items.append(FigureItem("board_outcomes", "Overall survival after the board decision, by concordance",
                                    km_figure, "From the date of each patient's first board decision. Shaded: "
                                    "pointwise 95% CI; table: number at risk. Not an effect of following the "
                                    "rules (see the caveat).",
                                    data=dict(table=r.km_curves, title="Overall survival after the decision",
                                              xlabel="Months" if r.unit == "months" else "Days", unit=r.unit,
                                              ylabel="Survival probability", legend_title="Decision")))
    med = r.km_medians
    hr = r.hazard_ratios
    if len(med):
        mrows = [{"decision": str(m.group), "patients": int(m.n), "deaths": round(m.n_events),
                  f"median OS, {r.unit} (95% CI)": ci(m.median, m.lower, m.upper)} for m in med.itertuples(index=False)]
        sec.items.append(ReportTable("board_outcomes_km", "Overall survival after the decision, by concordance",
                                     med, pd.DataFrame(mrows), note="Kaplan–Meier medians (log CI)."))
    if len(hr):
        label = {"crude": "crude", "adjusted": "adjusted for " + join_and(list(r.adjusted_for))}
        hrows = [{"model": label[h.model], "HR discordant vs concordant (95% CI)": ci(h.hr, h.hr_lower, h.hr_upper, 2),
                  "p": p_value(h.p), "patients": int(h.n), "deaths": int(h.n_events)}
                 for h in hr.itertuples(index=False)]
        sec.items.append(ReportTable("board_outcomes_cox", "Cox hazard ratio of death after a discordant decision",
                                     hr, pd.DataFrame(hrows), note=CAVEAT))
        first = hr.iloc[-1]
        doc.results_text.append(
            f"Patients whose board decision departed from the rules had a hazard ratio of death of "
            f"{ci(first.hr, first.hr_lower, first.hr_upper, 2)} ({label[first.model]}, {p_text(first.p)}); "
            f"this reflects whom the board chose to treat differently, not an effect of the rules.")
    for note in r.notes:
        sec.items.append(TextItem(f"Note: {note}.", kind="note"))
    if r.n_no_followup:
        sec.items.append(TextItem(f"{r.n_no_followup} patients whose last contact precedes their decision are not in "
                                  f"the survival analysis.", kind="note"))
    sec.items.append(TextItem(CAVEAT, kind="note"))
    doc.methods.append(
        "Tumor board decisions were compared with the board's rules (concordant: the chosen option is one the "
        "rules recommended); the share of concordant decisions is given per site and "
        f"{r.period} with Wilson score 95% CIs. Overall survival from the first board decision was estimated by "
        "Kaplan–Meier and compared by Cox regression" + (f", crude and adjusted for {join_and(list(r.adjusted_for))}"
                                                         if r.adjusted_for else "")
        + "; corrected decisions count through their correction.")
