"""Endpoints of the hand-built registry (registry_fixture.py), computed by hand from calendar dates.

Day counts (2020 is a leap year): 2020-01-01 -> 2020-07-01 = 182 days; 2020-01-01 -> 2021-01-01 = 366;
2020-03-01 -> 2021-04-01 = 396; 2020-01-01 -> 2020-02-15 = 45; 2020-01-01 -> 2020-03-01 = 60;
2020-01-01 -> 2020-12-31 = 365; 2020-02-01 -> 2021-02-01 = 366; 2020-02-01 -> 2020-08-01 = 182.
"""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from registry_fixture import hand_registry

import oligomet
from oligomet.endpoints.complications import cci


def row(frame, pid):
    r = frame[frame["patient_id"] == pid]
    assert len(r) == 1
    return r.iloc[0]


@pytest.fixture(scope="module")
def days():
    return oligomet.derive_endpoints(hand_registry(), unit="days")


def test_one_row_per_patient_in_table_order(days):
    assert list(days["patient_id"]) == [f"P{i}" for i in range(1, 9)]


def test_several_events_one_day_and_death_on_last_contact(days):
    p1 = row(days, "P1")
    # LR and distant progression both on 2020-07-01: one event at 182 days
    assert (p1.pfs_time, p1.pfs_event) == (182.0, 1.0)
    assert (p1.dfs_time, p1.dfs_event) == (182.0, 1.0)
    assert (p1.lr_time, p1.lr_status) == (182.0, 1.0)
    # death on 2021-01-01, which is also the last contact: a death at 366 days
    assert (p1.os_time, p1.os_event) == (366.0, 1.0)


def test_event_on_origin_day_is_history_not_outcome(days):
    # the new metastasis dated on the SABR day (2020-03-01) was there at baseline (the day rule); P2 has
    # no later event, so PFS and DFS are censored at the last date known alive, the lab of 2021-04-01:
    # 2020-03-01 -> 2021-03-01 = 365 days, + 31 (March) = 396 days
    p2 = row(days, "P2")
    assert (p2.pfs_time, p2.pfs_event) == (396.0, 0.0)
    assert (p2.dfs_time, p2.dfs_event) == (396.0, 0.0)


def test_censoring_at_last_date_known_alive(days):
    # last_contact 2021-03-01 but a lab on 2021-04-01 proves P2 alive then: censored at 396 days
    p2 = row(days, "P2")
    assert (p2.os_time, p2.os_event) == (396.0, 0.0)
    assert (p2.lr_time, p2.lr_status) == (396.0, 0.0)


def test_lost_right_after_treatment(days):
    p3 = row(days, "P3")
    for t, e in (("os_time", "os_event"), ("pfs_time", "pfs_event"), ("dfs_time", "dfs_event")):
        assert (p3[t], p3[e]) == (0.0, 0.0)
    assert p3.lr_status == 0.0
    assert pd.isna(p3.death_30d) and pd.isna(p3.death_90d)  # status at day 30/90 unknown


def test_no_index_treatment_gives_nan_not_a_guess(days):
    p4 = row(days, "P4")  # systemic only: no local index treatment
    assert pd.isna(p4.origin_date)
    assert np.isnan([p4.os_time, p4.os_event, p4.pfs_time, p4.lr_time, p4.lr_status]).all()


def test_competing_death_is_coded_2_not_censored(days):
    p5 = row(days, "P5")
    assert (p5.lr_time, p5.lr_status) == (45.0, 2.0)
    assert (p5.ttlr_time, p5.ttlr_event) == (45.0, 0.0)  # TTLR censors the competing death
    assert p5.os_event == 1.0


def test_lr_and_death_same_day_is_lr(days):
    p7 = row(days, "P7")
    assert (p7.lr_time, p7.lr_status, p7.ttlr_event) == (60.0, 1.0, 1.0)
    assert (p7.os_time, p7.os_event) == (60.0, 1.0)


