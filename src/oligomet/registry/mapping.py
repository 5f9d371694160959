"""Site mapping files: one hospital's own export -> the registry, declared as data, checked with file:line.

A mapping file (YAML) says, for one site, which source columns hold which registry fields (per table;
a table may come from several files, and one wide file may give several tables, e.g. ``lesion1_size``,
``lesion2_size`` ... -> one ``lesions`` row per number), how values are recoded (``M/V`` -> ``male/female``,
with shipped synonyms in ``mapping_synonyms.yaml``), which cells mean "missing" (``NA``, ``.``,
``onbekend``), the decimal mark, the date order, the encoding, and unit conversions (``cm`` -> ``mm``).
The one computed form, ``computed:``, is an expression of :mod:`oligomet.expressions` (the project's
whitelisted evaluator): a mapping file never runs code, never names a file outside its source folder
and never reaches the network.

Reading through a mapping keeps where every value came from, so that every parse and rule problem is
reported in the *source's* terms: file, line as an editor shows it, the original column and the
original value, as well as the registry table and field.

Entry points: :func:`load_mapping` (file -> :class:`SiteMapping`, or :class:`MappingError` listing
every problem with its line), :func:`read_mapped` / :func:`check_mapped` (source folder + mapping ->
tables and report), :func:`import_mapped` (into a :class:`~oligomet.registry.Store`, with the mapping's
SHA-256 in the import's provenance), :func:`suggest_mapping` (draft a mapping from what a folder holds).
"""
from __future__ import annotations

import codecs
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path, PurePosixPath
from typing import Literal, Union

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from .._file_problems import validation_problems
from .._yaml import load_yaml, nearest_line, pretty_loc
from ..expressions import ExpressionError, evaluate, parse_expression
from .fields import TABLE_ORDER, TABLES
from .importers.csvfile import decode, read_records
from .importers.names import normalise_name
from .importers.tabular import RawTables, drop_blank_rows
from .report import PROBLEM_COLUMNS, ProblemLog, ValidationReport
from .rules.ids import redact, redacted

MAX_MAPPING_BYTES = 1_000_000
SYNONYMS_FILE = Path(__file__).with_name("mapping_synonyms.yaml")
DATE_ORDERS = {"DMY": "dmy", "MDY": "mdy", "YMD": None, "ISO": None, "DD-MM-YYYY": "dmy", "DD/MM/YYYY": "dmy",
               "DD.MM.YYYY": "dmy", "MM/DD/YYYY": "mdy", "MM-DD-YYYY": "mdy", "YYYY-MM-DD": None}
#: Unit conversions by the unit a field is stored in (its name's suffix): source unit -> factor.
UNITS = {"mm": {"mm": 1.0, "cm": 10.0, "m": 1000.0}, "gy": {"gy": 1.0, "cgy": 0.01}}
_SUFFIX_UNIT = {"_mm": "mm", "_gy": "gy"}


class MappingError(ValueError):
    """A mapping file problem: ``problems`` is a list of (key path, line or None, message)."""

    def __init__(self, path, problems: list[tuple[str, int | None, str]]):
        self.path = str(path) if path is not None else "<mapping>"
        self.problems = problems
        lines = [f"{self.path}:{line if line is not None else '?'}: {loc}: {msg}" for loc, line, msg in problems]
        super().__init__(f"invalid mapping ({len(problems)} problem{'s' if len(problems) != 1 else ''}):\n"
                         + "\n".join(lines))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")   # a typo in a mapping must never be silently ignored


Scalar = Union[str, int, float, bool]


class Source(_Model):
    """One file (or sheet) that gives rows of one table."""

    file: str
    sheet: str | None = None
    columns: dict[str, str] = {}
    computed: dict[str, str] = {}
    constant: dict[str, Scalar] = {}
    repeat: list[int] | None = None

    @field_validator("file")
    @classmethod
    def _inside_folder(cls, v: str) -> str:
        # A mapping reads only files of the folder it is applied to: no absolute paths, no "..".
        p = PurePosixPath(v.replace("\\", "/"))
        if p.is_absolute() or ".." in p.parts or re.match(r"^[A-Za-z]:", v) or not v.strip():
            raise ValueError(f"{v!r}: a source file is named relative to the source folder, without '..'")
        return v

    @field_validator("computed")
    @classmethod
    def _expressions(cls, v: dict[str, str]) -> dict[str, str]:
        for name, text in v.items():
            try:
                parse_expression(text.replace("{n}", "1"))
            except ExpressionError as exc:
                raise ValueError(f"{name}: {exc}") from None
        return v


