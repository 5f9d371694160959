"""The study cohort: STROBE flow diagram and table, and the cohort sentence."""
from __future__ import annotations

import pandas as pd

from ..document import FigureItem, StudyResults, TextItem
from ..figures import flow_figure
from ..tables import ReportTable


def build_cohort(doc: StudyResults, flow: pd.DataFrame, n_cohort: int, groups: dict[str, int] | None,
                 description: str = "") -> None:
    """``flow``: the STROBE flow (label, n_excluded, n_remaining); ``groups``: patients per exposure group."""
    sec = doc.section("cohort", "Study cohort")
    sec.items.append(FigureItem("flow", "STROBE flow diagram", flow_figure,
                                "Patients excluded at each criterion, in the order applied.",
                                data=dict(flow=flow, groups=groups)))
    disp = flow[["label", "n_excluded", "n_remaining"]].rename(
        columns={"label": "Step", "n_excluded": "Excluded", "n_remaining": "Remaining"})
    sec.items.append(ReportTable("flow", "Cohort selection", flow, disp))
    text = f"The study cohort comprised {n_cohort} of {int(flow['n_remaining'].iloc[0])} registry patients"
    if groups:
        text += " (" + ", ".join(f"{k}: {v}" for k, v in groups.items()) + ")"
    doc.results_text.append(text + ".")
    sec.items.append(TextItem(text + "."))
    if description:
        doc.methods.insert(0, description.strip())