def test_dfs_only_after_curative_local_treatment(days):
    p8 = row(days, "P8")  # palliative RFA
    assert math.isnan(p8.dfs_time) and math.isnan(p8.dfs_event)
    assert (p8.pfs_time, p8.pfs_event) == (365.0, 0.0)


def test_dfs_nan_after_r2_margin():
    reg = hand_registry()
    reg["treatments"].loc[reg["treatments"]["treatment_id"] == "T1", "margin"] = "R2"
    p1 = row(oligomet.derive_endpoints(reg, unit="days"), "P1")
    assert math.isnan(p1.dfs_time) and p1.pfs_time == 182.0


def test_mortality_windows(days):
    assert bool(row(days, "P5").death_90d) and not bool(row(days, "P5").death_30d)  # died on day 45
    assert not bool(row(days, "P1").death_90d)  # died on day 366
    assert bool(row(days, "P7").death_90d)  # day 60


def test_months_are_days_over_30_4375():
    m = oligomet.derive_endpoints(hand_registry(), unit="months")
    assert row(m, "P1").os_time == pytest.approx(366 / 30.4375)
    assert row(m, "P1").pfs_time == pytest.approx(182 / 30.4375)


def test_salvage_origin_ignores_events_before_origin():
    d = oligomet.derive_endpoints(hand_registry(), unit="days", index_modalities=["resection"])
    p6 = row(d, "P6")
    assert p6.index_treatment_id == "T6b" and p6.index_intent == "salvage"
    assert p6.origin_date == pd.Timestamp("2020-02-01")
    # the LR of 2020-01-01 led to the salvage; the first event after it is the distant progression
    assert (p6.pfs_time, p6.pfs_event) == (182.0, 1.0)
    assert (p6.os_time, p6.os_event) == (366.0, 0.0)
    assert (p6.lr_time, p6.lr_status) == (366.0, 0.0)
    assert p6.worst_clavien_dindo == "I" and p6.cci == pytest.approx(math.sqrt(300) / 2)


def test_metastasis_diagnosis_origin():
    d = oligomet.derive_endpoints(hand_registry(), origin="metastasis_diagnosis", unit="days")
    p4 = row(d, "P4")  # 2020-01-15 -> 2020-04-01: 17 + 29 + 31 = 77 days; index = first treatment after
    assert (p4.os_time, p4.os_event) == (77.0, 1.0)
    assert p4.index_modality == "systemic"
    assert math.isnan(p4.lr_time)  # never treated locally: LR undefined


def test_mdt_origin():
    d = oligomet.derive_endpoints(hand_registry(), origin="mdt_decision", unit="days")
    p2 = row(d, "P2")  # MDT 2020-02-01 -> 2021-04-01 = 29 + 365 + 31 = 425 days
    assert (p2.os_time, p2.os_event) == (425.0, 0.0)
    assert p2.index_treatment_id == "T2"
    assert math.isnan(row(d, "P1").os_time)  # no MDT decision recorded


def test_first_recurrence_origin_and_custom_origin():
    d = oligomet.derive_endpoints(hand_registry(), origin="first_recurrence", unit="days")
    p1 = row(d, "P1")  # 2020-07-01 -> 2021-01-01 = 184 days
    assert (p1.os_time, p1.os_event) == (184.0, 1.0)
    # the recurrences that define the origin are not outcomes: the next PFS event is the death
    assert (p1.pfs_time, p1.pfs_event) == (184.0, 1.0)
    assert (p1.lr_time, p1.lr_status) == (184.0, 2.0)
    c = oligomet.derive_endpoints(hand_registry(), origin={"P1": "2020-07-01"}, unit="days")
    assert row(c, "P1").os_time == 184.0 and math.isnan(row(c, "P2").os_time)
    # the docstring's other form, a Series patient_id -> date, gives the same (it failed on its comparison)
    s = oligomet.derive_endpoints(hand_registry(), origin=pd.Series({"P1": "2020-07-01"}), unit="days")
    pd.testing.assert_frame_equal(s, c)


