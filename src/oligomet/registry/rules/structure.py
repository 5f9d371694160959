"""Required fields, code lists, duplicate ids and references (rule classes 4, 7, 9)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..fields import TABLES
from .context import Context

_ID_TABLES = {"patients": "patient_id", "lesions": "lesion_id", "treatments": "treatment_id"}


def check_required(ctx: Context) -> None:
    for name, frame in ctx.tables.items():
        for f in TABLES[name].fields:
            if not f.required or not len(frame):
                continue
            # An absent column is reported once by the parser (missing_column); ``combine`` then drops
            # these per-row problems for it.
            codes = ctx.id_codes(name, f.name)   # an id column: missing where it has no number
            if codes is None and f.type == "code":
                codes = ctx.coded(name, f.name)[0]   # as check_codes finds them
            missing = codes < 0 if codes is not None else frame[f.name].isna().to_numpy()
            ctx.error(name, "required_missing", missing, f.name, f"{f.name} is required")


def check_codes(ctx: Context) -> None:
    for name, frame in ctx.tables.items():
        for f in TABLES[name].fields:
            if f.type != "code" or not len(frame):
                continue
            codes = ctx.coded(name, f.name)[0]
            bad = (codes >= 0) & ~ctx.is_in(name, f.name, f.codes)   # a value, and not an allowed one
            rule = "clavien_dindo_grade" if f.name == "clavien_dindo" else "unknown_code"
            ctx.error(name, rule, bad, f.name, f"unknown {f.name}; allowed values: {', '.join(f.codes)}")


def check_duplicates(ctx: Context) -> None:
    for name, key in _ID_TABLES.items():
        frame = ctx.tables[name]
        dup = _repeated(ctx.id_codes(name, key))   # ids.duplicated(keep=False) & ids.notna()
        if not dup.any():
            continue
        if name == "patients":
            grp = frame[dup].groupby("patient_id")
            conflict = (grp["site"].transform("nunique") > 1) & (grp["birth_year"].transform("nunique") > 1)
            conflicting = np.zeros(len(frame), dtype=bool)
            conflicting[np.flatnonzero(dup)[conflict.to_numpy()]] = True
            sites = grp["site"].transform(lambda s: ", ".join(sorted(s.dropna().astype(str).unique())))
            years = grp["birth_year"].transform(lambda s: ", ".join(sorted(s.dropna().astype(str).unique())))
            msg = pd.Series("", index=frame.index, dtype=object)
            msg[dup] = ("the same patient at sites " + sites + " with conflicting birth years " + years).to_numpy()
            ctx.error(name, "conflicting_birth_year", conflicting, "birth_year", msg)
            dup &= ~conflicting
        ctx.error(name, "duplicate_id", dup, key, f"{key} appears more than once in {name}")
    _same_person(ctx)
    for name in ("complications", "events", "labs", "mdt_decisions", "adverse_events"):
        frame = ctx.tables[name]
        if len(frame):
            key = list(TABLES[name].key)
            # the ids by their numbers: equal where the ids are equal, and missing ones all alike (-1)
            cells = pd.DataFrame({k: c if (c := ctx.id_codes(name, k)) is not None else frame[k] for k in key})
            ctx.warning(name, "duplicate_row", cells.duplicated(key, keep="first").to_numpy(), key[0],
                        f"same {', '.join(key)} as an earlier row (entered twice?)")


def _repeated(codes: np.ndarray) -> np.ndarray:
    """True where a number (not -1, missing) occurs more than once."""
    present = codes >= 0
    counts = np.bincount(codes[present], minlength=1)
    return present & (counts[np.where(present, codes, 0)] > 1)


def check_references(ctx: Context) -> None:
    t = ctx.tables
    patients = ctx.patient_space
    for name in ("lesions", "treatments", "events", "labs", "mdt_decisions", "adverse_events"):
        bad = patients.codes[name] >= patients.home   # an id, and none of the patients table's
        ctx.error(name, "unknown_reference", bad, "patient_id", "no such patient in the patients table")
    treatments = ctx.treatment_space
    ctx.error("complications", "unknown_reference", treatments.codes["complications"] >= treatments.home,
              "treatment_id", "no such treatment in the treatments table")
    if (ctx.lesion_space.codes["lesions"] < 0).any() or (patients.codes["lesions"] < 0).any():
        _lesion_references_by_text(ctx)   # how pandas matches missing lesion and patient ids, kept as it was
        return
    # Lesions all with an id and a patient: the lesion of each event (and listed id) is its first row.
    lesion_patient = t["lesions"]["patient_id"].to_numpy(dtype=object)
    ev = t["events"]
    lid = ev["lesion_id"]
    first = ctx.lesion_space.rows("events")
    known = first >= 0
    ctx.error("events", "unknown_reference", (ctx.lesion_space.codes["events"] >= 0) & ~known, "lesion_id",
              "no such lesion in the lesions table")
    owner = np.append(lesion_patient, None)[first]   # -1 (no such lesion) picks the appended None
    patient = ev["patient_id"].to_numpy(dtype=object)
    other = known & (patients.codes["events"] < 0)   # an event without a patient: another one's lesion
    compare = known & ~other
    other[compare] = owner[compare] != patient[compare]
    ctx.error("events", "reference_other_patient", other, "lesion_id",
              lambda m: "lesion " + lid[m].astype(str) + " belongs to patient "
              + pd.Series(owner[m], index=lid.index[m], dtype=object).astype(str))
    # treatments.lesion_ids: one row per listed lesion, then back to the treatment row.
    tr = t["treatments"]
    listed = ctx.treated_lesions
    if len(listed):
        pos = listed["pos"].to_numpy()
        rows = ctx.treated_lesion_rows
        unknown = rows < 0
        wrong = ~unknown & (np.append(lesion_patient, None)[rows] != tr["patient_id"].to_numpy()[pos])
        _treated_lesion_errors(ctx, listed, unknown, wrong)


def _lesion_references_by_text(ctx: Context) -> None:
    """The lesion references of events and of ``lesion_ids``, looked up by their texts in pandas."""
    t = ctx.tables
    owner = t["lesions"].drop_duplicates("lesion_id").set_index("lesion_id")["patient_id"]
    ev = t["events"]
    lid = ev["lesion_id"]
    known = lid.isin(owner.index)
    ctx.error("events", "unknown_reference", (lid.notna() & ~known).to_numpy(), "lesion_id",
              "no such lesion in the lesions table")
    other = (known & (lid.map(owner) != ev["patient_id"])).to_numpy()
    ctx.error("events", "reference_other_patient", other, "lesion_id",
              lambda m: "lesion " + lid[m].astype(str) + " belongs to patient " + lid[m].map(owner).astype(str))
    tr = t["treatments"]
    listed = ctx.treated_lesions
    if len(listed):
        pos = listed["pos"].to_numpy()
        ids = listed["lesion_id"]
        unknown = ctx.treated_lesion_rows < 0
        wrong = ~unknown & (ids.map(owner).to_numpy() != tr["patient_id"].to_numpy()[pos])
        _treated_lesion_errors(ctx, listed, unknown, wrong)


def _treated_lesion_errors(ctx: Context, listed: pd.DataFrame, unknown: np.ndarray, wrong: np.ndarray) -> None:
    pos = listed["pos"].to_numpy()
    ids = listed["lesion_id"]
    for mask, rule, text in ((unknown, "unknown_reference", "no such lesion in the lesions table: "),
                             (wrong, "reference_other_patient", "lesion of another patient: ")):
        if mask.any():
            rows = np.zeros(len(ctx.tables["treatments"]), dtype=bool)
            rows[pos[mask]] = True
            names = ids[mask].groupby(pos[mask]).agg(";".join)
            ctx.error("treatments", rule, rows, "lesion_ids",
                      lambda m, names=names, text=text: text + names.loc[np.flatnonzero(m)].to_numpy())


def _same_person(ctx: Context) -> None:
    """Different patient ids with the same pseudonym (keyed hash of the identifiers): one person twice.

    Conflicting birth years make it an error (``conflicting_birth_year``); otherwise a warning
    (``duplicate_person``), since a patient treated at two hospitals may rightly have two ids.
    """
    p = ctx.tables["patients"]
    ps = p["pseudonym"]
    if ps.isna().all():
        return
    grp = p[ps.notna()].groupby("pseudonym")
    n_ids = grp["patient_id"].transform("nunique")
    shared = pd.Series(False, index=p.index)
    shared[n_ids.index] = (n_ids > 1).to_numpy()
    if not shared.any():
        return
    sub = p[shared]
    g = sub.groupby("pseudonym")
    conflict = pd.Series(False, index=p.index)
    conflict[sub.index] = (g["birth_year"].transform("nunique") > 1).to_numpy()
    others = g["patient_id"].transform(lambda s: ", ".join(sorted(s.astype(str).unique())))
    msg = pd.Series("", index=p.index, dtype=object)
    msg[sub.index] = ("the same identifiers (pseudonym) as patients " + others + " at sites "
                      + g["site"].transform(lambda s: ", ".join(sorted(s.dropna().astype(str).unique())))).to_numpy()
    ctx.error("patients", "conflicting_birth_year", (shared & conflict).to_numpy(), "birth_year",
              msg + " with different birth years")
    ctx.warning("patients", "duplicate_person", (shared & ~conflict).to_numpy(), "pseudonym",
                msg + ": the same person registered twice?")
