"""A small hand-built registry whose endpoints are computed by hand in the tests.

Dates are chosen so that day counts are easy to verify with a calendar (2020 is a leap year).
Each patient illustrates one DATECAN edge case; the comment above each says which.
"""
from __future__ import annotations

import pandas as pd

from oligomet.registry.fields import TABLES

D = pd.Timestamp


def _frame(name: str, rows: list[dict]) -> pd.DataFrame:
    spec = TABLES[name]
    df = pd.DataFrame(rows, columns=spec.field_names)
    for f in spec.fields:
        if f.type == "date":
            df[f.name] = pd.to_datetime(df[f.name])
        elif f.type == "int":
            df[f.name] = df[f.name].astype("Int64")
        elif f.type == "float":
            df[f.name] = df[f.name].astype(float)
        elif f.type == "bool":
            df[f.name] = df[f.name].astype("boolean")
        else:
            df[f.name] = df[f.name].astype(object)
    return df


def patient(pid, **kw):
    base = dict(patient_id=pid, site="Site A (synthetic)", sex="female", birth_year=1960, primary_site="colorectal",
                primary_diagnosis_date="2019-01-01")
    base.update(kw)
    return base


def treatment(tid, pid, modality, start, **kw):
    return dict(treatment_id=tid, patient_id=pid, modality=modality, start_date=start, **kw)


def event(pid, date, type_, lesion_id=None, organ="liver"):
    return dict(patient_id=pid, lesion_id=lesion_id, date=date, type=type_, organ=organ)


def build_registry(patients: list[dict], **rows: list[dict]) -> dict[str, pd.DataFrame]:
    """A registry from lists of row dicts, typed as the registry reader types it; tables not given are empty."""
    names = ("lesions", "treatments", "complications", "events", "labs", "mdt_decisions")
    unknown = set(rows) - set(names)
    if unknown:
        raise TypeError(f"unknown tables {sorted(unknown)}")
    return {"patients": _frame("patients", patients), **{n: _frame(n, rows.get(n, [])) for n in names}}


def hand_registry() -> dict[str, pd.DataFrame]:
    patients = [
        # P1: several events on one day (LR + distant on 2020-07-01); death on the day of last contact
        patient("P1", primary_diagnosis_date="2019-06-01", primary_resection_date="2019-07-01",
                death_date="2021-01-01", last_contact_date="2021-01-01"),
        # P2: an event on the origin day (history, not an outcome); a lab after last_contact extends follow-up
        patient("P2", last_contact_date="2021-03-01"),
        # P3: lost to follow-up right after treatment (last contact = treatment day)
        patient("P3", last_contact_date="2020-05-10"),
        # P4: systemic therapy only (no local index treatment), dies
        patient("P4", death_date="2020-04-01", last_contact_date="2020-04-01"),
        # P5: dies 45 days after resection without local recurrence (competing death), 2 complications
        patient("P5", death_date="2020-02-15", last_contact_date="2020-02-15"),
        # P6: SABR, local recurrence, then salvage resection
        patient("P6", last_contact_date="2021-02-01"),
        # P7: local recurrence and death on the same day
        patient("P7", death_date="2020-03-01", last_contact_date="2020-03-01"),
        # P8: palliative ablation: DFS not defined
        patient("P8", last_contact_date="2020-12-31"),
    ]
    lesions = [
        dict(lesion_id="L1", patient_id="P1", organ="liver", detection_date="2019-12-01", diameter_mm=30.0),
        dict(lesion_id="L1b", patient_id="P1", organ="liver", detection_date="2019-12-01", diameter_mm=12.0),
        dict(lesion_id="L1c", patient_id="P1", organ="lung", detection_date="2020-06-01", diameter_mm=50.0),
        dict(lesion_id="L2", patient_id="P2", organ="lung", detection_date="2020-01-15", diameter_mm=15.0),
        dict(lesion_id="L3", patient_id="P3", organ="liver", detection_date="2020-04-01", diameter_mm=20.0),
        dict(lesion_id="L4", patient_id="P4", organ="liver", detection_date="2020-01-15", diameter_mm=60.0),
        dict(lesion_id="L5", patient_id="P5", organ="liver", detection_date="2019-12-01", diameter_mm=25.0),
        dict(lesion_id="L6", patient_id="P6", organ="lung", detection_date="2018-12-01", diameter_mm=18.0),
        dict(lesion_id="L7", patient_id="P7", organ="liver", detection_date="2019-12-01", diameter_mm=22.0),
        dict(lesion_id="L8", patient_id="P8", organ="liver", detection_date="2019-12-01", diameter_mm=21.0),
    ]
    t = treatment
    treatments = [
        t("T1a", "P1", "systemic", "2019-08-01", end_date="2019-10-01", setting="adjuvant", regimen="FOLFOX", line=1),
        t("T1", "P1", "resection", "2020-01-01", lesion_ids="L1;L1b", intent="curative", approach="open", margin="R0"),
        t("T2", "P2", "sabr", "2020-03-01", lesion_ids="L2", intent="curative", approach="not_applicable",
          dose_gy=54.0, fractions=3),
        t("T3", "P3", "resection", "2020-05-10", lesion_ids="L3", intent="curative", approach="minimally_invasive",
          margin="R0"),
        t("T4", "P4", "systemic", "2020-02-01", setting="palliative", regimen="FOLFIRI", line=1),
        t("T5", "P5", "resection", "2020-01-01", lesion_ids="L5", intent="curative", approach="open", margin="R1"),
        t("T6a", "P6", "sabr", "2019-01-01", lesion_ids="L6", intent="curative", dose_gy=60.0, fractions=5),
        t("T6b", "P6", "resection", "2020-02-01", lesion_ids="L6", intent="salvage", approach="minimally_invasive",
          margin="R0"),
        t("T7", "P7", "resection", "2020-01-01", lesion_ids="L7", intent="curative", approach="open", margin="R0"),
        t("T8", "P8", "rfa", "2020-01-01", lesion_ids="L8", intent="palliative", approach="percutaneous"),
    ]
    complications = [
        dict(treatment_id="T5", date="2020-01-05", clavien_dindo="IIIa"),
        dict(treatment_id="T5", date="2020-01-10", clavien_dindo="II"),
        dict(treatment_id="T6b", date="2020-02-03", clavien_dindo="I"),
    ]
    events = [
        dict(patient_id="P1", lesion_id="L1", date="2020-07-01", type="local_recurrence", organ="liver"),
        dict(patient_id="P1", lesion_id=None, date="2020-07-01", type="distant_progression", organ="lung"),
        dict(patient_id="P2", lesion_id=None, date="2020-03-01", type="new_metastasis", organ="lung"),
        dict(patient_id="P6", lesion_id="L6", date="2020-01-01", type="local_recurrence", organ="lung"),
        dict(patient_id="P6", lesion_id=None, date="2020-08-01", type="distant_progression", organ="liver"),
        dict(patient_id="P7", lesion_id="L7", date="2020-03-01", type="local_recurrence", organ="liver"),
    ]
    labs = [dict(patient_id="P2", date="2021-04-01", cea=3.0), dict(patient_id="P1", date="2019-12-15", cea=12.5),
            dict(patient_id="P1", date="2019-06-01", cea=40.0)]
    mdt = [dict(patient_id="P2", date="2020-02-01", recommendation="sabr")]
    return build_registry(patients, lesions=lesions, treatments=treatments, complications=complications,
                          events=events, labs=labs, mdt_decisions=mdt)
