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

import numpy as np
import pandas as pd

from .._pandas_compat import lookup
from ._ids import NAT, at, nanos, positions


def last_record_date(patient_index: pd.Index, tables: dict[str, pd.DataFrame], *, coded: bool = False) -> pd.Series:
    """Latest dated record per patient across treatments, events, labs, complications, MDT decisions.

    ``coded``: ``patient_index`` and the tables' ids are the codes of ``derive_endpoints`` (:mod:`._ids`),
    so an id is its patient's row and nothing is looked up."""
    t = tables["treatments"]
    ids, dates = [], []
    for name, col in (("treatments", "start_date"), ("treatments", "end_date"), ("events", "date"), ("labs", "date"),
                      ("mdt_decisions", "date"), ("lesions", "detection_date")):
        ids.append(tables[name]["patient_id"])
        dates.append(tables[name][col])
    comp = tables["complications"]
    if not comp.empty:
        ids.append(_owner_by_row(comp["_treatment_row"], t) if coded and "_treatment_row" in comp.columns
                   else _treatment_owner(comp["treatment_id"], t))
        dates.append(comp["date"])
    plain_dates = all(isinstance(d.dtype, np.dtype) and d.dtype.kind == "M" for d in dates)
    if patient_index.is_unique and not patient_index.hasnans and plain_dates:
        return _latest_by_position(patient_index, ids, dates, coded)
    allrec = pd.concat([pd.DataFrame({"patient_id": i.to_numpy(), "date": d.to_numpy()}) for i, d in zip(ids, dates)],
                       ignore_index=True).dropna()
    if allrec.empty:
        return pd.Series(pd.NaT, index=patient_index, dtype="datetime64[ns]")
    return allrec.groupby("patient_id")["date"].max().reindex(patient_index).astype("datetime64[ns]")


def _treatment_owner(treatment_ids: pd.Series, treatments: pd.DataFrame) -> pd.Series:
    """The ``patient_id`` of the treatment each of ``treatment_ids`` names (missing if none).

    ``treatment_ids.map(treatments.set_index("treatment_id")["patient_id"])``, with both id lists
    hashed in one ``factorize`` instead of building and probing a text index (a tenth of a second
    at 10^5 patients). A missing id still matches a treatment with a missing id, as in ``map``;
    repeated treatment ids take ``map`` itself, which refuses them as before."""
    own = treatments["treatment_id"].to_numpy(dtype=object)
    n = len(own)
    codes, _ = pd.factorize(np.concatenate([own, treatment_ids.to_numpy(dtype=object)]), use_na_sentinel=False)
    # codes follow first appearance and the treatments come first: their ids are all distinct exactly
    # when they are coded 0 .. n-1, and then an asked id's code below n is its treatment's row
    if n == 0 or codes[n - 1] != n - 1:
        return lookup(treatment_ids, treatments.set_index("treatment_id")["patient_id"])
    row = codes[n:]
    found = row < n
    owner = treatments["patient_id"].iloc[np.where(found, row, 0)].where(found)
    return pd.Series(owner.to_numpy(), index=treatment_ids.index)


def _owner_by_row(rows: pd.Series, treatments: pd.DataFrame) -> pd.Series:
    """:func:`_treatment_owner` when each complication's treatment row is known (``derive_endpoints`` codes them,
    ``_ids.treatment_rows``, for distinct treatment ids; ``treatments`` is indexed by those rows): the owner is
    the patient of that row if it is among ``treatments``, else missing."""
    row = rows.to_numpy()
    at_row = treatments.index.to_numpy()
    owner = np.full(1 + max(row.max(initial=-1), at_row.max(initial=-1)), np.nan)
    owner[at_row] = treatments["patient_id"].to_numpy(dtype=float)
    return pd.Series(at(owner, row, np.nan), index=rows.index)


def _latest_by_position(patient_index: pd.Index, ids: list[pd.Series], dates: list[pd.Series],
                        coded: bool = False) -> pd.Series:
    """The groupby-max above on integer positions: each id is hashed once against the (unique) patient
    index instead of grouping ~6 records per patient by their string ids (a third of the time at 10^5)."""
    n = len(patient_index)
    pos = np.concatenate([positions(i, n) if coded else patient_index.get_indexer(i) for i in ids])
    ns = np.concatenate([d.to_numpy(dtype="datetime64[ns]") for d in dates]).view("i8")
    nat = np.iinfo(np.int64).min   # NaT's integer value: below every date, so max() skips it
    out = np.full(len(patient_index), nat, dtype=np.int64)
    keep = (pos >= 0) & (ns != nat)
    np.maximum.at(out, pos[keep], ns[keep])
    return pd.Series(out.view("datetime64[ns]"), index=patient_index)


def followup_end(patients: pd.DataFrame, tables: dict[str, pd.DataFrame],
                 data_lock: pd.Timestamp | None = None) -> pd.DataFrame:
    """Per patient (index ``patient_id``): ``fu_date`` (end of follow-up) and ``dead`` (bool).

    ``patients`` must be indexed by their coded ``patient_id`` (:mod:`._ids`), as are the tables.
    Patients with neither a death date, a last contact date nor any dated record get ``fu_date`` NaT
    (their time-to-event endpoints are NaN).
    """
    # on int64 nanoseconds (NaT is the smallest int64: the later of two dates skips it, as max() does)
    death = nanos(patients["death_date"])
    alive_until = np.maximum(nanos(patients["last_contact_date"]),
                             nanos(last_record_date(patients.index, tables, coded=True)))
    dead = death != NAT
    fu = np.where(dead, death, alive_until)
    if data_lock is not None:
        lock = pd.Timestamp(data_lock).as_unit("ns").value
        dead = dead & ~(death > lock)
        fu = np.where((fu != NAT) & (fu > lock), lock, fu)
    return pd.DataFrame({"fu_date": fu.view("datetime64[ns]"), "dead": dead}, index=patients.index)
