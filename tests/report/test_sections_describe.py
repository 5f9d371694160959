"""Table 1 as gtsummary's tbl_summary: own labels, codes in words, small integers by level, Unknown rows,
tests in footnotes, pseudo-population for weighted tables; the tidy data keeps p-values and SMDs."""
from __future__ import annotations

import warnings
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import oligomet as om
from oligomet.describe.table_one import discrete_columns
from oligomet.report.document import StudyResults
from oligomet.report.sections.describe import build_table_one, table_label

LABELS = {"age": "Age (per year)", "ecog": "ECOG performance status (per point)", "ras": "RAS status",
          "liver_only": "Liver only (yes vs no)"}


@pytest.fixture
def data():
    rng = np.random.default_rng(5)
    n = 300
    arm = np.where(rng.random(n) < 0.5, "Upfront", "Delayed")
    ras = rng.choice(["wild_type", "mutant"], n).astype(object)
    ras[:12] = None                                   # 12 unknown
    return pd.DataFrame({"arm": arm, "age": rng.normal(64, 9, n), "ecog": rng.choice([0, 1, 2], n, p=[.5, .4, .1]),
                         "ras": ras, "liver_only": rng.integers(0, 2, n), "w": rng.uniform(0.5, 2.5, n)})


def _result(data, weights=None):
    variables = ["age", "ecog", "ras", "liver_only"]
    kw = {"weights": weights} if weights else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t1 = om.table_one(data, by="arm", variables=variables, **kw)
        discrete = discrete_columns(data, variables)
        levels = om.table_one(data, by="arm", variables=discrete, categorical=discrete, **kw).table
    r = SimpleNamespace(key="before", title="Table 1", tidy=t1.table, tests=t1.tests, levels=levels, notes=[],
                        by_group=True, labels=LABELS, binary=frozenset({"liver_only"}), weighted=t1.weighted)
    doc = StudyResults("t", "t")
    build_table_one(doc, r)
    return doc.tables[0], t1


def test_labels_levels_unknown_and_footnotes(data):
    table, t1 = _result(data)
    d = table.display
    first = d.columns[1]
    assert d.columns[0] == "Characteristic" and first.startswith(("Delayed (N\u00a0=\u00a0", "Upfront (N\u00a0=\u00a0"))
    rows = [v.strip() for v in d["Characteristic"]]
    assert "Age, years, mean (SD)" in rows and not any("per year" in v for v in rows)
    # ECOG: n (%) per level, not "0.0 [0.0, 1.0]"
    i = rows.index("ECOG performance status, n (%)")
    assert rows[i + 1:i + 4] == ["0", "1", "2"]
    n0 = int(((data["ecog"] == 0) & (data["arm"] == first.split(" (")[0])).sum())
    assert d.iloc[i + 1, 1].startswith(f"{n0} (")
    assert not d[first].str.contains(r"\[").any()
    # codes in words, missing as its own row with the count
    j = rows.index("RAS status, n (%)")
    assert rows[j + 1:j + 4] == ["Mutant", "Wild type", "Unknown"]
    assert d.iloc[j + 3, 1:3].astype(int).sum() == 12
    # a binary variable is one row (the "yes" count)
    assert "Liver only, n (%)" in rows and "Liver only" not in rows
    # consistent decimals: every percentage with one decimal
    assert d[first].str.extractall(r"\((\d+\.\d+)%\)")[0].str.split(".").str[1].str.len().eq(1).all()
    # tests in footnotes, not a column; the p-value carries the mark
    assert "test" not in d.columns and "p" in d.columns
    assert "Student's t-test" in table.note and d.loc[d["Characteristic"] == "Age, years, mean (SD)", "p"].item()[-1] \
        in "ᵃᵇᶜᵈ"
    # the tidy data keeps the p-values and SMDs of every variable
    assert {"p", "smd", "test"} <= set(table.data.columns)
    age = table.data[table.data["variable"] == "age"]
    assert age["p"].iloc[0] == pytest.approx(t1.tests.set_index("variable").loc["age", "p"])


def test_weighted_table_is_a_pseudo_population(data):
    table, _ = _result(data, weights="w")
    d = table.display
    assert "pseudo-population" in table.title and "pseudo-population" in table.note
    assert all("pseudo-population N\u00a0=\u00a0" in c for c in d.columns[1:3])
    assert "p" not in d.columns                              # no design-based tests
    # counts are sums of weights rounded to whole patients
    counts = d.iloc[:, 1].str.extract(r"^([\d,.]+) \([\d.]+%\)$")[0].dropna()
    assert len(counts) and not counts.str.contains(r"\.").any()


def test_table_label():
    assert table_label("Age (per year)") == "Age, years"
    assert table_label("Largest lesion diameter (per mm)") == "Largest lesion diameter, mm"
    assert table_label("Number of lesions (per lesion)") == "Number of lesions"
    assert table_label("Liver only (yes vs no)") == "Liver only"
    assert table_label("CEA") == "CEA"


def test_discrete_columns(data):
    assert discrete_columns(data, ["age", "ecog", "ras", "liver_only"]) == ["ecog"]
