"""Cox models: the univariable/multivariable table, the forest plot, the PH check and sentences."""
from __future__ import annotations

import pandas as pd

from ..document import (EM_DASH, INDENT, FigureItem, StudyResults, TextItem, ci, ci_p, code_label, contrast, count,
                        join_and, lower_first, p_value)
from ..figures import forest_figure
from ..tables import ReportTable
from .survival import annotate_km


def _missing_note(e) -> str:
    if e.imputation is None:
        return "Complete cases."
    return (f"Univariable models: complete cases; multivariable model: {e.imputation['m']} imputed datasets pooled "
            f"by Rubin's rules (its proportional-hazards check uses the complete cases).")


def build_cox(doc: StudyResults, r) -> None:
    """``r``: ``selection``, ``threshold``, ``ph_check``, ``ph_transform``, ``exposure_prefix`` and
    ``endpoints`` (each: ``name``, ``title``, ``models`` (tidy, one row per term and model), ``zph``,
    ``zph_labels``)."""
    leads = []   # (exposure contrast, "HR (CI; p) for <endpoint>")
    for e in r.endpoints:
        sec = doc.section(f"cox_{e.name}", f"{e.title}: Cox regression")
        tidy = _readable(e.models, r.exposure_prefix)
        rule = {"p_value": f"covariates with univariable likelihood-ratio p < {r.threshold:g}",
                "fixed": "a clinically fixed set of covariates", "all": "all listed covariates"}[r.selection]
        sec.items.append(ReportTable(f"cox_{e.name}", f"{e.title}: univariable and multivariable Cox models",
                                     tidy, _display(tidy),
                                     note="HR: hazard ratio (Efron ties, as R's coxph); ref: reference level (HR 1). "
                                     "N (events): patients and events of each univariable model; the "
                                     f"first row gives those of the multivariable model, which includes the "
                                     f"exposure and {rule}. " + _missing_note(e) + _design_note(r)))
        sec.items.append(FigureItem(f"forest_{e.name}", f"{e.title}: forest plot", forest_figure,
                                    "Squares: hazard ratios; lines: 95% CIs (log scale).",
                                    data=dict(frame=tidy.assign(section=tidy["model"].str.capitalize()),
                                              title=f"{e.title}: hazard ratios")))
        if e.zph is not None:
            zt = e.zph.reset_index().rename(columns={"index": "term"})
            zt = zt.rename(columns={zt.columns[0]: "term"})
            names = {"GLOBAL": "Global test", **e.zph_labels}
            zd = zt.assign(term=zt["term"].map(lambda t, names=names: names.get(t, t)),
                           chisq=zt["chisq"].map(lambda x: f"{x:.2f}"), p=zt["p"].map(p_value))
            zd = zd.rename(columns={"term": "Variable", "chisq": "χ²"})
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
        leads += [(m["label"], f"{ci_p(m['hr'], m['hr_lower'], m['hr_upper'], m['p'])} for {lower_first(e.title)}")
                  for _, m in multi[exposure].iterrows()]
        annotate_km(doc, e.name, "hr", "\n".join(
            f"Adjusted HR, {contrast(m['label'])}: {ci_p(m['hr'], m['hr_lower'], m['hr_upper'])}"
            for _, m in multi[exposure & multi["hr_lower"].notna()].iterrows()))
        sig = multi[~exposure & (multi["p"] < 0.05)]
        if len(sig):
            doc.results_detail.append(
                f"Independently associated with {lower_first(e.title)}: " +
                "; ".join(f"{m['label']}, HR {ci_p(m['hr'], m['hr_lower'], m['hr_upper'], m['p'])}"
                          for _, m in sig.iterrows()) + ".")
    for label in dict.fromkeys(lab for lab, _ in leads):   # one sentence per contrast, every endpoint in it
        doc.results_text.lead(f"The adjusted HR for {contrast(label)} was "
                              + join_and([t for lab, t in leads if lab == label]) + ".")
    doc.methods.append(
        "Hazard ratios were estimated with Cox proportional-hazards models (Efron ties, as R's coxph); "
        + ("covariates with a univariable likelihood-ratio p < "
           f"{r.threshold:g} entered the multivariable model" if r.selection == "p_value" else
           "the multivariable model used a prespecified set of covariates")
        + (", and proportional hazards were checked with cox.zph (survival 3.x score test)." if r.ph_check
           else ".") + _design_note(r))


