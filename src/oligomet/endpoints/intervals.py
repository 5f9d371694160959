"""Intervals before the metastatic phase: DFI, treatment-free interval, synchronous vs metachronous.

All in months (days / 30.4375), per patient; the metastasis date is the earliest lesion
``detection_date`` of the patient.

* **DFI** (disease-free interval): ``primary_resection_date`` -> metastasis date. A metastasis
  found before or on the day of the primary resection gives DFI 0 (there was no disease-free
  time); no primary resection gives NaN.
* **TFI** (treatment-free interval): the end of the last treatment completed before the
  metastasis date -> metastasis date. Treatments are the primary resection and every
  ``treatments`` row (its ``end_date``, or ``start_date`` when the end is missing) that ended on
  or before the metastasis date, e.g. adjuvant chemotherapy. A primary resection on the
  metastasis date counts as before it (TFI 0): the metastasis found at or right after the
  operation had no treatment-free time. NaN when there is none.
* **synchronous**: metastasis found no later than ``cutoff_months`` after the primary diagnosis
  (also when found before it); metachronous otherwise. NA when a date is missing. The cut-off
  (default 6 months) is a parameter because the literature uses 0, 3, 6 and 12 months.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ._common import DAYS_PER_MONTH
from ._ids import NAT, at, dates, earliest, latest, nanos, positions, whole_days


def metastasis_date(lesions: pd.DataFrame, patient_index: pd.Index) -> pd.Series:
    """The earliest lesion ``detection_date`` per patient of the coded ``patient_index`` (:mod:`._ids`)."""
    n = len(patient_index)
    pos = positions(lesions["patient_id"], n)
    return dates(earliest(pos, nanos(lesions["detection_date"]), np.ones(len(pos), dtype=bool), n), patient_index)


def intervals(patients: pd.DataFrame, tables: dict[str, pd.DataFrame], cutoff_months: float = 6.0) -> pd.DataFrame:
    """Columns ``metastasis_date``, ``dfi_months``, ``tfi_months``, ``synchronous`` per patient
    (``patients`` indexed by coded ids, :mod:`._ids`)."""
    if not np.isfinite(cutoff_months) or cutoff_months < 0:
        raise ValueError(f"synchronous_cutoff_months must be a number >= 0, got {cutoff_months!r}")
    idx = patients.index
    n = len(idx)
    met = metastasis_date(tables["lesions"], idx)
    met_ns = nanos(met)
    res_ns = nanos(patients["primary_resection_date"])
    dfi = np.maximum(whole_days(res_ns, met_ns) / DAYS_PER_MONTH, 0.0)   # clip(lower=0); NaN stays NaN

    t = tables["treatments"]
    pos = positions(t["patient_id"], n)
    end = nanos(t["end_date"])
    end = np.where(end == NAT, nanos(t["start_date"]), end)
    before = at(met_ns, pos, NAT)
    last_t = latest(pos, end, (end != NAT) & (before != NAT) & (end <= before), n)
    prim = np.where((res_ns != NAT) & (met_ns != NAT) & (res_ns <= met_ns), res_ns, NAT)
    last_any = np.maximum(last_t, prim)   # NaT (the smallest int64) only where both are
    tfi = whole_days(last_any, met_ns) / DAYS_PER_MONTH

    gap = whole_days(nanos(patients["primary_diagnosis_date"]), met_ns)
    sync = pd.arrays.BooleanArray(gap <= cutoff_months * DAYS_PER_MONTH, np.isnan(gap))
    return pd.DataFrame({"metastasis_date": met, "dfi_months": dfi, "tfi_months": tfi, "synchronous": sync},
                        index=idx)
