"""Turn raw cell values into the in-memory registry contract, collecting parse problems.

Every table leaves here with exactly the declared field columns (see ``registry/fields.py``)
and the contract's dtypes: ``date`` -> datetime64[ns], ``int`` -> ``Int64``, ``float`` ->
float64, ``bool`` -> ``boolean``, ``str``/``code``/``list`` -> object (str or None). The index
is the 1-based data row in the source file (named ``row``), so that later rules can point at it.

A value that cannot be parsed becomes missing and is reported once (``date_unparseable``,
``not_a_number``, ...); it is never silently dropped. All conversions are vectorised.

Accepted dates: ISO ``YYYY-MM-DD`` (optionally followed by a time, which is ignored, as in
REDCap datetime fields or Excel cells read as text) and Excel date cells. Day/month dates
(``DD-MM-YYYY``, ``DD/MM/YYYY``, ``DD.MM.YYYY``, ``MM/DD/YYYY``) only with an explicit
``date_format=``: a value such as ``03/04/2020`` is ambiguous (3 April or 4 March) and the
only safe answer without the user's word is an error.
"""
from __future__ import annotations

import calendar
import re
from functools import lru_cache

import numpy as np
import pandas as pd

from .fields import TABLES, Field
from .report import ProblemLog
from .rules.context import first_positions

#: ``date_format=`` values and the order of their day-month parts.
DATE_FORMATS = {"YYYY-MM-DD": None, "DD-MM-YYYY": "dmy", "DD/MM/YYYY": "dmy", "DD.MM.YYYY": "dmy",
                "MM/DD/YYYY": "mdy", "MM-DD-YYYY": "mdy"}
ACCEPTED_DATES = ("YYYY-MM-DD (ISO, always accepted), Excel date cells, or DD-MM-YYYY / DD/MM/YYYY / "
                  "DD.MM.YYYY / MM/DD/YYYY only with an explicit date_format")
MIN_YEAR, MAX_YEAR = 1900, 2100
_TRUE = ("1", "true", "yes", "y", "t")
_FALSE = ("0", "false", "no", "n", "f")
_ISO = r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d*)?)?)?$"
_DAY_MONTH = r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$"


def check_date_format(date_format: str | None) -> str | None:
    if date_format is None:
        return None
    key = date_format.strip().upper()
    if key not in DATE_FORMATS:
        raise ValueError(f"date_format {date_format!r} is not supported; use one of {', '.join(DATE_FORMATS)}")
    return DATE_FORMATS[key]


def as_string(raw: pd.Series) -> pd.Series:
    """Raw cells as stripped strings (pandas ``string`` dtype), empty cells as <NA> (small inputs)."""
    if isinstance(raw.dtype, pd.StringDtype):
        s = raw
    else:
        obj = raw.astype(object)
        s = obj.where(obj.notna(), None).astype("string")
    s = s.str.strip()
    return s.mask(s == "")


def _clean(v):
    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return None
    t = str(v).strip()
    return t or None


def as_text(raw: pd.Series, distinct: bool = False, stripped: bool = False) -> pd.Series:
    """Raw cells as stripped ``str`` (object dtype), empty or missing cells as None.

    Strings are cleaned once per distinct value (``pd.factorize``), not once per cell: registry
    columns repeat their values (codes, dates), and per-cell Python string calls dominated the
    time to read a million rows. ``distinct``: the caller already holds distinct values (the
    uniques of ``parse_field``), so the factorize is skipped. ``stripped``: the reader found no cell
    that starts or ends with whitespace (``csvfile.STRIPPED``), so text cells are not stripped.
    """
    if distinct:
        return pd.Series(_clean_texts(raw.to_numpy(dtype=object), stripped), index=raw.index, dtype=object)
    codes, uniques = pd.factorize(raw, use_na_sentinel=True)
    clean = np.append(_clean_texts(np.asarray(uniques, dtype=object), stripped), None)
    return pd.Series(clean[codes], index=raw.index, dtype=object)  # code -1 (missing) -> the trailing None


#: Every character ``str.isspace`` holds (``str.strip``'s whitespace), and NUL.
_WHITESPACE_AND_NUL = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                       "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\x00")


