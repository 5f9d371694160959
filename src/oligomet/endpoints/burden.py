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

from ._ids import NAT, at, nanos, positions


def tumor_burden_score(max_diameter_mm, n_lesions):
    """TBS = sqrt((max diameter in cm)^2 + (number of lesions)^2)."""
    d = np.asarray(max_diameter_mm, dtype=float) / 10.0
    return np.sqrt(d ** 2 + np.asarray(n_lesions, dtype=float) ** 2)


def burden(reference_date: pd.Series, lesions: pd.DataFrame, window_days: int = 0) -> pd.DataFrame:
    """Columns ``n_lesions``, ``max_diameter_mm``, ``tbs``, ``organs`` (';'-joined, sorted) per patient
    (``reference_date`` on the coded patients index, :mod:`._ids`)."""
    idx = reference_date.index
    n = len(idx)
    pos = positions(lesions["patient_id"], n)
    found = nanos(lesions["detection_date"])
    ref = at(nanos(reference_date), pos, NAT)
    cut = ref + int(pd.Timedelta(days=int(window_days)).value)
    keep = (pos >= 0) & (found != NAT) & (ref != NAT) & (found <= cut)
    count = np.bincount(pos[keep], minlength=n)
    dmax = np.full(n, np.nan)
    np.fmax.at(dmax, pos[keep], lesions["diameter_mm"].to_numpy(dtype=float, na_value=np.nan)[keep])
    organs = _organ_sets(lesions["organ"], pos, keep, idx)
    tbs = pd.Series(tumor_burden_score(dmax, count), index=idx)
    has_origin = reference_date.notna().to_numpy()
    return pd.DataFrame({"n_lesions": pd.arrays.IntegerArray(count.astype(np.int64), ~has_origin),
                         "max_diameter_mm": pd.Series(dmax, index=idx), "tbs": tbs, "met_organs": organs}, index=idx)


def _organ_sets(organ: pd.Series, pos: np.ndarray, keep: np.ndarray, idx: pd.Index) -> pd.Series:
    """';'-joined sorted organ names per patient of the lesions ``keep`` (``pos``: their patient rows). Organs
    are a short code list, so each patient's set is a bit mask (summed over distinct organs) mapped to its
    string: no per-patient Python call. The distinct (patient, organ) pairs are flags on integer codes."""
    code, organs = pd.factorize(organ)   # of every row (cheaper than finding the kept ones' first); -1: missing
    ok = keep & (code >= 0)
    o_code = code[ok]
    names = sorted(organs)
    bit = {o: 1 << i for i, o in enumerate(names)}
    k = max(len(organs), 1)
    seen = np.zeros(len(idx) * k, dtype=bool)   # one flag per possible pair (np.unique is slower)
    seen[pos[ok] * k + o_code] = True
    pair = np.flatnonzero(seen)
    organ_bit = np.array([bit[o] for o in organs], dtype=np.int64)
    mask = np.zeros(len(idx), dtype=np.int64)
    np.add.at(mask, pair // k, organ_bit[pair % k])
    masks, which = np.unique(mask, return_inverse=True)
    # a patient without a counted lesion has mask 0 and no label (missing, as the reindex gave)
    label = np.array([";".join(o for o in names if m & bit[o]) if m else np.nan for m in masks], dtype=object)
    return pd.Series(label[which], index=idx, dtype=object)
