"""Per-site data quality (issue 15 part 3): completeness per field, rule violations per 100 patients and
Clark's C, worked by hand on a small two-site registry; the HTML page drawn from the tidy frame; the
command line on a store."""
from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.registry import Store
from oligomet.registry.io import conform_memory
from oligomet.registry.quality import ALL_RULES, COLUMNS, followup_times, quality_summary
from oligomet.registry.quality_html import render_quality, share_colour, violation_colour, write_quality

LOCK = "2020-12-31"

# Clark's C by hand, data lock 31 Dec 2020 (2020 is a leap year). Entry: first lesion, else primary diagnosis.
#  X1 entry 2020-01-01 (lesions 1 Mar and 1 Jan), alive, last contact 2020-07-01: observed 182, potential 365
#  X2 no lesion: entry = diagnosis 2020-01-01, died 2020-04-01:                    observed  91, potential  91
#  Y1 entry 2020-07-01, alive, last contact 2020-12-31 (the lock):                 observed 183, potential 183
#  Y2 entry 2020-10-01, alive, no last contact:                                    observed   0, potential  91
#  Y3 entry 2020-01-01, last contact 2020-06-01, died 2021-03-01 (after the lock):
#     known alive at the lock, so followed to it:                                  observed 365, potential 365
#  Y4 entry 2021-02-01, after the lock:                                            observed   0, potential   0
# Site X: C = 273 / 456; site Y: C = 548 / 639.
HAND = {
    "X1": (182, 365), "X2": (91, 91), "Y1": (183, 183), "Y2": (0, 91), "Y3": (365, 365), "Y4": (0, 0)}


def hand_registry() -> dict[str, pd.DataFrame]:
    patients = pd.DataFrame([
        # id, site, primary, diagnosis, death, last contact, ras
        ("X1", "X", "colorectal", "2019-06-01", None, "2020-07-01", "mutant"),
        ("X2", "X", "colorectal", "2020-01-01", "2020-04-01", "2020-04-01", "unknown"),
        ("Y1", "Y", "sarcoma", "2019-01-01", None, "2020-12-31", None),
        ("Y2", "Y", "sarcoma", "2019-01-01", None, None, None),
        ("Y3", "Y", "sarcoma", "2019-01-01", "2021-03-01", "2020-06-01", None),
        ("Y4", "Y", "sarcoma", "2020-06-01", None, "2021-03-01", None),
    ], columns=["patient_id", "site", "primary_site", "primary_diagnosis_date", "death_date", "last_contact_date",
                "ras"]).assign(sex="female")
    lesions = pd.DataFrame([
        ("X1-L1", "X1", "liver", "2020-03-01"), ("X1-L2", "X1", "liver", "2020-01-01"),
        ("Y1-L1", "Y1", "lung", "2020-07-01"), ("Y2-L1", "Y2", "lung", "2020-10-01"),
        ("Y3-L1", "Y3", "lung", "2020-01-01"), ("Y4-L1", "Y4", "lung", "2021-02-01"),
    ], columns=["lesion_id", "patient_id", "organ", "detection_date"])
    treatments = pd.DataFrame([
        # SABR with its dose; a resection without its margin
        ("X1-T1", "X1", "X1-L1", "sabr", "2020-03-10", 54.0, 3, None),
        ("X1-T2", "X1", "X1-L2", "resection", "2020-04-10", None, None, None),
    ], columns=["treatment_id", "patient_id", "lesion_ids", "modality", "start_date", "dose_gy", "fractions", "margin"])
    return conform_memory({"patients": patients, "lesions": lesions, "treatments": treatments})


def value(frame, site, measure, item):
    row = frame[(frame["site"] == site) & (frame["measure"] == measure) & (frame["item"] == item)]
    assert len(row) == 1, (site, measure, item, row)
    return row.iloc[0]


def test_clark_c_by_hand():
    tables = hand_registry()
    times = followup_times(tables, LOCK)
    assert {p: (int(r.observed_days), int(r.potential_days)) for p, r in times.iterrows()} == HAND
    frame = quality_summary(tables, LOCK).frame
    x, y = value(frame, "X", "followup", "clark_c"), value(frame, "Y", "followup", "clark_c")
    assert (x["numerator"], x["denominator"]) == (273, 456) and x["value"] == pytest.approx(273 / 456)
    assert (y["numerator"], y["denominator"]) == (548, 639) and y["value"] == pytest.approx(548 / 639)


