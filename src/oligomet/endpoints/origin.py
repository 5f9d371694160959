"""The time origin of every endpoint, and the index treatment.

Origins (``derive_endpoints(origin=...)``):

* ``"index_treatment"``: start date of the index treatment, the patient's first treatment
  whose modality is in ``index_modalities`` (default: the local modalities) and whose intent is
  in ``index_intents`` (default: any).
* ``"metastasis_diagnosis"``: the earliest ``detection_date`` among the patient's lesions.
* ``"mdt_decision"``: the date of the patient's first MDT decision.
* ``"first_recurrence"``: the first event (any ``events`` type) dated after the day of the patient's
  first local treatment (an event that day is baseline disease, not a recurrence); e.g. the start of
  an early-recurrence study. That recurrence is the origin, not an outcome: PFS, DFS and
  local-recurrence events count from the next day (the day rule of :mod:`.survival_endpoints`).
* a mapping or Series ``patient_id -> date``: any origin the study defines itself.

For origins other than ``"index_treatment"`` the index treatment is the first treatment on or
after the origin whose modality is in ``index_modalities`` (default: any modality).

Two treatments on one day (a resection combined with an ablation, say): the index is chosen by
clinical priority, the more definitive local treatment first (:data:`MODALITY_PRIORITY`: resection,
then thermal ablation, then SABR, then intra-arterial therapy, then other, then systemic), then by
``treatment_id`` in natural order (``T2`` before ``T10``), so the result depends neither on row
order nor on how ids sort as text. The complications of *every* procedure on the index day count
as the index procedure's (:func:`index_day_treatments`).
"""
from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..registry.fields import ABLATION_MODALITIES, INTENT, LOCAL_MODALITIES, MODALITY
from ._common import map_numbers
from ._ids import NAT, _take, at, dates, days, earliest, first_rows, nanos, positions, rows_of
from .survival_endpoints import first_event_after

ORIGINS = ("index_treatment", "metastasis_diagnosis", "mdt_decision", "first_recurrence")

# Same-day tie rule: the more definitive local treatment is the index (a resection combined with an
# ablation is a resection patient, not an ablation patient). Codes not listed rank last.
MODALITY_PRIORITY = {"resection": 0, **{m: 1 for m in ABLATION_MODALITIES}, "sabr": 2, "tace": 3, "sirt": 3,
                     "other": 4, "systemic": 5}
# the local modalities are exactly those ranked before "other" (so ``_priority`` tells them apart)
_FIRST_NON_LOCAL = MODALITY_PRIORITY["other"]
assert {m for m, r in MODALITY_PRIORITY.items() if r < _FIRST_NON_LOCAL} == set(LOCAL_MODALITIES)


def natural_key(text: str) -> tuple:
    """Sort key ordering digit runs by value: ``T2`` < ``T10`` < ``T10a``; the text itself breaks
    the remaining ties (``T02`` vs ``T2``). ``re.split`` with a group puts text at even and digits at
    odd positions, so two keys never compare a number with a string."""
    parts = re.split(r"(\d+)", text)
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts)), text


def _natural_rank(ids: pd.Series) -> np.ndarray:
    """Rank of each id in natural order (equal ids share a rank)."""
    uniq = sorted(set(ids.astype(str)), key=natural_key)
    rank = {v: i for i, v in enumerate(uniq)}
    return ids.astype(str).map(rank).to_numpy()


def _ordered_treatments(treatments: pd.DataFrame) -> pd.DataFrame:
    """Treatments with a start date, ordered by patient, start date, :data:`MODALITY_PRIORITY`,
    treatment id in natural order.

    Sorted once per derivation (``derive_endpoints`` stores the result; the ``_priority`` column marks
    a frame already ordered). Patients are grouped by integer codes rather than by sorting their id
    strings, which is the slow part at registry scale; the natural order of ids (a Python sort) is
    computed only for the rare rows that tie on patient, day and priority.
    """
    if "_priority" in treatments.columns:
        return treatments
    t = treatments.dropna(subset=["start_date"])
    priority, code = map_numbers(t["modality"], MODALITY_PRIORITY, _MODALITY_CODE)
    rank = np.where(np.isnan(priority), len(MODALITY_PRIORITY), priority).astype(int)
    t = t.assign(_priority=rank, _modality=np.where(np.isnan(code), -1, code).astype(np.int8))
    pcode = _patient_groups(t["patient_id"])
    day = days(nanos(t["start_date"]))   # calendar days: the order and ties of ``dt.normalize``
    order, key = _sort_by(pcode, day, rank)
    # rows that tie on patient, day and priority are neighbours in that order
    same = key[order][1:] == key[order][:-1] if key is not None else None
    if same is None:
        keys = pd.DataFrame({"p": pcode, "d": day, "r": rank})
        tied = keys.duplicated(keep=False).to_numpy()
    else:
        tied = np.zeros(len(t), dtype=bool)
        tied[order[1:][same]] = True
        tied[order[:-1][same]] = True
    if tied.any():
        tid = np.zeros(len(t), dtype=np.int64)
        tid[tied] = _natural_rank(t["treatment_id"][tied])
        order = np.lexsort((tid, rank, day, pcode))
    return t.iloc[order]


