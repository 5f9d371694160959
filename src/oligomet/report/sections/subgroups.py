"""Subgroup analyses: one table per subgroup variable, one combined forest plot per endpoint, and the
interaction sentences. Table and figure say which hazard ratio they show (adjusted, weighted or crude) and
give the events / patients of each arm."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..document import FigureItem, StudyResults, ci, join_and, lower_first, p_text, p_value
from ..figures.subgroup_forest import subgroup_forest_figure
from ..tables import ReportTable
from .describe import _PER

_MARKS = "¹²³⁴⁵⁶⁷⁸⁹"

_KIND = {"adjusted": "Adjusted HR", "weighted": "Weighted HR", "crude": "Unadjusted HR"}


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


def _kind_text(sg) -> str:
    """'adjusted for age and ECOG', 'unadjusted', 'IPTW-weighted': what the HRs of one subgroup variable are."""
    if sg.hr_kind == "adjusted":
        # the model labels' "(per year)" is the unit of a covariate's HR, not part of its name
        return "adjusted for " + join_and([lower_first(_PER.sub("", a)) for a in sg.adjusted_for])
    return {"weighted": "IPTW-weighted", "crude": "unadjusted"}.get(sg.hr_kind, sg.hr_kind)


def _counts(cells: pd.DataFrame, endpoint: str, level: str, arms) -> dict[str, str]:
    c = cells[(cells["endpoint"] == endpoint) & (cells["level"].astype(str) == level)].set_index("arm")
    return {arm: f"{int(c.loc[arm, 'events'])}/{int(c.loc[arm, 'n'])}" for arm in arms}


def _arm_header(arm: str) -> str:
    return f"{arm}\nevents/N"


_WEIGHTED_TEST = ("robust Wald test of exposure × subgroup in the propensity-weighted cohort (a weighted fit has no "
                  "true likelihood for an LR test).")


def _test_note(r) -> str:
    if r.weighted:
        return ("propensity-weighted cohort: weighted Cox models with robust SEs; n counts patients. Interaction: "
                + _WEIGHTED_TEST)
    return "interaction: likelihood-ratio test of exposure × subgroup in Cox."


def _table(r, sg) -> ReportTable:
    tidy = sg.rows
    many = len(r.arms) > 2
    counts = [_counts(sg.cells, e, lv, r.arms) for e, lv in zip(tidy["endpoint"], tidy["level"])]
    disp = pd.DataFrame({"Endpoint": tidy["endpoint"],
                         "Subgroup": tidy["level"] + (" · " + tidy["arm"] + f" vs {r.reference}" if many else ""),
                         **{f"{arm}: events/N": [c[arm] for c in counts] for arm in r.arms},
                         f"{_KIND.get(sg.hr_kind, 'HR')} (95% CI)":
                             [ci(a, b, c, 2) for a, b, c in
                              tidy[["hr", "hr_lower", "hr_upper"]].itertuples(index=False)],
                         "p": tidy["p"].map(p_value),
                         "p interaction": tidy.get("p_interaction", pd.Series(np.nan, index=tidy.index))
                         .map(p_value)})
    return ReportTable(f"subgroup_{sg.key}", f"Subgroup: {sg.name}", tidy, disp,
                       note=f"Hazard ratio of {lower_first(r.exposure_label)} vs {r.reference} within each level "
                            f"({_kind_text(sg)}); " + _test_note(r))


def _forest_rows(r, endpoint: str, tables: list, marks: dict) -> pd.DataFrame:
    """Heading row per subgroup variable (with the mark of its kind of HR, when they differ), then its levels
    (and contrasts when there are more than 2 arms)."""
    out = []
    for sg in tables:
        part = sg.rows[sg.rows["endpoint"] == endpoint]
        if part.empty:
            continue
        p = dict(sg.interactions).get(endpoint, np.nan)
        out.append({"label": sg.name + marks.get(_kind_text(sg), ""), "heading": True,
                    "hr": np.nan, "hr_lower": np.nan, "hr_upper": np.nan, "p_interaction": p})
        for row in part.itertuples():
            label = row.level + (f" · {row.arm}" if len(r.arms) > 2 else "")
            out.append({"label": label, "heading": False, "hr": row.hr, "hr_lower": row.hr_lower,
                        "hr_upper": row.hr_upper, "p_interaction": np.nan,
                        **{_arm_header(a): v for a, v in _counts(sg.cells, endpoint, row.level, r.arms).items()}})
    return pd.DataFrame(out)


def _forest(r, endpoint: str, tables: list) -> FigureItem | None:
    tables = [sg for sg in tables if (sg.rows["endpoint"] == endpoint).any()]
    kinds = list(dict.fromkeys(_kind_text(sg) for sg in tables))
    one_kind = len(kinds) == 1
    marks = {} if one_kind else {k: _MARKS[i % len(_MARKS)] for i, k in enumerate(kinds)}
    rows = _forest_rows(r, endpoint, tables, marks)
    if rows.empty:
        return None
    first = tables[0]
    ratio = f"{_KIND.get(first.hr_kind, 'HR')} (95% CI)" if one_kind else "HR (95% CI)"
    vs = f"{r.arms[1]} vs {r.reference}" if len(r.arms) == 2 else f"each group vs {r.reference}"
    kind_note = [f"HR {kinds[0]}."] if one_kind else [f"{m} HR {k}." for k, m in marks.items()]
    test = _WEIGHTED_TEST if r.weighted else "likelihood-ratio test of exposure × subgroup in a Cox model."
    note = "\n".join(kind_note + ["p interaction: " + test])
    key = "".join(ch if ch.isalnum() else "_" for ch in endpoint.lower()).strip("_")
    title = f"{endpoint}: {r.exposure_label}, {vs}"
    return FigureItem(f"forest_subgroups_{key}", f"Subgroups: {endpoint}", subgroup_forest_figure,
                      caption=f"Hazard ratio ({_kind_text(first) if one_kind else 'as marked per subgroup'}) of "
                              f"{lower_first(r.exposure_label)} ({vs}) within subgroups, with the events / patients "
                              f"of each group and the interaction p of each subgroup variable.",
                      data=dict(rows=rows, count_columns=[_arm_header(a) for a in r.arms], title=title,
                                ratio_label=ratio, note=note,
                                favours=(f"favours {r.arms[1]}", f"favours {r.reference}") if len(r.arms) == 2
                                else None))


def build_subgroups(doc: StudyResults, r) -> None:
    """``r``: ``exposure_label``, ``reference``, ``arms`` and ``subgroups`` (each: ``name``, ``key``, ``rows``,
    ``cells``, ``interactions``, ``hr_kind``, ``adjusted_for``)."""
    sec = doc.section("subgroups", "Subgroup analyses")
    for sg in r.subgroups:
        if sg.interactions:
            doc.results_text.append(_interaction_sentence(r.exposure_label, sg))
        if not sg.rows.empty:
            sec.items.append(_table(r, sg))
    endpoints = list(dict.fromkeys(e for sg in r.subgroups if not sg.rows.empty for e in sg.rows["endpoint"]))
    for endpoint in endpoints:
        fig = _forest(r, endpoint, [sg for sg in r.subgroups if not sg.rows.empty])
        if fig is not None:
            sec.items.append(fig)
    if r.weighted:
        doc.methods.append("Effect modification was assessed within prespecified subgroups in the propensity-weighted "
                           "cohort (weighted Cox models with robust standard errors) with the robust Wald test of "
                           "the exposure × subgroup interaction.")
    else:
        doc.methods.append("Effect modification was assessed within prespecified subgroups with the likelihood-ratio "
                           "test of the exposure × subgroup interaction in a Cox model.")