def test_completeness_counts_the_rows_a_field_applies_to():
    frame = quality_summary(hand_registry(), LOCK).frame
    # RAS of colorectal primaries: X1 mutant, X2 "unknown" (missing); site Y has no colorectal primary
    ras_x, ras_y = value(frame, "X", "completeness", "ras"), value(frame, "Y", "completeness", "ras")
    assert (ras_x["numerator"], ras_x["denominator"], ras_x["value"]) == (1, 2, 0.5)
    assert ras_y["denominator"] == 0 and pd.isna(ras_y["value"])
    # a last contact is asked of living patients: X1 has one; Y1, Y2, Y4 (Y3 died) two of three
    lc_x, lc_y = value(frame, "X", "completeness", "last_contact_date"), value(frame, "Y", "completeness",
                                                                                  "last_contact_date")
    assert (lc_x["numerator"], lc_x["denominator"]) == (1, 1) and (lc_y["numerator"], lc_y["denominator"]) == (2, 3)
    # SABR dose over the SABR treatment only, margin over the resection only
    assert (value(frame, "X", "completeness", "dose_gy")[["numerator", "denominator"]].tolist()) == [1, 1]
    assert (value(frame, "X", "completeness", "margin")[["numerator", "denominator"]].tolist()) == [0, 1]
    # a field over all rows: two of the six lesions... none has a diameter
    assert (value(frame, "Y", "completeness", "diameter_mm")[["numerator", "denominator"]].tolist()) == [0, 4]
    # ids, required fields and fields whose absence means something are not measured
    items = set(frame.loc[frame["measure"] == "completeness", "item"])
    assert not items & {"patient_id", "sex", "site", "death_date", "primary_resection_date", "pseudonym"}


def test_violations_per_100_patients():
    frame = quality_summary(hand_registry(), LOCK).frame
    v = frame[frame["measure"] == "violations"]
    got = {(r.site, r.item, r.severity): (int(r.numerator), r.value) for r in v.itertuples(index=False)}
    # site Y, 4 patients: Y3's death, Y4's lesion and last contact lie after the lock (3 errors); Y2 has no
    # follow-up date (1 warning). Site X has none of them: 0 per 100, not "no data".
    assert got == {
        ("X", "after_data_lock", "error"): (0, 0.0), ("X", "no_followup_date", "warning"): (0, 0.0),
        ("X", ALL_RULES, None): (0, 0.0),
        ("Y", "after_data_lock", "error"): (3, 75.0), ("Y", "no_followup_date", "warning"): (1, 25.0),
        ("Y", ALL_RULES, None): (4, 100.0)}


def test_the_frame_is_tidy():
    summary = quality_summary(hand_registry(), LOCK)
    frame = summary.frame
    assert tuple(frame.columns) == COLUMNS and summary.sites == ["X", "Y"]
    assert not frame.duplicated(["site", "measure", "table", "item", "severity"]).any()
    assert value(frame, "Y", "patients", "patients")["value"] == 4
    assert summary.data_lock == pd.Timestamp(LOCK) and summary.lock_source == "given"


def test_default_data_lock_is_an_imports_lock_else_the_latest_contact():
    tables = hand_registry()
    assert quality_summary(tables, import_locks=[None, pd.Timestamp("2020-10-01")]).data_lock == pd.Timestamp(
        "2020-10-01")
    latest = quality_summary(tables)
    assert latest.data_lock == pd.Timestamp("2021-03-01") and "latest death or last contact" in latest.lock_source


def test_page_is_drawn_from_the_frame_with_one_column_per_site(tmp_path):
    tables = hand_registry()
    tables["patients"].loc[tables["patients"]["site"] == "Y", "site"] = "<b>Y & Co</b>"
    summary = quality_summary(tables, LOCK)
    page = write_quality(summary, tmp_path)
    text = page.read_text(encoding="utf-8")
    assert "<script" not in text and "<b>Y" not in text and "&lt;b&gt;Y &amp; Co&lt;/b&gt;" in text
    heads = re.findall(r"<th>([^<]*)<small>([\d,]+) patients</small></th>", text)
    assert heads == [("&lt;b&gt;Y &amp; Co&lt;/b&gt;", "4"), ("X", "2")]   # sites in sorted order
    # Clark's C of X, coloured on the share scale, its days on hover
    assert (f'<td style="background:{share_colour(273 / 456)}" title="273 of 456 days of potential follow-up '
            f'observed">0.60</td>') in text
    assert f'<td style="background:{violation_colour(75.0)}" title="3 problems in 4 patients">75.0</td>' in text
    assert '<td class="na" title="no rows the field applies to">–</td>' in text   # RAS at site Y
    csv = pd.read_csv(tmp_path / "quality.csv")
    assert list(csv.columns) == list(COLUMNS) and len(csv) == len(summary.frame)
    # the page only reads the frame: the same frame gives the same page
    assert render_quality(summary) == text


def test_colour_scales():
    assert share_colour(0.2) == share_colour(0.5) != share_colour(0.75) != share_colour(1.0)
    assert violation_colour(0) != violation_colour(10) != violation_colour(20) == violation_colour(50)


def test_command_line_quality_on_a_store(tmp_path, clean_dir):
    db = tmp_path / "r.sqlite"
    with Store(db) as store:
        store.import_registry(clean_dir, data_lock="2023-12-31")
    runner = CliRunner()
    r = runner.invoke(app, ["registry", "quality", "--db", str(db), "--out", str(tmp_path / "q")])
    assert r.exit_code == 0, r.output
    assert "data lock 2023-12-31" in r.output and "Amsterdam" in r.output and "Leuven" in r.output
    assert (tmp_path / "q" / "quality.html").is_file()
    frame = pd.read_csv(tmp_path / "q" / "quality.csv")
    assert sorted(frame["site"].unique()) == ["Amsterdam", "Leuven"]
    empty = tmp_path / "empty.sqlite"
    Store(empty).close()
    r = runner.invoke(app, ["registry", "quality", "--db", str(empty), "--out", str(tmp_path / "q2")])
    assert r.exit_code == 2 and "no patients" in r.output