def _patient_groups(patient_id: pd.Series) -> np.ndarray:
    """Integers that order the patients as their first appearance does (missing ids first, as one group):
    the coded ids themselves when they already come in order, else ``factorize`` codes."""
    v = patient_id.to_numpy()
    if v.dtype == np.float64 and len(v) and not np.isnan(v).any() and (v[1:] >= v[:-1]).all():
        return v.astype(np.int64)
    return pd.factorize(patient_id)[0]


def _sort_by(*keys: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """The stable order of rows by ``keys`` (integer arrays, the first the most significant), as
    ``np.lexsort(keys[::-1])``, and the one int64 key it sorted when the keys fit in one (else None)."""
    n = len(keys[0])
    if n == 0:
        return np.arange(0), None
    lows, spans = [int(k.min()) for k in keys], [int(k.max()) - int(k.min()) + 1 for k in keys]
    if np.prod([float(s) for s in spans]) >= 2.0 ** 62:
        return np.lexsort(keys[::-1]), None
    key = np.zeros(n, dtype=np.int64)
    for k, low, span in zip(keys, lows, spans):
        key = key * span + (k.astype(np.int64) - low)
    return np.argsort(key, kind="stable"), key


def index_day_treatments(index: pd.DataFrame, treatments: pd.DataFrame) -> pd.DataFrame:
    """``patient_id``, ``treatment_id`` of every procedure on the index day: the index treatment and
    every local treatment of the patient starting that day (one operation combining a resection and
    an ablation has the complications of both). ``index``: one row per coded patient (:mod:`._ids`)."""
    t = _ordered_treatments(treatments)
    return t.loc[index_day_mask(index, t), ["patient_id", "treatment_id"]].reset_index(drop=True)


def index_day_mask(index: pd.DataFrame, ordered: pd.DataFrame, distinct_ids: bool = False) -> np.ndarray:
    """The rows of :func:`index_day_treatments` in ``ordered`` (:func:`_ordered_treatments` output): all
    of known patients. ``distinct_ids``: every treatment has an id and no two the same (``_ids.treatment_rows``),
    so the index treatment is the one row :func:`resolve_origin` took (``index["_row"]``), not every row with
    its id."""
    t = ordered
    n = len(index)
    pos = positions(t["patient_id"], n)
    by_row = distinct_ids and "_row" in index.columns
    row = index["_row"].to_numpy() if by_row else None
    has = row >= 0 if by_row else index["treatment_id"].notna().to_numpy()
    day = at(np.where(has, days(nanos(index["start_date"])), NAT), pos, NAT)
    same_day = (day != NAT) & (days(nanos(t["start_date"])) == day)
    if by_row:
        is_index = np.zeros(len(t), dtype=bool)
        is_index[row[has]] = True
    else:
        index_id = at(index["treatment_id"].to_numpy(dtype=object), pos, None)
        is_index = at(has, pos, False)
        is_index[is_index] = t["treatment_id"].to_numpy(dtype=object)[is_index] == index_id[is_index]
    return (same_day & local_rows(t)) | is_index


def _check_codes(values, allowed, what):
    if values is None:
        return None
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}")
    return values


def local_rows(ordered: pd.DataFrame) -> np.ndarray:
    """Rows of :func:`_ordered_treatments` output with a local modality (read off ``_priority``)."""
    return ordered["_priority"].to_numpy() < _FIRST_NON_LOCAL


#: each code of the modality list as a number: ``_ordered_treatments`` keeps the modality's as ``_modality``
#: (-1: missing or not a code of the list), so that rows of given modalities are found without comparing text
_MODALITY_CODE = {m: i for i, m in enumerate(MODALITY)}


def modality_rows(treatments: pd.DataFrame, modalities) -> np.ndarray:
    """``treatments["modality"].isin(modalities)`` as a boolean array, read off ``_modality`` when the frame
    has it (:func:`_ordered_treatments` output) and ``modalities`` are codes of the list."""
    if "_modality" in treatments.columns and all(m in _MODALITY_CODE for m in modalities):
        return np.isin(treatments["_modality"].to_numpy(), [_MODALITY_CODE[m] for m in modalities])
    return treatments["modality"].isin(modalities).to_numpy(dtype=bool)


