"""REDCap as it is (issue 15 part 2): hand-written exports of one project, each read to the same registry
as a clean CSV folder of the same three patients, table by table."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from oligomet.registry import check_registry, read_registry
from oligomet.registry.fields import TABLE_ORDER

REDCAP = Path(__file__).parents[1] / "data" / "redcap"
RAW = REDCAP / "OligoMet_DATA_2024-05-01_1010.csv"
LABELS = REDCAP / "OligoMet_DATA_LABELS_2024-05-01_1011.csv"
LONGITUDINAL = REDCAP / "OligoMetLong_DATA_2024-05-01_1012.csv"
SITE_B = REDCAP / "OligoMetSiteB_DATA_2024-05-01_1013.csv"   # no complications, labs, mdt; + pathology, QoL


def _same(got: dict, want: dict, tables=TABLE_ORDER) -> None:
    for name in tables:
        pd.testing.assert_frame_equal(got[name].reset_index(drop=True), want[name].reset_index(drop=True), obj=name)


@pytest.fixture(scope="module")
def clean():
    tables, report = read_registry(REDCAP / "clean")
    assert report.problems.empty
    return tables


def _only_without_adverse_events(problems: pd.DataFrame) -> None:
    """These projects were exported before the registry had an adverse-events instrument: that missing
    instrument (an empty table, with a warning) is their one problem."""
    assert list(problems[["rule", "table"]].itertuples(index=False, name=None)) == [
        ("redcap_missing_instrument", "adverse_events")], problems.to_string()


@pytest.mark.parametrize("export", [RAW, LABELS, LONGITUDINAL], ids=["raw+dictionary", "labels", "longitudinal"])
def test_each_export_reads_to_the_clean_registry(export, clean):
    tables, report = check_registry(export)
    _only_without_adverse_events(report.problems)
    _same(tables, clean)


def test_raw_codes_without_the_dictionary_are_unknown_codes_as_before(tmp_path, clean):
    alone = tmp_path / RAW.name
    shutil.copy(RAW, alone)                      # no dictionary beside it
    _, report = check_registry(alone)
    assert set(report.errors["rule"]) == {"unknown_code", "clavien_dindo_grade"}
    from oligomet.registry.importers.redcap import read_redcap
    from oligomet.registry.io import conform_tables
    from oligomet.registry.report import ProblemLog

    log = ProblemLog()                           # the dictionary given explicitly
    raw = read_redcap(alone, log, dictionary=REDCAP / "OligoMet_DataDictionary_2024-05-01.csv")
    _same(conform_tables(raw, log), clean)
    _only_without_adverse_events(log.frame())


def test_missing_instruments_are_empty_tables_and_extra_ones_are_kept_aside(clean):
    tables, report = check_registry(SITE_B)
    assert report.errors.empty, report.errors.to_string()
    # the same patients as the clean folder without complications.csv, labs.csv and mdt_decisions.csv
    # (nor adverse events: the project predates that instrument)
    _same(tables, clean, [t for t in TABLE_ORDER if t not in ("complications", "labs", "mdt_decisions")])
    for t in ("complications", "labs", "mdt_decisions", "adverse_events"):
        assert tables[t].empty and list(tables[t].columns) == list(clean[t].columns)
    w = report.warnings
    assert sorted(w.loc[w["rule"] == "redcap_missing_instrument", "table"]) == ["adverse_events", "complications",
                                                                                "labs", "mdt_decisions"]
    assert list(w.loc[w["rule"] == "redcap_unknown_instrument", "value"]) == ["pathology"]
    extra = w.loc[w["rule"] == "redcap_extra_instrument", "message"]
    assert len(extra) == 1 and "'quality_of_life'" in extra.iloc[0] and "qol_global" in extra.iloc[0]
    assert "unknown_column" not in set(w["rule"])     # QoL/pathology fields: one note per instrument


def test_store_imports_the_export_with_its_dictionary_in_provenance(tmp_path, clean):
    from oligomet.registry import Store

    with Store(tmp_path / "r.sqlite") as store:
        result = store.import_registry(LABELS)
        assert result.status == "imported", result.report
        files = set(store.import_files()["file"])
        _same(store.load(), clean, ["lesions", "treatments", "events"])
    assert files == {LABELS.name, "OligoMet_DataDictionary_2024-05-01.csv"}


def test_a_choice_label_outside_the_registry_codes_is_reported_as_the_label(tmp_path):
    for p in (LABELS, REDCAP / "OligoMet_DataDictionary_2024-05-01.csv"):
        shutil.copy(p, tmp_path / p.name)
    d = tmp_path / "OligoMet_DataDictionary_2024-05-01.csv"
    d.write_text(d.read_text(encoding="utf-8").replace("5, Systemic\"", "5, Systemic | 6, Proton therapy\""),
                 encoding="utf-8")
    e = tmp_path / LABELS.name
    e.write_text(e.read_text(encoding="utf-8").replace('"RFA"', '"Proton therapy"'), encoding="utf-8")
    _, report = check_registry(e)
    bad = report.errors
    assert list(bad["rule"]) == ["unknown_code"] and list(bad["value"]) == ["Proton therapy"]
