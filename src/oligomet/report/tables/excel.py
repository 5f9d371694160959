"""XLSX writer (openpyxl): one sheet per table, tidy numbers, caption in the first row; every string is
stored as text (never a formula, see oligomet._spreadsheet)."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
from openpyxl import Workbook
from openpyxl.styles import Font

from ..._spreadsheet import keep_text_in_sheet
from .model import ReportTable

_MAX_SHEET = 31  # Excel's limit on sheet names


def _cell(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime()
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def write_xlsx(tables: Sequence[ReportTable], path: str | Path) -> Path:
    """Write every table to one workbook (sheet named after ``table.name``)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for t in tables:
        name = t.name[:_MAX_SHEET]
        k = 1
        while name in used:
            k += 1
            name = f"{t.name[:_MAX_SHEET - 3]}_{k}"
        used.add(name)
        ws = wb.create_sheet(name)
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
        if t.note:
            ws.append([])
            ws.append([t.note])
        keep_text_in_sheet(ws)   # labels such as "=HYPERLINK(...)" stay text, never a live formula
    # Fixed workbook properties so reruns give the same file content.
    wb.properties.creator = "oligomet"
    import datetime as _dt
    fixed = _dt.datetime(2000, 1, 1)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.save(path)
    return path
