"""Patient ids as numbers inside ``derive_endpoints``.

Every endpoint step groups, looks up or joins records by ``patient_id``. On text ids each of those
hashes the strings again (most of the derivation time at 10^5 patients); so the ids are hashed once
here, and every table's ``patient_id`` becomes a float code: the patient's position in the patients
table (0 .. n-1), ids unknown to the patients table get codes from n up (so that records of the same
unknown id still share one), and a missing id stays NaN. Float, not int, because NaN keeps the
missing-id behaviour of text ids unchanged (dropped by groupby, never matched by a lookup).
The coding is one-to-one, so grouping, ordering by first appearance and de-duplicating by code
select the same rows as by text; ids reach the output only through :func:`decode`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.extensions import take

#: tables that carry a ``patient_id`` column besides ``patients`` (complications hang on treatment_id)
_TABLES = ("lesions", "treatments", "events", "labs", "mdt_decisions", "adverse_events")


def encode(tb: dict[str, pd.DataFrame]) -> tuple[dict[str, pd.DataFrame], pd.Index, np.ndarray]:
    """(tables with coded ``patient_id``, the patients' index of codes, the id of each code).

    The patients table keeps its text ids in the ``patient_id`` column (the output's identifiers);
    its rows are codes 0 .. n-1 in order, which is the index returned."""
    pts_ids = tb["patients"]["patient_id"].to_numpy(dtype=object)
    cols = [tb[name]["patient_id"].to_numpy(dtype=object) for name in _TABLES]
    # patient ids are unique and come first, so they get codes 0 .. n-1 in table order
    codes, uniques = pd.factorize(np.concatenate([pts_ids, *cols]))
    codes = codes.astype(float)
    codes[codes < 0] = np.nan
    out = dict(tb)
    start = len(pts_ids)
    for name, col in zip(_TABLES, cols):
        out[name] = tb[name].assign(patient_id=codes[start:start + len(col)])
        start += len(col)
    index = pd.Index(codes[:len(pts_ids)], name="patient_id")
    return out, index, np.asarray(uniques, dtype=object)


def treatment_rows(treatment_ids: np.ndarray, complication_ids: np.ndarray) -> np.ndarray | None:
    """The position in ``treatment_ids`` of each of ``complication_ids``, -1 for none, from one ``factorize`` of
    both id lists; None when the treatments' ids are not all present and distinct (then the callers match
    ids as text, with the errors and missing-id matches that gives)."""
    n = len(treatment_ids)
    codes, _ = pd.factorize(np.concatenate([treatment_ids, complication_ids]))
    # codes follow first appearance and the treatments come first: distinct and present ids are 0 .. n-1
    if not np.array_equal(codes[:n], np.arange(n)):
        return None
    rows = codes[n:].astype(np.int64)
    rows[rows >= n] = -1
    return rows


def decode(codes: pd.Series, ids: np.ndarray) -> pd.Series:
    """The ids of ``codes`` (object dtype, None where the code is NaN)."""
    values = codes.to_numpy(dtype=float)
    known = ~np.isnan(values)
    out = np.full(len(values), None, dtype=object)
    out[known] = ids[values[known].astype(np.int64)]
    return pd.Series(out, index=codes.index, name=codes.name, dtype=object)



# --- per-patient arrays -------------------------------------------------------------------------------------
# The patients index of a derivation holds the codes 0 .. n-1 in order, so a coded ``patient_id`` *is* the
# patient's row: lookups and per-patient aggregates below are NumPy indexing on int64 positions and dates
# as int64 nanoseconds (NaT = the smallest int64), instead of hashing a float index in ``map``/``reindex``.

NAT = np.iinfo(np.int64).min
_NO_DATE = np.iinfo(np.int64).max
_DAY_NS = 86_400 * 10**9


def positions(codes: pd.Series, n: int) -> np.ndarray:
    """The patient row of each coded id (int64); -1 for a missing id or one not in the patients table."""
    v = codes.to_numpy(dtype=float)
    out = np.full(len(v), -1, dtype=np.int64)
    known = v < n   # NaN compares False
    out[known] = v[known]
    return out


def nanos(dates: pd.Series) -> np.ndarray:
    """datetime64[ns] values as int64 nanoseconds (NaT is :data:`NAT`)."""
    return dates.to_numpy(dtype="datetime64[ns]").view(np.int64)


def days(ns: np.ndarray) -> np.ndarray:
    """Calendar day numbers of :func:`nanos` values (floor, as ``dt.normalize``); NaT stays :data:`NAT`."""
    return np.where(ns == NAT, NAT, ns // _DAY_NS)


def whole_days(start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """``(end - start).dt.days`` of :func:`nanos` values (whole days, floor) as float; NaN where either is NaT."""
    ok = (start != NAT) & (end != NAT)
    out = np.full(len(ok), np.nan)
    out[ok] = (end[ok] - start[ok]) // _DAY_NS
    return out


def at(per_patient: np.ndarray, pos: np.ndarray, fill) -> np.ndarray:
    """``per_patient[pos]``, ``fill`` where ``pos`` is -1 (``lookup`` of a missing or unknown id)."""
    out = per_patient[np.where(pos >= 0, pos, 0)] if len(per_patient) else np.empty(len(pos), per_patient.dtype)
    out[pos < 0] = fill
    return out


def earliest(pos: np.ndarray, ns: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Per patient (n rows) the smallest ``ns`` of the rows in ``keep`` (rows with ``pos`` -1 never count),
    :data:`NAT` where none."""
    keep = keep & (pos >= 0) & (ns != NAT)
    out = np.full(n, _NO_DATE, dtype=np.int64)
    np.minimum.at(out, pos[keep], ns[keep])
    out[out == _NO_DATE] = NAT
    return out


def latest(pos: np.ndarray, ns: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Per patient (n rows) the largest ``ns`` of the rows in ``keep``, :data:`NAT` where none."""
    keep = keep & (pos >= 0)
    out = np.full(n, NAT, dtype=np.int64)   # NaT is the smallest int64: any date beats it
    np.maximum.at(out, pos[keep], ns[keep])
    return out


def first_rows(pos: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Per patient (n rows) the first row in ``keep`` (``drop_duplicates`` keeps it), -1 where none."""
    rows = np.flatnonzero(keep & (pos >= 0))
    out = np.full(n, -1, dtype=np.int64)
    p, first = np.unique(pos[rows], return_index=True)
    out[p] = rows[first]
    return out


def any_per_patient(pos: np.ndarray, keep: np.ndarray, n: int) -> np.ndarray:
    """Per patient (n rows): is any row of ``keep`` the patient's (``patient_index.isin(rows' ids)``)."""
    out = np.zeros(n, dtype=bool)
    out[pos[keep & (pos >= 0)]] = True
    return out


def dates(ns: np.ndarray, index: pd.Index, name=None) -> pd.Series:
    return pd.Series(ns.view("datetime64[ns]"), index=index, name=name)


def rows_of(frame: pd.DataFrame, row: np.ndarray, index: pd.Index, columns=None) -> pd.DataFrame:
    """``frame``'s rows ``row`` (-1: a row of missing values) as a frame on ``index``: what
    ``set_index(...).reindex(index)`` gives (same dtypes and fill, but None in text columns: see :func:`_take`),
    with the positions known already. A column per block (an internal frame, read column by column: stacking
    text columns into one block touches every value's reference count)."""
    columns = frame.columns if columns is None else columns
    return pd.DataFrame({c: _take(frame[c], row, index) for c in columns}, copy=False)


def _take(column: pd.Series, row: np.ndarray, index: pd.Index) -> pd.Series:
    """``column``'s values at ``row`` on ``index``, missing at -1: None in an object column (the missing value
    of the derived frame's text), else the dtype's own."""
    if column.dtype == object:   # stays object (pandas 3 would infer its ``str`` dtype from an array of strings)
        values = column.to_numpy()[np.where(row >= 0, row, 0)] if len(column) else np.empty(len(row), dtype=object)
        values[row < 0] = None
        return pd.Series(values, index=index, name=column.name, dtype=object)
    return pd.Series(take(column.array, row, allow_fill=True), index=index, name=column.name)
