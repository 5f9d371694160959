"""Time-varying exposure: the Cox model with the exposure as a time-dependent covariate, beside the
baseline-coded (immortal-time biased) one, and sentences."""
from __future__ import annotations

import pandas as pd

from ..document import StudyResults, TextItem, ci, lower_first, p_text
from ..tables import ReportTable
from .landmark import cox_display


def build_time_varying(doc: StudyResults, r) -> None:
    """``r``: ``label``, ``exposure_time`` and ``endpoints`` (each: ``name``, ``title``, ``models`` (tidy, one row
    per model and term), ``n_patients``, ``n_exposed``, ``n_rows``, ``n_zero_time``)."""
    for e in r.endpoints:
        sec = doc.section(f"time_varying_{e.name}", f"{e.title}: {lower_first(r.label)} as a time-varying exposure")
        sec.items.append(TextItem(
            f"{e.n_exposed} of {e.n_patients} patients were exposed during follow-up ({r.exposure_time}); their "
            f"follow-up is split at the exposure into {e.n_rows} (start, stop] intervals."
            + (f" {e.n_zero_time} patients with follow-up 0 form no interval and are not in this model."
               if e.n_zero_time else "")))
        frames = []
        for model in dict.fromkeys(e.models["model"]):
            m = e.models[e.models["model"] == model]
            frames.append(cox_display(m).assign(Model=model))
        table = pd.concat(frames, ignore_index=True)[["Model", "Variable", "HR (95% CI)", "p"]]
        sec.items.append(ReportTable(f"time_varying_{e.name}", f"{e.title}: Cox model with {lower_first(r.label)} "
                                     "as a time-varying covariate", e.models, table,
                                     note="Time-varying: the exposure switches from 0 to 1 at its time (R's tmerge "
                                          "+ tdc; robust SE clustered on the patient). Baseline: the exposure coded "
                                          "as known at time zero, which credits the exposed with the time before "
                                          "it (immortal-time bias); shown for comparison only."))
        x = e.models[e.models["model"] == "time-varying"].iloc[0]
        doc.results_text.append(
            f"With {lower_first(r.label)} as a time-varying covariate, the HR for {lower_first(e.title)} was "
            f"{ci(x['hr'], x['hr_lower'], x['hr_upper'], 2)} ({p_text(x['p'])}).")
    doc.methods.append(
        f"{r.label} was analysed as a time-varying covariate in a Cox model (counting-process data split at the "
        f"time of exposure, as R's tmerge, with a robust variance clustered on the patient) to avoid "
        f"immortal-time bias.")