def _clean_texts(uniq: np.ndarray, stripped: bool = False) -> np.ndarray:
    """``_clean`` of each value; one string method chain per value for the all-text array a CSV gives.

    ``stripped``: every text is known to be its own stripped text already (``csvfile.STRIPPED``); only
    the empty text is then missing."""
    if len(uniq) and pd.api.types.infer_dtype(uniq, skipna=False) == "string":
        if stripped:
            return np.where(uniq == "", None, uniq)
        # All text (the CSV case). What NumPy's strip of a fixed-width copy gave before, without the
        # copy (half the time on 10^5 distinct ids): NumPy's strings end at trailing NULs, so its strip
        # takes NULs as well as whitespace off the right end (tests/registry/test_import_fast_paths.py).
        return np.array([v.rstrip(_WHITESPACE_AND_NUL).lstrip() or None for v in uniq], dtype=object)
    return np.array([_clean(v) for v in uniq], dtype=object)


def _ymd(year, month, day, index) -> pd.Series:
    parts = pd.DataFrame({"year": year, "month": month, "day": day}, index=index).astype(float)
    ok = parts.notna().all(axis=1) & parts["year"].between(1, 9999)
    out = pd.Series(pd.NaT, index=index, dtype="datetime64[ns]")
    if ok.any():
        out[ok] = pd.to_datetime(parts[ok], errors="coerce")
    return out


def parse_dates(s: pd.Series, order: str | None) -> tuple[pd.Series, pd.Series]:
    """Parse stripped strings into dates; returns (dates, rule) with rule None where fine."""
    rule = pd.Series(None, index=s.index, dtype=object)
    present = s.notna()
    if not present.any():
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]"), rule
    # Fast path, the common case: every value is a plain ISO date (one C-level parse, no regex), or,
    # with a declared order, a day-month date with one separator throughout.
    formats = ["%Y-%m-%d"]
    if order is not None:
        first, second = ("%d", "%m") if order == "dmy" else ("%m", "%d")
        sep = s[present].iloc[0][2:3] if s[present].iloc[0][2:3] in "-/." else "-"
        formats.append(f"{first}{sep}{second}{sep}%Y")
    for fmt in formats:
        fast = pd.to_datetime(s, format=fmt, errors="coerce")
        if not (present & fast.isna()).any():
            yr = fast.dt.year
            if not ((yr < MIN_YEAR) | (yr > MAX_YEAR)).any():
                return fast.astype("datetime64[ns]"), rule
    iso = s.str.extract(_ISO)
    dm = s.str.extract(_DAY_MONTH)
    year, month, day = iso[0], iso[1], iso[2]
    is_dm = dm[0].notna() & iso[0].isna()
    if order is not None:
        first, second = (dm[0], dm[1]) if order == "dmy" else (dm[1], dm[0])
        day = day.where(~is_dm, first)
        month = month.where(~is_dm, second)
        year = year.where(~is_dm, dm[2])
    else:
        a = pd.to_numeric(dm[0], errors="coerce")
        b = pd.to_numeric(dm[1], errors="coerce")
        rule[is_dm & (a <= 12) & (b <= 12)] = "date_ambiguous"
        rule[is_dm & ~((a <= 12) & (b <= 12))] = "date_unparseable"
    dates = _ymd(pd.to_numeric(year, errors="coerce"), pd.to_numeric(month, errors="coerce"),
                 pd.to_numeric(day, errors="coerce"), s.index)
    unparsed = present & dates.isna() & rule.isna()
    rule[unparsed] = "date_unparseable"
    yr = dates.dt.year
    out_of_range = dates.notna() & ((yr < MIN_YEAR) | (yr > MAX_YEAR))
    rule[out_of_range] = "date_out_of_range"
    dates[out_of_range] = pd.NaT
    return dates, rule


def _date_message(rule: pd.Series, s: pd.Series, order: str | None) -> pd.Series:
    msg = pd.Series("", index=rule.index, dtype=object)
    if not rule.notna().any():
        return msg
    msg[rule == "date_ambiguous"] = ("ambiguous date: day and month could be swapped; declare the order with "
                                     "date_format='DD/MM/YYYY' or 'MM/DD/YYYY' (accepted: " + ACCEPTED_DATES + ")")
    unparseable = rule == "date_unparseable"
    msg[unparseable] = "not a valid date in an accepted format; accepted: " + ACCEPTED_DATES
    if unparseable.any():
        msg[unparseable] = _impossible_dates(s[unparseable], order).fillna(msg[unparseable])
    msg[rule == "date_out_of_range"] = f"date outside {MIN_YEAR}-{MAX_YEAR}; check the year"
    return msg