def _design_note(r) -> str:
    """' All models were stratified by site (a baseline hazard for each level). Standard errors are robust,
    clustered by site.' (each part only when the protocol asks for it), or ''."""
    text = ""
    if r.strata_titles:
        text += (f" All models were stratified by {join_and([lower_first(t) for t in r.strata_titles])} "
                 f"(a baseline hazard for each level).")
    if r.cluster_title:
        text += f" Standard errors are robust, clustered by {lower_first(r.cluster_title)}."
    return text


def _readable(tidy: pd.DataFrame, exposure_prefix: str) -> pd.DataFrame:
    """A covariate's level in words, against its reference: 'RAS status: mutant' -> 'RAS status: Mutant vs
    wild type' (the exposure's labels already name both groups)."""
    if tidy.empty or "reference" not in tidy:
        return tidy
    tidy = tidy.copy()
    for i, row in tidy.iterrows():
        if isinstance(row["reference"], str) and not row["term"].startswith(exposure_prefix) \
                and row["term"].endswith("]"):
            level = row["term"][len(row["variable"]) + 1:-1]
            tidy.at[i, "label"] = (f"{row['variable_label']}: {code_label(level)} vs "
                                   f"{lower_first(code_label(row['reference']))}")
    return tidy


_HEADS = {"univariable": "Univariable", "multivariable": "Multivariable"}


def _cells(m: pd.DataFrame, head: str) -> dict:
    if not len(m):
        return {f"{head} HR (95% CI)": "", f"{head} p": ""}
    m = m.iloc[0]
    return {f"{head} HR (95% CI)": ci(m["hr"], m["hr_lower"], m["hr_upper"], 2), f"{head} p": p_value(m["p"])}


def _n_events(n, events) -> str:
    return f"{count(n)} ({count(events)})"


def _display(tidy: pd.DataFrame) -> pd.DataFrame:
    """One row per variable; a categorical variable gets a heading row, its reference level
    ("Resection (ref)", HR —) and one row per other level. ``N (events)`` is the univariable model's;
    the first row gives the multivariable model's."""
    if tidy.empty:
        return tidy
    multi = tidy[tidy["model"] == "multivariable"]
    out = []
    if len(multi):
        first = multi.iloc[0]
        out.append({"Variable": "Multivariable model, N (events)", "N (events)": "",
                    **{f"{h} {c}": "" for h in _HEADS.values() for c in ("HR (95% CI)", "p")},
                    "Multivariable HR (95% CI)": _n_events(first["n"], first["n_events"])})
    has_var = "variable" in tidy
    keys = list(dict.fromkeys(tidy["variable"] if has_var else tidy["label"]))
    for key in keys:
        rows = tidy[tidy["variable" if has_var else "label"] == key]
        uni = rows[rows["model"] == "univariable"]
        n = _n_events(uni["n"].iloc[0], uni["n_events"].iloc[0]) if len(uni) else ""
        ref = rows["reference"].iloc[0] if has_var else None
        if has_var and rows["variable_label"].iloc[0] is not None and isinstance(ref, str):
            in_multi = (rows["model"] == "multivariable").any()
            out.append({"Variable": rows["variable_label"].iloc[0], "N (events)": n})
            out.append({"Variable": f"{INDENT}{code_label(ref)} (ref)", "N (events)": "",
                        "Univariable HR (95% CI)": EM_DASH, "Univariable p": "",
                        "Multivariable HR (95% CI)": EM_DASH if in_multi else "", "Multivariable p": ""})
            for term in dict.fromkeys(rows["term"]):
                level = term[len(key) + 1:-1]
                t = rows[rows["term"] == term]
                row = {"Variable": f"{INDENT}{code_label(level)}", "N (events)": ""}
                for model, head in _HEADS.items():
                    row.update(_cells(t[t["model"] == model], head))
                out.append(row)
            continue
        for lab in dict.fromkeys(rows["label"]):   # a numeric or binary variable: one row
            t = rows[rows["label"] == lab]
            row = {"Variable": lab, "N (events)": n}
            for model, head in _HEADS.items():
                row.update(_cells(t[t["model"] == model], head))
            out.append(row)
    cols = ["Variable", "N (events)"] + [f"{h} {c}" for h in _HEADS.values() for c in ("HR (95% CI)", "p")]
    return pd.DataFrame(out, columns=cols).fillna("")
