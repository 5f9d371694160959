"""Table 1, with the protocol's labels, yes/no for binary variables and each variable named once."""
from __future__ import annotations

import pandas as pd

from ..document import StudyResults, p_value
from ..tables import ReportTable

_YES_NO = {0: "no", 1: "yes", "0": "no", "1": "yes", "0.0": "no", "1.0": "yes"}


def _display(r) -> pd.DataFrame:
    wide = r.wide.copy()
    wide["level"] = [_YES_NO.get(lv, lv) if var in r.binary else lv for var, lv in zip(wide["variable"], wide["level"])]
    wide["variable"] = wide["variable"].map(lambda v: r.labels.get(v, v))
    wide["p"] = wide["p"].map(lambda x: p_value(x) if pd.notna(x) else "")
    wide["SMD"] = wide["SMD"].map(lambda x: f"{x:.3f}" if pd.notna(x) else "")
    wide["test"] = wide["test"].fillna("")
    if not r.by_group:  # one column: no tests, no SMDs
        wide = wide.drop(columns=["p", "test", "SMD"])
    # show each variable's name once, on its first row
    wide.loc[wide["variable"].duplicated(), "variable"] = ""
    return wide.rename(columns={"variable": "Variable", "level": ""})


def build_table_one(doc: StudyResults, r) -> None:
    """``r``: ``key``, ``title``, ``tidy`` and ``wide`` frames, ``notes``, ``by_group``, ``labels``, ``binary``."""
    doc.section("table1", "Table 1: patient characteristics").items.append(
        ReportTable(f"table1_{r.key}", r.title, r.tidy, _display(r),
                    note="n (%), mean (SD) or median [IQR]; p: test as named in the test column"
                         " (none for weighted tables); SMD: standardised mean difference. " + " ".join(r.notes)))
