"""XLSX writer (openpyxl): per table a sheet of tidy numbers, caption in the first row; with
``formatted=True`` also, first, a formatted sheet of the display strings as in the report (bold header,
column widths from content, frozen header, wrapped text). Every string is stored as text (never a
formula, see oligomet._spreadsheet)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from openpyxl.utils import get_column_letter

from ..._spreadsheet import keep_text_in_sheet
from .model import ReportTable, format_cell

_MAX_SHEET = 31  # Excel's limit on sheet names


def _cell(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v if isinstance(v, (int, float, str, bool)) else str(v)


_MAX_WIDTH = 60     # characters; longer text wraps
_RULE = Side(style="thin", color="000000")


def _sheet_name(stem: str, used: set[str]) -> str:
    name = stem[:_MAX_SHEET]
    k = 1
    while name in used:
        k += 1
        name = f"{stem[:_MAX_SHEET - 3]}_{k}"
    used.add(name)
    return name


def write_xlsx(tables: Sequence[ReportTable], path: str | Path, *, formatted: bool = False) -> Path:
    """Write every table to one workbook: the tidy sheet is named after ``table.name``; with
    ``formatted=True`` the display sheets come first (named after the table) and the tidy sheets
    follow as ``<name> data``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    if formatted:
        for t in tables:
            _display_sheet(wb.create_sheet(_sheet_name(t.name, used)), t)
    for t in tables:
        ws = wb.create_sheet(_sheet_name(f"{t.name[:_MAX_SHEET - 5]} data" if formatted else t.name, used))
        ws.append([t.title])
        ws["A1"].font = Font(bold=True)
        frame = t.data
        keep_index = not isinstance(frame.index, pd.RangeIndex)
        if keep_index:
            frame = frame.reset_index()
        ws.append([str(c) for c in frame.columns])
        for c in ws[2]:
            c.font = Font(bold=True)
        for row in frame.itertuples(index=False, name=None):
            ws.append([_cell(v) for v in row])
        ws.freeze_panes = "A3"
        if t.note:
            ws.append([])
            ws.append([t.note])
        keep_text_in_sheet(ws)   # labels such as "=HYPERLINK(...)" stay text, never a live formula
    _fix_properties(wb)
    wb.save(path)
    return path


def _display_sheet(ws, t: ReportTable) -> None:
    """The table as the report shows it: caption, bold header over a rule, one row per line, note."""
    frame = t.shown if isinstance(t.shown.index, pd.RangeIndex) else t.shown.reset_index()
    header = [str(c) for c in frame.columns]
    body = [[format_cell(v) for v in row] for row in frame.itertuples(index=False, name=None)]
    ws.append([t.title])
    ws["A1"].font = Font(bold=True)
    ws.append(header)
    for c in ws[2]:
        c.font = Font(bold=True)
        c.border = Border(top=_RULE, bottom=_RULE)
        c.alignment = Alignment(wrap_text=True, vertical="bottom")
    for row in body:
        ws.append([v or None for v in row])   # an empty cell, not an empty string
    for r in ws.iter_rows(min_row=3, max_row=ws.max_row):
        for c in r:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    if body:
        for c in ws[ws.max_row]:
            c.border = Border(bottom=_RULE)
    for j in range(len(header)):
        longest = max(len(line) for r in [header] + body for line in (r[j] or " ").split("\n"))
        ws.column_dimensions[get_column_letter(j + 1)].width = min(max(longest + 2, 8), _MAX_WIDTH)
    ws.freeze_panes = "B3"   # caption and header stay in view, and the row labels
    if t.note:
        ws.append([])
        ws.append([t.note])
        ws.cell(ws.max_row, 1).font = Font(italic=True)
    keep_text_in_sheet(ws)


def _fix_properties(wb) -> None:
    # Fixed workbook properties so reruns give the same file content.
    wb.properties.creator = "oligomet"
    import datetime as _dt
    fixed = _dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
