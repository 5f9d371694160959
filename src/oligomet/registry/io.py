"""Read and write the registry interchange formats.

``read_registry(path)`` accepts a folder of ``<table>.csv`` files, an ``.xlsx`` workbook with one
sheet per table, or a REDCap flat export (one ``.csv`` file); it returns the in-memory registry
(``dict[table, DataFrame]`` in the contract of ``registry/fields.py``) and a
:class:`~oligomet.registry.report.ValidationReport` of everything that could not be read or
parsed. It never raises on bad *content*; it raises only for a path that does not exist or an
unknown ``format=``/``date_format=`` argument (programming errors, not data errors).
"""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd

from .fields import TABLE_ORDER, TABLES
from .identifiers import normalise_key, strip_identifiers
from .importers.csvfile import STRIPPED
from .importers.redcap import looks_like_redcap, read_redcap
from ._processes import run_tasks
from .importers.tabular import (RawTables, csv_tables, normalise_name, read_csv_table, read_workbook, table_of_file,
                                table_sources, unknown_table)
from .parse import check_date_format, conform_table, empty_table
from .report import ProblemLog, ValidationReport

FORMATS = ("csv", "excel", "redcap", "fhir")


def detect_format(path: Path) -> str:
    from .importers.fhir import looks_like_fhir

    if looks_like_fhir(path):
        return "fhir"   # a .json Bundle, or a folder of them (and no CSV)
    if path.is_dir():
        return "csv"
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return "excel"
    if suffix == ".csv":
        if looks_like_redcap(path):
            return "redcap"
        raise ValueError(f"{path} is a single CSV file that is not a REDCap export (no redcap_repeat_instrument, "
                         "record_id or checkbox columns); give the folder of table CSVs, or format='redcap'")
    raise ValueError(f"cannot tell the format of {path}: expected a folder of CSV files, an .xlsx workbook or "
                     "a REDCap .csv export, or a FHIR Bundle .json")


def source_files(path: str | Path, format: str | None = None) -> list[Path]:
    """The files an import of ``path`` reads (for provenance hashes)."""
    path = Path(path)
    fmt = format or detect_format(path)
    if fmt == "csv":
        return sorted(p for name, files in csv_tables(path).items() if name in TABLES for p in files)
    if fmt == "redcap":
        from .importers.redcap_dictionary import find_dictionary

        dictionary = find_dictionary(path)   # it decides what the codes mean: part of what was imported
        return [path] + ([dictionary] if dictionary is not None else [])
    if fmt == "fhir":
        from .importers.fhir import bundle_files

        return bundle_files(path)
    return [path]


def read_registry(path: str | Path, format: str | None = None, *, date_format: str | None = None,
                  identifier_key: str | bytes | None = None) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Read a registry from disk into the in-memory contract, collecting every parse problem.

    Parameters
    ----------
    path : folder of ``<table>.csv`` files, ``.xlsx`` workbook, REDCap flat export ``.csv``, or an
        HL7 FHIR R4 Bundle ``.json`` following mCODE (or a folder of them).
    format : ``"csv"`` (folder), ``"excel"``, ``"redcap"`` or ``"fhir"``; detected from the path when None.
    date_format : order of day-month dates when the source does not use ISO ``YYYY-MM-DD``:
        ``"DD-MM-YYYY"``, ``"DD/MM/YYYY"``, ``"DD.MM.YYYY"``, ``"MM/DD/YYYY"``, ``"MM-DD-YYYY"``
        (the separator is not enforced, the order is). ISO dates are always accepted.
    identifier_key : secret (>= 16 characters) for the keyed hash of direct identifier columns;
        without it such columns are an error.

    Returns
    -------
    (tables, report): tables in ``TABLE_ORDER`` with the contract's columns and dtypes, indexed by
    the 1-based data row of the source (``row``; header not counted, so CSV line = row + 1);
    ``report`` holds read/parse problems only. Run :func:`oligomet.registry.validate` for the rules.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"registry path {path} does not exist")
    fmt = (format or detect_format(path)).lower()
    if fmt not in FORMATS:
        raise ValueError(f"format {format!r} is not supported; use one of {', '.join(FORMATS)}")
    order = check_date_format(date_format)
    key = normalise_key(identifier_key)
    log = ProblemLog()
    if fmt == "csv":
        if not path.is_dir():
            raise ValueError(f"format='csv' needs a folder of <table>.csv files; {path} is a file")
        return read_csv_folder(path, log, order, key), log.report()
    if fmt == "excel":
        raw = read_workbook(path, log)
        if "patients" not in raw and log.frame().query("rule == 'file_unreadable'").empty:
            log.error("patients", "missing_table", f"no 'patients' sheet in {path.name}")
    elif fmt == "fhir":
        from .importers.fhir import read_fhir

        raw, _ = read_fhir(path, log, identifier_key=key)
    else:
        raw = read_redcap(path, log)
    tables = conform_tables(raw, log, order=order, key=key)
    return tables, log.report()