class SiteMapping(_Model):
    mapping: Literal[1] = 1
    site: str | None = None
    encoding: str | None = None
    decimal: Literal[".", ","] = "."
    date_order: str | None = None
    missing: Union[Literal["default"], list[Scalar]] = []
    values: dict[str, dict[Scalar, Scalar]] = {}
    units: dict[str, str] = {}
    tables: dict[str, list[Source]]

    @field_validator("tables", mode="before")
    @classmethod
    def _one_or_many(cls, v):
        # a table read from one file is written without a list; from several files, as a list
        if isinstance(v, dict):
            return {k: (s if isinstance(s, list) else [s]) for k, s in v.items()}
        return v

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v):
        if v is not None:
            try:
                codecs.lookup(v)
            except LookupError:
                raise ValueError(f"unknown encoding {v!r} (e.g. utf-8, cp1252, latin-1)") from None
        return v

    @field_validator("date_order")
    @classmethod
    def _order(cls, v):
        if v is not None and v.strip().upper() not in DATE_ORDERS:
            raise ValueError(f"date_order {v!r} is not one of DMY, MDY, YMD (or {', '.join(list(DATE_ORDERS)[4:])})")
        return v

    # set by load_mapping
    _path: str | None = None
    _hash: str = ""
    _lines: dict = {}

    @property
    def hash(self) -> str:
        """SHA-256 of the mapping file's text: stored in the import's provenance."""
        return self._hash

    @property
    def order(self) -> str | None:
        return None if self.date_order is None else DATE_ORDERS[self.date_order.strip().upper()]

    def sources(self, table: str) -> list[Source]:
        return self.tables.get(table, [])

    def line_of(self, *loc) -> int | None:
        return _line(self._lines, tuple(loc))


# --- loading ----------------------------------------------------------------------------------------

def _line(lines: dict, loc: tuple) -> int | None:
    """The line of ``loc``; a source written without a list has no index 0 in the file."""
    if loc not in lines:
        plain = tuple(p for p in loc if not isinstance(p, int))
        if plain in lines:
            return lines[plain]
    return nearest_line(lines, loc)


def _field_of(key: str) -> list[tuple[str, str]]:
    """``table.field`` or ``field`` -> the (table, field) pairs it names."""
    if "." in key:
        t, f = key.split(".", 1)
        return [(t, f)] if t in TABLES and f in TABLES[t].field_names else []
    return [(t, key) for t in TABLE_ORDER if key in TABLES[t].field_names]


# complexity: one check per mapping section (tables, values, units, dates), each named for the error
def _meaning_problems(m: SiteMapping) -> list[tuple[tuple, str]]:  # noqa: C901
    bad: list[tuple[tuple, str]] = []
    for t in m.tables:
        if t not in TABLES:
            bad.append((("tables", t), f"{t!r} is not a registry table; allowed: {', '.join(TABLE_ORDER)}"))
            continue
        for i, src in enumerate(m.sources(t)):
            loc = ("tables", t, i)
            for part in ("columns", "computed", "constant"):
                for f in getattr(src, part):
                    if f not in TABLES[t].field_names:
                        bad.append((loc + (part, f), f"{f!r} is not a field of {t}; allowed: "
                                                     f"{', '.join(TABLES[t].field_names)}"))
            if src.repeat is not None:
                if not src.repeat or any(n < 0 for n in src.repeat):
                    bad.append((loc + ("repeat",), "repeat lists the numbers of the repeated columns, e.g. [1, 2, 3]"))
                if not any("{n}" in c for c in src.columns.values()):
                    bad.append((loc + ("repeat",), "repeat needs columns written with {n}, e.g. laesie{n}_grootte"))
            elif any("{n}" in c for c in list(src.columns.values()) + list(src.computed.values())):
                bad.append((loc + ("columns",), "a column with {n} needs repeat: [1, 2, ...]"))
    for key in m.values:
        if not _field_of(key):
            bad.append((("values", key), f"{key!r} names no registry field (write field or table.field)"))
    for key, unit in m.units.items():
        pairs = _field_of(key)
        suffix = next((u for s, u in _SUFFIX_UNIT.items() if key.endswith(s)), None)
        if not pairs or suffix is None:
            bad.append((("units", key), f"{key!r}: unit conversion applies to fields stored in mm or Gy "
                                        "(diameter_mm, ablation_margin_mm, dose_gy)"))
        elif str(unit).strip().lower() not in UNITS[suffix]:
            bad.append((("units", key), f"unit {unit!r} cannot be converted to {suffix}; allowed: "
                                        f"{', '.join(UNITS[suffix])}"))
    return bad


