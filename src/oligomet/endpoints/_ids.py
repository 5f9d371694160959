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


def decode(codes: pd.Series, ids: np.ndarray) -> pd.Series:
    """The ids of ``codes`` (object dtype, None where the code is NaN)."""
    values = codes.to_numpy(dtype=float)
    known = ~np.isnan(values)
    out = np.full(len(values), None, dtype=object)
    out[known] = ids[values[known].astype(np.int64)]
    return pd.Series(out, index=codes.index, name=codes.name, dtype=object)

