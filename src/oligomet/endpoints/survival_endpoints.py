"""Overall, progression-free and disease-free survival (DATECAN definitions).

All times run from the origin to the first event or to the end of follow-up
(:mod:`.followup`), in the requested unit (months = days / 30.4375).

* **OS**: event = death from any cause; alive patients are censored at the last date known alive.
* **PFS**: event = the first ``events`` row of any type (local recurrence, distant or regional
  recurrence, new metastasis, progression) dated after the origin day, or death, whichever comes
  first; censored at the last date known alive. (The registry has no imaging dates, so the
  censoring date is the last contact, not the last tumour assessment.)
* **DFS**: defined only for patients whose index treatment is a local treatment with a
  curative intent (``curative_intents``, default curative or salvage) and a margin other than
  R2 (an R2 resection leaves disease behind); NaN otherwise. Event = the first ``events`` row
  dated after the later of the origin day and the index treatment's day, or death; time measured
  from the origin.

The day rule (one rule for PFS, DFS, local recurrence, time to recurrence, the first-recurrence
origin and the lesion level; :func:`._common.after_day`): **an event dated on the day the clock
starts belongs to the history, not the outcome, unless it is death.** A recurrence dated on the
day of its salvage resection led to that resection; a new metastasis dated on the SABR day was
found on the planning scan; with ``origin="first_recurrence"`` the recurrence that defines the
origin is the origin. Death on that day is an event at time 0.

Other edge cases, as DATECAN recommends:

* several events on one day are one event at that time;
* death on the day of last contact is a death at that time;
* a patient lost right after treatment (last contact = origin) is censored at time 0;
* events before the origin are ignored (they are history), events after the end of follow-up
  or the data lock are ignored.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..registry.fields import LOCAL_MODALITIES
from ._common import UNITS
from ._ids import NAT, at, dates, days, earliest, nanos, positions, whole_days


def first_event_after(events: pd.DataFrame, start: pd.Series, patient_index: pd.Index,
                      types=None) -> pd.Series:
    """Earliest event date per patient on a day after ``start``'s day (per patient), optionally of
    ``types``; events on ``start``'s day are history (:func:`._common.after_day`).

    ``patient_index`` is the coded patients index of ``derive_endpoints`` (:mod:`._ids`): the events'
    coded ids are the patients' rows, so this is NumPy on int64 days, no lookup or groupby."""
    n = len(patient_index)
    pos = positions(events["patient_id"], n)
    when = nanos(events["date"])
    from_day = at(days(nanos(start)), pos, NAT)
    keep = (from_day != NAT) & (event_days(events) > from_day)
    if types is not None:
        keep &= of_types(events, types)
    return dates(earliest(pos, when, keep, n), patient_index, name="date")


#: the event types ``derive_endpoints`` marks once (``_lr``), as every local-control step asks for them
LOCAL_RECURRENCE = ("local_recurrence",)


def mark_events(events: pd.DataFrame) -> pd.DataFrame:
    """``events`` with each row's calendar day (``_day``, :func:`._ids.days`) and whether it is a local
    recurrence (``_lr``): found once per derivation, read by every step."""
    return events.assign(_day=days(nanos(events["date"])), _lr=events["type"].isin(LOCAL_RECURRENCE).to_numpy(bool))


def event_days(events: pd.DataFrame) -> np.ndarray:
    return events["_day"].to_numpy() if "_day" in events.columns else days(nanos(events["date"]))


def of_types(events: pd.DataFrame, types) -> np.ndarray:
    """``events["type"].isin(types)`` as a boolean array (read off ``_lr`` for local recurrences)."""
    if "_lr" in events.columns and tuple(types) == LOCAL_RECURRENCE:
        return events["_lr"].to_numpy()
    return events["type"].isin(types).to_numpy(dtype=bool)


