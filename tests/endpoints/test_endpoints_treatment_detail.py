"""Resection extent, adhesions, how the first recurrence was established, CTCAE adverse events: a
four-patient registry worked by hand.

* S1 (lung): SABR of L1 assessed as a wedge; local recurrence (CT progression, no FDG uptake, tumor
  board yes); salvage resection of L1 assessed as a segmentectomy, a lobectomy performed, extensive
  adhesions. Adverse events: grade 2 drug-related, grade 3 not drug-related.
  -> assessed before the first local treatment: wedge (step 1); performed: lobectomy (step 3);
  escalated; adhesions True; CTCAE >= 3 True, drug-related >= 3 False, worst grade 3, 2 events.
* S2 (liver): resection assessed as a hemihepatectomy, a segmentectomy performed; first-line
  chemotherapy without adverse events; recurrence on one day with two rows (CT missing on one, True
  on the other; biopsy on one). -> steps 3 -> 2, not escalated; adhesions "no" -> False;
  drug-related >= 3 False (exposed, none), worst grade 0; recurrence CT True, biopsy True.
* S3: ablation without any assessment, no systemic therapy, no adverse event -> extents missing,
  escalated missing, adhesions "unknown" -> missing, the CTCAE yes/no columns missing (never exposed).
* S4: a drug-related grade 4 event without a systemic treatment on record -> drug-related >= 3 True.
"""
from __future__ import annotations

import pandas as pd
import pytest
from registry_fixture import _frame

import oligomet
from oligomet.endpoints.treatment_detail import EXTENT_ORDER


def _registry():
    pat = [dict(patient_id=p, site="A", sex="male", birth_year=1950, primary_site="colorectal",
                primary_diagnosis_date="2018-01-01", last_contact_date="2023-01-01") for p in ("S1", "S2", "S3", "S4")]
    les = [dict(lesion_id="S1-L1", patient_id="S1", organ="lung", detection_date="2019-01-01", diameter_mm=15),
           dict(lesion_id="S2-L1", patient_id="S2", organ="liver", detection_date="2019-01-01", diameter_mm=40),
           dict(lesion_id="S3-L1", patient_id="S3", organ="liver", detection_date="2019-01-01", diameter_mm=20),
           dict(lesion_id="S4-L1", patient_id="S4", organ="liver", detection_date="2019-01-01", diameter_mm=20)]
    tr = [dict(treatment_id="S1-T1", patient_id="S1", lesion_ids="S1-L1", modality="sabr", start_date="2019-02-01",
               dose_gy=60, fractions=5, assessed_extent="wedge"),
          dict(treatment_id="S1-T2", patient_id="S1", lesion_ids="S1-L1", modality="resection", intent="salvage",
               start_date="2020-06-01", approach="open", assessed_extent="segmentectomy",
               resection_extent="lobectomy", extensive_adhesions="yes"),
          dict(treatment_id="S2-T1", patient_id="S2", modality="systemic", start_date="2019-01-20", line=1,
               setting="neoadjuvant"),
          dict(treatment_id="S2-T2", patient_id="S2", lesion_ids="S2-L1", modality="resection", start_date="2019-05-01",
               approach="open", assessed_extent="hemihepatectomy", resection_extent="segmentectomy",
               extensive_adhesions="no"),
          dict(treatment_id="S3-T1", patient_id="S3", lesion_ids="S3-L1", modality="rfa", start_date="2019-02-01",
               approach="open", extensive_adhesions="unknown"),
          dict(treatment_id="S4-T1", patient_id="S4", lesion_ids="S4-L1", modality="resection",
               start_date="2019-02-01")]
    ev = [dict(patient_id="S1", lesion_id="S1-L1", date="2020-04-01", type="local_recurrence", organ="lung",
               ct_progression=True, fdg_pet_uptake=False, tumor_board_before_salvage=True),
          dict(patient_id="S2", date="2020-01-10", type="new_metastasis", organ="liver", ct_progression=None,
               confirmed_by="biopsy"),
          dict(patient_id="S2", date="2020-01-10", type="distant_progression", organ="lung", ct_progression=True,
               confirmed_by="imaging"),
          dict(patient_id="S2", date="2021-01-10", type="progression", organ="lung", ct_progression=False)]
    ae = [dict(patient_id="S1", date="2020-07-01", term="Fatigue", grade=2, drug_related=True),
          dict(patient_id="S1", date="2020-08-01", term="Fall", grade=3, drug_related=False),
          dict(patient_id="S4", date="2019-06-01", term="Diarrhea", grade=4, drug_related=True)]
    return {"patients": _frame("patients", pat), "lesions": _frame("lesions", les),
            "treatments": _frame("treatments", tr), "events": _frame("events", ev),
            "adverse_events": _frame("adverse_events", ae)}


