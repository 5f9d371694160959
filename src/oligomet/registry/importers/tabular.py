"""CSV folder and Excel workbook readers (one CSV file / sheet per table).

Splitting a CSV file into records lives in :mod:`.csvfile`, reading a sheet's cells (formulas
included) in :mod:`.workbook`; here the two meet: one source per table (``duplicate_table``),
headers normalised and checked (``duplicate_column``), blank rows left out with their row numbers
kept.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..fields import TABLES
from ..report import ProblemLog
from .csvfile import STRIPPED, decode, split_records, separator
from .names import normalise_name
from .workbook import Workbook, read_sheet

RawTables = dict[str, tuple[pd.DataFrame, np.ndarray]]

__all__ = ["RawTables", "normalise_name", "normalise_columns", "drop_blank_rows", "read_csv_text",
           "read_csv_table", "unknown_table", "read_workbook", "table_sources", "table_of_file", "csv_tables"]


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalised headers (see :func:`normalise_name`); drop header-less empty columns (trailing separators)."""
    cols = [normalise_name(c) for c in frame.columns]
    frame.columns = cols
    drop = [i for i, c in enumerate(cols) if (c == "" or c.startswith("unnamed:"))
            and frame.iloc[:, i].map(_blank_cell).all()]
    if drop:
        frame = frame.iloc[:, [i for i in range(len(cols)) if i not in drop]]
    return frame


def _blank_cell(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip())


def _blank_cells(col: pd.Series) -> np.ndarray:
    """``_blank_cell`` of each cell. A column of text only (what the CSV reader gives) is judged by NumPy's
    string functions, whose whitespace is Python's (``str.isspace``, every code point checked in the tests);
    anything else cell by cell."""
    if isinstance(col.dtype, pd.CategoricalDtype):   # each distinct value once (a missing cell's code is -1)
        categories = pd.Series(col.cat.categories.to_numpy(dtype=object), dtype=object)
        return np.append(_blank_cells(categories), True)[col.cat.codes.to_numpy()]
    values = col.to_numpy(dtype=object)
    if pd.api.types.infer_dtype(values, skipna=False) != "string":   # None, NaN, numbers, dates...
        return col.map(_blank_cell).to_numpy(dtype=bool)
    text = values.astype(np.dtypes.StringDType())
    return (np.strings.str_len(text) == 0) | np.strings.isspace(text)


def _blank_rows(frame: pd.DataFrame) -> np.ndarray:
    """Rows whose every cell is missing, empty or whitespace. Column by column over the rows still
    blank so far, so that a million rows cost about one column's check (the first is nearly always
    filled)."""
    candidates = np.arange(len(frame))
    for j in range(frame.shape[1]):
        if not len(candidates):
            break
        candidates = candidates[_blank_cells(frame.iloc[candidates, j])]
    blank = np.zeros(len(frame), dtype=bool)
    blank[candidates] = True
    return blank


