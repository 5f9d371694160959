"""Small helpers that behave the same on pandas 2.x and pandas 3.

pandas 3 changed three things this package meets: copy-on-write (arrays from ``to_numpy()`` are
read-only views), the default ``str`` dtype for text (NaN for missing instead of object columns
with None), and ``Series.map`` with an *empty* Series as mapper (recast to float64, which fails
for datetimes). Each helper here papers over one of them so callers do not branch on versions.
"""
from __future__ import annotations

import pandas as pd


def lookup(keys: pd.Series, table: pd.Series) -> pd.Series:
    """``keys.map(table)``: the value of ``table`` at each key, missing where the key is absent.

    Keeps ``table``'s dtype also when ``table`` is empty: pandas 3 turns an empty mapper into a
    float64 Series inside ``map`` ("Cannot cast DatetimeArray to dtype float64" for dates).
    """
    if len(table):
        return keys.map(table)
    out = table.reindex(keys.to_numpy())
    return pd.Series(out.array, index=keys.index, name=keys.name)


def as_object_text(s: pd.Series) -> pd.Series:
    """A text column as object dtype holding str or None (the registry contract), whatever the
    input's dtype (object with None/NaN/pd.NA, pandas ``string``, pandas 3's default ``str``)."""
    values = s.to_numpy(dtype=object)
    missing = pd.isna(values)
    if missing.any():
        values = values.copy()  # to_numpy may return a read-only view (copy-on-write)
        values[missing] = None
    return pd.Series(values, index=s.index, name=s.name, dtype=object)


def is_text(s: pd.Series) -> bool:
    """Object or string dtype (pandas 3 gives text columns the ``str`` dtype by default)."""
    return s.dtype == object or isinstance(s.dtype, pd.StringDtype)


__all__ = ["as_object_text", "is_text", "lookup"]
