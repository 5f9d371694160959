"""Clavien-Dindo grades and the Comprehensive Complication Index (CCI) per procedure.

CCI (Slankamenac et al., Ann Surg 2013;258:1-7): every complication of a procedure gets a
weight by its Clavien-Dindo grade, ``I = 300, II = 1750, IIIa = 2750, IIIb = 4550, IVa = 7200,
IVb = 8550``, and ``CCI = sqrt(sum of weights) / 2``, capped at 100; any grade V (death)
makes the CCI 100. These weights reproduce the published single-complication values
(I 8.7, II 20.9, IIIa 26.2, IIIb 33.7, IVa 42.4, IVb 46.2, V 100). A procedure without any
recorded complication has CCI 0 and worst grade "none". Per patient (:func:`per_patient`), the
complications of every procedure on the index day are pooled: one operation combining a resection
and an ablation is one CCI.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .._pandas_compat import lookup
from ..registry.fields import CLAVIEN_DINDO
from ._common import map_number

CCI_WEIGHTS = {"I": 300.0, "II": 1750.0, "IIIa": 2750.0, "IIIb": 4550.0, "IVa": 7200.0, "IVb": 8550.0}
GRADE_ORDER = ("none",) + CLAVIEN_DINDO  # ordinal scale used for "worst grade"
_RANK = {g: i for i, g in enumerate(GRADE_ORDER)}
_SEVERE = {"IIIa", "IIIb", "IVa", "IVb", "V"}


def cci(grades) -> float:
    """CCI of one procedure from the Clavien-Dindo grades of its complications (an iterable of codes)."""
    grades = [g for g in grades if isinstance(g, str)]
    bad = [g for g in grades if g not in _RANK or g == "none"]
    if bad:
        raise ValueError(f"unknown Clavien-Dindo grade(s) {bad}; allowed: {', '.join(CLAVIEN_DINDO)}")
    if "V" in grades:
        return 100.0
    return float(min(100.0, np.sqrt(sum(CCI_WEIGHTS[g] for g in grades)) / 2.0))


def _graded(complications: pd.DataFrame) -> pd.DataFrame:
    """Complications with a treatment and a grade; an unknown grade is an error naming the rows."""
    comp = complications.dropna(subset=["treatment_id", "clavien_dindo"])
    bad = ~comp["clavien_dindo"].isin(CLAVIEN_DINDO)
    if bad.any():
        rows = list(comp.index[bad.to_numpy()][:10])
        raise ValueError(f"complications: Clavien-Dindo grade not in {', '.join(CLAVIEN_DINDO)} at rows {rows} "
                         f"(e.g. {comp.loc[bad, 'clavien_dindo'].iloc[0]!r})")
    return comp


def _summary(grades: pd.Series, keys: pd.Series, index) -> pd.DataFrame:
    """Per key (rows of ``index``): ``n_complications``, ``worst_clavien_dindo``, ``cd_grade_3plus``,
    ``cci`` of the grades grouped by ``keys``; a key without any complication gets 0 / "none"."""
    g = pd.DataFrame({"key": keys.to_numpy(), "rank": grades.map(_RANK).to_numpy(),
                      "w": grades.map(CCI_WEIGHTS).fillna(0.0).to_numpy(),
                      "v": (grades == "V").to_numpy()}).groupby("key")
    agg = pd.DataFrame({"n_complications": g.size(), "rank": g["rank"].max(), "w": g["w"].sum(),
                        "v": g["v"].any()})
    agg = agg.reindex(index)
    n = agg["n_complications"].fillna(0).astype(int)
    worst_rank = agg["rank"].fillna(0).astype(int)
    value = np.minimum(100.0, np.sqrt(agg["w"].fillna(0.0).to_numpy()) / 2.0)
    value = np.where(agg["v"].astype("boolean").fillna(False).to_numpy(dtype=bool), 100.0, value)
    worst = pd.Categorical.from_codes(worst_rank.to_numpy(), categories=list(GRADE_ORDER), ordered=True)
    return pd.DataFrame({"n_complications": n.to_numpy(), "worst_clavien_dindo": worst,
                         "cd_grade_3plus": np.isin(np.asarray(worst, dtype=object), list(_SEVERE)),
                         "cci": value}, index=agg.index)


def per_procedure(treatments: pd.DataFrame, complications: pd.DataFrame) -> pd.DataFrame:
    """One row per treatment (index ``treatment_id``): ``n_complications``, ``worst_clavien_dindo``
    (ordered categorical, "none" when no complication), ``cd_grade_3plus`` (bool: grade IIIa or worse),
    ``cci`` (0-100)."""
    comp = _graded(complications)
    out = _summary(comp["clavien_dindo"], comp["treatment_id"], treatments["treatment_id"].dropna().unique())
    out.index.name = "treatment_id"
    return out


def per_patient(procedures: pd.DataFrame, complications: pd.DataFrame) -> pd.DataFrame:
    """The same columns per patient (index ``patient_id``), pooling the complications of every
    treatment in ``procedures`` (columns ``patient_id``, ``treatment_id``; e.g. every procedure of the
    index day), so the worst grade and the CCI describe the whole operation."""
    comp = _graded(complications)
    owner = procedures.drop_duplicates("treatment_id").set_index("treatment_id")["patient_id"]
    comp = comp[comp["treatment_id"].isin(owner.index)]
    out = _summary(comp["clavien_dindo"], lookup(comp["treatment_id"], owner), procedures["patient_id"].unique())
    out.index.name = "patient_id"
    return out


def pooled(grades: pd.Series, pos: np.ndarray, has: np.ndarray) -> dict[str, object]:
    """:func:`per_patient`'s columns as arrays over patient positions (``has``: the patients with a procedure;
    the others are missing), from ``grades`` (valid, :func:`_graded`) of the complications of procedures of
    the patients ``pos``."""
    n = len(has)
    rank = map_number(grades, _RANK).astype(np.int64)
    count = np.bincount(pos, minlength=n)
    worst = np.zeros(n, dtype=np.int64)   # "none" without a complication
    np.maximum.at(worst, pos, rank)
    # V weighs 0 (its CCI is 100); sums of these weights are whole numbers, exact in any order
    weight = np.bincount(pos, weights=map_number(grades, {**CCI_WEIGHTS, "V": 0.0}), minlength=n)
    value = np.where(worst == _RANK["V"], 100.0, np.minimum(100.0, np.sqrt(weight) / 2.0))
    return {"n_complications": pd.arrays.IntegerArray(count.astype(np.int64), ~has),
            "worst_clavien_dindo": pd.Categorical.from_codes(np.where(has, worst, -1), categories=list(GRADE_ORDER),
                                                             ordered=True),
            "cd_grade_3plus": pd.arrays.BooleanArray(worst >= _RANK["IIIa"], ~has),
            "cci": np.where(has, value, np.nan)}