def loads_mapping(text: str, *, path=None) -> SiteMapping:
    """Parse and validate mapping text; :class:`MappingError` lists every problem with its line."""
    if len(text) > MAX_MAPPING_BYTES:
        raise MappingError(path, [("(file)", None, f"the mapping is {len(text):,} characters; at most "
                                                   f"{MAX_MAPPING_BYTES:,}")])
    data, lines, problems = load_yaml(text, "mapping")
    if problems:
        raise MappingError(path, problems)
    if not isinstance(data, dict):
        raise MappingError(path, [("(top level)", 1, "a mapping file is a mapping of keys (site:, tables:, ...)")])
    try:
        m = SiteMapping.model_validate(data)
    except ValidationError as exc:
        out = validation_problems(exc, lines, unknown=lambda loc: f"unknown key {loc[-1]!r}", line_of=_line,
                                  extra_tags=frozenset({"Source"}))
        raise MappingError(path, out) from None
    meaning = _meaning_problems(m)
    if meaning:
        raise MappingError(path, [(pretty_loc(loc), _line(lines, loc), msg) for loc, msg in meaning])
    m._lines = lines
    m._path = None if path is None else str(path)
    m._hash = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return m


def load_mapping(path) -> SiteMapping:
    path = Path(path)
    if not path.is_file():
        raise MappingError(path, [("(file)", None, "no such file")])
    if path.stat().st_size > MAX_MAPPING_BYTES:
        raise MappingError(path, [("(file)", None, f"the file is {path.stat().st_size:,} bytes; a mapping is at "
                                                   f"most {MAX_MAPPING_BYTES:,}")])
    return loads_mapping(path.read_text(encoding="utf-8"), path=path)


# --- values -----------------------------------------------------------------------------------------

def fold(text) -> str:
    """A value or header as compared with maps and synonyms: accents dropped, lower case, runs of
    spaces, hyphens, dots, slashes and underscores -> "_"."""
    t = unicodedata.normalize("NFKD", str(text))
    t = "".join(c for c in t if not unicodedata.combining(c)).casefold().strip()
    return re.sub(r"[\s\-._/]+", "_", t).strip("_") or t


@lru_cache(maxsize=1)
def shipped_synonyms() -> dict:
    data, _, problems = load_yaml(SYNONYMS_FILE.read_text(encoding="utf-8"), "synonyms file", max_nodes=100_000)
    if problems:   # shipped data: a broken file is a bug of oligomet, not of the user
        raise RuntimeError(f"{SYNONYMS_FILE}: {problems}")
    return data


def _key_text(k) -> str:
    # YAML reads unquoted yes/no/true/false as booleans; a value map means the words.
    if isinstance(k, bool):
        return "yes" if k else "no"
    if isinstance(k, float) and k.is_integer():
        return str(int(k))
    return str(k)


