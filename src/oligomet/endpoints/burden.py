"""Tumour burden at the origin: number of lesions, largest diameter, Tumor Burden Score.

Lesions counted are the patient's lesions detected on or before the reference date plus
``window_days`` (default 0), where the reference date is the origin (or, for patients without
an origin, the metastasis date). Lesions found later are recurrences, not baseline burden.

**TBS** (Sasaki et al., Ann Surg 2018;267:132-141): ``sqrt(max_diameter_cm**2 + n_lesions**2)``,
with the diameter in centimetres. NaN when no lesion has a diameter.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._pandas_compat import lookup


def tumor_burden_score(max_diameter_mm, n_lesions):
    """TBS = sqrt((max diameter in cm)^2 + (number of lesions)^2)."""
    d = np.asarray(max_diameter_mm, dtype=float) / 10.0
    return np.sqrt(d ** 2 + np.asarray(n_lesions, dtype=float) ** 2)


def burden(reference_date: pd.Series, lesions: pd.DataFrame, window_days: int = 0) -> pd.DataFrame:
    """Columns ``n_lesions``, ``max_diameter_mm``, ``tbs``, ``organs`` (';'-joined, sorted) per patient."""
    idx = reference_date.index
    les = lesions[lesions["detection_date"].notna()]
    cut = lookup(les["patient_id"], reference_date) + pd.Timedelta(days=int(window_days))
    les = les[les["detection_date"] <= cut]
    g = les.groupby("patient_id")
    n = g.size().reindex(idx).fillna(0).astype(int)
    dmax = g["diameter_mm"].max().reindex(idx).astype(float)
    organs = _organ_sets(les, idx)
    tbs = pd.Series(tumor_burden_score(dmax.to_numpy(), n.to_numpy()), index=idx)
    has_origin = reference_date.notna()
    return pd.DataFrame({"n_lesions": n.where(has_origin).astype("Int64"), "max_diameter_mm": dmax,
                         "tbs": tbs, "met_organs": organs}, index=idx)


def _organ_sets(les: pd.DataFrame, idx: pd.Index) -> pd.Series:
    """';'-joined sorted organ names per patient. Organs are a short code list, so each patient's set is
    a bit mask (summed over distinct organs) mapped to its string: no per-patient Python call. The
    distinct (patient, organ) pairs are found on integer codes: de-duplicating the pairs themselves
    hashed a tuple per lesion."""
    ok = (les["patient_id"].notna() & les["organ"].notna()).to_numpy(dtype=bool)
    p_code, patients = pd.factorize(les["patient_id"][ok])
    o_code, organs = pd.factorize(les["organ"][ok])
    names = sorted(organs)
    bit = {o: 1 << i for i, o in enumerate(names)}
    k = max(len(organs), 1)
    seen = np.zeros(len(patients) * k, dtype=bool)   # one flag per possible pair (np.unique is slower)
    seen[p_code.astype(np.int64) * k + o_code] = True
    pair = np.flatnonzero(seen)
    organ_bit = np.array([bit[o] for o in organs], dtype=np.int64)
    mask = np.zeros(len(patients), dtype=np.int64)
    np.add.at(mask, pair // k, organ_bit[pair % k])
    mask = pd.Series(mask, index=patients)
    label = {m: ";".join(o for o in names if m & bit[o]) for m in mask.unique()}
    return mask.map(label).reindex(idx).astype(object)
