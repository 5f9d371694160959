"""Table writers: CSV keeps the numbers, XLSX one sheet per table, DOCX the display table, HTML escaped."""
from __future__ import annotations

import numpy as np
import pandas as pd
from docx import Document
from openpyxl import load_workbook

from oligomet.report.tables import ReportTable, html_table, write_csv, write_docx, write_xlsx


def table():
    data = pd.DataFrame({"group": ["A", "B"], "median": [12.345678901234, np.nan]})
    disp = pd.DataFrame({"Group": ["A", "B"], "Median": ["12.3", "NR"]})
    return ReportTable("km", "KM <medians>", data, disp, note="NR: not reached")


def test_csv_full_precision_and_missing(tmp_path):
    p = write_csv(table(), tmp_path)
    back = pd.read_csv(p)
    assert back["median"][0] == 12.345678901234 and np.isnan(back["median"][1])


def test_xlsx_sheets_and_values(tmp_path):
    other = ReportTable("cox", "Cox", pd.DataFrame({"hr": [0.5]}, index=pd.Index(["age"], name="term")))
    p = write_xlsx([table(), other], tmp_path / "t.xlsx")
    wb = load_workbook(p)
    assert wb.sheetnames == ["km", "cox"]
    ws = wb["km"]
    assert ws["A1"].value == "KM <medians>" and ws["B3"].value == 12.345678901234 and ws["B4"].value is None
    assert wb["cox"]["A2"].value == "term" and wb["cox"]["A3"].value == "age"


def test_docx_has_display_table(tmp_path):
    p = write_docx([table()], tmp_path / "t.docx", heading="Study")
    doc = Document(p)
    t = doc.tables[0]
    assert [c.text for c in t.rows[0].cells] == ["Group", "Median"]
    assert [c.text for c in t.rows[2].cells] == ["B", "NR"]
    assert any(par.text == "NR: not reached" for par in doc.paragraphs)


def test_html_escapes():
    h = html_table(table())
    assert "KM &lt;medians&gt;" in h and "<td>NR</td>" in h and "NR: not reached" in h
