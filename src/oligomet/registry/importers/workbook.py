"""One .xlsx sheet -> raw cells, reading formulas as well as their saved values.

A formula cell holds two things: the formula and the value the spreadsheet program computed when it
last saved. Workbooks written by openpyxl, pandas or some exports are saved *without* computed
values; read for values only (as ``pandas.read_excel`` does), ``=DATE(2017,5,3)`` in a death date
is an empty cell and the patient is alive. Error cells (``#N/A``, ``#DIV/0!``) become empty the same
way. So the workbook is read for formulas, and for saved values only when a sheet has a formula;
each formula without a saved value is a ``formula_without_value`` error and each error cell an
``excel_error_cell`` error, naming sheet, cell, row and column.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd

from ..report import ProblemLog
from .names import normalise_name


class Workbook:
    """A workbook opened read-only for formulas; its saved values are loaded on first need."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.formulas = openpyxl.load_workbook(path, read_only=True, data_only=False)
        self._values = None

    @property
    def sheetnames(self) -> list[str]:
        return list(self.formulas.sheetnames)

    def saved_values(self, sheet: str, cells: set[tuple[int, int]]) -> dict[tuple[int, int], tuple[object, str]]:
        """(value, data type) that the spreadsheet saved for the given (row, column) cells."""
        if self._values is None:
            self._values = openpyxl.load_workbook(self.path, read_only=True, data_only=True)
        out = {}
        last_row = max(r for r, _ in cells)
        for r, row in enumerate(self._values[sheet].iter_rows(min_row=1, max_row=last_row, min_col=1), 1):
            for c, cell in enumerate(row, 1):
                if (r, c) in cells:
                    out[(r, c)] = (cell.value, cell.data_type)
        return out

    def close(self) -> None:
        self.formulas.close()
        if self._values is not None:
            self._values.close()


def _plain(value):
    """A cell value as pandas' openpyxl reader gives it: whole floats as int, empty as ""."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    return value


def _blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# complexity: one pass over a sheet's cells, every kind of Excel value (date, number, text, error) in its branch
def read_sheet(book: Workbook, sheet: str, table: str, log: ProblemLog  # noqa: C901
               ) -> tuple[list[str], pd.DataFrame]:
    """(header, frame of raw cells with integer column labels, index ``row`` = sheet row - 1).

    The header is the first non-blank row; fully blank rows are left out.
    """
    header: list[str] | None = None
    records: list[list] = []
    rows: list[int] = []
    formulas: dict[tuple[int, int], str] = {}
    errors: dict[tuple[int, int], str] = {}
    for r, row in enumerate(book.formulas[sheet].iter_rows(min_row=1, min_col=1), 1):
        values = [cell.value for cell in row]
        if all(_blank(v) for v in values):
            continue
        for c, cell in enumerate(row, 1):
            if cell.data_type == "f":
                formulas[(r, c)] = str(getattr(cell.value, "text", cell.value))
            elif cell.data_type == "e":
                errors[(r, c)] = str(cell.value)
        if header is None:
            header = ["" if v is None else str(v) for v in values]
            header_row = r
            continue
        records.append(values)
        rows.append(r)
    if header is None:
        return [], pd.DataFrame(index=pd.Index([], name="row"))
    width = max([len(header)] + [len(v) for v in records])
    header = header + [""] * (width - len(header))
    header = [h if h.strip() else f"Unnamed: {j}" for j, h in enumerate(header)]
    position = {r: i for i, r in enumerate(rows)}

    def where(r: int, c: int) -> tuple[str, str]:
        field = normalise_name(header[c - 1])
        return field, f"sheet {sheet!r} cell {openpyxl.utils.get_column_letter(c)}{r} (row {r - 1}, column {field})"

    if formulas:
        saved = book.saved_values(sheet, set(formulas))
        for (r, c), formula in formulas.items():
            value, kind = saved.get((r, c), (None, "n"))
            if r == header_row:
                header[c - 1] = str(value) if value is not None else header[c - 1]
                continue
            field, cell = where(r, c)
            if value is None and kind != "str":  # t="str" with no text: the formula computed ""
                log.error(table, "formula_without_value",
                          f"{cell} holds the formula {formula} but no computed value: the workbook was saved "
                          "without recalculating (as openpyxl, pandas and some exports do), so the cell would read "
                          "as empty. Open and save it in Excel or LibreOffice, or type the value",
                          rows=[r - 1], field=field, value=[formula])
                value = None
            elif kind == "e":
                errors[(r, c)] = str(value)
                value = None
            records[position[r]][c - 1] = value
    for (r, c), err in errors.items():
        if r == header_row:
            continue
        field, cell = where(r, c)
        log.error(table, "excel_error_cell", f"{cell} is the Excel error {err}; it is not read as empty. Fix the "
                                             "formula, or clear the cell if the value is unknown",
                  rows=[r - 1], field=field, value=[err])
        records[position[r]][c - 1] = None
    cells = [[_plain(v) for v in rec] + [""] * (width - len(rec)) for rec in records]
    index = pd.Index(np.asarray(rows, dtype=np.int64) - 1, name="row")
    frame = pd.DataFrame(cells, columns=range(width), index=index, dtype=object) if cells else \
        pd.DataFrame(columns=range(width), index=index, dtype=object)
    return header, frame
