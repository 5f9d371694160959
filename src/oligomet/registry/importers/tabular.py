"""CSV folder and Excel workbook readers (one CSV file / sheet per table)."""
from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import numpy as np
import pandas as pd

from ..fields import TABLES
from ..report import ProblemLog

RawTables = dict[str, tuple[pd.DataFrame, np.ndarray]]


def normalise_name(name) -> str:
    """Header as a field name: stripped, lower case, runs of spaces / hyphens / dots -> "_"."""
    return re.sub(r"[\s\-.]+", "_", str(name).strip().lower())


def normalise_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Normalised headers (see :func:`normalise_name`); drop header-less empty columns (trailing separators)."""
    cols = [normalise_name(c) for c in frame.columns]
    frame = frame.set_axis(cols, axis=1)
    drop = [i for i, c in enumerate(cols) if (c == "" or c.startswith("unnamed:"))
            and frame.iloc[:, i].map(lambda v: v is None or (isinstance(v, float) and np.isnan(v)) or
                                     str(v).strip() == "").all()]
    if drop:
        frame = frame.iloc[:, [i for i in range(len(cols)) if i not in drop]]
    return frame


def drop_blank_rows(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Rows numbered 1.. in file order, then fully blank rows removed (numbers kept)."""
    rows = np.arange(1, len(frame) + 1)
    if frame.shape[1] == 0:
        return frame, rows
    # Whitespace-only cells are not blank here (rare; their rows then report missing fields).
    blank = frame.isna() | (frame == "")
    keep = ~blank.all(axis=1).to_numpy()
    return frame.loc[keep].reset_index(drop=True), rows[keep]


def read_csv_text(path: Path, table: str, log: ProblemLog) -> pd.DataFrame | None:
    """One CSV file as strings; problems (encoding, malformed lines) go to the log."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        log.error(table, "file_unreadable", f"cannot read {path.name}: {exc}")
        return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's "CSV" on Windows writes cp1252; Latin-1 never fails and keeps every byte.
        text = data.decode("latin-1")
        log.warning(table, "file_encoding", f"{path.name} is not UTF-8; read as Latin-1 (save as 'CSV UTF-8' "
                                            "to be sure accents are right)")
    if "\x00" in text:
        log.error(table, "file_unreadable", f"{path.name} contains NUL bytes; it is not a text CSV file")
        return None
    if not text.strip():
        return pd.DataFrame()
    header = text.lstrip().splitlines()[0]
    # European spreadsheet exports separate with ';' (',' is their decimal mark).
    sep = ";" if header.count(";") > header.count(",") else ","
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_filter=False,
                            skip_blank_lines=False, quoting=csv.QUOTE_MINIMAL, engine="c")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
        log.error(table, "file_unreadable", f"{path.name} is not a well-formed CSV file: "
                                            f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc}")
        return None
    first = next(csv.reader([header], delimiter=sep), [])
    names = [normalise_name(h) for h in first]
    if len(names) == frame.shape[1] and len(set(names)) < len(names):
        # pandas renames a repeated header to "x.1"; keep the first column of each name, report the rest.
        seen: set[str] = set()
        keep = []
        for i, n in enumerate(names):
            if n in seen and n:
                log.error(table, "duplicate_column", f"column {n!r} appears more than once in {path.name}; "
                                                     "the first one is read", field=n)
            else:
                keep.append(i)
            seen.add(n)
        frame = frame.iloc[:, keep].set_axis([first[i] for i in keep], axis=1)
    return normalise_columns(frame)


def read_csv_folder(folder: Path, log: ProblemLog) -> tuple[RawTables, list[Path]]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".csv")
    raw: RawTables = {}
    used = []
    for p in files:
        name = p.stem.strip().lower()
        if name not in TABLES:
            log.warning(name, "unknown_table", f"{p.name} is not a registry table (expected one of "
                                              f"{', '.join(TABLES)}); ignored")
            continue
        frame = read_csv_text(p, name, log)
        used.append(p)
        if frame is None:
            continue
        frame, rows = drop_blank_rows(frame)
        raw[name] = (frame, rows)
    return raw, used


def read_workbook(path: Path, log: ProblemLog) -> RawTables:
    try:
        # keep_default_na=False: "NA" or "n/a" typed into a number cell is reported, not silently missing.
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl", keep_default_na=False)
    except Exception as exc:  # openpyxl raises many kinds (BadZipFile, KeyError, InvalidFileException)
        log.error("patients", "file_unreadable", f"{path.name} is not a readable .xlsx workbook: "
                                                 f"{type(exc).__name__}: {exc}")
        return {}
    raw: RawTables = {}
    for sheet, frame in sheets.items():
        name = str(sheet).strip().lower()
        if name not in TABLES:
            log.warning(name, "unknown_table", f"sheet {sheet!r} is not a registry table (expected one of "
                                              f"{', '.join(TABLES)}); ignored")
            continue
        frame, rows = drop_blank_rows(normalise_columns(frame))
        raw[name] = (frame, rows)
    return raw