#: Other names of codes that mean exactly the same thing, accepted in every source.
CODE_SYNONYMS = {"sbrt": "sabr", "srt": "sabr", "stereotactic_body_radiotherapy": "sabr",
                 "stereotactic_ablative_radiotherapy": "sabr", "radiofrequency_ablation": "rfa",
                 "microwave_ablation": "mwa"}

_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _impossible_dates(s: pd.Series, order: str | None) -> pd.Series:
    """"30 February 2019 does not exist" for well-formed dates whose day is past the end of the month
    (None elsewhere): saying "not a valid format" sends the user looking for a format problem."""
    text = s.astype("string")
    iso = text.str.extract(_ISO)
    dm = text.str.extract(_DAY_MONTH)
    year, month, day = iso[0], iso[1], iso[2]
    if order is not None:
        first, second = (dm[0], dm[1]) if order == "dmy" else (dm[1], dm[0])
        is_dm = iso[0].isna() & dm[0].notna()
        year, month, day = year.where(~is_dm, dm[2]), month.where(~is_dm, second), day.where(~is_dm, first)
    y, m, d = (pd.to_numeric(x, errors="coerce") for x in (year, month, day))
    out = pd.Series(None, index=s.index, dtype=object)
    ok = y.notna() & m.between(1, 12) & d.between(1, 31)
    for i in np.flatnonzero(ok.to_numpy()):
        yy, mm, dd = int(y.iloc[i]), int(m.iloc[i]), int(d.iloc[i])
        last = calendar.monthrange(yy, mm)[1] if 1 <= yy <= 9999 else 31
        if dd > last:
            out.iloc[i] = (f"{dd} {_MONTHS[mm - 1]} {yy} does not exist ({_MONTHS[mm - 1]} {yy} has {last} days); "
                           "check the day and the month")
    return out


def infer_date_order(frame: pd.DataFrame, names: list[str], with_example: bool = False,
                     distinct: dict[str, np.ndarray] | None = None):
    """The day-month order that the values of the date columns ``names`` settle, or None.

    A value such as ``15-01-2016`` can only be day first; when some values of a table can only be
    day first and none can only be month first, every day-month date of the table is read day
    first (and vice versa). Files whose values are all ambiguous still need the declared order.
    With ``with_example``, returns (order, a value that settled it). ``distinct``: the distinct values
    of some of the columns of text (``pd.factorize``), when the caller has them already.
    """
    day_first = month_first = False
    example = {True: None, False: None}   # a value that settles each order
    for n in names:
        if n not in frame.columns or isinstance(frame[n], pd.DataFrame):
            continue
        col = frame[n]
        if pd.api.types.is_datetime64_any_dtype(col):
            continue
        # factorize's distinct values are pd.unique's, in the same order (first appearance), missing left out
        uniq = distinct[n] if distinct is not None and n in distinct else pd.unique(col.astype(object))
        uniq = pd.Series(uniq, dtype=object).dropna().astype(str).str.strip()
        # the common file is all ISO: one C-level parse rules it out before any regex
        uniq = uniq[pd.to_datetime(uniq, format="%Y-%m-%d", errors="coerce").isna().to_numpy()]
        if uniq.empty:
            continue
        dm = uniq.str.extract(_DAY_MONTH)
        a = pd.to_numeric(dm[0], errors="coerce")
        b = pd.to_numeric(dm[1], errors="coerce")
        d = ((a > 12) & (a <= 31) & (b <= 12)).to_numpy()
        m = ((b > 12) & (b <= 31) & (a <= 12)).to_numpy()
        example[True] = example[True] or (uniq[d].iloc[0] if d.any() else None)
        example[False] = example[False] or (uniq[m].iloc[0] if m.any() else None)
        day_first |= bool(d.any())
        month_first |= bool(m.any())
    order = ("dmy" if day_first else "mdy") if day_first != month_first else None
    return (order, example[day_first] if order else None) if with_example else order


def _normalise_code(s: pd.Series) -> pd.Series:
    return s.str.lower().str.replace(r"[\s\-]+", "_", regex=True)


@lru_cache(maxsize=None)
def _canonical_codes(codes: tuple[str, ...]) -> dict[str, str]:
    canon = {re.sub(r"[\s\-]+", "_", c.lower()): c for c in codes}
    for synonym, code in CODE_SYNONYMS.items():
        if code in codes:
            canon.setdefault(synonym, code)
    return canon


