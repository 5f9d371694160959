"""Shared helpers for endpoint derivation: table access, date arithmetic, the month convention.

Months are ``days / 30.4375`` (the mean Gregorian month, 365.25 / 12), the convention of
R's ``lubridate::time_length`` and of most surgical-oncology papers; it is stated in every
docstring that returns months.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..registry.fields import TABLES

DAYS_PER_MONTH = 30.4375
UNITS = {"days": 1.0, "months": DAYS_PER_MONTH}


def table(tables: dict, name: str) -> pd.DataFrame:
    """A registry table with every declared column, dates as datetime64; absent table -> empty frame.

    Tolerates string dates (parsed as ISO) so that frames read straight from CSV work too.
    """
    spec = TABLES[name]
    frame = tables.get(name)
    if frame is None:
        frame = pd.DataFrame({f: pd.Series(dtype=object) for f in spec.field_names})
    else:
        if not isinstance(frame, pd.DataFrame):
            raise TypeError(f"registry table {name!r} must be a pandas DataFrame, got {type(frame).__name__}")
        missing = [f for f in spec.field_names if f not in frame.columns]
        if missing:
            frame = frame.copy()
            for f in missing:
                frame[f] = pd.NA
    out = frame.reset_index(drop=True)  # row labels are positions from here on (inputs may repeat them)
    for f in spec.fields:
        if f.type == "date" and not pd.api.types.is_datetime64_any_dtype(out[f.name]):
            parsed = pd.to_datetime(out[f.name], errors="coerce", format="mixed")
            bad = parsed.isna() & out[f.name].notna() & (out[f.name].astype(str).str.strip() != "")
            if bad.any():
                rows = list(out.index[bad.to_numpy()][:10])
                raise ValueError(f"table {name!r}, field {f.name!r}: unparseable dates at rows {rows} "
                                 f"(e.g. {out.loc[bad, f.name].iloc[0]!r}); use ISO YYYY-MM-DD")
            out[f.name] = parsed
        elif f.type == "date" and out[f.name].dtype != "datetime64[ns]":   # e.g. [us] or [s]: as nanoseconds
            out[f.name] = out[f.name].astype("datetime64[ns]")
    return out


def elapsed(start: pd.Series, end: pd.Series, unit: str) -> pd.Series:
    """``end - start`` in ``unit`` (days, or months = days / 30.4375); NaN where either is missing."""
    days = (end - start).dt.days.astype(float)
    return days / UNITS[unit]


def map_number(values: pd.Series, mapping: dict) -> np.ndarray:
    """``values.map(mapping)`` as float (NaN where a value is missing or not a key) for a short code list.

    ``Series.map(dict)`` matches every row against the keys as a (pandas 3: arrow) string index,
    tens of milliseconds per 10^5 rows; here the distinct values are found once (``factorize``)
    and only those are looked up."""
    codes, uniques = pd.factorize(values)
    table = np.array([mapping.get(u, np.nan) for u in uniques] + [np.nan], dtype=float)
    return table[codes]   # code -1 (missing) picks the trailing NaN


def map_numbers(values: pd.Series, *mappings: dict) -> list[np.ndarray]:
    """:func:`map_number` of ``values`` through each of ``mappings``, from one ``factorize``."""
    codes, uniques = pd.factorize(values)
    return [np.array([m.get(u, np.nan) for u in uniques] + [np.nan], dtype=float)[codes] for m in mappings]


def check_unit(unit: str) -> None:
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(map(repr, UNITS))}, got {unit!r}")


def split_ids(lesion_ids: pd.Series) -> pd.Series:
    """``'L1;L2'`` -> one row per id (index kept, order kept), blanks dropped.

    Most treatments list one lesion, so only the values holding a ';' go through split/explode
    (the slow path at registry scale)."""
    s = lesion_ids.dropna().astype(str)
    multi = s.str.contains(";", regex=False)
    if multi.any():
        parts = s[multi].str.split(";").explode()
        s = pd.concat([s[~multi], parts]).sort_index(kind="mergesort")
    s = s.str.strip()
    return s[s != ""]


def after_day(dates: pd.Series, start: pd.Series) -> pd.Series:
    """True where ``dates`` falls on a calendar day strictly after ``start`` (row by row); False where
    either is missing.

    The one place of the rule "an event on the day the clock starts is history, not an outcome":
    a recurrence or new metastasis dated on the day of the treatment (or other origin) was already
    there when the clock started (found on the planning scan, at surgery, or it is the event that
    led to the treatment). Death is not an ``events`` row, so a death that day still counts
    (through the end of follow-up). Days, not timestamps, are compared, so a time of day never matters.
    """
    return (dates.dt.normalize() > start.dt.normalize()).fillna(False).astype(bool)
