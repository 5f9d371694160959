"""``derive_endpoints``: the registry (dict of tables) -> one tidy analysis frame.

This is the only place where registry dates become (time, event) pairs; the statistics never
see dates. Definitions follow DATECAN (Bellera et al., Ann Oncol 2015; Cohen et al. 2020) and
are written out in the module of each endpoint family:

* :mod:`.followup`            end of follow-up (censoring at the last date known alive)
* :mod:`.origin`              time origin and index treatment
* :mod:`.survival_endpoints`  OS, PFS, DFS, 30/90-day mortality
* :mod:`.local_control`       local recurrence (competing death coded 2), time to LR
* :mod:`.intervals`           DFI, treatment-free interval, synchronous / metachronous
* :mod:`.complications`       worst Clavien-Dindo grade, grade >= III, CCI
* :mod:`.burden`              number of lesions, largest diameter, Tumor Burden Score
* :mod:`.treatment_detail`    resection extent assessed vs performed, adhesions, how the first
                              recurrence was established, CTCAE adverse events

See ``docs/endpoints.md`` for the full column reference.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pandas._libs import lib

from .._pandas_compat import as_object_text, is_text
from .._validation import lock_date
from . import burden as _burden
from . import complications as _comp
from . import intervals as _intervals
from . import local_control as _lc
from . import treatment_detail as _detail
from ._ids import NAT, any_per_patient, at, decode, encode, nanos, positions, treatment_rows, whole_days
from ._common import DAYS_PER_MONTH, check_unit, table
from .followup import followup_end
from .origin import (_ordered_treatments, first_local_treatment, index_day_mask, local_rows, modality_rows,
                     resolve_origin)
from .survival_endpoints import LOCAL_RECURRENCE, death_within, first_event_after, mark_events, survival_endpoints

_PATIENT_COVARIATES = ("sex", "birth_year", "primary_site", "histology", "node_positive", "ras", "braf", "msi",
                       "ecog", "primary_diagnosis_date", "primary_resection_date", "death_date",
                       "last_contact_date")
_NEOADJUVANT_SETTINGS = ("neoadjuvant", "conversion", "perioperative")


def _load(tables) -> dict[str, pd.DataFrame]:
    if not isinstance(tables, dict):
        raise TypeError("tables must be a dict {table name: DataFrame} (see oligomet.registry.fields)")
    if "patients" not in tables:
        raise ValueError("the registry has no 'patients' table; every endpoint starts from it")
    names = ("patients", "lesions", "treatments", "complications", "events", "labs", "mdt_decisions",
             "adverse_events")
    return {n: table(tables, n) for n in names}


def _check_patient_ids(ids: pd.Series) -> None:
    if ids.isna().any():
        raise ValueError(f"patients: missing patient_id at rows {list(ids.index[ids.isna()][:10])}")
    dup = ids[ids.duplicated()]
    if len(dup):
        raise ValueError(f"patients: duplicate patient_id {sorted(set(dup))[:10]}; each patient must appear once")


def _coded(tb: dict[str, pd.DataFrame], data_lock):
    """:func:`._ids.encode` of the loaded tables and the data lock, with the errors of the patient ids and the
    lock in that order. The coding hashes the patient ids anyway: they are known distinct and present when
    the patients are coded 0 .. n-1, and only otherwise checked (and reported) one by one."""
    try:
        coded, idx, id_of_code = encode(tb)
    except TypeError:   # ids that cannot be hashed: the checks below report what they did before coding
        _check_patient_ids(tb["patients"]["patient_id"])
        lock_date(data_lock)
        raise
    if not np.array_equal(idx.to_numpy(), np.arange(len(idx))):
        _check_patient_ids(tb["patients"]["patient_id"])
    lock = lock_date(data_lock)   # ISO or a date object: '01-02-2020' is refused, never read month first
    return coded, idx, id_of_code, lock


def _check_origin_order(origin: pd.Series, fu: pd.DataFrame, patient_ids: pd.Series) -> None:
    bad = origin.notna() & fu["fu_date"].notna() & (origin > fu["fu_date"])
    if bad.any():
        ids = list(patient_ids[bad.to_numpy()][:10])
        raise ValueError(f"origin date after the end of follow-up (death or data lock) for patient_id {ids}; "
                         f"run oligomet registry validate on the data, or choose another origin")


#: complications' column of their treatment's row (``_ids.treatment_rows``), when treatment ids are distinct
_ROW = "_treatment_row"

#: the date that places each record before or after a data lock
_DATED = {"treatments": "start_date", "lesions": "detection_date", "events": "date", "labs": "date",
          "mdt_decisions": "date", "complications": "date", "adverse_events": "date"}


def _in_scope(tb: dict[str, pd.DataFrame], n: int, lock, patients_only: bool) -> dict[str, pd.DataFrame]:
    """The records the derivation reads, each table filtered once.

    With a data lock, only records dated up to it (administrative censoring: later records do not exist
    yet). With ``patients_only`` (the patient level), only records of the patients table's patients
    (coded ids below ``n``) and complications of their treatments: other records change no patient's
    endpoints (tests/endpoints/test_endpoints_unknown_ids.py), so a study's patient filter
    (:func:`oligomet.study.cohort.prefilter`) need only filter the patients table."""
    out = dict(tb)
    ours = None   # the rows of the patients' treatments (every row at the lesion level)
    for name, col in _DATED.items():
        frame = tb[name]
        keep = np.ones(len(frame), dtype=bool)
        if name == "complications":
            ids = tb["treatments"]["treatment_id"].to_numpy(dtype=object)[ours]
            found = treatment_rows(ids, frame["treatment_id"].to_numpy(dtype=object))
            if found is not None:   # distinct ids: the row each complication's treatment has in the table (its index)
                frame = frame.assign(**{_ROW: at(ours, found, -1)})
            if patients_only:   # the complications of the patients' treatments
                keep &= found >= 0 if found is not None else frame["treatment_id"].isin(ids).to_numpy(dtype=bool)
        elif patients_only:
            keep &= frame["patient_id"].to_numpy(dtype=float) < n   # NaN (no patient) compares False
        if name == "treatments":
            ours = np.flatnonzero(keep)
        if lock is not None:
            keep &= ~(frame[col] > lock).to_numpy(dtype=bool)
        if not keep.all():
            out[name] = (frame[list(_READ[name])] if name in _READ else frame)[keep]
        elif frame is not tb[name]:
            out[name] = frame
    return out


#: the only columns derive_endpoints reads of these tables: the others are dropped before their rows are filtered
_READ = {"mdt_decisions": ("patient_id", "date")}


def derive_endpoints(tables: dict[str, pd.DataFrame], origin="index_treatment", *,
                     index_modalities=None, index_intents=None, unit: str = "months", level: str = "patient",
                     synchronous_cutoff_months: float = 6.0, curative_intents=("curative", "salvage"),
                     data_lock=None, burden_window_days: int = 0, cea_window_days: int = 90) -> pd.DataFrame:
    """Derive the analysis frame from a registry held in memory.

    Parameters
    ----------
    tables : dict of DataFrames keyed by table name (``oligomet.registry.fields.TABLES``); tables
        other than ``patients`` may be absent. Date columns may be datetime64 or ISO strings.
    origin : ``"index_treatment"`` (default), ``"metastasis_diagnosis"``, ``"mdt_decision"``,
        ``"first_recurrence"``, or a mapping / Series ``patient_id -> date``. See :mod:`.origin`.
    index_modalities : modalities that qualify as the index treatment. Default: the local modalities
        for ``origin="index_treatment"``, any modality otherwise (first treatment on/after origin).
    index_intents : intents that qualify as the index treatment (default any).
    unit : ``"months"`` (days / 30.4375) or ``"days"`` for every ``*_time`` column.
    level : ``"patient"`` (one row per patient) or ``"lesion"`` (one row per locally treated lesion,
        local-control columns measured from the lesion's first local treatment).
    synchronous_cutoff_months : metastases found within this many months of the primary diagnosis
        are synchronous (default 6).
    curative_intents : index-treatment intents that make DFS defined (default curative, salvage).
    data_lock : optional date; later deaths, events and follow-up are ignored (administrative censoring).
    burden_window_days : lesions detected up to this many days after the origin still count as
        baseline burden (default 0).
    cea_window_days : ``cea`` is the latest CEA within this many days before (or on) the origin.

    Returns
    -------
    DataFrame, one row per patient (``level="patient"``), in the order of the patients table,
    with the columns documented in ``docs/endpoints.md``: identifiers (``patient_id``, ``site``),
    ``origin_date``, index treatment (``index_treatment_id``, ``index_modality``, ``index_intent``,
    ``index_approach``, ``index_margin``, ``index_date``), ``os_time/os_event``,
    ``pfs_time/pfs_event``, ``dfs_time/dfs_event``, ``lr_time/lr_status`` (0/1/2),
    ``ttlr_time/ttlr_event``, ``death_30d``, ``death_90d``, complications of the index treatment
    (``n_complications``, ``worst_clavien_dindo``, ``cd_grade_3plus``, ``cci``), burden
    (``n_lesions``, ``max_diameter_mm``, ``tbs``, ``met_organs``), intervals (``metastasis_date``,
    ``dfi_months``, ``tfi_months``, ``synchronous``), treatment history (``first_local_date``,
    ``first_local_modality``, ``neoadjuvant``, ``recurrence_months``, ``first_lr_months``,
    ``local_after_origin``,
    ``systemic_after_origin``), covariates (``age``, ``cea`` and the patients-table fields).
    Patients without an origin keep their row, with NaN times (drop them with
    ``dropna(subset=["os_time"])``).
    """
    check_unit(unit)
    if level not in ("patient", "lesion"):
        raise ValueError(f"level must be 'patient' or 'lesion', got {level!r}")
    # from here on every table's patient_id is a number and the patients are indexed by it (._ids);
    # the text ids are kept in pts["patient_id"] and come back only in the output
    tb, idx, id_of_code, lock = _coded(_load(tables), data_lock)
    tb = _in_scope(tb, len(idx), lock, patients_only=level == "patient")
    tb["treatments"] = _ordered_treatments(tb["treatments"])  # once; every step reads this order
    tb["events"] = mark_events(tb["events"])
    pts = tb["patients"].set_axis(idx)
    fu = followup_end(pts, tb, lock)
    origin_date, index = resolve_origin(origin, pts, tb, index_modalities, index_intents)
    _check_origin_order(origin_date, fu, pts["patient_id"])

    out = {"patient_id": pts["patient_id"], "site": pts["site"],
           "origin": pd.Series(origin if isinstance(origin, str) else "custom", index=idx, dtype=object),
           "origin_date": origin_date, "index_treatment_id": index["treatment_id"],
           "index_modality": index["modality"], "index_intent": index["intent"], "index_approach": index["approach"],
           "index_margin": index["margin"], "index_date": index["start_date"], "followup_date": fu["fu_date"]}
    # outcome events count from the day after the origin: an event that day is history (the day rule)
    out.update(survival_endpoints(origin_date, fu, tb["events"], index, unit, curative_intents).items())
    out.update(_lc.patient_local_control(origin_date, fu, tb, unit).items())
    out["death_30d"] = death_within(30, index["start_date"], fu)
    out["death_90d"] = death_within(90, index["start_date"], fu)

    out.update(_complication_columns(index, tb, idx))

    ivl = _intervals.intervals(pts, tb, synchronous_cutoff_months)
    ref = origin_date.fillna(ivl["metastasis_date"])
    out.update(_burden.burden(ref, tb["lesions"], burden_window_days).items())
    out.update(ivl.items())

    fl = first_local_treatment(tb["treatments"], idx)
    # the first recurrence (the origin itself for origin="first_recurrence": resolve_origin found it so)
    rec = origin_date if isinstance(origin, str) and origin == "first_recurrence" else \
        first_event_after(tb["events"], fl["first_local_date"], idx)
    out.update(_history(origin_date, tb, idx, fl, rec).items())
    out.update(_detail.extent_columns(index, tb["treatments"]).items())
    out.update(_detail.recurrence_columns(tb["events"], rec, idx).items())
    out.update(_detail.adverse_event_columns(tb["adverse_events"], tb["treatments"], idx).items())
    age = origin_date.dt.year - pd.to_numeric(pts["birth_year"], errors="coerce")
    out["age"] = age.astype(float)
    out["cea"] = _cea_at(origin_date, tb["labs"], cea_window_days)
    for col in _PATIENT_COVARIATES:
        out[col] = pts[col]

    out = _output_frame(out, idx)
    if level == "patient":
        return out
    return _lesion_frame(out, fu, tb, unit, id_of_code)


def _output_frame(columns: dict[str, pd.Series], idx: pd.Index) -> pd.DataFrame:
    """The patient frame, built once from its columns (each a Series on ``idx``, aligned to it as a join
    would): rows numbered from 0, text columns as in :func:`_none_for_missing`. Setting the columns one
    by one, or joining frames, copied the growing frame each time."""
    rows, data = pd.RangeIndex(len(idx)), {}
    for name, s in columns.items():
        if not s.index.equals(idx):
            s = s.reindex(idx)
        data[name] = (_object_text(s) if is_text(s) else s).set_axis(rows)
    # the text columns join as a block each: stacking them into one 2-D object block, as the constructor does,
    # touches every value's reference count (~60% of the frame's construction)
    text = {i: name for i, (name, s) in enumerate(data.items()) if s.dtype == object}
    frame = pd.DataFrame({name: s for name, s in data.items() if s.dtype != object}, index=rows)
    for i, name in text.items():   # in column order: each lands at its own position
        frame.insert(i, name, data[name])
    return frame


def _object_text(s: pd.Series) -> pd.Series:
    """:func:`as_object_text` of an object column, faster: when every value is a ``str`` (a fast scan in pandas'
    C code) there is no missing value to replace (ids, site, sex: half the text columns); else the missing
    values other than None are those unequal to themselves (NaN, NaT; pd.NA cannot compare: as_object_text)."""
    if s.dtype != object:
        return as_object_text(s)
    values = s.to_numpy()
    if lib.is_string_array(values, skipna=False):
        return s
    try:
        odd = values != values
    except Exception:   # pd.NA refuses to be a bool; as_object_text replaces it
        return as_object_text(s)
    if not odd.any():
        return s
    if not pd.isna(values[odd]).all():
        return as_object_text(s)
    values = values.copy()
    values[odd] = None
    return pd.Series(values, index=s.index, name=s.name, dtype=object)


def _complication_columns(index: pd.DataFrame, tb: dict[str, pd.DataFrame], idx: pd.Index) -> dict[str, pd.Series]:
    """The complications of every procedure on the index day (:func:`.complications.per_patient`):
    ``n_complications``, ``worst_clavien_dindo``, ``cd_grade_3plus``, ``cci``, missing without an index
    treatment. With the complications' treatment rows known (:func:`._ids.treatment_rows`) they are counted
    per patient position, without matching treatment ids again."""
    t, comp = tb["treatments"], tb["complications"]
    on_day = index_day_mask(index, t, distinct_ids=_ROW in comp.columns)
    if _ROW not in comp.columns:
        pc = _comp.per_patient(t.loc[on_day, ["patient_id", "treatment_id"]].reset_index(drop=True), comp).reindex(idx)
        return {"n_complications": pc["n_complications"].astype("Int64"),
                "worst_clavien_dindo": pd.Series(pd.Categorical(pc["worst_clavien_dindo"],
                                                                categories=list(_comp.GRADE_ORDER), ordered=True),
                                                 index=idx),
                "cd_grade_3plus": pd.Series(pd.array(pc["cd_grade_3plus"], dtype="boolean"), index=idx),
                "cci": pc["cci"].astype(float)}
    n = len(idx)
    proc_rows = t.index.to_numpy()[on_day]
    proc_pos = positions(t["patient_id"], n)[on_day]   # every procedure is a patient's (index_day_mask)
    graded = _comp._graded(comp)   # (an unknown grade is an error)
    row = graded[_ROW].to_numpy()
    owner = np.full(1 + max(row.max(initial=-1), proc_rows.max(initial=-1)), -1, dtype=np.int64)
    owner[proc_rows] = proc_pos   # the patient of each procedure's row
    pos = at(owner, row, -1)
    mine = pos >= 0
    has = np.zeros(n, dtype=bool)
    has[proc_pos] = True
    return {name: pd.Series(values, index=idx)
            for name, values in _comp.pooled(graded["clavien_dindo"][mine], pos[mine], has).items()}


def _none_for_missing(frame: pd.DataFrame) -> pd.DataFrame:
    """Text columns as object dtype with None for missing, whatever the input held (None, NaN,
    pd.NA) and whatever dtype pandas gave them (pandas 3 makes new text columns ``str``)."""
    for c in frame.columns:
        if is_text(frame[c]):
            frame[c] = as_object_text(frame[c])
    return frame


def _history(origin: pd.Series, tb: dict[str, pd.DataFrame], idx: pd.Index,
             fl: pd.DataFrame, rec: pd.Series) -> pd.DataFrame:
    """``fl``: :func:`first_local_treatment`; ``rec``: the first event after its day (both computed once)."""
    t = tb["treatments"]   # ordered: every row has a start date
    n = len(idx)
    pos = positions(t["patient_id"], n)
    start = nanos(t["start_date"])
    systemic = modality_rows(t, ("systemic",))
    first_local = nanos(fl["first_local_date"])
    neo = systemic & (start < at(first_local, pos, NAT))
    neo[neo] = t["setting"].iloc[np.flatnonzero(neo)].isin(_NEOADJUVANT_SETTINGS).to_numpy(dtype=bool)
    first_lr = first_event_after(tb["events"], fl["first_local_date"], idx, types=LOCAL_RECURRENCE)
    from_origin = at(nanos(origin), pos, NAT)
    after = (from_origin != NAT) & (start >= from_origin)
    has_origin = origin.notna().to_numpy()
    return pd.DataFrame({
        "first_local_date": fl["first_local_date"],
        "first_local_modality": fl["first_local_modality"],
        # never treated locally: "before the first local treatment" has no meaning, so missing, not False
        "neoadjuvant": pd.arrays.BooleanArray(any_per_patient(pos, neo, n), first_local == NAT),
        "recurrence_months": whole_days(first_local, nanos(rec)) / DAYS_PER_MONTH,
        "first_lr_months": whole_days(first_local, nanos(first_lr)) / DAYS_PER_MONTH,
        "local_after_origin": pd.arrays.BooleanArray(any_per_patient(pos, after & local_rows(t), n), ~has_origin),
        "systemic_after_origin": pd.arrays.BooleanArray(any_per_patient(pos, after & systemic, n), ~has_origin),
    }, index=idx)


def _cea_at(origin: pd.Series, labs: pd.DataFrame, window_days: int) -> pd.Series:
    """The latest CEA per patient dated within ``window_days`` before (or on) the origin; of several that
    day, the last in table order. ``origin`` on the coded patients index (:mod:`._ids`)."""
    n = len(origin)
    pos = positions(labs["patient_id"], n)
    when = nanos(labs["date"])
    cea = labs["cea"].to_numpy(dtype=float, na_value=np.nan)
    o = at(nanos(origin), pos, NAT)
    start = o - int(pd.Timedelta(days=int(window_days)).value)
    rows = np.flatnonzero((pos >= 0) & (when != NAT) & ~np.isnan(cea) & (o != NAT) & (when <= o) & (when >= start))
    rows = rows[np.lexsort((when[rows], pos[rows]))]   # stable: equal dates stay in table order
    last = rows[np.append(pos[rows][1:] != pos[rows][:-1], True)] if len(rows) else rows
    out = np.full(n, np.nan)
    out[pos[last]] = cea[last]
    return pd.Series(out, index=origin.index, name="cea")


_LESION_DROP = ("os_time", "os_event", "pfs_time", "pfs_event", "dfs_time", "dfs_event", "lr_time", "lr_status",
                "ttlr_time", "ttlr_event")


def _lesion_frame(patient_frame: pd.DataFrame, fu: pd.DataFrame, tb: dict[str, pd.DataFrame],
                  unit: str, id_of_code) -> pd.DataFrame:
    """One row per locally treated lesion; local control from the lesion's first local treatment."""
    les = _lc.lesion_local_control(fu, tb, unit)
    info = tb["lesions"].set_index("lesion_id")[["organ", "detection_date", "diameter_mm", "segment_or_lobe"]]
    les = les.join(info, how="left")
    les.index.name = "lesion_id"
    les = les.reset_index()
    pf = fu.reindex(les["patient_id"]).reset_index(drop=True)
    les["patient_id"] = decode(les["patient_id"], id_of_code)  # codes -> ids, to join the patient frame
    # OS from the lesion's treatment, so a lesion frame can be analysed on its own clock too
    les["os_time"] = (pf["fu_date"] - les["lesion_treatment_date"]).dt.days / (
        DAYS_PER_MONTH if unit == "months" else 1.0)
    les["os_event"] = pf["dead"].astype(float).where(les["os_time"].notna())
    pcols = [c for c in patient_frame.columns if c not in _LESION_DROP and c not in les.columns]
    merged = les.merge(patient_frame[pcols + ["patient_id"]], on="patient_id", how="left")
    front = ["patient_id", "site", "lesion_id", "organ", "diameter_mm", "detection_date", "lesion_treatment_id",
             "lesion_treatment_date", "lesion_modality", "lesion_approach", "lesion_intent", "n_local_treatments",
             "lr_time", "lr_status", "ttlr_time", "ttlr_event", "os_time", "os_event"]
    return _none_for_missing(merged[front + [c for c in merged.columns if c not in front]])