def conform_tables(raw: RawTables, log: ProblemLog, order: str | None = None, key: bytes | None = None,
                   ) -> dict[str, pd.DataFrame]:
    """Raw frames -> contract tables: identifiers stripped, unknown columns reported, cells parsed."""
    tables: dict[str, pd.DataFrame] = {}
    for name in TABLE_ORDER:
        if name not in raw:
            tables[name] = empty_table(name)
            continue
        frame, rows = raw[name]
        via = _patient_of_treatment(tables["treatments"] if "treatments" in raw else None) \
            if name in _PATIENT_VIA_TREATMENT else None
        tables[name] = conform_raw(name, frame, rows, log, order, key, via)
    return tables


#: Tables whose rows name their patient only through ``treatments`` (``parse._patient_ids``): they are
#: conformed once ``treatments`` is.
_PATIENT_VIA_TREATMENT = ("complications",)


def _patient_of_treatment(treatments: pd.DataFrame | None) -> pd.Series | None:
    """treatment_id -> patient_id, every row (the first of an id counts); None when no treatments file was read."""
    if treatments is None:
        return None
    return pd.Series(treatments["patient_id"].to_numpy(dtype=object),
                     index=pd.Index(treatments["treatment_id"].to_numpy(dtype=object), dtype=object), dtype=object)


def conform_raw(name: str, frame: pd.DataFrame, rows, log: ProblemLog, order: str | None, key: bytes | None,
                patient_of_treatment: pd.Series | None = None, texts: dict | None = None) -> pd.DataFrame:
    """One raw frame -> its contract table: identifiers stripped, unknown columns reported, cells parsed.
    ``texts``: see ``conform_table``."""
    frame = strip_identifiers(name, frame, log, key)
    known = set(TABLES[name].field_names)
    for c in dict.fromkeys(frame.columns):
        if c not in known:
            log.warning(name, "unknown_column", f"column {c!r} is not a field of {name} (allowed: "
                        f"{', '.join(TABLES[name].field_names)}); ignored", field=c)
    return conform_table(name, frame, rows, log, order, patient_of_treatment, decimal=frame.attrs.get("decimal", "."),
                         stripped=bool(frame.attrs.get(STRIPPED, False)), texts=texts)


