"""Issue 16, E1-E4: the day rule, the same-day tie rule, and what patients never treated locally get.

Each test builds its own small registry; the expected values are worked out by hand in the comments.
Day counts: 2020 is a leap year, so 2020-01-01 -> 2021-01-01 = 366 days, 2021-01-01 -> 2022-01-01 =
365, 2022-01-01 -> 2022-12-31 = 364; 2020-01-01 -> 2020-07-01 = 31+29+31+30+31+30 = 182 days.
"""
from __future__ import annotations

import math

import pandas as pd
import pytest
from registry_fixture import build_registry, event, patient, treatment

import oligomet
from oligomet.endpoints.origin import natural_key

M = 30.4375  # days per month


def row(frame, pid):
    r = frame[frame["patient_id"] == pid]
    assert len(r) == 1
    return r.iloc[0]


def lesion(lid, pid, detected, mm, organ="lung"):
    return dict(lesion_id=lid, patient_id=pid, organ=organ, detection_date=detected, diameter_mm=mm)


def salvage_registry():
    """SABR, then a local recurrence and its salvage resection on the same day (2020-01-01).

    Q1: no later event, alive at 2022-12-31 (1095 days after the salvage = 35.975 months).
    Q2: distant progression 2020-07-01 (day 182), dies 2021-01-01 (day 366).
    Q3: resection 2020-03-01 with a new metastasis found at surgery that day, dies that day.
    Q5: resection 2020-01-01, a metastasis found at surgery that day, distant progression 2020-07-01.
    """
    patients = [patient("Q1", last_contact_date="2022-12-31"),
                patient("Q2", death_date="2021-01-01", last_contact_date="2021-01-01"),
                patient("Q3", death_date="2020-03-01", last_contact_date="2020-03-01"),
                patient("Q5", last_contact_date="2021-01-01")]
    lesions = [lesion("L1", "Q1", "2018-12-01", 15.0), lesion("L2", "Q2", "2018-12-01", 15.0),
               lesion("L3", "Q3", "2020-02-01", 20.0, "liver"), lesion("L5", "Q5", "2019-12-01", 20.0, "liver")]
    treatments = [
        treatment("T1a", "Q1", "sabr", "2019-01-01", lesion_ids="L1", intent="curative"),
        treatment("T1b", "Q1", "resection", "2020-01-01", lesion_ids="L1", intent="salvage", margin="R0"),
        treatment("T2a", "Q2", "sabr", "2019-01-01", lesion_ids="L2", intent="curative"),
        treatment("T2b", "Q2", "resection", "2020-01-01", lesion_ids="L2", intent="salvage", margin="R0"),
        treatment("T3", "Q3", "resection", "2020-03-01", lesion_ids="L3", intent="curative", margin="R0"),
        treatment("T5", "Q5", "resection", "2020-01-01", lesion_ids="L5", intent="curative", margin="R0"),
    ]
    events = [event("Q1", "2020-01-01", "local_recurrence", "L1", "lung"),
              event("Q2", "2020-01-01", "local_recurrence", "L2", "lung"),
              event("Q2", "2020-07-01", "distant_progression", organ="liver"),
              event("Q3", "2020-03-01", "new_metastasis"),
              event("Q5", "2020-01-01", "new_metastasis"),
              event("Q5", "2020-07-01", "distant_progression")]
    return build_registry(patients, lesions=lesions, treatments=treatments, events=events)


def test_e1_dfs_from_first_recurrence_ignores_the_recurrence_that_defines_the_origin():
    d = oligomet.derive_endpoints(salvage_registry(), origin="first_recurrence")
    q1 = row(d, "Q1")
    # origin = the LR of 2020-01-01 (first event after the SABR day); index = the salvage that same day
    assert q1.origin_date == pd.Timestamp("2020-01-01") and q1.index_treatment_id == "T1b"
    # nothing after it: censored at 2022-12-31 = 366 + 365 + 364 = 1095 days = 35.98 months
    # (before the fix DFS counted events from the salvage day itself: 0.0 months with an event)
    assert q1.dfs_time == pytest.approx(1095 / M) and round(q1.dfs_time, 2) == 35.98 and q1.dfs_event == 0.0
    assert (q1.pfs_time, q1.pfs_event) == (q1.dfs_time, 0.0)
    q2 = row(d, "Q2")  # the distant progression of 2020-07-01, day 182, is the DFS and PFS event
    assert (q2.dfs_time, q2.dfs_event) == (pytest.approx(182 / M), 1.0)
    assert (q2.pfs_time, q2.pfs_event) == (pytest.approx(182 / M), 1.0)


