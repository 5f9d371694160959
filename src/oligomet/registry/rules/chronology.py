"""Dates in the right order (rule classes 1, 2, 3 and related checks)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..fields import LOCAL_MODALITIES, TABLES
from .context import Context, iso

#: Dates of things that cannot happen after death (rule 2), by table.
_AFTER_DEATH = {"treatments": ("start_date", "end_date"), "complications": ("date",), "events": ("date",),
                "labs": ("date",), "mdt_decisions": ("date",),
                "adverse_events": ("date",)}


def check_death(ctx: Context) -> None:
    p = ctx.tables["patients"]
    death = p["death_date"]
    ctx.error("patients", "death_before_diagnosis", (death < p["primary_diagnosis_date"]).to_numpy(), "death_date",
              lambda m: "death before the primary diagnosis on " + iso(p["primary_diagnosis_date"][m]))
    les = ctx.tables["lesions"]
    if len(les):
        d = ctx.death("lesions")
        bad = les[(les["detection_date"] > d).to_numpy()]
        if len(bad):
            # One problem per patient, naming the latest lesion detected after death.
            last = bad.sort_values("detection_date").drop_duplicates("patient_id", keep="last").set_index("patient_id")
            hit = p["patient_id"].isin(last.index).to_numpy() & ~p["patient_id"].duplicated().to_numpy()
            def msg(m):
                pid = p["patient_id"][m]
                return ("death before the detection of lesion " + pid.map(last["lesion_id"]).astype(str)
                        + " on " + iso(pid.map(last["detection_date"])))
            ctx.error("patients", "death_before_detection", hit, "death_date", msg)
    contact = p["last_contact_date"]
    ctx.error("patients", "contact_after_death", (contact > death).to_numpy(), "last_contact_date",
              lambda m: "last contact after the death on " + iso(death[m]))
    ctx.error("patients", "contact_before_diagnosis", (contact < p["primary_diagnosis_date"]).to_numpy(),
              "last_contact_date",
              lambda m: "last contact before the primary diagnosis on " + iso(p["primary_diagnosis_date"][m]))
    by = p["birth_year"].astype("Float64")
    dx_year = p["primary_diagnosis_date"].dt.year
    bad = ((by < 1900) | (by > dx_year)).fillna(False).to_numpy(dtype=bool)
    ctx.error("patients", "birth_year_implausible", bad, "birth_year",
              "birth year before 1900 or after the primary diagnosis year")


def check_after_death_and_lock(ctx: Context) -> None:
    for name, fields in _AFTER_DEATH.items():
        frame = ctx.tables[name]
        if not len(frame):
            continue
        death = ctx.death(name)
        for f in fields:
            ctx.error(name, "after_death", (frame[f] > death).to_numpy(), f,
                      lambda m, death=death: "after the patient's death on " + iso(death[m]))
    # Without a data lock, today is the lock: a date in the future is a typo (2102 for 2012).
    limit = ctx.data_lock if ctx.data_lock is not None else pd.Timestamp.today().normalize()
    rule = "after_data_lock" if ctx.data_lock is not None else "date_in_future"
    text = (f"after the data-lock date {limit:%Y-%m-%d}" if ctx.data_lock is not None
            else f"in the future (today is {limit:%Y-%m-%d})")
    for name, frame in ctx.tables.items():
        for f in TABLES[name].fields:
            if f.type == "date" and len(frame):
                ctx.error(name, rule, (frame[f.name] > limit).to_numpy(), f.name, text)


def check_treatment_order(ctx: Context) -> None:
    tr = ctx.tables["treatments"]
    ctx.error("treatments", "end_before_start", (tr["end_date"] < tr["start_date"]).to_numpy(), "end_date",
              lambda m: "end date before the start date " + iso(tr["start_date"][m]))
    co = ctx.tables["complications"]
    if len(co):
        # the start of the first treatments row of each complication's treatment (NaT: none)
        first = ctx.treatment_space.rows("complications")
        start = pd.Series(np.append(tr["start_date"].to_numpy(dtype="datetime64[ns]"), np.datetime64("NaT", "ns"))
                          [first], index=co.index, name="treatment_id")
        ctx.error("complications", "complication_before_treatment", (co["date"] < start).to_numpy(), "date",
                  lambda m: "complication before its treatment started on " + iso(start[m]))


def check_local_recurrence(ctx: Context) -> None:
    """Rule 3: a local recurrence needs an earlier local treatment of that lesion (or patient).

    With ``lesion_id`` the lesion must appear in ``lesion_ids`` of a local treatment (resection,
    SABR, ablation, ...); without it, the patient must have a local treatment. The recurrence must
    not be dated before the first such treatment (same day is allowed: the rule is "before").
    """
    ev = ctx.tables["events"]
    lr = ctx.is_in("events", "type", ["local_recurrence"])
    if not lr.any():
        return
    tr = ctx.tables["treatments"]
    is_local = ctx.is_in("treatments", "modality", LOCAL_MODALITIES)
    start = tr["start_date"].to_numpy(dtype="datetime64[ns]")
    # The first local treatment of each lesion id listed (and of each patient), by the ids' numbers
    # (rules/context.Space): equal ids, equal numbers.
    pos = ctx.treated_lesions["pos"].to_numpy()
    local = is_local[pos]
    lesions = ctx.lesion_space
    first_lesion = _first_by(lesions.codes["treated"][local], start[pos[local]], len(lesions.uniques))
    patients = ctx.patient_space
    first_patient = _first_by(patients.codes["treatments"][is_local], start[is_local], len(patients.uniques))
    evl = ev[lr]
    has_lesion = evl["lesion_id"].notna().to_numpy()
    first = pd.Series(np.where(has_lesion, _take_date(first_lesion, lesions.codes["events"][lr]),
                               _take_date(first_patient, patients.codes["events"][lr])), index=evl.index)

    def what(m):
        return pd.Series(np.where(has_lesion[m], "lesion " + evl["lesion_id"][m].astype(str), "the patient"),
                         index=evl.index[m])

    pos = np.flatnonzero(lr)

    def full(sub_mask):
        out = np.zeros(len(ev), dtype=bool)
        out[pos[sub_mask]] = True
        return out

    untreated = first.isna().to_numpy()
    ctx.error("events", "local_recurrence_untreated", full(untreated & has_lesion), "lesion_id",
              lambda m: "local recurrence but " + what(m[pos]) + " has no local treatment")
    ctx.error("events", "local_recurrence_untreated", full(untreated & ~has_lesion), "type",
              lambda m: "local recurrence but " + what(m[pos]) + " has no local treatment")
    before = (evl["date"] < first).to_numpy()
    ctx.error("events", "local_recurrence_before_treatment", full(before), "date",
              lambda m: "local recurrence before the first local treatment of " + what(m[pos]) + " on "
              + iso(first[m[pos]]))


def _first_by(codes: np.ndarray, dates: np.ndarray, n: int) -> np.ndarray:
    """The earliest of ``dates`` for each number ``0..n-1`` of ``codes`` (NaT: none, or only NaT); -1: no number."""
    out = np.full(n, np.datetime64("NaT", "ns"))
    keep = (codes >= 0) & ~np.isnat(dates)
    if keep.any():
        earliest = pd.Series(dates[keep]).groupby(codes[keep]).min()
        out[earliest.index.to_numpy()] = earliest.to_numpy(dtype="datetime64[ns]")
    return out


def _take_date(first: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """``first`` of each number of ``codes``; NaT for -1 (a missing id)."""
    return np.append(first, np.datetime64("NaT", "ns"))[codes]


def check_lesion_dates(ctx: Context) -> None:
    """A local treatment listing a lesion must not start before that lesion was detected."""
    treated = ctx.treated_lesions
    if not len(treated):
        return
    tr = ctx.tables["treatments"]
    pos = treated["pos"].to_numpy()
    det = ctx.treated_lesion_value("detection_date")
    early = tr["start_date"].to_numpy()[pos] < det  # NaT compares False
    if not early.any():
        return
    rows = np.zeros(len(tr), dtype=bool)
    rows[pos[early]] = True
    first = pd.Series(det[early], index=pos[early]).groupby(level=0).min()
    which = treated["lesion_id"][early].groupby(pos[early]).agg(";".join)
    ctx.error("treatments", "treatment_before_detection", rows, "start_date",
              lambda m: ("starts before lesion " + which.loc[np.flatnonzero(m)] + " was detected on "
                         + iso(first.loc[np.flatnonzero(m)])).to_numpy())


def check_recurrence_organ(ctx: Context) -> None:
    """A local recurrence happens in the organ of its lesion (warning when the organs differ)."""
    ev = ctx.tables["events"]
    # the organ of the first lesions row of each event's lesion (None: no such lesion)
    first = ctx.lesion_space.rows("events")
    organ = pd.Series(np.append(ctx.tables["lesions"]["organ"].to_numpy(dtype=object), None)[first], index=ev.index,
                      dtype=object)
    bad = ((ev["type"] == "local_recurrence") & ev["organ"].notna() & organ.notna() & (ev["organ"] != organ))
    ctx.warning("events", "local_recurrence_organ", bad.to_numpy(), "organ",
                lambda m: "local recurrence in " + ev["organ"][m] + " but lesion " + ev["lesion_id"][m] + " is in "
                + organ[m])
