"""Table 1 as gtsummary's ``tbl_summary`` shows it: labels of its own, codes in words, small-integer
variables as n (%) per level, missing values as an "Unknown" row, group sizes in the column headers,
the tests named in footnotes; a weighted table is labelled a pseudo-population.

The tidy data written to CSV/XLSX keeps every number, with each variable's test, p-value and SMD.
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from ..document import INDENT, StudyResults, code_label, p_value
from ..tables import ReportTable

OVERALL = "Overall"
_MARKS = "ᵃᵇᶜᵈᵉᶠᵍʰ"
_TEST_NAMES = {"Chi-square": "Pearson's chi-squared test", "Chi-square (Yates)": "Pearson's chi-squared test with "
               "Yates' continuity correction", "Fisher's exact": "Fisher's exact test",
               "Wilcoxon rank-sum": "Wilcoxon rank-sum test", "Kruskal-Wallis": "Kruskal–Wallis test",
               "t-test": "Student's t-test", "ANOVA": "one-way ANOVA"}
# the "(per ...)" of a model label is the unit of its hazard ratio; Table 1 shows the unit, or nothing
_UNITS = {"year": "years", "month": "months", "mm": "mm", "cm": "cm", "kg": "kg"}
_PER = re.compile(r"\s*\((per [^)]*|yes vs no)\)\s*$")


def table_label(label: str) -> str:
    """Table 1's own label from the protocol's (model) label: 'Age (per year)' -> 'Age, years',
    'ECOG performance status (per point)' -> 'ECOG performance status', 'Liver only (yes vs no)' -> 'Liver only'."""
    m = _PER.search(label)
    if not m:
        return label
    base = label[:m.start()]
    unit = _UNITS.get(m.group(1)[4:].strip()) if m.group(1).startswith("per ") else None
    return f"{base}, {unit}" if unit else base


def _level(lv) -> str:
    """'wild_type' -> 'Wild type'; '2.0' (an ECOG level) -> '2'."""
    try:
        x = float(lv)
    except (TypeError, ValueError):
        return code_label(lv)
    return str(int(x)) if x.is_integer() else f"{x:g}"


def _count(n: float, weighted: bool) -> str:
    # a pseudo-population's counts are sums of weights: whole numbers are precise enough
    return f"{int(round(n)):,}" if weighted or float(n).is_integer() else f"{n:.1f}"


def _cell(row, weighted: bool) -> str:
    if row["kind"] == "categorical":
        return "" if pd.isna(row["percent"]) else f"{_count(row['n'], weighted)} ({row['percent']:.1f}%)"
    if row["kind"] == "nonnormal":
        return f"{row['median']:.1f} [{row['q1']:.1f}, {row['q3']:.1f}]" if pd.notna(row["median"]) else ""
    return f"{row['mean']:.1f} ({row['sd']:.1f})" if pd.notna(row["mean"]) else ""


def _is_yes_level(lv) -> bool:
    return str(lv).lower() in ("1", "1.0", "true", "yes")


def _display(r) -> tuple[pd.DataFrame, list[str]]:
    """The display frame and the footnotes naming the tests."""
    tidy, weighted = r.tidy, getattr(r, "weighted", False)
    levels = getattr(r, "levels", pd.DataFrame())
    groups = list(dict.fromkeys(tidy["group"]))
    sizes = tidy[tidy["variable"] == "N"].set_index("group")["n"]
    who = "pseudo-population N" if weighted else "N"
    heads = {g: f"{g} ({who}\u00a0=\u00a0{_count(sizes.get(g, np.nan), weighted)})" for g in groups}  # kept on one line
    tests = r.tests.set_index("variable") if len(getattr(r, "tests", pd.DataFrame())) else pd.DataFrame()
    marks: dict[str, str] = {}
    out = []

    def row(label, cells, p="", smd=""):
        out.append({"Characteristic": label, **{heads[g]: cells.get(g, "") for g in groups}, "p": p, "SMD": smd})

    for var in dict.fromkeys(tidy.loc[tidy["variable"] != "N", "variable"]):
        t = tidy[tidy["variable"] == var]
        if len(levels) and var in set(levels["variable"]):   # small integers: n (%) per level
            t = levels[levels["variable"] == var]
        label = table_label(r.labels.get(var, var))
        p, smd = "", ""
        if r.by_group and var in tests.index:
            test = tests.loc[var]
            if pd.notna(test["p"]):
                name = _TEST_NAMES.get(str(test["test"]), str(test["test"]))
                mark = marks.setdefault(name, _MARKS[len(marks) % len(_MARKS)])
                p = p_value(test["p"]) + mark
            smd = f"{test['smd']:.2f}" if pd.notna(test["smd"]) else ""
        kind = t["kind"].iloc[0]
        if kind != "categorical":
            stat = "median [IQR]" if kind == "nonnormal" else "mean (SD)"
            row(f"{label}, {stat}", {g: _cell(x, weighted) for g, x in t.set_index("group").iterrows()}, p, smd)
        else:
            lvls = list(dict.fromkeys(t["level"]))
            if var in r.binary or (len(lvls) == 2 and any(_is_yes_level(lv) for lv in lvls)):
                yes = next((lv for lv in lvls if _is_yes_level(lv)), lvls[-1])
                tt = t[t["level"] == yes].set_index("group")
                row(f"{label}, n (%)", {g: _cell(x, weighted) for g, x in tt.iterrows()}, p, smd)
            else:
                row(f"{label}, n (%)", {}, p, smd)
                for lv in lvls:
                    tt = t[t["level"] == lv].set_index("group")
                    row(f"{INDENT}{_level(lv)}", {g: _cell(x, weighted) for g, x in tt.iterrows()})
        miss = t.groupby("group", sort=False)["missing"].first()
        if miss.fillna(0).sum() > 0:
            row(f"{INDENT}Unknown", {g: _count(miss.get(g, 0), weighted) for g in groups})
    disp = pd.DataFrame(out)
    if not r.by_group or not len(tests) or disp["p"].eq("").all():
        disp = disp.drop(columns=["p"])
    if not r.by_group:
        disp = disp.drop(columns=["SMD"])
    notes = [f"{m} {name}" for name, m in marks.items()]
    return disp, notes


def _tidy(r) -> pd.DataFrame:
    """The long table with each variable's test, p-value and SMD (for CSV/XLSX)."""
    tests = getattr(r, "tests", pd.DataFrame())
    if not len(tests):
        return r.tidy
    return r.tidy.merge(tests[["variable", "test", "p", "smd"]], on="variable", how="left")


def build_table_one(doc: StudyResults, r) -> None:
    """``r``: ``key``, ``title``, ``tidy`` (long), ``tests``, ``levels`` (small-integer variables by level),
    ``notes``, ``by_group``, ``labels``, ``binary``, ``weighted``."""
    disp, test_notes = _display(r)
    weighted = getattr(r, "weighted", False)
    note = ("n (%), mean (SD) or median [IQR]; Unknown: patients with the value missing (not in the "
            "percentages). SMD: standardised mean difference. ")
    if weighted:
        note += ("Weighted pseudo-population: counts are sums of weights, rounded to whole patients; "
                 "p-values are omitted (design-based tests are not implemented). ")
    if test_notes:
        note += "p-values: " + "; ".join(test_notes) + "."
    title = r.title + (" (weighted pseudo-population)" if weighted else "")
    doc.section("table1", "Patient characteristics").items.append(
        ReportTable(f"table1_{r.key}", title, _tidy(r), disp, note=note.strip()))
