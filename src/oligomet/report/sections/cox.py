"""Cox models: the univariable/multivariable table, the forest plot, the PH check and sentences."""
from __future__ import annotations

import pandas as pd

from ..document import FigureItem, StudyResults, TextItem, ci, lower_first, p_text, p_value
from ..figures import forest_figure
from ..tables import ReportTable


def build_cox(doc: StudyResults, r) -> None:
    """``r``: ``selection``, ``threshold``, ``ph_check``, ``ph_transform``, ``exposure_prefix`` and
    ``endpoints`` (each: ``name``, ``title``, ``models`` (tidy, one row per term and model), ``zph``,
    ``zph_labels``)."""
    for e in r.endpoints:
        sec = doc.section(f"cox_{e.name}", f"{e.title}: Cox regression")
        tidy = e.models
        rule = {"p_value": f"covariates with univariable likelihood-ratio p < {r.threshold:g}",
                "fixed": "a clinically fixed set of covariates", "all": "all listed covariates"}[r.selection]
        sec.items.append(ReportTable(f"cox_{e.name}", f"{e.title}: univariable and multivariable Cox models",
                                     tidy, _display(tidy), note=f"HR: hazard ratio (Efron ties, as R's coxph). The "
                                     f"multivariable model includes the exposure and {rule}. Complete cases."))
        sec.items.append(FigureItem(f"forest_{e.name}", f"{e.title}: forest plot", forest_figure,
                                    "Squares: hazard ratios; lines: 95% CIs (log scale).",
                                    data=dict(frame=tidy.assign(section=tidy["model"].str.capitalize()),
                                              title=f"{e.title}: hazard ratios")))
        if e.zph is not None:
            zt = e.zph.reset_index().rename(columns={"index": "term"})
            zt = zt.rename(columns={zt.columns[0]: "term"})
            zd = zt.assign(chisq=zt["chisq"].map(lambda x: f"{x:.2f}"), p=zt["p"].map(p_value))
            sec.items.append(ReportTable(f"zph_{e.name}", f"{e.title}: proportional-hazards check (cox.zph)",
                                         zt, zd, note=f"Score test of scaled Schoenfeld residuals against "
                                                      f"{r.ph_transform}-transformed time (R survival 3.x cox.zph); "
                                                      f"p < 0.05 suggests non-proportional hazards."))
            bad = [str(t) for t, z in e.zph.iterrows() if t != "GLOBAL" and z["p"] < 0.05]
            if bad:
                sec.items.append(TextItem("Possible violation of proportional hazards for: " +
                                          ", ".join(e.zph_labels[b] for b in bad) + "."))
        multi = tidy[tidy["model"] == "multivariable"]
        exposure = multi["term"].str.startswith(r.exposure_prefix)
        for _, m in multi[exposure].iterrows():
            doc.results_text.append(
                f"In the multivariable model for {lower_first(e.title)}, {m['label']} had an adjusted HR of "
                f"{ci(m['hr'], m['hr_lower'], m['hr_upper'], 2)} ({p_text(m['p'])}).")
        sig = multi[~exposure & (multi["p"] < 0.05)]
        if len(sig):
            doc.results_text.append(
                f"Independently associated with {lower_first(e.title)}: " +
                "; ".join(f"{m['label']} (HR {ci(m['hr'], m['hr_lower'], m['hr_upper'], 2)}, {p_text(m['p'])})"
                          for _, m in sig.iterrows()) + ".")
    doc.methods.append(
        "Hazard ratios were estimated with Cox proportional-hazards models (Efron ties, as R's coxph); "
        + ("covariates with a univariable likelihood-ratio p < "
           f"{r.threshold:g} entered the multivariable model" if r.selection == "p_value" else
           "the multivariable model used a prespecified set of covariates")
        + (", and proportional hazards were checked with cox.zph (survival 3.x score test)." if r.ph_check
           else "."))


def _display(tidy: pd.DataFrame) -> pd.DataFrame:
    if tidy.empty:
        return tidy
    out = []
    labels = list(dict.fromkeys(tidy["label"]))
    for lab in labels:
        row = {"Variable": lab}
        for model in ("univariable", "multivariable"):
            m = tidy[(tidy["label"] == lab) & (tidy["model"] == model)]
            head = "Univariable" if model == "univariable" else "Multivariable"
            if len(m):
                m = m.iloc[0]
                row[f"{head} HR (95% CI)"] = ci(m["hr"], m["hr_lower"], m["hr_upper"], 2)
                row[f"{head} p"] = p_value(m["p"])
            else:
                row[f"{head} HR (95% CI)"] = "–"
                row[f"{head} p"] = ""
        out.append(row)
    return pd.DataFrame(out)