def read_csv_folder(folder: Path, log: ProblemLog, order: str | None, key: bytes | None) -> dict[str, pd.DataFrame]:
    """A folder of ``<table>.csv`` files -> contract tables, each file read and conformed on its own.

    With several CPUs and more than ~1 MB of files, the files are shared between this process and
    forked workers (see ``_processes``), each with logs of its own, merged here in the order that
    reading and conforming one table after another gives: the tables and the report are the same.
    """
    by_name = {p.name: p for ps in csv_tables(folder).values() for p in ps}
    groups = table_sources(list(by_name), "file", log, key=table_of_file)
    files = {name: by_name[group[0]] for name, group in groups.items() if name in TABLES}
    size = {name: _size(path) for name, path in files.items()}
    longest_first = sorted(files, key=lambda name: -size[name])   # so that no process is left with a big one at the end
    done = run_tasks(_read_csv, {name: (files[name], name, order, key) for name in longest_first},
                     processes=None if sum(size.values()) >= _PROCESSES_FROM_BYTES else 1)
    treatments = done["treatments"].table if "treatments" in done else None
    for name in _PATIENT_VIA_TREATMENT:
        if name in done and done[name].raw is not None:
            done[name] = done[name].conformed(name, order, key, _patient_of_treatment(treatments))
    for name, group in groups.items():
        if name in TABLES:
            log.merge(done[name].read_log)
        else:
            unknown_table(name, group, log)
    if "patients" not in files:
        log.error("patients", "missing_table", f"no patients.csv in {folder}; the patients table is required")
    tables = {}
    for name in TABLE_ORDER:
        read = done.get(name)
        if read is None or read.table is None:
            tables[name] = empty_table(name)
        else:
            log.merge(read.conform_log)
            tables[name] = read.table
    return tables


#: Starting a worker process costs ~0.1 s; from about 1 MB of CSV (2,000 patients) the workers gain more.
_PROCESSES_FROM_BYTES = 1 << 20


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:   # reported when it is read
        return 0


class _ReadTable(NamedTuple):
    """What reading one table's file gave: its contract ``table`` (None when the file could not be read,
    or before :meth:`conformed` for a table conformed by the caller, which gets ``raw``), and the
    problems of reading and of conforming it. ``texts``: the codes and distinct texts of the table's text
    columns (``parse.conform_table``), by which a worker process sends the table back (:meth:`__reduce__`)."""
    table: pd.DataFrame | None
    raw: tuple[pd.DataFrame, np.ndarray] | None
    read_log: ProblemLog
    conform_log: ProblemLog
    texts: dict[str, tuple[np.ndarray, np.ndarray]] | None = None

    def conformed(self, name: str, order: str | None, key: bytes | None,
                  patient_of_treatment: pd.Series | None = None) -> "_ReadTable":
        log, texts = ProblemLog(), {}
        table = conform_raw(name, *self.raw, log, order, key, patient_of_treatment, texts)
        return self._replace(table=table, raw=None, conform_log=log, texts=texts)

    def __reduce__(self):
        """Pickled (a worker's result, ``_processes``) with the text columns as codes and distinct texts:
        pickling each cell's text, even as a reference to an earlier one, took ~0.1 s per 20 MB table
        each way; the numbers are copied as they are. The table is rebuilt as ``conform_table`` built it."""
        if self.table is None or not self.texts:
            return _ReadTable, tuple(self[:4])
        table = self.table
        columns = [(c, True, self.texts[c][0], _Texts(self.texts[c][1])) if c in self.texts
                   else (c, False, table[c].array, table[c].dtype) for c in table.columns]
        return _unpack_read_table, (table.index.to_numpy(dtype=np.int64), columns, *self[1:4])


def _unpack_read_table(rows: np.ndarray, columns: list[tuple], raw, read_log, conform_log) -> _ReadTable:
    """The :class:`_ReadTable` that ``_ReadTable.__reduce__`` packed (without its ``texts``): each column
    (name, True, codes, distinct texts) or (name, False, values, dtype)."""
    index = pd.Index(np.asarray(rows, dtype=object), name="row")   # as parse.conform_table makes it
    table = pd.DataFrame({c: pd.Series(b.values[a] if texts else a, index=index, name=c, dtype=object if texts else b)
                          for c, texts, a, b in columns}, index=index)
    return _ReadTable(table, raw, read_log, conform_log)