def test_data_lock_censors_administratively():
    d = oligomet.derive_endpoints(hand_registry(), unit="days", data_lock="2020-12-01")
    p1 = row(d, "P1")  # death 2021-01-01 is after the lock: censored at 2020-12-01 = 335 days
    assert (p1.os_time, p1.os_event) == (335.0, 0.0)
    p2 = row(d, "P2")  # the 2021 lab is after the lock too
    assert p2.os_time == 275.0  # 2020-03-01 -> 2020-12-01


def test_intervals_and_synchronous_cutoff():
    d = oligomet.derive_endpoints(hand_registry(), unit="days")
    p1 = row(d, "P1")
    assert p1.dfi_months == pytest.approx(153 / 30.4375)  # resection 2019-07-01 -> detection 2019-12-01
    assert p1.tfi_months == pytest.approx(61 / 30.4375)  # adjuvant ended 2019-10-01 -> 2019-12-01
    # diagnosis 2019-06-01 -> detection 2019-12-01 = 183 days > 6 * 30.4375 = 182.6: metachronous
    assert not bool(p1.synchronous)
    d2 = oligomet.derive_endpoints(hand_registry(), unit="days", synchronous_cutoff_months=6.1)
    assert bool(row(d2, "P1").synchronous)
    assert bool(row(d, "P6").synchronous)  # detected before the primary diagnosis
    assert math.isnan(row(d, "P2").dfi_months)  # no primary resection


def test_burden_counts_lesions_up_to_origin(days):
    p1 = row(days, "P1")  # L1 30 mm, L1b 12 mm before origin; L1c detected after origin is not baseline
    assert p1.n_lesions == 2 and p1.max_diameter_mm == 30.0
    assert p1.tbs == pytest.approx(math.sqrt(3.0 ** 2 + 2 ** 2))
    assert p1.met_organs == "liver"


def test_complications_of_index_procedure(days):
    p5 = row(days, "P5")
    assert p5.worst_clavien_dindo == "IIIa" and bool(p5.cd_grade_3plus) and p5.n_complications == 2
    assert p5.cci == pytest.approx(math.sqrt(2750 + 1750) / 2)
    assert row(days, "P1").cci == 0.0 and row(days, "P1").worst_clavien_dindo == "none"


@pytest.mark.parametrize("grades, expected", [
    (["I"], 8.7), (["II"], 20.9), (["IIIa"], 26.2), (["IIIb"], 33.7), (["IVa"], 42.4), (["IVb"], 46.2),
    (["V"], 100.0), ([], 0.0), (["IVb"] * 6, 100.0),
])
def test_cci_matches_published_single_values(grades, expected):
    # Slankamenac 2013, table of single-complication CCI values (one decimal); six IVb exceed the cap of 100
    assert round(cci(grades), 1) == expected


def test_covariates_and_history(days):
    p1 = row(days, "P1")
    assert p1.age == 60.0  # 2020 - 1960
    assert p1.cea == 12.5  # latest CEA within 90 days before origin (the 40.0 is older)
    assert not bool(p1.neoadjuvant)  # adjuvant chemo for the primary is not neoadjuvant
    assert p1.recurrence_months == pytest.approx(182 / 30.4375)
    assert p1.first_lr_months == pytest.approx(182 / 30.4375)
    p2 = row(days, "P2")  # new metastasis on the SABR day is baseline disease, not a recurrence; no LR either
    assert math.isnan(p2.recurrence_months) and math.isnan(p2.first_lr_months)
    assert row(days, "P6").first_lr_months == pytest.approx(365 / 30.4375)  # SABR 2019-01-01 -> LR 2020-01-01


