"""Landmark analysis: follow-up restarted at a fixed time, exposure frozen as of that time.

A comparison of "resected vs not resected" after a local recurrence credits the resected with the
time they had to survive to be resected (immortal-time bias). A landmark analysis removes it by
looking only at patients still alive and event-free at a landmark time ``s`` (e.g. 6 months after
the recurrence), classifying them by the exposure they had received by ``s``, and measuring time
from ``s``. An exposure that comes later counts as "not exposed" (the landmark principle: no look
into the future). Anderson, Cain & Gelber, J Clin Oncol 1983; Dafni, Circ Cardiovasc Qual Outcomes 2011.

Who stays: a patient whose time is greater than ``s``. An event at exactly ``s``, or follow-up
ending at ``s``, leaves nothing to observe after the landmark, so that patient is excluded (and
counted). Time in the result is ``time - s``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import numpy as np
import pandas as pd

from .._validation import _rows, event_array, require_columns, require_frame, require_roles, time_array

__all__ = ["landmark", "LandmarkData"]


@dataclass(frozen=True)
class LandmarkData:
    """The landmark cohort.

    ``data``: the rows at risk at the landmark, ``time`` measured from it and one 0/1 column per
    exposure (as of the landmark). ``excluded``: one row per reason (``event before landmark``,
    ``censored before landmark``) with ``n``. ``at``: the landmark time.
    """

    data: pd.DataFrame
    excluded: pd.DataFrame
    at: float

    def __repr__(self) -> str:
        return (f"LandmarkData(at={self.at:g}, n={len(self.data)}, "
                f"excluded={int(self.excluded['n'].sum())})")


def landmark(data: pd.DataFrame, at: float, time: str, event: str,
             exposures: Mapping[str, str] | None = None) -> LandmarkData:
    """Patients alive and event-free at ``at``, with time from ``at`` and exposures as of ``at``.

    Parameters
    ----------
    data : one row per patient, ``time`` from the origin (same unit as ``at``) and ``event`` (0/1, or a
        competing-risk code: any non-zero code before the landmark excludes the patient).
    at : the landmark time, > 0.
    exposures : ``{indicator name: column of the exposure time}``, e.g. ``{"resected":
        "resection_months"}``; the indicator is 1 when the exposure time is at or before ``at``,
        0 when it is later or missing.
    """
    data = require_frame(data)
    require_roles(data, time=time, event=event)
    exposures = dict(exposures or {})
    require_columns(data, list(exposures.values()), "exposure-time column")
    if not np.isfinite(at) or at <= 0:
        raise ValueError(f"landmark time must be a positive number; got {at!r}")
    clash = [name for name in exposures if name in data.columns]
    if clash:
        raise ValueError(f"exposure indicator name(s) {', '.join(map(repr, clash))} already used by a column of "
                         f"data; choose other names")
    t = time_array(data, time)
    e = event_array(data, event)
    after = t > at
    if not (after & (e > 0)).any():
        last = float(t[e > 0].max()) if (e > 0).any() else None
        raise ValueError(f"landmark at {at:g}: no event happens after it (last event at "
                         f"{'none' if last is None else f'{last:g}'}); choose an earlier landmark")
    out = data.loc[after].copy()
    out[time] = t[after] - at
    for name, col in exposures.items():
        x = pd.to_numeric(data[col], errors="coerce").to_numpy(dtype=float)
        bad = np.isfinite(x) & (x < 0)
        if bad.any():
            raise ValueError(f"exposure-time column {col!r} is negative at {_rows(data.index[bad])}; times are "
                             f"measured from the same origin as {time!r}")
        out[name] = (np.isfinite(x) & (x <= at))[after].astype(np.int64)
    excluded = pd.DataFrame({"reason": ["event before landmark", "censored before landmark"],
                             "n": [int((~after & (e > 0)).sum()), int((~after & (e == 0)).sum())]})
    return LandmarkData(data=out, excluded=excluded, at=float(at))