def parse_field(raw: pd.Series, f: Field, order: str | None, decimal: str = ".",
                ) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Convert one column; returns (typed values, rule or None per row, message per row).

    Parses each distinct raw value once and spreads the results back with ``take``.
    """
    values, rule, msg, _ = _parse_column(raw, f, order, decimal)
    if rule is None:
        return (values, pd.Series(np.full(len(raw), None, dtype=object), index=raw.index, dtype=object),
                pd.Series(np.full(len(raw), "", dtype=object), index=raw.index, dtype=object))
    return values, rule, msg


def _parse_column(raw: pd.Series, f: Field, order: str | None, decimal: str = ".", stripped: bool = False,
                  factorized: tuple[np.ndarray, np.ndarray] | None = None,
                  ) -> tuple[pd.Series, pd.Series | None, pd.Series | None, tuple[np.ndarray, np.ndarray] | None]:
    """:func:`parse_field`, with rule and message None for a column without a problem (the common column:
    no arrays of a million Nones to build, and to find no problem in). ``stripped``: see
    :func:`as_text`; ``factorized``: ``pd.factorize(raw)`` when the caller has it already. Last, for a
    text column (object dtype), ``(codes, texts)`` with ``values == texts[codes]``, else None."""
    if not (f.type == "date" and pd.api.types.is_datetime64_any_dtype(raw)):
        codes, uniques = factorized if factorized is not None else pd.factorize(raw, use_na_sentinel=True)
        values, rule, msg = _parse_values(pd.Series(np.asarray(uniques, dtype=object), dtype=object), f, order,
                                         decimal, stripped)
        take = pd.api.extensions.take
        plain = values.dtype == object or values.dtype == np.float64
        arr = values.to_numpy() if plain else values.array  # numpy for float/object, else the extension array
        packed = None
        if f.type in ("str", "code", "list"):
            # Built as object outright: a Series of Python str would be inferred as pandas 3's Arrow
            # strings and converted back, two passes over every cell (seconds at a million rows).
            # The parsed uniques hold str or None; code -1 (a missing cell) picks the appended None.
            packed = (codes, np.append(arr, None))
            values = pd.Series(packed[1][codes], index=raw.index, name=raw.name, dtype=object)
        else:
            values = pd.Series(take(arr, codes, allow_fill=True), index=raw.index, name=raw.name)
        # the common column: no problem to spread over the rows (a text column never has one)
        if f.type in ("str", "code", "list") or rule.isna().all():
            return values, None, None, packed
        rule = pd.Series(take(rule.to_numpy(dtype=object), codes, allow_fill=True, fill_value=None),
                         index=raw.index, dtype=object)
        msg = pd.Series(take(msg.to_numpy(dtype=object), codes, allow_fill=True, fill_value=""),
                        index=raw.index, dtype=object)
        return values, rule, msg, packed
    values, rule, msg = _parse_values(raw, f, order, decimal)
    return (values, None, None, None) if rule.isna().all() else (values, rule, msg, None)


def _parse_values(raw: pd.Series, f: Field, order: str | None, decimal: str = ".", stripped: bool = False,
                  ) -> tuple[pd.Series, pd.Series, pd.Series]:
    if f.type == "date" and pd.api.types.is_datetime64_any_dtype(raw):
        dates = pd.to_datetime(raw).dt.tz_localize(None) if getattr(raw.dt, "tz", None) else raw
        dates = dates.dt.normalize().astype("datetime64[ns]")
        none = pd.Series(None, index=raw.index, dtype=object)
        yr = dates.dt.year
        bad = dates.notna() & ((yr < MIN_YEAR) | (yr > MAX_YEAR))
        rule = none.copy()
        rule[bad] = "date_out_of_range"
        return dates.mask(bad), rule, _date_message(rule, raw, order)
    s = as_text(raw, distinct=True, stripped=stripped)  # parse_field passes each distinct raw value once
    rule = pd.Series(None, index=s.index, dtype=object)
    msg = pd.Series("", index=s.index, dtype=object)
    if f.type == "date":
        dates, rule = parse_dates(s, order)
        return dates, rule, _date_message(rule, s, order)
    if f.type in ("int", "float"):
        # Excel and R write whole numbers as "3.0"; accepted for integer fields.
        if decimal == ",":
            # "12,5" -> 12.5; a value that also holds a point ("1.234,5") stays an error: which mark
            # groups thousands is not for a reader to guess.
            # (astype: on a column with no value at all the match is all-missing, not boolean)
            comma = s.str.fullmatch(r"[-+]?\d*,\d+").fillna(False).astype(bool)
            s = s.where(~comma, s.str.replace(",", ".", regex=False))
        num = pd.to_numeric(s, errors="coerce").astype(float)
        if f.type == "int":
            # |n| > 2**53 cannot be held exactly (and overflows Int64 casts): not a plausible registry integer.
            bad = s.notna() & (num.isna() | ~np.isfinite(num) | (num != np.round(num)) | (num.abs() > 2.0 ** 53))
            rule[bad] = "not_an_integer"
            msg[bad] = f"{f.name} must be a whole number (at most 2^53 in size)"
            return num.mask(bad).astype("Int64"), rule, msg
        bad = s.notna() & (num.isna() | ~np.isfinite(num))
        rule[bad] = "not_a_number"
        comma = bad & (s.str.contains(",", regex=False) == True)  # noqa: E712 (None -> False)
        msg[bad] = f"{f.name} must be a number"
        msg[comma] = (f"{f.name} must be a number with a decimal point (not a comma); a file separated by ';' "
                      "or a mapping with decimal: ',' reads decimal commas")
        return num.mask(bad), rule, msg
    if f.type == "bool":
        low = s.str.lower()
        val = pd.Series(pd.NA, index=s.index, dtype="boolean")
        val[low.isin(_TRUE).fillna(False)] = True
        val[low.isin(_FALSE).fillna(False)] = False
        bad = s.notna() & val.isna()
        rule[bad] = "not_a_boolean"
        msg[bad] = f"{f.name} must be one of 0/1, true/false, yes/no"
        return val, rule, msg
    if f.type == "code":
        # Case, spaces and hyphens are forgiven ("Minimally invasive" -> minimally_invasive);
        # anything else is kept as written so that the code rule can show it.
        canon = _canonical_codes(f.codes)
        mapped = _normalise_code(s).map(canon)
        out = mapped.where(mapped.notna(), s)
        return out.astype(object).where(out.notna(), None), rule, msg
    if f.type == "list":
        return _list_cells(s), rule, msg
    return s, rule, msg   # as_text's str or None


_LIST_SEPARATOR = re.compile(r"\s*[;,]\s*")
_NOT_PLAIN_LIST = re.compile(r"[,\s]")


def _list_cells(s: pd.Series) -> pd.Series:
    """``;``-separated ids: ``,`` or spaces around a separator -> ``;``, no separator at either end.

    The substitution is run only on cells with a comma or a space: in any other cell every separator
    is a lone ``;`` already, and a regex substitution per distinct cell cost ~0.5 s at 10^5 cells.
    """
    def clean(v):
        if v is None:
            return None
        if _NOT_PLAIN_LIST.search(v):
            v = _LIST_SEPARATOR.sub(";", v)
        return v.strip(";") or None

    values = s.to_numpy(dtype=object)
    texts = values[pd.notna(values)]
    if pd.api.types.infer_dtype(texts, skipna=False) == "string":
        # Nothing to change in any cell (the usual list): no comma or space anywhere, no ";" at either end
        # of a cell, no empty cell; seen in the cells joined by NUL (none of them holding a NUL).
        joined = "\x00".join(texts)
        if (joined and joined.count("\x00") == len(texts) - 1 and not _NOT_PLAIN_LIST.search(joined)
                and not any(edge in joined for edge in ("\x00\x00", "\x00;", ";\x00"))
                and not joined.startswith((";", "\x00")) and not joined.endswith((";", "\x00"))):
            return pd.Series(values, index=s.index, dtype=object)
    return pd.Series([clean(v) for v in values], index=s.index, dtype=object)


_DTYPES = {"date": "datetime64[ns]", "int": "Int64", "float": "float64", "bool": "boolean"}


def empty_table(name: str) -> pd.DataFrame:
    """A zero-row table with the contract's columns and dtypes."""
    return pd.DataFrame({f.name: pd.Series(dtype=_DTYPES.get(f.type, object)) for f in TABLES[name].fields},
                        index=pd.Index([], name="row", dtype=object))