def first_local_treatment(treatments: pd.DataFrame, patient_index: pd.Index) -> pd.DataFrame:
    """Per patient: ``first_local_date``, ``first_local_modality`` (first local treatment ever).
    ``patient_index``: the coded patients index (:mod:`._ids`)."""
    t = _ordered_treatments(treatments)
    row = first_rows(positions(t["patient_id"], len(patient_index)), local_rows(t), len(patient_index))
    return pd.DataFrame({"first_local_date": dates(at(nanos(t["start_date"]), row, NAT), patient_index),
                         "first_local_modality": _take(t["modality"], row, patient_index)})


#: the index treatment's columns the derivation reads (carrying every treatment column costs a take each)
_INDEX_COLUMNS = ("treatment_id", "start_date", "modality", "intent", "approach", "margin")


def resolve_origin(origin, patients: pd.DataFrame, tables: dict[str, pd.DataFrame],
                   index_modalities=None, index_intents=None) -> tuple[pd.Series, pd.DataFrame]:
    """Return (origin_date per patient, index treatment rows per patient: :data:`_INDEX_COLUMNS` and ``_row``,
    the index treatment's row in the ordered treatments, -1 for none)."""
    idx = patients.index
    treatments = tables["treatments"]
    if isinstance(origin, str) and origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}; use one of {', '.join(map(repr, ORIGINS))} "
                         f"or a mapping patient_id -> date")
    # a Series origin compares element-wise: test the type first
    default_mods = LOCAL_MODALITIES if isinstance(origin, str) and origin == "index_treatment" else MODALITY
    mods = _check_codes(index_modalities, MODALITY, "index modality") or default_mods
    intents = _check_codes(index_intents, INTENT, "index intent")
    cand = _ordered_treatments(treatments)
    n = len(idx)
    pos = positions(cand["patient_id"], n)
    qualifies = modality_rows(cand, mods)
    if intents is not None:
        qualifies = qualifies & cand["intent"].isin(intents).to_numpy(dtype=bool)
    columns = [c for c in _INDEX_COLUMNS if c in cand.columns]

    if isinstance(origin, str) and origin == "index_treatment":
        index = _index_rows(cand, first_rows(pos, qualifies, n), idx, columns)
        return index["start_date"].astype("datetime64[ns]"), index

    if isinstance(origin, str):
        if origin == "metastasis_diagnosis":
            o = _earliest_date(tables["lesions"], "detection_date", idx)
        elif origin == "mdt_decision":
            o = _earliest_date(tables["mdt_decisions"], "date", idx)
        else:  # first_recurrence
            o = first_event_after(tables["events"], first_local_treatment(treatments, idx)["first_local_date"], idx)
    else:
        if not isinstance(origin, (Mapping, pd.Series)):
            raise TypeError("origin must be a string or a mapping / Series patient_id -> date")
        o = pd.Series(origin)
        ids = patients["patient_id"]  # the ids themselves: ``idx`` may hold codes (see ._ids)
        unknown = sorted(set(map(str, o.index)) - set(map(str, ids)))
        if unknown:
            raise ValueError(f"origin mapping names patient_id(s) not in the patients table: {unknown[:10]}")
        o = pd.to_datetime(o, errors="raise").reindex(ids).set_axis(idx)
    origin_date = o.reindex(idx).astype("datetime64[ns]")

    from_origin = at(nanos(origin_date), pos, NAT)
    qualifies = qualifies & (from_origin != NAT) & (nanos(cand["start_date"]) >= from_origin)
    return origin_date, _index_rows(cand, first_rows(pos, qualifies, n), idx, columns)


def _index_rows(ordered: pd.DataFrame, row: np.ndarray, idx: pd.Index, columns: list) -> pd.DataFrame:
    """The index treatment's ``columns`` per patient, and ``_row``: its row in ``ordered`` (-1: none)."""
    return rows_of(ordered, row, idx, columns).assign(_row=row)


def _earliest_date(frame: pd.DataFrame, column: str, idx: pd.Index) -> pd.Series:
    """Per coded patient (:mod:`._ids`) the earliest ``column`` of the patient's rows (``groupby().min()``)."""
    n = len(idx)
    pos = positions(frame["patient_id"], n)
    return dates(earliest(pos, nanos(frame[column]), np.ones(len(pos), dtype=bool), n), idx, name=column)