def test_e2_salvage_cohort_recurrence_on_the_salvage_day_is_history():
    d = oligomet.derive_endpoints(salvage_registry(), unit="days", index_modalities=["resection"],
                                  index_intents=["salvage"])
    q1 = row(d, "Q1")  # the LR dated on the salvage day led to the salvage: not an outcome
    assert q1.origin_date == pd.Timestamp("2020-01-01")
    for t, e in (("pfs_time", "pfs_event"), ("dfs_time", "dfs_event"), ("ttlr_time", "ttlr_event"),
                 ("os_time", "os_event")):
        assert (q1[t], q1[e]) == (1095.0, 0.0), t
    assert (q1.lr_time, q1.lr_status) == (1095.0, 0.0)
    q2 = row(d, "Q2")
    assert (q2.pfs_time, q2.pfs_event) == (182.0, 1.0) and (q2.dfs_time, q2.dfs_event) == (182.0, 1.0)
    # no LR after the salvage day, death 2021-01-01 = day 366 competes (2), TTLR censors it
    assert (q2.lr_time, q2.lr_status) == (366.0, 2.0) and (q2.ttlr_time, q2.ttlr_event) == (366.0, 0.0)
    # time to first recurrence still runs from the first local treatment: SABR 2019-01-01 -> LR 2020-01-01
    assert q1.recurrence_months == pytest.approx(365 / M) and q1.first_lr_months == pytest.approx(365 / M)


def test_e2_death_on_the_index_day_is_an_event_at_time_zero():
    q3 = row(oligomet.derive_endpoints(salvage_registry(), unit="days"), "Q3")
    # the metastasis found at surgery is history, but the death that day is the outcome of every endpoint
    for t, e in (("os_time", "os_event"), ("pfs_time", "pfs_event"), ("dfs_time", "dfs_event")):
        assert (q3[t], q3[e]) == (0.0, 1.0), t
    assert (q3.lr_time, q3.lr_status) == (0.0, 2.0) and bool(q3.death_30d)


def test_e2_event_on_the_first_local_treatment_day_is_not_the_first_recurrence():
    reg = salvage_registry()
    q5 = row(oligomet.derive_endpoints(reg, unit="days"), "Q5")
    assert q5.recurrence_months == pytest.approx(182 / M)  # the metastasis found at surgery is not a recurrence
    assert (q5.pfs_time, q5.pfs_event) == (182.0, 1.0)
    r = row(oligomet.derive_endpoints(reg, origin="first_recurrence", unit="days"), "Q5")
    # origin = the progression of 2020-07-01; censored at 2021-01-01 = 184 days (July..Dec)
    assert r.origin_date == pd.Timestamp("2020-07-01") and (r.os_time, r.os_event) == (184.0, 0.0)


def test_e2_lesion_level_recurrence_on_the_treatment_day_is_history():
    reg = salvage_registry()
    # Q5's lesion: a local recurrence dated on its resection day is not an outcome of that resection
    reg["events"] = pd.concat([reg["events"], build_registry([], events=[
        event("Q5", "2020-01-01", "local_recurrence", "L5")])["events"]], ignore_index=True)
    les = oligomet.derive_endpoints(reg, unit="days", level="lesion").set_index("lesion_id")
    assert (les.loc["L5", "lr_time"], les.loc["L5", "lr_status"]) == (366.0, 0.0)  # censored 2021-01-01
    # L1: SABR 2019-01-01 -> LR 2020-01-01 = 365 days, a recurrence on a later day than the lesion's clock
    assert (les.loc["L1", "lr_time"], les.loc["L1", "lr_status"]) == (365.0, 1.0)


