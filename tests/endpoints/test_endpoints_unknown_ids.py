"""Records naming a patient absent from the patients table, or no patient at all, change no patient's
endpoints; at the lesion level such a treated lesion keeps the id its treatment names. (Inside
``derive_endpoints`` ids are numbers, ``endpoints._ids``; these are the cases that coding must keep.)"""
from __future__ import annotations

import pandas as pd
import pytest
from registry_fixture import hand_registry

import oligomet


def _with_strangers(reg: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """P99 (not a patient) has a lesion, a resection of it, a recurrence, a lab and an MDT decision; a
    second resection, recurrence and lab name nobody."""
    reg = {k: v.copy() for k, v in reg.items()}

    def add(name, *rows):
        extra = pd.DataFrame([{**dict.fromkeys(reg[name].columns), **r} for r in rows])
        reg[name] = pd.concat([reg[name], extra.astype(reg[name].dtypes.to_dict())], ignore_index=True)

    day = pd.Timestamp("2020-03-01")
    add("lesions", {"lesion_id": "L99", "patient_id": "P99", "organ": "liver", "detection_date": day})
    add("treatments", {"treatment_id": "T99", "patient_id": "P99", "lesion_ids": "L99", "modality": "resection",
                       "start_date": day, "intent": "curative"},
        {"treatment_id": "T98", "patient_id": None, "lesion_ids": "L98", "modality": "resection",
         "start_date": day, "intent": "curative"})
    for pid in ("P99", None):
        add("events", {"patient_id": pid, "lesion_id": "L99", "date": pd.Timestamp("2020-09-01"),
                       "type": "local_recurrence"})
        add("labs", {"patient_id": pid, "date": day, "cea": 5.0})
    add("mdt_decisions", {"patient_id": "P99", "date": day})
    return reg


@pytest.mark.parametrize("origin", ["index_treatment", "first_recurrence", "metastasis_diagnosis", "mdt_decision"])
def test_strangers_records_change_no_patient(origin):
    plain = oligomet.derive_endpoints(hand_registry(), origin=origin, unit="days")
    mixed = oligomet.derive_endpoints(_with_strangers(hand_registry()), origin=origin, unit="days")
    pd.testing.assert_frame_equal(mixed, plain)


def test_lesion_level_keeps_the_treatments_patient_id():
    plain = oligomet.derive_endpoints(hand_registry(), level="lesion", unit="days")
    mixed = oligomet.derive_endpoints(_with_strangers(hand_registry()), level="lesion", unit="days")
    extra = mixed[~mixed["lesion_id"].isin(plain["lesion_id"])].set_index("lesion_id")
    assert sorted(extra.index) == ["L98", "L99"]
    assert extra.loc["L99", "patient_id"] == "P99" and extra.loc["L98", "patient_id"] is None
    assert extra.loc["L99", "lesion_treatment_id"] == "T99"
    # no patient row: no follow-up (so no local-control time) and no site
    assert extra[["lr_time", "lr_status", "os_time"]].isna().all().all()
    assert extra["site"].isna().all()
    pd.testing.assert_frame_equal(mixed[mixed["lesion_id"].isin(plain["lesion_id"])].reset_index(drop=True), plain)
