"""Resection extent, intra-operative findings, how the first recurrence was established, and CTCAE
adverse events of systemic therapy: one row per patient.

**Extent.** ``treatments.assessed_extent`` is the resection the surgeon judged would be needed on the
imaging before a local treatment (SABR, ablation or resection); ``resection_extent`` is the extent a
resection actually had. Both become ordered categoricals over :data:`EXTENT_ORDER` and a numeric
*step* on the organ's own scale (:data:`oligomet.registry.fields.EXTENT_STEP`: lung wedge 1,
segmentectomy 2, lobectomy 3, pneumonectomy 4; liver wedge 1, segmentectomy 2, hemihepatectomy 3).
Compare extents of one lesion or one organ only: the order between a lobectomy and a hemihepatectomy
means nothing. The paired comparison of a salvage study ("were salvage resections more extensive than
the resection assessed before SABR?") is ``first_local_assessed_extent_step`` (before the patient's
first local treatment) against ``index_resection_extent_step`` (the index resection), e.g. with the
Wilcoxon signed-rank test; ``extent_escalated`` is True when the index resection took more steps
than assessed before the first local treatment.

**First recurrence.** The events on the day of the first recurrence after the first local treatment
(the recurrence of ``recurrence_months``): ``recurrence_ct_progression``, ``recurrence_fdg_pet_uptake``,
``recurrence_biopsy`` (``confirmed_by == "biopsy"``) and ``recurrence_tumor_board`` (discussed at the
tumor board before its salvage treatment). Several rows that day: True if any row says so, else False
if any row says no, else missing.

**Adverse events** (CTCAE; surgical complications are Clavien-Dindo graded, see :mod:`.complications`),
over the whole record: ``n_adverse_events``, ``ctcae_worst_grade`` (0 without any), ``ctcae_3plus``
and ``ctcae_3plus_drug_related`` (any grade >= 3 event; drug-related: attributed to systemic therapy).
The yes/no columns are missing for a patient with neither a systemic treatment nor an adverse event
on record: the question does not apply to someone never given a drug, and a rate among exposed
patients is what the seed studies report.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..registry.fields import EXTENT_STEP, LOCAL_MODALITIES
from ._common import map_number, map_numbers
from ._ids import NAT, _take, any_per_patient, at, days, first_rows, nanos, positions
from .origin import _FIRST_NON_LOCAL, modality_rows
from .survival_endpoints import event_days

#: A total order consistent with both organs' scales (lung: wedge < segmentectomy < lobectomy <
#: pneumonectomy; liver: wedge < segmentectomy < hemihepatectomy).
EXTENT_ORDER = ("wedge", "segmentectomy", "lobectomy", "hemihepatectomy", "pneumonectomy")
_EXTENT_RANK = {e: i for i, e in enumerate(EXTENT_ORDER)}
_YES_NO = {"yes": 1.0, "no": 0.0}   # as numbers for map_number; read back as a boolean array


def extent(codes: pd.Series) -> tuple[pd.Categorical, pd.Series]:
    """(ordered categorical over :data:`EXTENT_ORDER`, step on the organ's scale as float, NaN if missing)."""
    rank, step = map_numbers(codes, _EXTENT_RANK, EXTENT_STEP)
    return _extent_categories(rank), pd.Series(step, index=codes.index)


def _extent_categories(rank: np.ndarray) -> pd.Categorical:
    return pd.Categorical.from_codes(np.where(np.isnan(rank), -1, rank).astype(int), categories=list(EXTENT_ORDER),
                                     ordered=True)


def extent_columns(index: pd.DataFrame, treatments: pd.DataFrame) -> pd.DataFrame:
    """``index``: the index treatment per patient (index = patient_id, the coded patients index of :mod:`._ids`):
    its row in ``treatments`` as ``_row`` (:func:`.origin.resolve_origin`), or its ``assessed_extent``,
    ``resection_extent`` and ``extensive_adhesions``; ``treatments`` in the order of
    :func:`.origin._ordered_treatments`. Returns the extent columns and ``index_extensive_adhesions``."""
    n = len(index)
    local = treatments["_priority"].to_numpy() < _FIRST_NON_LOCAL if "_priority" in treatments.columns else \
        treatments["modality"].isin(LOCAL_MODALITIES).to_numpy(dtype=bool)
    first = first_rows(positions(treatments["patient_id"], n), local, n)   # the first local treatment's row
    if "_row" in index.columns:   # each code list mapped once over the treatments, then read at the rows
        row = index["_row"].to_numpy()
        assessed = map_numbers(treatments["assessed_extent"], _EXTENT_RANK, EXTENT_STEP)
        numbers = {"first_local_assessed": [at(a, first, np.nan) for a in assessed],
                   "index_assessed": [at(a, row, np.nan) for a in assessed],
                   "index_resection": [at(a, row, np.nan)
                                       for a in map_numbers(treatments["resection_extent"], _EXTENT_RANK, EXTENT_STEP)]}
        adhesions = at(map_number(treatments["extensive_adhesions"], _YES_NO), row, np.nan)
    else:
        numbers = {"first_local_assessed": map_numbers(_take(treatments["assessed_extent"], first, index.index),
                                                       _EXTENT_RANK, EXTENT_STEP),
                   "index_assessed": map_numbers(index["assessed_extent"], _EXTENT_RANK, EXTENT_STEP),
                   "index_resection": map_numbers(index["resection_extent"], _EXTENT_RANK, EXTENT_STEP)}
        adhesions = map_number(index["extensive_adhesions"], _YES_NO)
    out = {}
    for prefix, (rank, step) in numbers.items():
        out[f"{prefix}_extent"] = _extent_categories(rank)
        out[f"{prefix}_extent_step"] = step
    before, after = out["first_local_assessed_extent_step"], out["index_resection_extent_step"]
    out["extent_escalated"] = pd.arrays.BooleanArray(after > before, np.isnan(before) | np.isnan(after))
    out["index_extensive_adhesions"] = pd.array(adhesions, dtype="boolean")
    return pd.DataFrame(out, index=index.index)


def _any_known(flags: pd.Series, pos: np.ndarray, rows: np.ndarray, n: int) -> pd.Series:
    """Per patient (n rows; ``pos``: the patient row of each flag, -1 for none): True if any flag of the
    ``rows`` is True, else False if any is False, else missing."""
    known = flags.notna().to_numpy(dtype=bool) & rows & (pos >= 0)
    if isinstance(flags.dtype, pd.BooleanDtype) or flags.dtype == float:   # as 1.0 / 0.0: no Python objects
        value = flags.to_numpy(dtype=float, na_value=np.nan)[known]
    else:
        value = flags.to_numpy(dtype=object)[known]
    t, f = np.zeros(n, dtype=bool), np.zeros(n, dtype=bool)
    t[pos[known][value == True]] = True  # noqa: E712   (== as the object values compare: 1 is True)
    f[pos[known][value == False]] = True  # noqa: E712
    return pd.arrays.BooleanArray(t, ~(t | f))


def recurrence_columns(events: pd.DataFrame, first: pd.Series, patient_index: pd.Index) -> pd.DataFrame:
    """``first``: the first recurrence date per patient (:func:`.survival_endpoints.first_event_after` of the
    first local treatment); every event on that day describes it. ``patient_index``: coded (:mod:`._ids`)."""
    n = len(patient_index)
    pos = positions(events["patient_id"], n)
    day = event_days(events)
    that_day = at(days(nanos(first)), pos, NAT)
    rows = (day != NAT) & (day == that_day)
    # by biopsy 1, by imaging or clinically 0, else missing (as ``map`` of True / False)
    biopsy = pd.Series(map_number(events["confirmed_by"], {"biopsy": 1.0, "imaging": 0.0, "clinical": 0.0}))
    return pd.DataFrame({
        "recurrence_ct_progression": _any_known(events["ct_progression"], pos, rows, n),
        "recurrence_fdg_pet_uptake": _any_known(events["fdg_pet_uptake"], pos, rows, n),
        "recurrence_biopsy": _any_known(biopsy, pos, rows, n),
        "recurrence_tumor_board": _any_known(events["tumor_board_before_salvage"], pos, rows, n),
    }, index=patient_index)


def adverse_event_columns(adverse_events: pd.DataFrame, treatments: pd.DataFrame,
                          patient_index: pd.Index) -> pd.DataFrame:
    graded = (adverse_events["patient_id"].notna() & adverse_events["grade"].notna()).to_numpy(dtype=bool)
    # the events with a patient and a grade: the others are neither read nor checked (the rows are kept, so that
    # a registry where all are graded is not copied)
    ae = adverse_events if graded.all() else adverse_events[graded]
    grade = np.full(len(graded), np.nan)
    grade[graded] = pd.to_numeric(ae["grade"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if (~np.isnan(grade) & ~np.isin(grade, range(1, 6))).any():
        _refuse_grades(ae)
    related = np.zeros(len(graded), dtype=bool)
    related[graded] = ae["drug_related"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    n = len(patient_index)
    pos = np.where(graded, positions(adverse_events["patient_id"], n), -1)
    mine = pos >= 0
    severe = grade >= 3   # NaN compares False
    count = np.bincount(pos[mine], minlength=n)
    worst = np.zeros(n)   # 0 without any graded event; grades are 1-5, NaN (unreadable) never wins
    np.fmax.at(worst, pos[mine], grade[mine])
    systemic = modality_rows(treatments, ("systemic",))
    exposed = any_per_patient(positions(treatments["patient_id"], n), systemic, n) | (count > 0)
    out = {"n_adverse_events": pd.array(count, dtype="Int64"), "ctcae_worst_grade": pd.array(worst, dtype="Int64")}
    for col, rows in (("ctcae_3plus", severe), ("ctcae_3plus_drug_related", severe & related)):
        out[col] = pd.arrays.BooleanArray(any_per_patient(pos, rows, n), ~exposed)
    return pd.DataFrame(out, index=patient_index)


def _refuse_grades(ae: pd.DataFrame) -> None:
    """The error for CTCAE grades outside 1-5 (``ae``: the rows with a patient and a grade)."""
    grade = pd.to_numeric(ae["grade"], errors="coerce")
    bad = grade.notna() & ~grade.isin(range(1, 6))
    if bad.any():
        rows = list(ae.index[bad.to_numpy()][:10])
        raise ValueError(f"adverse_events: CTCAE grade not 1-5 at rows {rows} (e.g. {ae.loc[bad, 'grade'].iloc[0]!r})")