def drop_blank_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Fully blank rows (whitespace counts as blank) removed; returns the frame and the row number of
    each kept row: the index when it is named ``row`` (the readers' line - 1), else 1.. in order."""
    rows = frame.index.to_numpy() if frame.index.name == "row" else np.arange(1, len(frame) + 1)
    frame = frame.reset_index(drop=True)
    if frame.shape[1] == 0:
        return frame, rows
    keep = ~_blank_rows(frame)
    if keep.all():
        return frame, rows
    return frame.loc[keep].reset_index(drop=True), rows[keep]


def _with_header(header: list[str], frame: pd.DataFrame, source: str, table: str, log: ProblemLog) -> pd.DataFrame:
    """Raw header on the frame; a repeated column name is reported and its first column kept."""
    names = [normalise_name(h) for h in header]
    keep, seen = [], set()
    for i, n in enumerate(names):
        if n in seen and n:
            log.error(table, "duplicate_column", f"column {n!r} appears more than once in {source}; "
                                                 "the first one is read", field=n)
        else:
            keep.append(i)
        seen.add(n)
    if len(keep) < frame.shape[1]:
        frame = frame.iloc[:, keep]
    frame.columns = [header[i] for i in keep]  # in place: set_axis would copy a million rows
    return normalise_columns(frame)


def read_csv_text(path: Path, table: str, log: ProblemLog) -> pd.DataFrame | None:
    """One CSV file as strings, indexed by ``row`` (line - 1); problems go to the log (see :mod:`.csvfile`).
    A column holds str cells, as object or as a categorical of them (``csvfile._dictionary_frame``)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.error(table, "file_unreadable", f"cannot read {path.name}: {exc}")
        return None
    if b"\x00" in data:
        log.error(table, "file_unreadable", f"{path.name} contains NUL bytes; it is not a text CSV file")
        return None
    text = decode(data, path.name, table, log)
    split = split_records(text, path.name, table, log, categorical=True)
    if split is None:
        return None
    header, frame, stripped = split
    frame = _with_header(header, frame, path.name, table, log)
    # A ';'-separated export comes from a locale whose decimal mark is the comma (parse.py reads both).
    first = _first_line(text)
    frame.attrs["decimal"] = "," if separator(first) == ";" else "."
    frame.attrs[STRIPPED] = stripped
    return frame


def _first_line(text: str) -> str:
    """The first non-blank line of ``text`` as ``str.splitlines`` splits it, without splitting all of a
    60 MB file: growing prefixes, the last (maybe cut) line of a prefix not trusted."""
    k = 4096
    while True:
        lines = text[:k].splitlines()
        if k < len(text):
            lines = lines[:-1]
        line = next((ln for ln in lines if ln.strip()), None)
        if line is not None or k >= len(text):
            return line or ""
        k *= 4


def table_sources(names: list[str], kind: str, log: ProblemLog, key=normalise_name) -> dict[str, list[str]]:
    """Group source names (files, sheets) by the table they name; more than one is ``duplicate_table``.

    Only the first (in the given order) is read: two sources for one table cannot both be right,
    and reading one silently is how 3 of 2,161 lab rows were imported once.
    """
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(key(n), []).append(n)
    for t, group in groups.items():
        if t in TABLES and len(group) > 1:
            log.error(t, "duplicate_table", f"{' and '.join(repr(g) for g in group)} are {kind}s of the same "
                                            f"table {t} (names are compared ignoring case, spaces, hyphens and dots); "
                                            f"only {group[0]!r} was read. Merge them into one, or remove the "
                                            "stale one")
    return groups


def table_of_file(name: str) -> str:
    return normalise_name(Path(name).stem)


def csv_tables(folder: Path) -> dict[str, list[Path]]:
    """The folder's ``.csv`` files by table name (sorted; several when names collide)."""
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    out: dict[str, list[Path]] = {}
    for p in files:
        out.setdefault(table_of_file(p.name), []).append(p)
    return out


def read_csv_table(path: Path, table: str, log: ProblemLog) -> tuple[pd.DataFrame, np.ndarray] | None:
    """One table's CSV file -> (its cells as strings, blank rows left out; the ``row`` of each), or None
    when it cannot be read (reported)."""
    frame = read_csv_text(path, table, log)
    if frame is None:
        return None
    attrs = dict(frame.attrs)
    kept, rows = drop_blank_rows(frame)
    kept.attrs.update(attrs)   # the decimal mark, and whether the cells are stripped (csvfile.STRIPPED)
    return kept, rows


def unknown_table(name: str, group: list[str], log: ProblemLog) -> None:
    for g in group:
        log.warning(name, "unknown_table", f"{g} is not a registry table (expected one of "
                                           f"{', '.join(TABLES)}); ignored")


def read_workbook(path: Path, log: ProblemLog) -> RawTables:
    try:
        book = Workbook(path)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, InvalidFileException)
        log.error("patients", "file_unreadable", f"{path.name} is not a readable .xlsx workbook: "
                                                 f"{type(exc).__name__}: {exc}")
        return {}
    raw: RawTables = {}
    try:
        for name, group in table_sources(book.sheetnames, "sheet", log).items():
            if name not in TABLES:
                for g in group:
                    log.warning(name, "unknown_table", f"sheet {g!r} is not a registry table (expected one of "
                                                       f"{', '.join(TABLES)}); ignored")
                continue
            header, frame = read_sheet(book, group[0], name, log)
            raw[name] = drop_blank_rows(_with_header(header, frame, f"sheet {group[0]!r}", name, log))
    except Exception as exc:  # a sheet openpyxl cannot parse: the whole workbook is unreadable
        log.error("patients", "file_unreadable", f"{path.name} is not a readable .xlsx workbook: "
                                                 f"{type(exc).__name__}: {exc}")
        return {}
    finally:
        book.close()
    return raw
