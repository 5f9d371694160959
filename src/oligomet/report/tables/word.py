"""DOCX writer (python-docx): journals want Word tables. One document, one table per section,
caption above, footnote below, the display (formatted) frame."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd
from docx import Document
from docx.shared import Pt

from .model import ReportTable, format_cell


def write_docx(tables: Sequence[ReportTable], path: str | Path, *, heading: str | None = None) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(9)
    if heading:
        doc.add_heading(heading, level=1)
    for t in tables:
        frame = t.shown
        if not isinstance(frame.index, pd.RangeIndex):
            frame = frame.reset_index()
        doc.add_paragraph().add_run(t.title).bold = True
        tab = doc.add_table(rows=1, cols=len(frame.columns))
        tab.style = "Table Grid"
        for cell, col in zip(tab.rows[0].cells, frame.columns):
            cell.text = str(col)
            for run in cell.paragraphs[0].runs:
                run.bold = True
        for row in frame.itertuples(index=False, name=None):
            cells = tab.add_row().cells
            for cell, v in zip(cells, row):
                cell.text = format_cell(v)
        if t.note:
            doc.add_paragraph(t.note).runs[0].italic = True
    # Fixed core properties so reruns give the same content.
    import datetime as _dt
    fixed = _dt.datetime(2000, 1, 1)
    doc.core_properties.author = "oligomet"
    doc.core_properties.created = fixed
    doc.core_properties.modified = fixed
    doc.core_properties.last_modified_by = "oligomet"
    doc.save(path)
    return path
