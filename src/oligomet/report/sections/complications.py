"""Complications of the index procedure: one table (a column per group) and a sentence."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..document import INDENT, StudyResults, count, num, p_value, pct
from ..tables import ReportTable


def build_complications(doc: StudyResults, r) -> None:
    """``r``: ``entry`` ("All", each group, "tests"), ``by_group``, ``binaries`` and ``extra`` ((label, column)
    pairs) and ``tidy``."""
    entry, tests = r.entry, r.entry["tests"]
    names = [n for n in entry if n != "tests"]
    rows = []

    def row(label, fn, key=None):
        out = {"Measure": label}
        for n in names:
            out[n] = fn(entry[n])
        if r.by_group:
            t = tests.get(key, {}) if key else {}
            out["p"] = p_value(t.get("p", np.nan)) if t else ""
        rows.append(out)

    # display: one row per measure, one column per group; the grades as levels under one heading (as Table 1
    # shows a categorical variable), so that the label column stays narrow

    def n_pct(k, n):
        return f"{count(k)} ({pct(k / n)})" if n else "0"

    row("Patients", lambda e: count(e["n"]))
    rows.append({"Measure": "Worst Clavien–Dindo grade, n (%)", **{n: "" for n in names},
                 **({"p": ""} if r.by_group else {})})
    row(f"{INDENT}None", lambda e: n_pct(e["grades"]["none"], e["n"]))
    for gr in [k for k in entry["All"]["grades"] if k not in ("none", "unknown")]:   # Clavien–Dindo order
        row(f"{INDENT}{gr}", lambda e, gr=gr: n_pct(e["grades"][gr], e["n"]))
    if any(entry[n]["grades"].get("unknown", 0) for n in names):   # missing as its own row, as in Table 1
        row(f"{INDENT}Unknown", lambda e: n_pct(e["grades"].get("unknown", 0), e["n"]))
    for label, col in r.binaries:
        row(label, lambda e, col=col: f"{count(e[col]['n'])}/{count(e[col]['n_known'])} ({pct(e[col]['rate'])})",
            key=col)
    row("CCI, median [IQR]", lambda e: f"{num(e['cci']['median'])} [{num(e['cci']['q25'])}–{num(e['cci']['q75'])}]",
        key="cci")
    doc.section("complications", "Complications").items.append(
        ReportTable("complications", "Complications of the index procedure", r.tidy, pd.DataFrame(rows),
                    note="Worst Clavien–Dindo grade per procedure; CCI: Comprehensive Complication Index. "
                         "Tests: Fisher's exact (2 groups) or chi-square; CCI: Kruskal–Wallis."))
    al = entry["All"]
    doc.results_text.append(
        f"Clavien–Dindo grade ≥ III complications followed {pct(al['cd_grade_3plus']['rate'])} of index "
        f"procedures; 90-day mortality was {pct(al['death_90d']['rate'])}" +
        "".join(f"; {_lower_first(label)} {pct(al[c]['rate'])}" for label, c in r.extra) + ".")
    doc.methods.append("Complications were graded with the Clavien–Dindo classification and summarised with the "
                       "Comprehensive Complication Index.")


def _lower_first(label: str) -> str:
    """Lower case inside a sentence, but not acronyms: "CTCAE ≥ 3 events" stays, "Minimally invasive" does not."""
    words = label.split(" ")
    return " ".join(w if any(c.isupper() for c in w[1:]) else w.lower() for w in words)