def time_event(origin: pd.Series, event_date: pd.Series, fu: pd.DataFrame, unit: str,
               death_is_event: bool = True) -> tuple[pd.Series, pd.Series]:
    """Combine a first-event date with follow-up: (time, event as float 0/1, NaN if undefined).

    An event counts when it falls on or before the end of follow-up; otherwise the patient
    is censored at ``fu_date`` (or has a death event there, if ``death_is_event``).
    """
    time, event = _time_event(nanos(origin), nanos(event_date), nanos(fu["fu_date"]),
                              fu["dead"].to_numpy(dtype=bool), unit, death_is_event)
    return pd.Series(time, index=origin.index), pd.Series(event, index=origin.index)


def _time_event(origin: np.ndarray, event_date: np.ndarray, fu_date: np.ndarray, dead: np.ndarray, unit: str,
                death_is_event: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """:func:`time_event` on :func:`._ids.nanos` values."""
    has_ev = (event_date != NAT) & (event_date <= fu_date) & (fu_date != NAT)
    end = np.where(has_ev, event_date, fu_date)
    event = has_ev | (dead & death_is_event)
    time = whole_days(origin, end) / UNITS[unit]
    return time, np.where(np.isnan(time), np.nan, event.astype(float))


def survival_endpoints(origin: pd.Series, fu: pd.DataFrame, events: pd.DataFrame, index: pd.DataFrame,
                       unit: str, curative_intents=("curative", "salvage")) -> pd.DataFrame:
    """OS, PFS, DFS columns per patient (index ``patient_id``)."""
    idx = origin.index
    o, fu_date, dead = nanos(origin), nanos(fu["fu_date"]), fu["dead"].to_numpy(dtype=bool)
    out = {}
    out["os_time"], out["os_event"] = _time_event(o, np.full(len(o), NAT), fu_date, dead, unit)
    prog = first_event_after(events, origin, idx)
    out["pfs_time"], out["pfs_event"] = _time_event(o, nanos(prog), fu_date, dead, unit)

    # a local treatment, of a curative intent, not R2: each test on the rows that passed the one before
    curative = index["modality"].isin(LOCAL_MODALITIES).to_numpy(dtype=bool, copy=True)
    rows = np.flatnonzero(curative)
    curative[rows] = (index["intent"].iloc[rows].isin(curative_intents).to_numpy(dtype=bool)
                      & ~index["margin"].iloc[rows].isin(["R2"]).to_numpy(dtype=bool))
    # DFS events count after the disease was removed: the later of the origin day and the index
    # treatment's day (with origin="first_recurrence" a salvage on the recurrence day must not turn
    # that recurrence into a DFS event at time 0); NaT (the smallest int64) only where both are
    disease_free_from = np.where(curative, np.maximum(o, nanos(index["start_date"])), NAT)
    rec = first_event_after(events, dates(disease_free_from, idx), idx)
    t, e = _time_event(o, nanos(rec), fu_date, dead, unit)
    out["dfs_time"] = np.where(curative, t, np.nan)
    out["dfs_event"] = np.where(curative, e, np.nan)
    return pd.DataFrame(out, index=idx)


def death_within(days: int, procedure_date: pd.Series, fu: pd.DataFrame) -> pd.Series:
    """Death within ``days`` days of a procedure (day 0 = procedure day), as nullable boolean.

    True if death occurred ``<= days`` after the procedure; False if the patient is known alive
    (or died later) at ``days``; NA if follow-up ended alive before ``days`` (status unknown) or
    there is no procedure.
    """
    delta = whole_days(nanos(procedure_date), nanos(fu["fu_date"]))   # NaN (no comparison holds) if either is NaT
    dead = fu["dead"].to_numpy(dtype=bool)
    dead_in = dead & (delta <= days)
    known = ~np.isnan(delta) & (dead_in | (delta >= days) | (dead & (delta > days)))
    return pd.Series(pd.arrays.BooleanArray(dead_in, ~known), index=procedure_date.index)