def tie_registry(rows_reversed=False):
    """Two local treatments on one day (2020-01-01).

    R1: RFA "T10" and resection "T2" (as text "T10" < "T2"): complications T2 grade II, T10 grade IIIb.
    R2: resection "T20" and MWA "T11" with a grade V complication of the MWA; dies 2020-01-20 (day 19).
    R3: two resections "T40" (R1) and "T4" (R0); natural order picks T4.
    R4: SABR "T5" and MWA "T50": the ablation has priority over SABR.
    """
    patients = [patient("R1", last_contact_date="2020-12-31"),
                patient("R2", death_date="2020-01-20", last_contact_date="2020-01-20"),
                patient("R3", last_contact_date="2020-12-31"), patient("R4", last_contact_date="2020-12-31")]
    lesions = [lesion(f"L{p}{k}", f"R{p}", "2019-12-01", 20.0, "liver") for p in range(1, 5) for k in "ab"]
    day = "2020-01-01"
    treatments = [
        treatment("T10", "R1", "rfa", day, lesion_ids="L1b", intent="curative", approach="percutaneous"),
        treatment("T2", "R1", "resection", day, lesion_ids="L1a", intent="curative", approach="open", margin="R0"),
        treatment("T20", "R2", "resection", day, lesion_ids="L2a", intent="curative", margin="R0"),
        treatment("T11", "R2", "mwa", day, lesion_ids="L2b", intent="curative"),
        treatment("T40", "R3", "resection", day, lesion_ids="L3b", intent="curative", margin="R1"),
        treatment("T4", "R3", "resection", day, lesion_ids="L3a", intent="curative", margin="R0"),
        treatment("T5", "R4", "sabr", day, lesion_ids="L4a", intent="curative"),
        treatment("T50", "R4", "mwa", day, lesion_ids="L4b", intent="curative"),
    ]
    complications = [dict(treatment_id="T2", date="2020-01-03", clavien_dindo="II"),
                      dict(treatment_id="T10", date="2020-01-02", clavien_dindo="IIIb"),
                      dict(treatment_id="T11", date="2020-01-20", clavien_dindo="V")]
    reg = build_registry(patients, lesions=lesions, treatments=treatments, complications=complications)
    if rows_reversed:
        reg = {k: v.iloc[::-1].reset_index(drop=True) for k, v in reg.items()}
    return reg


def test_natural_order_of_treatment_ids():
    assert sorted(["T10", "T2", "T1", "T10a", "T02", "S3"], key=natural_key) == ["S3", "T1", "T02", "T2", "T10",
                                                                                  "T10a"]


@pytest.mark.parametrize("rows_reversed", [False, True])
def test_e3_same_day_index_by_clinical_priority_then_natural_order(rows_reversed):
    d = oligomet.derive_endpoints(tie_registry(rows_reversed), unit="days")
    # resection over ablation, whatever the ids say as text (T10 < T2) and whatever the row order
    assert (row(d, "R1").index_treatment_id, row(d, "R1").index_modality) == ("T2", "resection")
    assert (row(d, "R2").index_treatment_id, row(d, "R2").index_modality) == ("T20", "resection")
    # same modality: natural order T4 < T40, so the R0 resection is the index
    assert (row(d, "R3").index_treatment_id, row(d, "R3").index_margin) == ("T4", "R0")
    # ablation over SABR
    assert (row(d, "R4").index_treatment_id, row(d, "R4").index_modality) == ("T50", "mwa")
    # first local treatment follows the same rule; the ablation cohort no longer takes R1 or R2
    assert row(d, "R1").first_local_modality == "resection"
    assert set(d.loc[d["index_modality"].isin(["rfa", "mwa"]), "patient_id"]) == {"R4"}


