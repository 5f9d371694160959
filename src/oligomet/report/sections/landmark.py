"""Landmark analysis: who was excluded, KM medians and curves from the landmark, the Cox model, sentences."""
from __future__ import annotations

import pandas as pd

from ..document import FigureItem, StudyResults, TextItem, ci, lower_first, num, p_text, p_value
from ..figures import km_figure
from ..tables import ReportTable


def cox_display(tidy: pd.DataFrame) -> pd.DataFrame:
    """A Cox summary (``label``, ``hr``, ``hr_lower``, ``hr_upper``, ``p``) as a display table."""
    return pd.DataFrame({"Variable": tidy["label"],
                         "HR (95% CI)": [ci(h, lo, hi, 2) for h, lo, hi in tidy[["hr", "hr_lower", "hr_upper"]]
                                         .itertuples(index=False)],
                         "p": tidy["p"].map(p_value)})


def build_landmark(doc: StudyResults, r) -> None:
    """``r``: ``at``, ``unit``, ``unit_label``, ``label``, ``exposure_time`` and ``endpoints`` (each: ``name``,
    ``title``, ``excluded`` (reason, n), ``n_at_risk``, ``km`` (medians), ``curves``, ``cox`` (tidy summary))."""
    unit = r.unit
    for e in r.endpoints:
        sec = doc.section(f"landmark_{e.name}", f"{e.title}: landmark analysis at {r.at:g} {unit}")
        ex = dict(zip(e.excluded["reason"], e.excluded["n"]))
        sec.items.append(TextItem(
            f"{e.n_at_risk} patients were alive and free of the event at {r.at:g} {unit} and are followed from "
            f"there; excluded: {ex.get('event before landmark', 0)} with the event and "
            f"{ex.get('censored before landmark', 0)} censored by the landmark. Exposure is "
            f"{lower_first(r.label)} ({r.exposure_time} at or before {r.at:g} {unit}); a later exposure counts as "
            f"unexposed."))
        rows = [{"group": str(m.group), "n": int(m.n), "events": int(round(m.n_events)),
                 f"median from the landmark, {unit} (95% CI)": ci(m.median, m.lower, m.upper)}
                for m in e.km.itertuples(index=False)]
        sec.items.append(ReportTable(f"landmark_km_{e.name}", f"{e.title} from the {r.at:g}-{unit[:-1]} landmark",
                                     e.km, pd.DataFrame(rows), note="Kaplan–Meier medians (log CI), time from the "
                                                                    "landmark."))
        sec.items.append(ReportTable(f"landmark_cox_{e.name}", f"{e.title} from the {r.at:g}-{unit[:-1]} landmark: "
                                     "Cox model", e.cox, cox_display(e.cox), note="HR: hazard ratio (Efron ties). "
                                     "Complete cases."))
        sec.items.append(FigureItem(f"landmark_{e.name}", f"{e.title} from the landmark", km_figure,
                                    f"Time from the {r.at:g}-{unit[:-1]} landmark. Shaded: pointwise 95% CI.",
                                    data=dict(table=e.curves, title=f"{e.title} from {r.at:g} {unit}",
                                              xlabel=f"{r.unit_label} from the landmark", unit=unit,
                                              ylabel="Survival probability", legend_title=r.label, max_time=None)))
        x = e.cox.iloc[0]
        doc.results_text.append(
            f"In a landmark analysis at {num(r.at, 0)} {unit} ({e.n_at_risk} patients at risk), "
            f"{lower_first(r.label)} had an HR for {lower_first(e.title)} of "
            f"{ci(x['hr'], x['hr_lower'], x['hr_upper'], 2)} ({p_text(x['p'])}).")
    doc.methods.append(
        f"To avoid immortal-time bias, a landmark analysis at {r.at:g} {unit} included the patients alive and "
        f"event-free at the landmark, classified by the exposure received by then (Anderson et al. 1983), with "
        f"time measured from the landmark.")
