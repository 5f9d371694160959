"""Local control: local recurrence per lesion and per patient, with death as a competing event.

Status coding (the ``lr_status`` column), for competing-risk analysis (Aalen-Johansen CIF, Gray,
Fine-Gray):

* 0 = censored (alive without local recurrence at the end of follow-up);
* 1 = local recurrence;
* 2 = death without a prior local recurrence (a competing event, never censored).

A local recurrence and a death on the same day are coded 1: the recurrence was observed.

**Time to local recurrence** (``ttlr_time``, ``ttlr_event``) is DATECAN's TTLR: the same clock,
but deaths without local recurrence are *censored* (cause-specific). Use it for cause-specific
Cox models or the descriptive "time to LR" among patients who recurred; use ``lr_status`` for
cumulative incidence.

Per lesion (``level="lesion"``): one row per locally treated lesion (a lesion id listed in the
``lesion_ids`` of a local treatment). The clock starts at the lesion's *first* local treatment,
whatever the patient-level origin; only ``local_recurrence`` events carrying that lesion's id dated
after that day count.

Per patient: the first ``local_recurrence`` event (any lesion) dated after the origin day; defined
only for patients with at least one local treatment (NaN otherwise).

Both follow the day rule of :mod:`.survival_endpoints`: a local recurrence dated on the day the
clock starts (e.g. the one that led to a salvage resection that day) is history, not an outcome.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._pandas_compat import lookup
from ..registry.fields import LOCAL_MODALITIES
from ._common import UNITS, after_day, split_ids
from ._ids import NAT, any_per_patient, nanos, positions, whole_days
from .origin import _ordered_treatments, local_rows
from .survival_endpoints import LOCAL_RECURRENCE, first_event_after


def _lr_columns(start: pd.Series, lr_date: pd.Series, fu_date: pd.Series, dead: pd.Series,
                unit: str) -> pd.DataFrame:
    return pd.DataFrame(_lr_arrays(nanos(start), nanos(lr_date), nanos(fu_date), dead.to_numpy(dtype=bool), unit),
                        index=start.index)


def _lr_arrays(start: np.ndarray, lr_date: np.ndarray, fu_date: np.ndarray, dead: np.ndarray,
               unit: str) -> dict[str, np.ndarray]:
    """:func:`_lr_columns` on :func:`._ids.nanos` values."""
    has_lr = (lr_date != NAT) & (lr_date <= fu_date) & (fu_date != NAT)
    end = np.where(has_lr, lr_date, fu_date)
    time = whole_days(start, end) / UNITS[unit]
    status = np.where(has_lr, 1.0, np.where(dead, 2.0, 0.0))
    undefined = np.isnan(time)
    return {"lr_time": time, "lr_status": np.where(undefined, np.nan, status),
            "ttlr_time": time, "ttlr_event": np.where(undefined, np.nan, (status == 1).astype(float))}


def patient_local_control(origin: pd.Series, fu: pd.DataFrame, tables: dict[str, pd.DataFrame],
                          unit: str) -> pd.DataFrame:
    idx = origin.index
    t = _ordered_treatments(tables["treatments"])
    has_local = any_per_patient(positions(t["patient_id"], len(idx)), local_rows(t), len(idx))
    lr = first_event_after(tables["events"], origin, idx, types=LOCAL_RECURRENCE)
    out = _lr_arrays(nanos(origin), nanos(lr), nanos(fu["fu_date"]), fu["dead"].to_numpy(dtype=bool), unit)
    return pd.DataFrame({k: np.where(has_local, v, np.nan) for k, v in out.items()}, index=idx)


def treated_lesions(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per locally treated lesion: its first local treatment (id, date, modality, approach)."""
    t = _ordered_treatments(tables["treatments"])  # by patient, date, treatment id
    t = t[t["modality"].isin(LOCAL_MODALITIES)]
    ids = split_ids(t["lesion_ids"])
    rows = t.loc[ids.index, ["treatment_id", "patient_id", "start_date", "modality", "approach", "intent"]].copy()
    rows["lesion_id"] = ids.to_numpy()
    # a stable sort on lesion codes keeps each lesion's treatments in date order (no string sort)
    rows = rows.iloc[np.argsort(pd.factorize(rows["lesion_id"])[0], kind="stable")]
    first = rows.drop_duplicates("lesion_id").set_index("lesion_id")
    n_local = rows.groupby("lesion_id").size()
    return first.assign(n_local_treatments=n_local).rename(columns={
        "treatment_id": "lesion_treatment_id", "start_date": "lesion_treatment_date",
        "modality": "lesion_modality", "approach": "lesion_approach", "intent": "lesion_intent"})


def lesion_local_control(fu: pd.DataFrame, tables: dict[str, pd.DataFrame], unit: str) -> pd.DataFrame:
    """Per treated lesion (index ``lesion_id``): treatment, patient, lr_* and ttlr_* columns."""
    les = treated_lesions(tables)
    ev = tables["events"]
    ev = ev[(ev["type"] == "local_recurrence") & ev["date"].notna() & ev["lesion_id"].notna()]
    ev = ev[after_day(ev["date"], lookup(ev["lesion_id"], les["lesion_treatment_date"]))]
    lr = ev.groupby("lesion_id")["date"].min().reindex(les.index).astype("datetime64[ns]")
    pf = fu.reindex(les["patient_id"])
    pf.index = les.index
    out = _lr_columns(les["lesion_treatment_date"], lr, pf["fu_date"], pf["dead"], unit)
    return les.join(out)