def test_e3_complications_of_every_procedure_on_the_index_day_count():
    d = oligomet.derive_endpoints(tie_registry(), unit="days")
    r1 = row(d, "R1")  # II (resection T2) + IIIb (RFA T10): worst IIIb, CCI = sqrt(1750 + 4550) / 2 = 39.69
    assert r1.n_complications == 2 and r1.worst_clavien_dindo == "IIIb" and bool(r1.cd_grade_3plus)
    assert r1.cci == pytest.approx(math.sqrt(6300) / 2) and round(r1.cci, 2) == 39.69
    r2 = row(d, "R2")  # grade V of the MWA done with the index resection: CCI 100; death on day 19
    assert r2.worst_clavien_dindo == "V" and r2.cci == 100.0 and r2.n_complications == 1
    assert bool(r2.death_30d) and bool(r2.death_90d) and (r2.os_time, r2.os_event) == (19.0, 1.0)
    assert row(d, "R3").n_complications == 0 and row(d, "R3").worst_clavien_dindo == "none"
    # an ablation cohort chosen through index_modalities still counts the same-day resection's grade II
    a = row(oligomet.derive_endpoints(tie_registry(), unit="days", index_modalities=["rfa", "mwa"]), "R1")
    assert a.index_treatment_id == "T10" and a.n_complications == 2 and a.cci == pytest.approx(math.sqrt(6300) / 2)


def never_treated_registry():
    """N1: never treated locally (palliative systemic only); lesions 40 and 10 mm detected 2020-01-15,
    a 70 mm lesion 2020-05-01. N2: primary resection on the day the metastasis is found (2020-01-15),
    then a resection of it. N3: conversion chemotherapy, then an ablation."""
    patients = [patient("N1", last_contact_date="2020-12-31"),
                patient("N2", primary_resection_date="2020-01-15", last_contact_date="2020-12-31"),
                patient("N3", last_contact_date="2020-12-31")]
    lesions = [lesion("L1a", "N1", "2020-01-15", 40.0), lesion("L1b", "N1", "2020-01-15", 10.0),
               lesion("L1c", "N1", "2020-05-01", 70.0), lesion("L2", "N2", "2020-01-15", 25.0),
               lesion("L3", "N3", "2019-12-01", 30.0, "liver")]
    treatments = [
        treatment("T1", "N1", "systemic", "2020-02-01", setting="neoadjuvant", regimen="FOLFOX", line=1),
        treatment("T2", "N2", "resection", "2020-03-01", lesion_ids="L2", intent="curative", margin="R0"),
        treatment("T3a", "N3", "systemic", "2020-01-01", end_date="2020-03-01", setting="conversion",
                  regimen="FOLFOXIRI", line=1),
        treatment("T3b", "N3", "mwa", "2020-04-01", lesion_ids="L3", intent="curative"),
    ]
    return build_registry(patients, lesions=lesions, treatments=treatments)


def test_e4_never_treated_locally_neoadjuvant_is_missing_not_false():
    d = oligomet.derive_endpoints(never_treated_registry())
    # N1's systemic therapy is labelled neoadjuvant, but there is no local treatment it came before
    assert pd.isna(row(d, "N1").neoadjuvant) and d["neoadjuvant"].dtype == "boolean"
    assert row(d, "N2").neoadjuvant == False  # noqa: E712  (treated locally, no systemic therapy before)
    assert row(d, "N3").neoadjuvant == True  # noqa: E712  (conversion chemotherapy before the ablation)


def test_e4_burden_without_an_origin_is_taken_at_the_first_metastasis_date():
    n1 = row(oligomet.derive_endpoints(never_treated_registry()), "N1")
    assert pd.isna(n1.origin_date)
    # lesions detected on or before 2020-01-15: 40 and 10 mm (the 70 mm one of May is later disease)
    assert n1.n_lesions == 2 and n1.max_diameter_mm == 40.0
    assert n1.tbs == pytest.approx(math.sqrt(4.0 ** 2 + 2 ** 2))


def test_e4_primary_resection_on_the_metastasis_date_counts_as_before_for_tfi():
    n2 = row(oligomet.derive_endpoints(never_treated_registry()), "N2")
    # the resection on the metastasis date is the last treatment "before" it: TFI 0, DFI 0
    assert n2.tfi_months == 0.0 and n2.dfi_months == 0.0
    assert pd.isna(row(oligomet.derive_endpoints(never_treated_registry()), "N1").tfi_months)  # no treatment before
