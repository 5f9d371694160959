"""The complications table: grades as levels under one heading, counts with separators, unknown as a row."""
from __future__ import annotations

from types import SimpleNamespace

import pandas as pd

from oligomet.report.document import StudyResults
from oligomet.report.sections.complications import build_complications

GRADES = ("I", "II", "IIIa", "IIIb", "IVa", "IVb", "V")


def _entry(n, none, grades, unknown):
    g = dict(zip(GRADES, grades))
    return {"n": n, "grades": {**g, "none": none, "unknown": unknown},
            "cd_grade_3plus": {"n": sum(grades[2:]), "n_known": n - unknown, "rate": sum(grades[2:]) / (n - unknown)},
            "death_90d": {"n": 30, "n_known": n, "rate": 30 / n},
            "cci": {"median": 0.0, "q25": 0.0, "q75": 8.7}}


def _build(unknown_a: int, unknown_b: int):
    a = _entry(1200, 1000, (100, 50, 20, 10, 5, 3, 2), unknown_a)
    b = _entry(800, 700, (50, 20, 10, 5, 3, 2, 0), unknown_b)
    al = {k: v for k, v in _entry(2000, 1700, (150, 70, 30, 15, 8, 5, 2), unknown_a + unknown_b).items()}
    tests = {"cd_grade_3plus": {"p": 0.2}, "death_90d": {"p": 0.04}, "cci": {"p": 0.5}}
    r = SimpleNamespace(entry={"All": al, "A": a, "B": b, "tests": tests}, by_group=True,
                        binaries=[("Clavien–Dindo grade ≥ III", "cd_grade_3plus"), ("90-day mortality", "death_90d")],
                        extra=[], tidy=pd.DataFrame())
    doc = StudyResults(title="t", name="t")
    build_complications(doc, r)
    return doc.tables[0].display.set_index("Measure")


def test_grades_are_levels_under_one_heading_with_separated_counts():
    d = _build(0, 0)
    labels = [x.strip() for x in d.index]
    heading = labels.index("Worst Clavien–Dindo grade, n (%)")
    assert labels[heading + 1:heading + 9] == ["None", *GRADES]
    assert "Unknown" not in labels   # no patient without a grade: no row
    assert d.loc["Patients", "All"] == "2,000"
    assert d.iloc[heading + 1]["All"] == "1,700 (85.0%)"     # 1700 / 2000
    assert d.iloc[heading + 2]["A"] == "100 (8.3%)"          # 100 / 1200
    assert d.loc["Clavien–Dindo grade ≥ III", "All"] == "60/2,000 (3.0%)"
    assert d.loc["90-day mortality", "p"] == "0.040"


def test_patients_without_a_grade_are_their_own_row():
    d = _build(12, 0)
    unknown = d[[x.strip() == "Unknown" for x in d.index]]
    assert list(unknown.iloc[0][["All", "A", "B"]]) == ["12 (0.6%)", "12 (1.0%)", "0 (0.0%)"]