@pytest.fixture(scope="module")
def frame():
    return oligomet.derive_endpoints(_registry()).set_index("patient_id")


def test_assessed_before_the_first_local_treatment_vs_performed(frame):
    s1, s2, s3 = frame.loc["S1"], frame.loc["S2"], frame.loc["S3"]
    # S1's index (first local treatment) is the SABR; with the salvage resection as index it is the resection
    assert s1["first_local_assessed_extent"] == "wedge" and s1["first_local_assessed_extent_step"] == 1
    assert (s2["index_assessed_extent_step"], s2["index_resection_extent_step"]) == (3, 2)
    assert s2["extent_escalated"] == False  # noqa: E712
    assert pd.isna(s3["first_local_assessed_extent_step"]) and pd.isna(s3["extent_escalated"])
    assert frame["index_resection_extent"].cat.ordered
    assert list(frame["index_resection_extent"].cat.categories) == list(EXTENT_ORDER)
    salvage = oligomet.derive_endpoints(_registry(), index_modalities=["resection"],
                                        index_intents=["salvage"]).set_index("patient_id").loc["S1"]
    assert salvage["first_local_assessed_extent"] == "wedge" and salvage["index_assessed_extent"] == "segmentectomy"
    assert salvage["index_resection_extent"] == "lobectomy" and salvage["index_resection_extent_step"] == 3
    assert salvage["extent_escalated"] == True and salvage["index_extensive_adhesions"] == True  # noqa: E712


def test_adhesions_yes_no_unknown(frame):
    assert frame.loc["S2", "index_extensive_adhesions"] == False  # noqa: E712
    assert pd.isna(frame.loc["S3", "index_extensive_adhesions"])   # "unknown"
    assert pd.isna(frame.loc["S4", "index_extensive_adhesions"])   # not recorded


def test_how_the_first_recurrence_was_established(frame):
    s1, s2 = frame.loc["S1"], frame.loc["S2"]
    assert (s1["recurrence_ct_progression"], s1["recurrence_fdg_pet_uptake"], s1["recurrence_tumor_board"]) == (
        True, False, True)
    assert pd.isna(s1["recurrence_biopsy"])
    # two rows on 2020-01-10: CT missing and True -> True; biopsy on one -> True; the 2021 row is not the first
    assert s2["recurrence_ct_progression"] == True and s2["recurrence_biopsy"] == True  # noqa: E712
    assert pd.isna(s2["recurrence_fdg_pet_uptake"]) and pd.isna(s2["recurrence_tumor_board"])
    assert frame.loc[["S3", "S4"], "recurrence_ct_progression"].isna().all()


def test_ctcae_grade_3_or_more_drug_related_per_patient(frame):
    got = frame[["n_adverse_events", "ctcae_worst_grade", "ctcae_3plus", "ctcae_3plus_drug_related"]]
    assert got.loc["S1"].tolist() == [2, 3, True, False]
    assert got.loc["S2"].tolist() == [0, 0, False, False]          # given chemotherapy, no event
    assert got.loc["S3", ["n_adverse_events", "ctcae_worst_grade"]].tolist() == [0, 0]
    assert got.loc["S3", ["ctcae_3plus", "ctcae_3plus_drug_related"]].isna().all()   # never given a drug
    assert got.loc["S4"].tolist() == [1, 4, True, True]


def test_an_impossible_ctcae_grade_is_refused_naming_the_row():
    reg = _registry()
    reg["adverse_events"].loc[1, "grade"] = 7
    with pytest.raises(ValueError, match=r"CTCAE grade not 1-5 at rows \[1\]"):
        oligomet.derive_endpoints(reg)
