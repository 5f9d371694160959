"""One row per patient -> (start, stop] rows with time-dependent indicators, as R's ``tmerge(..., tdc())``.

A treatment given during follow-up (salvage resection, SABR of a new lesion, start of systemic
therapy) must not be coded as a baseline yes/no: the treated would be credited with the time before
treatment, during which they had to survive to be treated (immortal-time bias). The usual remedy is a
time-dependent covariate: 0 until the treatment time, 1 from then on. This function cuts each
patient's follow-up at the switch times and returns rows for ``cox(..., start=, time=)``.

R's ``tdc()`` rules, which we follow:

* a switch strictly inside the follow-up ``(0, time)`` cuts it: the indicator is 0 before and 1 after;
* a switch at or before 0 means 1 from the start; a switch at or after the end of follow-up, or a
  missing one, means 0 throughout;
* the event stays on the last interval only; other columns are copied to every row.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from .._validation import _rows, event_array, require_columns, require_frame, require_roles, time_array

__all__ = ["time_dependent"]


def time_dependent(data: pd.DataFrame, time: str, event: str, switches: Mapping[str, str],
                   start: str = "start", stop: str = "stop") -> pd.DataFrame:
    """Split follow-up at switch times into (start, stop] rows with 0/1 indicators (R's ``tmerge`` + ``tdc``).

    Parameters
    ----------
    data : one row per patient, with follow-up ``time`` (from the origin, > 0) and ``event``.
    switches : ``{indicator name: column of the switch time}``, e.g. ``{"resected": "resection_months"}``
        (same time scale and origin as ``time``; NaN = never).
    start, stop : names of the interval columns in the result.

    Returns
    -------
    DataFrame with the columns of ``data`` except ``time``, plus ``start``, ``stop`` and one 0/1 column per
    switch; ``event`` is the event on each patient's last row and 0 on the others. Rows are ordered by
    patient (the input order), then time; the index is new (keep a patient id column to cluster on).
    Fit with ``cox(rows, time=stop, event=event, start=start, ..., cluster=<patient id>)``.
    """
    data = require_frame(data)
    require_roles(data, time=time, event=event)
    require_columns(data, list(switches.values()), "switch-time column")
    clash = [name for name in switches if name in data.columns or name in (start, stop)]
    if clash:
        raise ValueError(f"indicator name(s) {', '.join(map(repr, clash))} already used by a column of data "
                         f"or by start/stop")
    t = time_array(data, time)
    e = event_array(data, event)
    zero = t <= 0
    if zero.any():
        raise ValueError(f"time column {time!r} must be > 0 to form (start, stop] intervals; 0 at "
                         f"{_rows(data.index[zero])}")
    sw = {}
    for name, col in switches.items():
        v = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
        bad = data[col].notna().to_numpy() & ~np.isfinite(v)
        if bad.any():
            raise ValueError(f"switch-time column {col!r} is not numeric or not finite at {_rows(data.index[bad])}")
        sw[name] = v

    # cut points: every switch strictly inside (0, time), per patient, sorted and distinct
    n = t.size
    pid = np.concatenate([np.flatnonzero((v > 0) & (v < t)) for v in sw.values()] + [np.arange(0)]).astype(np.int64)
    cut = np.concatenate([v[(v > 0) & (v < t)] for v in sw.values()] + [np.zeros(0)])
    cuts = pd.DataFrame({"p": pid, "c": cut}).drop_duplicates().sort_values(["p", "c"])
    k = np.bincount(cuts["p"].to_numpy(), minlength=n)              # cuts per patient -> k + 1 rows
    row_of = np.repeat(np.arange(n), k + 1)
    first = np.concatenate(([0], np.cumsum(k + 1)[:-1]))
    last = first + k
    starts = np.zeros(row_of.size)
    stops = t[row_of].copy()
    is_first = np.zeros(row_of.size, dtype=bool)
    is_first[first] = True
    inner = np.flatnonzero(~is_first)                                # rows that start at a cut
    starts[inner] = cuts["c"].to_numpy()
    stops[inner - 1] = starts[inner]

    out = data.drop(columns=[time]).iloc[row_of].reset_index(drop=True)
    ev = np.zeros(row_of.size)
    ev[last] = e
    out[event] = ev.astype(data[event].dtype) if data[event].dtype != bool else ev.astype(bool)
    out.insert(out.columns.get_loc(event), start, starts)
    out.insert(out.columns.get_loc(event), stop, stops)
    for name, v in sw.items():
        at = v[row_of]
        out[name] = (np.isfinite(at) & (at <= starts)).astype(np.int64)
    return out
