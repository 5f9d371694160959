"""The study cohort: STROBE flow diagram and table, and the cohort sentence."""
from __future__ import annotations

import pandas as pd

from ..document import FigureItem, StudyResults, TextItem, count
from ..figures import flow_figure
from ..tables import ReportTable


def build_cohort(doc: StudyResults, flow: pd.DataFrame, n_cohort: int, groups: dict[str, int] | None,
                 description: str = "", drop_zero_steps: bool = False) -> None:
    """``flow``: the STROBE flow (label, n_excluded, n_remaining and, when known, n_unknown: exclusions on a
    missing value); ``groups``: patients per exposure group. ``drop_zero_steps``: the diagram leaves out criteria
    that excluded nobody (the table keeps every step)."""
    sec = doc.section("cohort", "Study cohort")
    caption = "Patients excluded at each criterion, in the order applied"
    if drop_zero_steps and (flow["n_excluded"].iloc[1:] == 0).any():
        caption += " (criteria that excluded no patient are in the table, not the diagram)"
    sec.items.append(FigureItem("flow", "STROBE flow diagram", flow_figure, caption + ".",
                                data=dict(flow=flow, groups=groups, drop_zero_steps=drop_zero_steps)))
    cols = {"label": "Step", "n_excluded": "Excluded", "n_unknown": "of which unknown", "n_remaining": "Remaining"}
    if "n_unknown" not in flow or not flow["n_unknown"].fillna(0).astype(bool).any():
        cols.pop("n_unknown")
    # counts with thousands separators, as in the text and the flow diagram
    disp = flow[list(cols)].apply(lambda c: c if c.name == "label" else c.map(lambda v: count(v) if pd.notna(v)
                                                                                else "")).rename(columns=cols)
    sec.items.append(ReportTable("flow", "Cohort selection", flow, disp))
    text = f"The study cohort comprised {count(n_cohort)} of {count(flow['n_remaining'].iloc[0])} registry patients"
    if groups:
        text += " (" + ", ".join(f"{k}: {count(v)}" for k, v in groups.items()) + ")"
    doc.results_text.append(text + ".")
    sec.items.append(TextItem(text + "."))
    if description:
        doc.methods.insert(0, description.strip())


def add_matched_cohort(doc: StudyResults, matched: dict[str, int], label: str = "Matched") -> None:
    """Add the matched cohort (patients per group after propensity-score matching, as the matching counted
    them) as the last boxes of the flow diagram; the propensity builder calls it, after the cohort's."""
    for s in doc.sections:
        for item in s.items:
            if isinstance(item, FigureItem) and item.name == "flow":
                item.data["matched"] = dict(matched)
                item.data["matched_label"] = label
                item.caption += " Bottom row: the cohort after propensity-score matching."
