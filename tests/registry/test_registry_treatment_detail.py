"""Resection detail and CTCAE adverse events: their rules, the CSV/Excel interchange, migration 0005.

The clean folder holds them (P002: SABR assessed as a wedge, salvage lobectomy with adhesions;
adverse events of P001 and P004); each test breaks one thing and expects exactly its error.
"""
from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy as sa

from oligomet.registry import read_registry, validate, write_registry
from oligomet.registry import store as store_module
from oligomet.registry.store import Store

KEYS = ["rule", "table", "row", "patient_id", "field"]


def _errors(report):
    return sorted(report.errors[KEYS].itertuples(index=False, name=None), key=str)


@pytest.fixture()
def tables(clean_dir):
    tables, report = read_registry(clean_dir)
    assert report.ok and report.problems.empty
    return {k: v.reset_index(drop=True) for k, v in tables.items()}


def _with(tables, name, row, **values):
    frame = tables[name].copy()
    for k, v in values.items():
        frame.loc[row, k] = v
    return {**tables, name: frame}


def test_the_clean_detail_is_read_with_its_types(tables):
    tr = tables["treatments"].set_index("treatment_id")
    assert tr.loc["P002-T1", "assessed_extent"] == "wedge"
    assert (tr.loc["P002-T2", "resection_extent"], tr.loc["P002-T2", "extensive_adhesions"]) == ("lobectomy", "yes")
    assert tables["events"]["fdg_pet_uptake"].dtype == "boolean"
    ae = tables["adverse_events"]
    assert list(ae["grade"]) == [2, 3, 1] and ae["grade"].dtype == "Int64"
    assert list(ae["drug_related"]) == [True, True, False]


@pytest.mark.parametrize("row,field,value,rule", [
    (3, "resection_extent", "hemihepatectomy", "extent_organ"),   # P002-T2: a lung lesion
    (1, "assessed_extent", "lobectomy", "extent_organ"),          # P001-T2: liver lesions
    (2, "resection_extent", "wedge", "extent_wrong_treatment"),   # P002-T1 is SABR
    (0, "assessed_extent", "wedge", "extent_wrong_treatment"),    # P001-T1 is systemic
    (6, "extensive_adhesions", "yes", "finding_without_operation"),  # P004-T1: percutaneous RFA
    (3, "resection_extent", "lobe", "unknown_code"),
])
def test_each_misplaced_detail_is_one_error(tables, row, field, value, rule):
    report = validate(_with(tables, "treatments", row, **{field: value}))
    pid = tables["treatments"].loc[row, "patient_id"]
    assert _errors(report) == [(rule, "treatments", row + 1, pid, field)]
    assert len(report.errors.iloc[0]["message"]) > 20


def test_unknown_adhesions_and_an_open_ablation_are_fine(tables):
    t = _with(tables, "treatments", 6, extensive_adhesions="unknown")      # percutaneous, but "unknown"
    assert validate(t).ok
    t = _with(tables, "treatments", 6, extensive_adhesions="yes", approach="open")
    assert validate(t).ok


def test_ctcae_grades_and_adverse_event_dates(tables):
    report = validate(_with(tables, "adverse_events", 0, grade=6))
    assert _errors(report) == [("ctcae_grade", "adverse_events", 1, "P001", "grade")]
    report = validate(_with(tables, "adverse_events", 0, grade=5))       # P001 is alive
    assert _errors(report) == [("ctcae_grade_5_without_death", "adverse_events", 1, "P001", "grade")]
    t = _with(tables, "adverse_events", 2, grade=5, date=pd.Timestamp("2020-02-02"))   # P004 died that day
    assert validate(t).ok
    t = _with(tables, "adverse_events", 2, date=pd.Timestamp("2020-03-01"))          # after P004's death
    assert _errors(validate(t)) == [("after_death", "adverse_events", 3, "P004", "date")]
    t = _with(tables, "adverse_events", 2, patient_id="P999")
    assert ("unknown_reference", "adverse_events", 3, "P999", "patient_id") in _errors(validate(t))


def test_a_repeated_adverse_event_is_a_warning(tables):
    ae = pd.concat([tables["adverse_events"], tables["adverse_events"].iloc[[1]]], ignore_index=True)
    report = validate({**tables, "adverse_events": ae})
    assert report.ok
    assert list(report.warnings[["rule", "table", "row"]].itertuples(index=False, name=None)) == [
        ("duplicate_row", "adverse_events", 4)]


@pytest.mark.parametrize("fmt", ["csv", "excel"])
def test_csv_and_excel_interchange_keep_the_detail(tables, tmp_path, fmt):
    path = write_registry(tables, tmp_path / ("reg" if fmt == "csv" else "reg.xlsx"), fmt)
    back, report = read_registry(path)
    assert report.problems.empty, report.problems.to_string()
    for name in ("treatments", "events", "adverse_events"):
        pd.testing.assert_frame_equal(back[name].reset_index(drop=True), tables[name], obj=name)


def _migrate(engine, command: str, revision: str) -> None:
    from alembic import command as commands

    with engine.begin() as conn:
        cfg = store_module._migration_config()
        cfg.attributes["connection"] = conn
        getattr(commands, command)(cfg, revision)


def test_migration_0005_upgrades_a_0004_store_with_its_rows_and_downgrades(db_url):
    engine = sa.create_engine(store_module._normalise_url(db_url))
    _migrate(engine, "upgrade", "0004_board_facts")
    old = {"imports": dict(import_id=1, imported_at=pd.Timestamp("2025-01-01").to_pydatetime(), source="old",
                           format="csv", source_sha256="x", pseudonymised=False, oligomet_version="0.0.1",
                           n_warnings=0),
           "patients": dict(patient_id="OLD1", site="A", sex="male", primary_site="colorectal",
                            primary_diagnosis_date=pd.Timestamp("2015-01-01").date(), import_id=1),
           "treatments": dict(treatment_id="OLD1-T1", patient_id="OLD1", modality="sabr",
                              start_date=pd.Timestamp("2016-01-01").date(), import_id=1)}
    with engine.begin() as conn:
        assert "adverse_events" not in sa.inspect(conn).get_table_names()
        meta = sa.MetaData()
        for name, row in old.items():
            conn.execute(sa.Table(name, meta, autoload_with=conn).insert().values(**row))
    with Store(db_url) as store:                     # opening a store upgrades it to the head
        loaded = store.load()
        assert list(loaded["treatments"]["treatment_id"]) == ["OLD1-T1"]
        assert loaded["treatments"]["assessed_extent"].isna().all() and loaded["adverse_events"].empty
    _migrate(engine, "downgrade", "0004_board_facts")
    with engine.connect() as conn:
        insp = sa.inspect(conn)
        assert "adverse_events" not in insp.get_table_names()
        assert "assessed_extent" not in {c["name"] for c in insp.get_columns("treatments")}
        assert "ct_progression" not in {c["name"] for c in insp.get_columns("events")}
        assert conn.execute(sa.text("SELECT treatment_id FROM treatments")).scalars().all() == ["OLD1-T1"]
    engine.dispose()
