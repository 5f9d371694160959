"""Subgroup analyses: one table and one forest plot per subgroup variable, and the interaction sentences."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..document import FigureItem, StudyResults, ci, join_and, lower_first, p_text, p_value
from ..figures import forest_figure
from ..tables import ReportTable


def _interaction_sentence(exposure_label: str, sg) -> str:
    """A non-significant interaction is 'no significant interaction', never 'the effect did not differ'."""
    def part(items, word="and"):
        return join_and([f"{lower_first(t)} (interaction {p_text(p)})" for t, p in items], word)
    sig = [(t, p) for t, p in sg.interactions if p < 0.05]
    ns = [(t, p) for t, p in sg.interactions if not p < 0.05]
    what = f"{lower_first(exposure_label)} and {lower_first(sg.name)}"
    text = []
    if sig:
        text.append(f"The effect of {lower_first(exposure_label)} varied with {lower_first(sg.name)} for "
                    f"{part(sig)}")
    if ns:
        text.append(f"no significant interaction between {what} was found for {part(ns, 'or')}")
    out = "; ".join(text)
    return out[0].upper() + out[1:] + "."


def build_subgroups(doc: StudyResults, r) -> None:
    """``r``: ``exposure_label`` and ``subgroups`` (each: ``name``, ``key``, ``rows`` (tidy), ``interactions``)."""
    sec = doc.section("subgroups", "Subgroup analyses")
    for sg in r.subgroups:
        if sg.interactions:
            doc.results_text.append(_interaction_sentence(r.exposure_label, sg))
        tidy = sg.rows
        if tidy.empty:
            continue
        disp = pd.DataFrame({"Endpoint": tidy["endpoint"], "Subgroup": tidy["level"], "n": tidy["n"],
                             "HR (95% CI)": [ci(a, b, c, 2) for a, b, c in tidy[["hr", "hr_lower", "hr_upper"]]
                                             .itertuples(index=False)],
                             "p": tidy["p"].map(p_value),
                             "p interaction": tidy.get("p_interaction", pd.Series(np.nan, index=tidy.index))
                             .map(p_value)})
        sec.items.append(ReportTable(f"subgroup_{sg.key}", f"Subgroup: {sg.name}", tidy, disp,
                                     note="HR of the exposure (vs the reference group) within each level; "
                                          + (_WEIGHTED_NOTE if r.weighted else
                                             "interaction: likelihood-ratio test of exposure × subgroup in Cox.")))
        sec.items.append(FigureItem(f"forest_subgroup_{sg.key}", f"Subgroup: {sg.name}", forest_figure,
                                    data=dict(frame=tidy.assign(section=tidy["endpoint"],
                                                                label=tidy["subgroup"] + ": " + tidy["level"]),
                                              title=f"Subgroup: {sg.name}")))
    if r.weighted:
        doc.methods.append("Effect modification was assessed within prespecified subgroups in the propensity-weighted "
                           "cohort (weighted Cox models with robust standard errors) with the robust Wald test of "
                           "the exposure × subgroup interaction.")
    else:
        doc.methods.append("Effect modification was assessed within prespecified subgroups with the likelihood-ratio "
                           "test of the exposure × subgroup interaction in a Cox model.")


_WEIGHTED_NOTE = ("propensity-weighted cohort: weighted Cox models with robust SEs; n counts patients. Interaction: "
                  "robust Wald test of exposure × subgroup (a weighted fit has no true likelihood for an LR test).")