def _value_text(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    return _key_text(v)


def value_map(m: SiteMapping, table: str, f: str) -> dict[str, str]:
    """Folded source value -> registry value for ``table.f``: the mapping's own maps first (``table.field``
    before ``field``), then the shipped synonyms of the field that land on one of its codes."""
    spec = TABLES[table].get(f)
    out: dict[str, str] = {}
    for key in (f"{table}.{f}", f):
        for k, v in m.values.get(key, {}).items():
            out.setdefault(fold(_key_text(k)), _value_text(v))
    shipped = shipped_synonyms()["values"]
    if spec.type == "bool":
        for k, v in shipped["bool"].items():
            out.setdefault(fold(_key_text(k)), _value_text(v))
    elif spec.type == "code":
        for k, v in shipped.get(f, {}).items():
            if str(v) in spec.codes:
                out.setdefault(fold(_key_text(k)), str(v))
    return out


def missing_tokens(m: SiteMapping) -> set[str]:
    tokens = shipped_synonyms()["missing"] if m.missing == "default" else m.missing
    return {_key_text(t).strip().casefold() for t in tokens}


def _recode(col: pd.Series, missing: set[str], vmap: dict[str, str]) -> pd.Series:
    """Missing tokens -> None and mapped values -> registry values, once per distinct value, with
    numpy's C string functions (id columns have as many distinct values as rows)."""
    codes, uniques = pd.factorize(col, use_na_sentinel=True)
    uniq = np.asarray(uniques, dtype=object)
    if len(uniq) and pd.api.types.infer_dtype(uniq, skipna=False) == "string":
        text = np.char.strip(uniq.astype(str))
        gone = (text == "") | (np.isin(np.char.lower(text), list(missing)) if missing else False)
        text = text.astype(object)
    else:   # cells of a workbook: numbers, dates
        text = np.array([str(u).strip() for u in uniq], dtype=object)
        gone = np.array([not t or t.casefold() in missing for t in text], dtype=bool)
    if vmap:
        text = np.array([vmap.get(fold(t), t) for t in text], dtype=object)
    text[np.asarray(gone, dtype=bool)] = None
    clean = np.append(text, None)
    return pd.Series(clean[codes], index=col.index, dtype=object)


# --- reading through a mapping ----------------------------------------------------------------------

@dataclass
class _File:
    header: list[str]
    frame: pd.DataFrame          # integer column labels, index = line - 1
    lookup: dict[str, int] = field(default_factory=dict)   # header (exact, then normalised) -> position

    def position(self, column: str) -> int | None:
        return self.lookup.get(column, self.lookup.get("\x00" + normalise_name(column)))


def _read_file(folder: Path, src: Source, m: SiteMapping, table: str, log: ProblemLog, cache: dict) -> _File | None:
    key = (src.file, src.sheet)
    if key in cache:
        return cache[key]
    path = folder / src.file
    cache[key] = None
    if not path.is_file():
        log.error(table, "mapping_source_missing", f"the mapping reads {src.file!r} (mapping line "
                  f"{m.line_of('tables', table)}), which is not in {folder}")
        return None
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        from .importers.workbook import Workbook, read_sheet

        book = Workbook(path)
        try:
            sheet = src.sheet or book.sheetnames[0]
            header, frame = read_sheet(book, sheet, table, log)
        finally:
            book.close()
        frame = frame.astype(object).where(frame.notna(), None).map(lambda v: v if v is None else str(v)) \
            if len(frame) else frame
    else:
        data = path.read_bytes()
        if m.encoding:
            text = data.decode(m.encoding, errors="replace")
        else:
            text = decode(data, src.file, table, log)
        split = read_records(text, src.file, table, log)
        if split is None:
            return None
        header, frame = split
    lookup: dict[str, int] = {}
    for i, h in enumerate(header):
        lookup.setdefault(str(h).strip(), i)
        lookup.setdefault("\x00" + normalise_name(h), i)
    frame, rows = drop_blank_rows(frame)
    frame.index = pd.Index(rows, name="row")
    cache[key] = _File([str(h) for h in header], frame, lookup)
    return cache[key]


@dataclass
class Origins:
    """Where each row of each mapped table came from: file, line, source column per field, raw value."""

    rows: dict[str, pd.DataFrame] = field(default_factory=dict)       # table -> file, line, chunk (by position)
    columns: dict[str, list[dict[str, str]]] = field(default_factory=dict)   # table -> per chunk: field -> column
    values: dict[str, pd.DataFrame] = field(default_factory=dict)     # table -> raw value per field (by position)


def read_mapped(folder, mapping: SiteMapping, log: ProblemLog | None = None, *, identifier_key=None,
                ) -> tuple[dict[str, pd.DataFrame], Origins, ProblemLog]:
    """Read ``folder`` through ``mapping`` into the registry contract (tables indexed 1..n per table)."""
    from .identifiers import normalise_key
    from .io import conform_tables

    folder = Path(folder)
    log = log if log is not None else ProblemLog()
    missing = missing_tokens(mapping)
    cache: dict = {}
    raw: RawTables = {}
    origins = Origins()
    for table in TABLE_ORDER:
        if table not in mapping.tables:
            continue
        parts, where, raws, colmaps = [], [], [], []
        for i, src in enumerate(mapping.sources(table)):
            f = _read_file(folder, src, mapping, table, log, cache)
            if f is None:
                continue
            loc = ("tables", table, i)
            for n in (src.repeat or [None]):
                chunk = _chunk(f, src, n, table, mapping, loc, missing, log)
                if chunk is None:
                    continue
                frame, original, lines, colmap = chunk
                # an editor shows a CSV's lines, a spreadsheet its sheet and rows
                where.append(pd.DataFrame({"file": src.file if src.sheet is None else f"{src.file} sheet {src.sheet!r}",
                                           "unit": "line" if src.sheet is None else "row",
                                           "line": lines, "chunk": len(colmaps)}))
                colmaps.append(colmap)
                parts.append(frame)
                raws.append(original)
        if table == "patients" and mapping.site is not None:
            for p in parts:
                if "site" not in p.columns:
                    p["site"] = mapping.site
        if not parts:
            continue
        frame = pd.concat(parts, ignore_index=True)
        positions = np.arange(1, len(frame) + 1)
        frame.attrs["decimal"] = mapping.decimal
        raw[table] = (frame, positions)
        origins.rows[table] = pd.concat(where, ignore_index=True).set_axis(positions)
        origins.columns[table] = colmaps
        origins.values[table] = pd.concat(raws, ignore_index=True).set_axis(positions)
    if "patients" not in raw:
        log.error("patients", "missing_table", "the mapping gives no patients table (tables: patients: ...)")
    tables = conform_tables(raw, log, order=mapping.order, key=normalise_key(identifier_key))
    _convert_units(tables, mapping)
    return tables, origins, log


def _chunk(f: _File, src: Source, n, table, mapping, loc, missing, log):
    """The rows of ``table`` from one source (and repeat number ``n``): (frame, raw values, lines, colmap)."""
    sub = (lambda c: c.replace("{n}", str(n))) if n is not None else (lambda c: c)
    colmap = {fld: sub(col) for fld, col in src.columns.items()}
    cols, original = {}, {}
    absent = [c for c in colmap.values() if f.position(c) is None]
    if absent:
        log.error(table, "mapping_column_missing",
                  f"{src.file} has no column {', '.join(repr(c) for c in absent)} (mapping line "
                  f"{mapping.line_of(*loc, 'columns')}); its columns are: {', '.join(f.header)}")
        return None
    for fld, col in colmap.items():
        s = f.frame[f.position(col)]
        original[fld] = s
        cols[fld] = _recode(s, missing, value_map(mapping, table, fld))
    frame = pd.DataFrame(cols, index=f.frame.index)
    keep = np.ones(len(frame), dtype=bool)
    if n is not None:
        # one row per number that has a value: patient 3 with one lesion has an empty lesion2_*
        numbered = [fld for fld, col in src.columns.items() if "{n}" in col]
        keep = frame[numbered].notna().any(axis=1).to_numpy()
    for fld, text in src.computed.items():
        expr = parse_expression(sub(text))
        names = [c for c in expr.names if c != "n"]
        lacking = [c for c in names if f.position(c) is None]
        if lacking:
            log.error(table, "mapping_column_missing",
                      f"computed {fld} (mapping line {mapping.line_of(*loc, 'computed', fld)}) reads "
                      f"{', '.join(repr(c) for c in lacking)}, not a column of {src.file}")
            return None
        env = pd.DataFrame({c: _recode(f.frame[f.position(c)], missing, {}).astype("string") for c in names},
                           index=f.frame.index)
        if "n" in expr.names:
            env["n"] = pd.Series(str(n), index=env.index, dtype="string")
        try:
            value = evaluate(expr, env)
        except ExpressionError as exc:
            log.error(table, "mapping_expression", f"computed {fld} (mapping line "
                      f"{mapping.line_of(*loc, 'computed', fld)}): {exc}", field=fld)
            return None
        value = value if isinstance(value, pd.Series) else pd.Series(value, index=env.index)
        frame[fld] = value.astype(object).where(value.notna(), None)
        original[fld] = frame[fld]
        colmap[fld] = f"computed: {sub(text)}"
    for fld, v in src.constant.items():
        frame[fld] = _value_text(v)
    lines = f.frame.index.to_numpy()[keep] + 1
    original = pd.DataFrame(original, index=f.frame.index)
    return (frame.loc[keep].reset_index(drop=True), original.loc[keep].reset_index(drop=True), lines, colmap)


def _convert_units(tables: dict[str, pd.DataFrame], m: SiteMapping) -> None:
    for key, unit in m.units.items():
        suffix = next(u for s, u in _SUFFIX_UNIT.items() if key.endswith(s))
        for t, f in _field_of(key):
            if t in tables and f in tables[t]:
                # rounded: 1.1 cm is 11 mm, not the 11.000000000000002 of binary floating point
                tables[t][f] = (tables[t][f] * UNITS[suffix][str(unit).strip().lower()]).round(9)


def in_source_terms(report: ValidationReport, origins: Origins, mapping: SiteMapping) -> ValidationReport:
    """Problems of mapped tables told in the source's terms: ``row`` becomes the source's data row (its
    line - 1) and the message starts with ``file line N, column 'X' (value 'v') -> table.field:``."""
    p = report.problems.copy()
    if p.empty:
        return report
    msgs, rows, values = p["message"].to_numpy(dtype=object).copy(), p["row"].to_numpy(dtype=object).copy(), \
        p["value"].to_numpy(dtype=object).copy()
    # Per table, the origin columns as plain arrays indexed by position - 1 (mapped tables are numbered
    # 1..n): a registry with hundreds of thousands of problems is translated in seconds, not minutes.
    cache: dict[str, tuple] = {}
    for i, (t, r, fld, rule) in enumerate(zip(p["table"], p["row"], p["field"], p["rule"])):
        where = origins.rows.get(t)
        if where is None:
            continue
        if t not in cache:
            cache[t] = (where["file"].to_numpy(), where["unit"].to_numpy(), where["line"].to_numpy(),
                        where["chunk"].to_numpy(), {c: v.to_numpy(dtype=object) for c, v in origins.values[t].items()})
        files, units, lines, chunks, raws = cache[t]
        if not isinstance(r, (int, np.integer)) or not 1 <= r <= len(lines):
            if rule == "missing_column" and fld:
                msgs[i] = (f"{msgs[i]}: the mapping maps no source column to {t}.{fld}; add it under tables: {t}: "
                           f"columns: (mapping line {mapping.line_of('tables', t)})")
            continue
        k = int(r) - 1
        line = int(lines[k])
        text = f"{files[k]} {units[k]} {line}"
        if fld:
            col = origins.columns[t][int(chunks[k])].get(fld)
            if col is not None:
                raw = raws[fld][k] if fld in raws else None
                text += f", column {col!r}"
                if values[i] is not None and raw is not None:
                    text += f" (value {raw!r})"
                    values[i] = raw
            text += f" -> {t}.{fld}"
        msgs[i] = f"{text}: {msgs[i]}"
        rows[i] = line - 1
    p["message"], p["row"], p["value"] = msgs, rows, values
    # an original value that the identifier rules masked stays masked
    return redact(ValidationReport(p[list(PROBLEM_COLUMNS)]), redacted(report))


def check_mapped(folder, mapping, *, data_lock=None, identifier_key=None,
                 ) -> tuple[dict[str, pd.DataFrame], ValidationReport]:
    """Read ``folder`` through ``mapping`` (a :class:`SiteMapping` or a mapping file) and validate it;
    every problem in the source's terms."""
    from .validate import combine, validate

    m = mapping if isinstance(mapping, SiteMapping) else load_mapping(mapping)
    tables, origins, log = read_mapped(folder, m, identifier_key=identifier_key)
    report = combine(log.report(), validate(tables, data_lock=data_lock))
    return tables, in_source_terms(report, origins, m)


def source_files(folder, mapping: SiteMapping) -> list[Path]:
    folder = Path(folder)
    names = dict.fromkeys(s.file for t in mapping.tables for s in mapping.sources(t))
    return [folder / n for n in names if (folder / n).is_file()]


def import_mapped(store, folder, mapping, *, data_lock=None, identifier_key=None, allow_deletions: bool = False,
                  site: str | None = None):
    """Validate ``folder`` through ``mapping`` and write it to ``store`` all or nothing
    (``Store.import_registry(folder, mapping=mapping, site=site)``).

    The import's provenance (``Store.imports()`` / ``import_files``) names the folder, the format
    ``mapping`` and, beside the SHA-256 of every source file, the mapping file with its SHA-256
    (``mapping:<file name>``), written in the import's own transaction. A rejected source is
    reported in the source's terms and writes nothing.
    """
    return store.import_registry(folder, data_lock=data_lock, identifier_key=identifier_key,
                                 allow_deletions=allow_deletions, mapping=mapping, site=site)