def conform_table(name: str, frame: pd.DataFrame, rows, log: ProblemLog, order: str | None = None,
                  patient_of_treatment: pd.Series | None = None, decimal: str = ".", stripped: bool = False,
                  texts: dict[str, tuple[np.ndarray, np.ndarray]] | None = None) -> pd.DataFrame:
    """Parse ``frame`` (raw strings or already typed) into the contract for table ``name``.

    ``rows`` are the 1-based file rows of ``frame``'s rows. Missing required columns and every
    unparseable cell are added to ``log``; the cell becomes missing. ``stripped``: the reader found
    no cell starting or ending with whitespace (see :func:`as_text`). ``texts``: filled with
    ``(codes, distinct texts)`` of the text columns parsed (see :func:`_parse_column`).
    """
    table = TABLES[name]
    rows = pd.Index(np.asarray(rows, dtype=object), name="row")
    frame = frame.set_axis(rows, axis=0)
    parsed = {}
    if "patient_id" in frame.columns and not isinstance(frame["patient_id"], pd.DataFrame):
        # The patient of each row is the parsed patient_id (a str field: stripped text, never a
        # problem of its own); parsing it once serves both.
        parsed["patient_id"] = _parse_column(frame["patient_id"], table.get("patient_id"), order, decimal,
                                             stripped)
        pid = parsed["patient_id"][0].to_numpy(dtype=object)
    else:
        pid = _patient_ids(name, frame, patient_of_treatment, stripped)
    # The distinct values of a text file's date columns serve both to settle the day-month order and to
    # parse them: one factorize of each.
    factorized = {f.name: pd.factorize(frame[f.name], use_na_sentinel=True) for f in table.fields
                  if f.type == "date" and f.name in frame.columns and isinstance(frame[f.name], pd.Series)
                  and (stripped and frame[f.name].dtype == object
                       or isinstance(frame[f.name].dtype, pd.CategoricalDtype))}
    if order is None:
        dates = [f.name for f in table.fields if f.type == "date"]
        order, example = infer_date_order(frame, dates, with_example=True,
                                          distinct={n: uniques for n, (_, uniques) in factorized.items()})
        if order is not None:
            log.warning(name, "date_order_inferred", f"day-month dates of table {name} read "
                        f"{'day' if order == 'dmy' else 'month'} first, as its value {example} settles (no value "
                        "of the table reads the other way); declare the date order to silence this")
    out = {}
    for f in table.fields:
        if f.name not in frame.columns:
            if f.required:
                log.error(name, "missing_column", f"required column {f.name!r} is missing from table {name!r}; "
                          "its rows are not also reported one by one", field=f.name)
            if f.type in _DTYPES:
                out[f.name] = pd.Series(pd.NA if f.type in ("int", "bool") else None, index=rows,
                                        dtype=_DTYPES[f.type])
            else:  # object columns hold None, not NaN, for missing
                out[f.name] = pd.Series([None] * len(rows), index=rows, dtype=object)
            continue
        raw = frame[f.name]
        if isinstance(raw, pd.DataFrame):  # duplicated header: keep the first, report it
            log.error(name, "duplicate_column", f"column {f.name!r} appears {raw.shape[1]} times", field=f.name)
            raw = raw.iloc[:, 0]
        values, rule, msg, packed = parsed[f.name] if f.name in parsed else \
            _parse_column(raw, f, order, decimal, stripped, factorized.get(f.name))
        if texts is not None and packed is not None:
            texts[f.name] = packed
        if rule is not None:
            bad = rule.notna().to_numpy()
            raw_text = as_text(raw, stripped=stripped) if not pd.api.types.is_datetime64_any_dtype(raw) else raw
            for r in pd.unique(rule[bad]):
                m = (rule == r).to_numpy()
                log.error(name, r, msg[m].reset_index(drop=True), rows=rows[m], patient_id=pid[m], field=f.name,
                          value=raw_text[m])
        out[f.name] = values
    return pd.DataFrame(out, index=rows)


def _patient_ids(name: str, frame: pd.DataFrame, patient_of_treatment: pd.Series | None,
                 stripped: bool = False) -> np.ndarray:
    """Patient of each row of a table without a (single) patient_id column: complications via treatment
    (``patient_of_treatment``: treatment_id -> patient_id, the first entry of an id counts)."""
    if name == "complications" and patient_of_treatment is not None and "treatment_id" in frame.columns:
        # ``tid.map(patient_of_treatment)``, the first entry of each id (a missing id matches none)
        tid = as_text(frame["treatment_id"], stripped=stripped).to_numpy(dtype=object)
        first = first_positions(patient_of_treatment.index.to_numpy(dtype=object), tid)
        p = pd.Series(np.append(patient_of_treatment.to_numpy(dtype=object), None)[first], dtype=object)
        return p.where(p.notna(), None).to_numpy(dtype=object)
    return np.full(len(frame), None, dtype=object)