class _Texts:
    """An object array of str and None, pickled as one text: the strings joined by NUL (which no cell of a
    CSV file holds, ``tabular.read_csv_text``), and where the Nones are. ~5 times faster both ways than
    pickling 10^5 strings one by one. Any other array is pickled as it is."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __reduce__(self):
        values = self.values
        missing = pd.isna(values)
        texts = values[~missing]
        if pd.api.types.infer_dtype(texts, skipna=False) in ("string", "empty") and \
                all(v is None for v in values[missing]):
            joined = "\x00".join(texts)
            if joined.count("\x00") == max(len(texts) - 1, 0):
                return _joined_texts, (joined, missing, len(texts))
        return _Texts, (values,)


def _joined_texts(joined: str, missing: np.ndarray, n: int) -> _Texts:
    values = np.full(len(missing), None, dtype=object)
    if n:
        values[~missing] = joined.split("\x00")
    return _Texts(values)


def _read_csv(path: Path, name: str, order: str | None, key: bytes | None) -> _ReadTable:
    """Read one table's file, and conform it unless it needs another table (``_PATIENT_VIA_TREATMENT``)."""
    log = ProblemLog()
    raw = read_csv_table(path, name, log)
    read = _ReadTable(None, raw, log, ProblemLog())
    if raw is None or name in _PATIENT_VIA_TREATMENT:
        return read
    return read.conformed(name, order, key)


def conform_memory(tables: dict[str, pd.DataFrame], log: ProblemLog | None = None, *, order: str | None = None,
                   key: bytes | None = None) -> dict[str, pd.DataFrame]:
    """In-memory tables (any dtypes) -> the contract; rows are the index if it is named ``row``, else 1..n.

    ``order`` is the day-month order of non-ISO date strings (see ``check_date_format``), ``key``
    the normalised identifier key (see ``identifiers.normalise_key``).
    """
    log = log if log is not None else ProblemLog()
    raw: RawTables = {}
    for name, frame in tables.items():
        if name not in TABLES:
            log.warning(name, "unknown_table", f"{name!r} is not a registry table; ignored")
            continue
        frame = frame.rename(columns=normalise_name)
        rows = frame.index.to_numpy() if frame.index.name == "row" else np.arange(1, len(frame) + 1)
        raw[name] = (frame.reset_index(drop=True), rows)
    if "patients" not in raw:
        log.error("patients", "missing_table", "the registry has no patients table")
    return conform_tables(raw, log, order=order, key=key)


def _export_frame(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    out = pd.DataFrame(index=range(len(frame)))
    for f in TABLES[name].fields:
        col = frame[f.name].reset_index(drop=True) if f.name in frame else pd.Series([None] * len(frame))
        if f.type == "date":
            col = pd.to_datetime(col).dt.strftime("%Y-%m-%d")
        elif f.type == "bool":
            col = col.astype("boolean").map({True: "1", False: "0"}, na_action="ignore")
        elif f.type == "int":
            col = col.astype("Int64").astype("string")
        out[f.name] = col.astype(object).where(col.notna(), None)
    return out


def write_registry(tables: dict[str, pd.DataFrame], path: str | Path, format: str = "csv") -> Path:
    """Write the registry in the interchange format: ``csv`` (folder) or ``excel`` (one .xlsx).

    In the workbook every string is a text cell, never a formula (see :mod:`oligomet._spreadsheet`). The CSV
    files keep values exactly as stored, without the quote prefix of report CSVs: they are data to be
    re-imported, not a document to open in a spreadsheet.
    """
    from .._spreadsheet import keep_text_in_sheet

    path = Path(path)
    frames = {name: _export_frame(tables[name] if name in tables else empty_table(name), name)
              for name in TABLE_ORDER}
    if format == "csv":
        path.mkdir(parents=True, exist_ok=True)
        for name, frame in frames.items():
            frame.to_csv(path / f"{name}.csv", index=False)
    elif format == "excel":
        path.parent.mkdir(parents=True, exist_ok=True)
        with pd.ExcelWriter(path, engine="openpyxl") as xl:
            for name, frame in frames.items():
                frame.to_excel(xl, sheet_name=name, index=False)
                # a value such as "=HYPERLINK(...)" stays the text it was (pandas would write a live formula)
                keep_text_in_sheet(xl.sheets[name])
    else:
        raise ValueError(f"format {format!r} is not supported for writing; use 'csv' or 'excel'")
    return path