def test_lesion_level():
    les = oligomet.derive_endpoints(hand_registry(), unit="days", level="lesion")
    by = les.set_index("lesion_id")
    assert set(by.index) == {"L1", "L1b", "L2", "L3", "L5", "L6", "L7", "L8"}  # locally treated lesions only
    assert (by.loc["L1", "lr_time"], by.loc["L1", "lr_status"]) == (182.0, 1.0)
    assert (by.loc["L1b", "lr_time"], by.loc["L1b", "lr_status"]) == (366.0, 2.0)  # patient died, no LR
    # L6: SABR 2019-01-01, LR 2020-01-01 = 365 days, whatever the later salvage resection
    assert (by.loc["L6", "lr_time"], by.loc["L6", "lr_status"]) == (365.0, 1.0)
    assert by.loc["L6", "lesion_modality"] == "sabr" and by.loc["L6", "n_local_treatments"] == 2


@pytest.mark.parametrize("kw, match", [
    (dict(origin="surgery"), "unknown origin"), (dict(unit="weeks"), "unit must be"),
    (dict(level="site"), "level must be"), (dict(index_modalities=["laser"]), "unknown index modality"),
])
def test_bad_arguments(kw, match):
    with pytest.raises(ValueError, match=match):
        oligomet.derive_endpoints(hand_registry(), **kw)


def test_custom_origin_with_unknown_patient_is_an_error():
    with pytest.raises(ValueError, match=r"not in the patients table: \['P99'\]"):
        oligomet.derive_endpoints(hand_registry(), origin={"P1": "2020-07-01", "P99": "2020-01-01"})


def test_origin_after_death_is_an_error():
    reg = hand_registry()
    with pytest.raises(ValueError, match="origin date after the end of follow-up.*P5"):
        oligomet.derive_endpoints(reg, origin={"P5": "2020-03-01"})


def test_row_order_does_not_change_results(days):
    reg = hand_registry()
    for name in ("treatments", "events", "lesions", "complications"):
        reg[name] = reg[name].iloc[::-1].reset_index(drop=True)
    again = oligomet.derive_endpoints(reg, unit="days")
    pd.testing.assert_frame_equal(again, days)


def test_same_result_from_files_as_from_memory(tmp_path, days):
    """Written in the interchange format and read back (strings parsed by the registry reader)."""
    from oligomet.registry import read_registry, write_registry

    write_registry(hand_registry(), tmp_path)
    back, report = read_registry(tmp_path)
    assert report.ok
    pd.testing.assert_frame_equal(oligomet.derive_endpoints(back, unit="days"), days)


def test_string_dates_and_repeated_row_labels_are_accepted(days):
    reg = hand_registry()
    ev = reg["events"]
    reg["events"] = ev.assign(date=ev["date"].dt.strftime("%Y-%m-%d")).set_axis([0] * len(ev))
    tr = reg["treatments"]
    reg["treatments"] = tr.set_axis([1] * len(tr))
    pd.testing.assert_frame_equal(oligomet.derive_endpoints(reg, unit="days"), days)


def test_unparseable_date_names_table_field_and_row():
    reg = hand_registry()
    reg["events"] = reg["events"].astype({"date": object})
    reg["events"].loc[2, "date"] = "31/02/2020x"
    with pytest.raises(ValueError, match=r"table 'events', field 'date': unparseable dates at rows \[2\]"):
        oligomet.derive_endpoints(reg)


def test_lesion_detection_after_last_contact_extends_followup():
    reg = hand_registry()
    extra = reg["lesions"].iloc[[0]].assign(lesion_id="L3x", patient_id="P3",
                                            detection_date=pd.Timestamp("2020-06-09"))
    reg["lesions"] = pd.concat([reg["lesions"], extra], ignore_index=True)
    p3 = row(oligomet.derive_endpoints(reg, unit="days"), "P3")
    assert (p3.os_time, p3.os_event) == (30.0, 0.0)  # 2020-05-10 -> 2020-06-09
