"""End of follow-up per patient: the date of death, or the last date the patient is known alive.

DATECAN convention: an alive patient is censored at the last date known alive. A registry's
``last_contact_date`` is often older than the patient's latest record, so the last date known
alive is the latest of ``last_contact_date`` and every dated record of the patient (treatment
start/end, event, lab, complication, MDT decision, lesion detection): each of those proves the
patient alive on that day. A patient who died has follow-up ending on ``death_date`` (death on the day of last
contact is simply a death at that time).

With a ``data_lock`` date, everything after it is ignored (administrative censoring): deaths
after the lock become censorings at the lock, and follow-up is cut at the lock.
"""
from __future__ import annotations

import pandas as pd

from .._pandas_compat import lookup


def last_record_date(patient_index: pd.Index, tables: dict[str, pd.DataFrame]) -> pd.Series:
    """Latest dated record per patient across treatments, events, labs, complications, MDT decisions."""
    parts = []
    t = tables["treatments"]
    for col in ("start_date", "end_date"):
        parts.append(t[["patient_id", col]].rename(columns={col: "date"}))
    for name in ("events", "labs", "mdt_decisions"):
        parts.append(tables[name][["patient_id", "date"]])
    parts.append(tables["lesions"][["patient_id", "detection_date"]].rename(columns={"detection_date": "date"}))
    comp = tables["complications"]
    if not comp.empty:
        owner = t.set_index("treatment_id")["patient_id"]
        parts.append(pd.DataFrame({"patient_id": lookup(comp["treatment_id"], owner), "date": comp["date"]}))
    allrec = pd.concat(parts, ignore_index=True).dropna()
    if allrec.empty:
        return pd.Series(pd.NaT, index=patient_index, dtype="datetime64[ns]")
    return allrec.groupby("patient_id")["date"].max().reindex(patient_index).astype("datetime64[ns]")


def followup_end(patients: pd.DataFrame, tables: dict[str, pd.DataFrame],
                 data_lock: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per patient (index ``patient_id``): ``fu_date`` (end of follow-up) and ``dead`` (bool).

    ``patients`` must be indexed by ``patient_id``. Patients with neither a death date, a last
    contact date nor any dated record get ``fu_date`` NaT (their time-to-event endpoints are NaN).
    """
    death = patients["death_date"]
    alive_until = pd.concat([patients["last_contact_date"], last_record_date(patients.index, tables)],
                            axis=1).max(axis=1)
    dead = death.notna()
    fu = death.where(dead, alive_until)
    if data_lock is not None:
        lock = pd.Timestamp(data_lock)
        after = dead & (death > lock)
        dead = dead & ~after
        fu = fu.where(fu <= lock, lock).where(fu.notna())
    return pd.DataFrame({"fu_date": fu.astype("datetime64[ns]"), "dead": dead.astype(bool)}, index=patients.index)
