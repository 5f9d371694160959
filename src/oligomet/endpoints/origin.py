"""The time origin of every endpoint, and the index treatment.

Origins (``derive_endpoints(origin=...)``):

* ``"index_treatment"``: start date of the index treatment, the patient's first treatment
  whose modality is in ``index_modalities`` (default: the local modalities) and whose intent is
  in ``index_intents`` (default: any).
* ``"metastasis_diagnosis"``: the earliest ``detection_date`` among the patient's lesions.
* ``"mdt_decision"``: the date of the patient's first MDT decision.
* ``"first_recurrence"``: the first event (any ``events`` type) on or after the patient's first
  local treatment; e.g. the start of an early-recurrence study. That recurrence is the origin, not an
  outcome: PFS, DFS and local-recurrence events count from the next day.
* a mapping or Series ``patient_id -> date``: any origin the study defines itself.

For origins other than ``"index_treatment"`` the index treatment is the first treatment on or
after the origin whose modality is in ``index_modalities`` (default: any modality).
Ties on one day are broken by listing local modalities before systemic, then by ``treatment_id``,
so the result does not depend on row order.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .._pandas_compat import lookup
from ..registry.fields import INTENT, LOCAL_MODALITIES, MODALITY

ORIGINS = ("index_treatment", "metastasis_diagnosis", "mdt_decision", "first_recurrence")


def _ordered_treatments(treatments: pd.DataFrame) -> pd.DataFrame:
    """Treatments with a start date, ordered by patient, start date, local before systemic, treatment id.

    Sorted once per derivation (``derive_endpoints`` stores the result; the ``_systemic`` column marks
    a frame already ordered). Patients are grouped by integer codes rather than by sorting their id
    strings, which is the slow part at registry scale.
    """
    if "_systemic" in treatments.columns:
        return treatments
    t = treatments.dropna(subset=["start_date"]).copy()
    t["_systemic"] = (t["modality"] == "systemic").astype(int)
    pcode = pd.factorize(t["patient_id"])[0]
    tid = pd.factorize(t["treatment_id"], sort=True)[0]
    order = np.lexsort((tid, t["_systemic"].to_numpy(), t["start_date"].to_numpy().astype("int64"), pcode))
    return t.iloc[order]


def _check_codes(values, allowed, what):
    if values is None:
        return None
    values = (values,) if isinstance(values, str) else tuple(values)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ValueError(f"unknown {what} {', '.join(map(repr, bad))}; allowed: {', '.join(allowed)}")
    return values


def first_local_treatment(treatments: pd.DataFrame, patient_index: pd.Index) -> pd.DataFrame:
    """Per patient: ``first_local_date``, ``first_local_modality`` (first local treatment ever)."""
    t = _ordered_treatments(treatments)
    t = t[t["modality"].isin(LOCAL_MODALITIES)].drop_duplicates("patient_id").set_index("patient_id")
    return pd.DataFrame({"first_local_date": t["start_date"], "first_local_modality": t["modality"]}
                        ).reindex(patient_index)


def resolve_origin(origin, patients: pd.DataFrame, tables: dict[str, pd.DataFrame],
                   index_modalities=None, index_intents=None) -> tuple[pd.Series, pd.DataFrame]:
    """Return (origin_date per patient, index treatment rows per patient)."""
    idx = patients.index
    treatments = tables["treatments"]
    if isinstance(origin, str) and origin not in ORIGINS:
        raise ValueError(f"unknown origin {origin!r}; use one of {', '.join(map(repr, ORIGINS))} "
                         f"or a mapping patient_id -> date")
    default_mods = LOCAL_MODALITIES if origin == "index_treatment" else MODALITY
    mods = _check_codes(index_modalities, MODALITY, "index modality") or default_mods
    intents = _check_codes(index_intents, INTENT, "index intent")
    cand = _ordered_treatments(treatments)
    cand = cand[cand["modality"].isin(mods)]
    if intents is not None:
        cand = cand[cand["intent"].isin(intents)]

    if isinstance(origin, str) and origin == "index_treatment":
        index = cand.drop_duplicates("patient_id").set_index("patient_id").reindex(idx)
        return index["start_date"].astype("datetime64[ns]"), index

    if isinstance(origin, str):
        if origin == "metastasis_diagnosis":
            o = tables["lesions"].groupby("patient_id")["detection_date"].min()
        elif origin == "mdt_decision":
            o = tables["mdt_decisions"].groupby("patient_id")["date"].min()
        else:  # first_recurrence
            first_local = first_local_treatment(treatments, idx)["first_local_date"]
            ev = tables["events"][["patient_id", "date"]].dropna()
            ev = ev[ev["date"] >= lookup(ev["patient_id"], first_local)]
            o = ev.groupby("patient_id")["date"].min()
    else:
        if not isinstance(origin, (Mapping, pd.Series)):
            raise TypeError("origin must be a string or a mapping / Series patient_id -> date")
        o = pd.Series(origin)
        unknown = sorted(set(map(str, o.index)) - set(map(str, idx)))
        if unknown:
            raise ValueError(f"origin mapping names patient_id(s) not in the patients table: {unknown[:10]}")
        o = pd.to_datetime(o, errors="raise")
    origin_date = o.reindex(idx).astype("datetime64[ns]")

    after = cand[cand["start_date"] >= lookup(cand["patient_id"], origin_date)]
    index = after.drop_duplicates("patient_id").set_index("patient_id").reindex(idx)
    return origin_date, index
