"""Validation rules: one bad registry per rejected class, warnings, in-memory input, rule catalogue."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

from oligomet.registry import RULES, check_registry, read_registry, validate

BAD = Path(__file__).parent / "bad"
DOCS = Path(__file__).parents[2] / "docs" / "registry.md"
CASES = sorted(p.name for p in BAD.iterdir() if p.is_dir())
KEYS = ["rule", "table", "row", "patient_id", "field"]


def _errors(report):
    return sorted(report.errors[KEYS].itertuples(index=False, name=None), key=str)


@pytest.mark.parametrize("case", CASES)
def test_each_bad_registry_gives_exactly_its_errors(case):
    folder = BAD / case
    exp = json.loads((folder / "expected.json").read_text())
    source = folder / "export.csv" if exp["format"] == "redcap" else folder
    _, report = check_registry(source, exp["format"], data_lock=exp["data_lock"], date_format=exp["date_format"])
    want = sorted((tuple(e[k] for k in KEYS) for e in exp["errors"]), key=str)
    assert _errors(report) == want
    assert not report.ok
    # every problem names its rule from the catalogue and says something
    assert set(report.problems["rule"]) <= set(RULES)
    assert report.problems["message"].str.len().min() > 10


def test_error_messages_list_allowed_values_and_date_formats():
    _, report = check_registry(BAD / "9_codes")
    organ = report.errors[report.errors["field"] == "organ"].iloc[0]
    assert organ["value"] == "livr" and "liver, lung, peritoneum" in organ["message"]
    _, report = check_registry(BAD / "10_dates")
    amb = report.errors[report.errors["rule"] == "date_ambiguous"].iloc[0]
    assert amb["value"] == "01/03/2018" and "YYYY-MM-DD" in amb["message"] and "DD/MM/YYYY" in amb["message"]


def test_declared_date_format_fixes_the_day_first_dates():
    _, report = check_registry(BAD / "10_dates", date_format="DD/MM/YYYY")
    # month 13, "yesterday", and 31/02/2023, which is no calendar day and says so
    assert sorted(report.errors["rule"]) == ["date_unparseable"] * 3
    assert report.errors["message"].str.startswith("31 February 2023 does not exist").sum() == 1


def test_clean_registry_has_no_problems(clean_dir):
    _, report = check_registry(clean_dir, data_lock="2024-12-31")
    assert report.ok and len(report.problems) == 0
    assert str(report).startswith("registry validation OK: 0 error(s), 0 warning(s)")


def test_warnings_do_not_fail_validation(clean_dir):
    tables, _ = read_registry(clean_dir)
    p = tables["patients"].copy()
    p.loc[1, "last_contact_date"] = pd.Timestamp("2047-01-01")   # 30.8 years after 2016-03-02
    p.loc[3, "last_contact_date"] = pd.NaT                         # P003: alive, no contact date
    report = validate({**tables, "patients": p}, data_lock="2050-01-01")  # 2047 would be "in the future"
    assert report.ok
    got = sorted(report.warnings[KEYS].itertuples(index=False, name=None))
    assert got == [("followup_over_30_years", "patients", 1, "P001", "last_contact_date"),
                   ("no_followup_date", "patients", 3, "P003", "last_contact_date")]
    assert "30.8 years" in report.warnings.loc[0, "message"]


def test_in_memory_frames_of_strings_are_parsed_and_checked():
    tables = {
        "patients": pd.DataFrame({"patient_id": ["A", "B"], "site": ["s", "s"], "sex": ["female", "male"],
                                  "primary_site": ["colorectal", "sarcoma"],
                                  "primary_diagnosis_date": ["2019-01-01", "2019/31/01"],
                                  "last_contact_date": ["2020-01-01", "2020-01-01"]}),
        "lesions": pd.DataFrame({"lesion_id": ["A1"], "patient_id": ["C"], "organ": ["liver"],
                                 "detection_date": ["2019-02-01"]}),
    }
    report = validate(tables)
    assert _errors(report) == sorted([("date_unparseable", "patients", 2, "B", "primary_diagnosis_date"),
                                      ("unknown_reference", "lesions", 1, "C", "patient_id")], key=str)


def test_all_problems_are_reported_at_once(clean_dir):
    tables, _ = read_registry(clean_dir)
    les = tables["lesions"].copy()
    les["diameter_mm"] = -1.0          # 6 lesions, all bad
    les.loc[3, "organ"] = "skin"
    report = validate({**tables, "lesions": les})
    assert (report.errors["rule"] == "diameter_nonpositive").sum() == 6
    assert (report.errors["rule"] == "unknown_code").sum() == 1


def test_rule_catalogue_is_documented():
    text = DOCS.read_text().split("| rule | class | severity |", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([a-z0-9_]+)` \|", text, flags=re.M))
    assert documented == set(RULES)


def test_future_dates_without_a_data_lock(clean_dir):
    tables, _ = read_registry(clean_dir)
    labs = tables["labs"].copy()
    future = pd.Timestamp.today().normalize() + pd.Timedelta(days=400)
    labs.loc[2, "date"] = future
    report = validate({**tables, "labs": labs})
    assert _errors(report) == [("date_in_future", "labs", 2, "P001", "date")]
    # with a data lock the lock decides, and the rule says so
    report = validate({**tables, "labs": labs}, data_lock=future + pd.Timedelta(days=1))
    assert report.ok


def test_data_model_is_documented():
    from oligomet.registry import TABLES
    text = DOCS.read_text()
    for name, table in TABLES.items():
        section = text.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
        documented = re.findall(r"^\| `([a-z0-9_]+)` \| (\w+) \|", section, flags=re.M)
        assert documented == [(f.name, f.type) for f in table.fields], name


def test_same_pseudonym_under_two_patient_ids(clean_dir):
    tables, _ = read_registry(clean_dir)
    p = tables["patients"].copy()
    p["pseudonym"] = ["a" * 64, "b" * 64, "a" * 64, "c" * 64]   # P001 and P003: same identifiers,
    p.loc[3, "birth_year"] = 1956                                  # same birth year (as P001)
    report = validate({**tables, "patients": p})
    assert report.ok
    assert sorted(report.warnings[KEYS].itertuples(index=False, name=None)) == [
        ("duplicate_person", "patients", 1, "P001", "pseudonym"),
        ("duplicate_person", "patients", 3, "P003", "pseudonym")]
    assert "patients P001, P003 at sites Amsterdam, Leuven" in report.warnings.loc[0, "message"]
    p.loc[3, "pseudonym"] = "b" * 64                               # P002 (1961) and P003 (1956)
    p.loc[1, "pseudonym"] = None
    report = validate({**tables, "patients": p})
    assert _errors(report) == [("conflicting_birth_year", "patients", 2, "P002", "birth_year"),
                               ("conflicting_birth_year", "patients", 3, "P003", "birth_year")]


def test_treatment_before_detection_and_recurrence_in_another_organ(clean_dir):
    tables, _ = read_registry(clean_dir)
    tr = tables["treatments"].copy()
    tr.loc[5, "start_date"] = pd.Timestamp("2016-10-01")   # P003-T1 resects P003-L1, detected 2016-11-11
    ev = tables["events"].copy()
    ev.loc[1, "organ"] = "liver"                           # P002-L1 is a lung lesion
    report = validate({**tables, "treatments": tr, "events": ev})
    assert _errors(report) == [("treatment_before_detection", "treatments", 5, "P003", "start_date")]
    assert "lesion P003-L1 was detected on 2016-11-11" in report.errors.loc[0, "message"]
    assert list(report.warnings[KEYS].itertuples(index=False, name=None)) == [
        ("local_recurrence_organ", "events", 1, "P002", "organ")]
