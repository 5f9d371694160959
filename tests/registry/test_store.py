"""The store on SQLite and on a real PostgreSQL server: migrations, round trip, idempotency,
provenance, all-or-nothing writes, patient-level replacement, identifiers."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from oligomet.registry import TABLE_ORDER, Store, read_registry
from oligomet.registry import store as store_module
from oligomet.registry.schema import metadata

BAD = __import__("pathlib").Path(__file__).parent / "bad"


def _counts(store):
    with store.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in (*TABLE_ORDER, "imports", "import_files", "import_counts", "import_patients")}


def _same(a, b):
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(a[name].reset_index(drop=True), b[name].reset_index(drop=True),
                                      check_dtype=True, obj=name)


def test_migrated_schema_matches_the_data_model(db_url):
    store = Store(db_url)
    insp = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        cols = {c["name"] for c in insp.get_columns(table.name)}
        assert cols == {c.name for c in table.columns}, table.name
    with store.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == store_module._head_revision()
    Store(db_url).close()  # opening again runs the (no-op) upgrade on an existing database
    store.close()


def test_import_load_roundtrip_provenance_and_idempotency(db_url, clean_dir):
    store = Store(db_url)
    result = store.import_registry(clean_dir)
    assert result.status == "imported" and result.ok and result.import_id == 1
    assert result.rows == {"patients": 4, "lesions": 6, "treatments": 8, "complications": 3, "events": 5,
                           "labs": 4, "mdt_decisions": 6, "adverse_events": 3}
    tables, _ = read_registry(clean_dir)
    _same(store.load(), tables)
    prov = store.imports()
    assert len(prov) == 1 and prov.loc[0, "rows_lesions"] == 6 and prov.loc[0, "format"] == "csv"
    files = store.import_files()
    assert len(files) == 8
    for row in files.itertuples():
        data = (clean_dir / row.file).read_bytes()
        assert row.sha256 == hashlib.sha256(data).hexdigest() and row.bytes == len(data)
    before = _counts(store)
    again = store.import_registry(clean_dir)
    assert again.status == "unchanged" and again.import_id == 1
    assert _counts(store) == before
    store.close()


def test_rejected_import_writes_nothing(db_url, clean_dir):
    store = Store(db_url)
    store.import_registry(clean_dir)
    before = _counts(store)
    result = store.import_registry(BAD / "5_measurements")
    assert result.status == "rejected" and not result.ok
    assert set(result.report.errors["rule"]) == {"diameter_nonpositive", "diameter_implausible", "cea_negative",
                                                  "value_negative"}
    assert _counts(store) == before
    store.close()


def test_failure_mid_write_rolls_everything_back(db_url, clean_dir, tmp_path, monkeypatch):
    store = Store(db_url)
    store.import_registry(clean_dir)
    stored = store.load()
    before = _counts(store)
    shutil.copytree(clean_dir, tmp_path / "v2")
    labs = tmp_path / "v2" / "labs.csv"
    labs.write_text(labs.read_text() + "P003,2020-01-01,1.0\n")
    real_insert = store_module._insert_frame

    def failing_insert(conn, table, *args):
        if table.name == "events":  # patients, lesions, treatments, complications already written
            raise RuntimeError("disk full (injected)")
        real_insert(conn, table, *args)

    monkeypatch.setattr(store_module, "_insert_frame", failing_insert)
    with pytest.raises(RuntimeError, match="injected"):
        store.import_registry(tmp_path / "v2")
    assert _counts(store) == before
    _same(store.load(), stored)
    monkeypatch.undo()
    assert store.import_registry(tmp_path / "v2").status == "imported"
    assert _counts(store)["labs"] == before["labs"] + 1
    store.close()


def test_constraint_violation_rolls_back(db_url, clean_dir, monkeypatch):
    """Validation bypassed on purpose: the database's own primary key must stop a duplicate id."""
    store = Store(db_url)
    before = _counts(store)
    tables, _ = read_registry(clean_dir)
    tables["lesions"] = pd.concat([tables["lesions"], tables["lesions"].iloc[[0]]])
    from oligomet.registry.report import ValidationReport
    monkeypatch.setattr(store_module, "validate", lambda *a, **k: ValidationReport())
    result = store.import_registry(tables)
    assert result.status == "rejected"
    err = result.report.errors
    # D25: the two rows behind the driver's error, not only its text
    assert list(err[["rule", "table", "row", "patient_id", "field", "value"]].itertuples(index=False, name=None)) \
        == [("store_constraint", "lesions", 1, "P001", "lesion_id", "P001-L1")] * 2
    assert err["message"].str.contains("appears more than once in the source").all()
    assert _counts(store) == before
    store.close()


def test_id_stored_for_another_patient_names_table_row_patient_and_value(db_url, clean_dir):
    """D25: a lesion id that another site's patient already has passes validation (which sees one
    source) and is stopped by the primary key; the problem names the source row, its patient, the
    value and the patient it is stored for."""
    store = Store(db_url)
    tables, _ = read_registry(clean_dir)
    assert store.import_registry(tables).status == "imported"
    before = _counts(store)
    patient = tables["patients"].iloc[[0]].copy()
    patient["patient_id"], patient["site"] = "R9", "Rotterdam"
    lesions = tables["lesions"].iloc[[0, 1]].copy()
    lesions["patient_id"] = "R9"
    lesions.loc[lesions.index[1], "lesion_id"] = "R9-L2"
    lesions.index = pd.Index([1, 2], name="row")
    result = store.import_registry({"patients": patient, "lesions": lesions})
    assert result.status == "rejected"
    err = result.report.errors
    assert list(err[["rule", "table", "row", "patient_id", "field", "value"]].itertuples(index=False, name=None)) \
        == [("store_constraint", "lesions", 1, "R9", "lesion_id", "P001-L1")]
    assert "already stored for patient P001" in err.loc[0, "message"]
    assert _counts(store) == before
    store.close()


def test_reimport_replaces_a_patients_rows_and_sites_accumulate(db_url, clean_dir, tmp_path):
    store = Store(db_url)
    tables, _ = read_registry(clean_dir)
    site_a = {n: (f[f["patient_id"].isin(["P001", "P002"])] if "patient_id" in f else f[f["treatment_id"]
              .str[:4].isin(["P001", "P002"])]) for n, f in tables.items()}
    site_b = {n: (f[f["patient_id"].isin(["P003", "P004"])] if "patient_id" in f else f[f["treatment_id"]
              .str[:4].isin(["P003", "P004"])]) for n, f in tables.items()}
    assert store.import_registry(site_a).status == "imported"
    assert store.import_registry(site_b).status == "imported"
    _same(store.load(), tables)
    # a new export of site A where P001's second lab was deleted and a CEA corrected
    labs = site_a["labs"].drop(index=site_a["labs"].index[1]).copy()
    labs.loc[labs.index[0], "cea"] = 12.5
    result = store.import_registry({**site_a, "labs": labs})
    assert result.status == "imported" and result.import_id == 3
    got = store.load()["labs"]
    assert sorted(got["patient_id"]) == ["P001", "P002", "P004"]
    assert got.loc[got["patient_id"] == "P001", "cea"].tolist() == [12.5]
    assert len(store.imports()) == 3
    store.close()


def test_same_patient_id_from_another_site_is_refused(db_url, clean_dir):
    store = Store(db_url)
    tables, _ = read_registry(clean_dir)
    store.import_registry(tables)
    other = {n: f.iloc[:0] for n, f in tables.items()}
    p = tables["patients"].iloc[[0]].copy()
    p["site"] = "Rotterdam"
    other["patients"] = p
    result = store.import_registry(other)
    assert result.status == "rejected"
    err = result.report.errors
    assert list(err[["rule", "patient_id", "field"]].itertuples(index=False, name=None)) == [
        ("stored_at_other_site", "P001", "site")]
    store.close()


def test_identifiers_never_reach_the_database(db_url):
    store = Store(db_url)
    assert store.import_registry(BAD / "identifiers").status == "rejected"
    assert _counts(store)["patients"] == 0
    result = store.import_registry(BAD / "identifiers", identifier_key="a-secret-key-of-the-data-controller")
    assert result.status == "imported"
    p = store.load()["patients"]
    assert p["pseudonym"].str.fullmatch(r"[0-9a-f]{64}").all()
    with store.engine.connect() as conn:
        dump = " ".join(str(r) for r in conn.execute(sa.text("SELECT * FROM patients")).all())
    assert "Jansen" not in dump and "100234" not in dump
    assert bool(store.imports().loc[0, "pseudonymised"]) is True
    store.close()


def test_default_url_is_a_sqlite_file_in_the_working_directory(tmp_path, monkeypatch, clean_dir):
    monkeypatch.chdir(tmp_path)
    store = Store()
    assert store.import_registry(clean_dir).ok
    store.close()
    assert (tmp_path / "oligomet.sqlite").exists()


def test_database_at_revision_0001_is_upgraded_with_its_data(db_url):
    """A store created by an older oligomet keeps its rows when a newer one opens it."""
    from alembic import command
    from alembic.config import Config

    engine = sa.create_engine(store_module._normalise_url(db_url))
    cfg = Config()
    cfg.set_main_option("script_location", str(store_module._MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0001")
        conn.execute(sa.text("INSERT INTO imports (import_id, imported_at, source, format, source_sha256, "
                             "pseudonymised, oligomet_version, n_warnings) VALUES (1, '2025-01-01 00:00:00', "
                             "'old', 'csv', 'x', false, '0.0.1', 0)"))
        conn.execute(sa.text("INSERT INTO patients (patient_id, site, sex, primary_site, primary_diagnosis_date, "
                             "import_id) VALUES ('OLD1', 'A', 'male', 'colorectal', '2015-01-01', 1)"))
        cols = {c["name"] for c in sa.inspect(conn).get_columns("labs")}
        assert "ca19_9" not in cols
    engine.dispose()
    store = Store(db_url)
    with store.engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
        assert version == store_module._head_revision()
    p = store.load()["patients"]
    assert list(p["patient_id"]) == ["OLD1"] and p["primary_sidedness"].isna().all()
    assert "ca19_9" in store.load()["labs"].columns
    store.close()


def test_in_memory_source_with_identifiers_and_day_first_dates(db_url):
    tables = {
        "patients": pd.DataFrame({"patient_id": ["A1"], "mrn": ["555-12"], "site": ["s"], "sex": ["female"],
                                  "primary_site": ["sarcoma"], "primary_diagnosis_date": ["03/04/2019"],
                                  "last_contact_date": ["05/06/2020"]}),
    }
    store = Store(db_url)
    rejected = store.import_registry(tables)
    assert set(rejected.report.errors["rule"]) == {"direct_identifier", "date_ambiguous"}
    result = store.import_registry(tables, identifier_key="a-secret-key-of-the-data-controller",
                                   date_format="DD/MM/YYYY")
    assert result.status == "imported", result.report.to_text()
    p = store.load()["patients"]
    assert p.loc[0, "primary_diagnosis_date"] == pd.Timestamp("2019-04-03")
    assert len(p.loc[0, "pseudonym"]) == 64 and "mrn" not in p
    store.close()


def test_text_with_separators_quotes_and_newlines_round_trips(db_url, clean_dir):
    tables, _ = read_registry(clean_dir)
    p = tables["patients"].copy()
    p["histology"] = ['adeno, "mucinous"', "line1\nline2", "back\\slash \\N", "ünïcødé ; 😀"]
    tables["patients"] = p
    store = Store(db_url)
    assert store.import_registry(tables).status == "imported"
    assert list(store.load()["patients"]["histology"]) == list(p["histology"])
    store.close()


# ---------------------------------------------------------------- issue 16: partial exports (D5)
def _partial_export(clean_dir, folder, header_only: bool):
    """What a site sends after a failed query: patients.csv alone, or child files with only a header."""
    folder.mkdir()
    shutil.copy(clean_dir / "patients.csv", folder / "patients.csv")
    if header_only:
        for name in TABLE_ORDER[1:]:
            (folder / f"{name}.csv").write_text((clean_dir / f"{name}.csv").read_text().splitlines()[0] + "\n")


@pytest.mark.parametrize("header_only", [False, True], ids=["patients_only", "header_only_children"])
def test_partial_reexport_is_refused_and_keeps_every_stored_row(db_url, clean_dir, tmp_path, header_only):
    store = Store(db_url)
    assert store.import_registry(clean_dir).status == "imported"
    before, stored = _counts(store), store.load()
    _partial_export(clean_dir, tmp_path / "v2", header_only)
    result = store.import_registry(tmp_path / "v2")
    assert result.status == "rejected"
    err = result.report.errors
    assert set(err["rule"]) == {"import_deletes_stored_rows"}
    assert list(err["table"]) == list(TABLE_ORDER[1:])
    assert err["message"].str.contains("--allow-deletions").all()
    assert result.stored["lesions"] == (6, 0) and result.stored["patients"] == (4, 4)
    assert _counts(store) == before
    _same(store.load(), stored)
    # the site confirms the records were deleted at the source: now they go, and the result says so
    allowed = store.import_registry(tmp_path / "v2", allow_deletions=True)
    assert allowed.status == "imported"
    counts = _counts(store)
    assert allowed.stored == {name: (before[name], counts[name]) for name in TABLE_ORDER}
    assert counts["lesions"] == counts["labs"] == 0 and counts["patients"] == 4
    store.close()


def test_stored_before_and_after_per_table(db_url, clean_dir, tmp_path):
    store = Store(db_url)
    first = store.import_registry(clean_dir)
    assert first.stored == {name: (0, _counts(store)[name]) for name in TABLE_ORDER}
    shutil.copytree(clean_dir, tmp_path / "v2")
    labs = tmp_path / "v2" / "labs.csv"
    labs.write_text("\n".join(labs.read_text().splitlines()[:-1]) + "\n")  # one lab deleted at the source
    before = _counts(store)
    result = store.import_registry(tmp_path / "v2")
    assert result.status == "imported"
    assert result.stored["labs"] == (before["labs"], before["labs"] - 1) == (before["labs"], _counts(store)["labs"])
    assert "labs: stored 4 → 3" in str(result)
    again = store.import_registry(tmp_path / "v2")
    assert again.status == "unchanged" and again.stored["labs"] == (3, 3)
    store.close()


# ---------------------------------------------------------------- indexes and timeouts (D12)
def test_every_foreign_key_column_is_indexed(db_url):
    store = Store(db_url)
    insp = sa.inspect(store.engine)
    for table in metadata.sorted_tables:
        indexed = {tuple(ix["column_names"])[0] for ix in insp.get_indexes(table.name)}
        indexed |= {insp.get_pk_constraint(table.name)["constrained_columns"][0]}
        for fk in insp.get_foreign_keys(table.name):
            assert fk["constrained_columns"][0] in indexed, (table.name, fk["constrained_columns"])
    store.close()


@pytest.mark.postgres
def test_postgres_import_statement_timeout_rolls_back(pg_url, clean_dir, monkeypatch):
    """An import statement running past the timeout is cancelled by the server; nothing is written."""
    store = Store(pg_url, statement_timeout=0.2)
    before = _counts(store)
    real_insert = store_module._insert_frame

    def slow_insert(conn, table, *args):
        if table.name == "lesions":
            conn.execute(sa.text("SELECT pg_sleep(5)"))
        real_insert(conn, table, *args)

    monkeypatch.setattr(store_module, "_insert_frame", slow_insert)
    with pytest.raises(TimeoutError, match="statement timeout of 0.2 s"):
        store.import_registry(clean_dir)
    assert _counts(store) == before
    store.close()


# ---------------------------------------------------------------- store creation (D15)
def test_failure_while_creating_a_store_leaves_no_half_schema(db_url, clean_dir, monkeypatch):
    from alembic import op

    real, calls = op.create_index, []

    def failing(*args, **kwargs):
        calls.append(args)
        if len(calls) == 3:  # imports, lesions, treatments tables exist by now
            raise RuntimeError("crash while creating the store (injected)")
        return real(*args, **kwargs)

    monkeypatch.setattr(op, "create_index", failing)
    with pytest.raises(RuntimeError, match="injected"):
        Store(db_url)
    monkeypatch.undo()
    engine = sa.create_engine(store_module._normalise_url(db_url))
    assert sa.inspect(engine).get_table_names() == []
    engine.dispose()
    store = Store(db_url)  # once failed with "table imports already exists"
    assert store.import_registry(clean_dir).status == "imported"
    store.close()


# ---------------------------------------------------------------- reading never writes (D16)
def _at_revision(db_url, revision):
    from alembic import command

    engine = sa.create_engine(store_module._normalise_url(db_url))
    with engine.begin() as conn:
        cfg = store_module._migration_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()


def _version(db_url):
    engine = sa.create_engine(store_module._normalise_url(db_url))
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    engine.dispose()
    return version


def test_read_only_store_reads_and_refuses_every_write(db_url, clean_dir):
    with Store(db_url) as store:
        store.import_registry(clean_dir)
        stored = store.load()
    ro = Store.open_read_only(db_url)
    _same(ro.load(), stored)
    assert len(ro.imports()) == 1
    with pytest.raises(PermissionError, match="read-only"):
        ro.import_registry(clean_dir)
    with pytest.raises(sa.exc.OperationalError if db_url.startswith("sqlite") else sa.exc.InternalError,
                       match="readonly database|read-only transaction"), ro.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM labs"))
    ro.close()
    with Store(db_url) as store:
        assert _counts(store)["labs"] == 4


def test_a_protocols_data_url_never_migrates_an_older_store(db_url):
    """The study layer opens ``data.url`` read-only: an older store gets a clear error and stays as it was."""
    from types import SimpleNamespace

    from oligomet.study.cohort import load_registry

    _at_revision(db_url, "0001")
    path = db_url.removeprefix("sqlite:///") if db_url.startswith("sqlite") else None
    digest = hashlib.sha256(Path(path).read_bytes()).hexdigest() if path else None
    proto = SimpleNamespace(source_path=None, data=SimpleNamespace(synthetic=None, folder=None, workbook=None,
                                                                   url=db_url, data_lock=None))
    expected = f"revision 0001.*reads revision {store_module._head_revision()}.*registry upgrade"
    with pytest.raises(store_module.StoreVersionError, match=expected):
        load_registry(proto)
    assert _version(db_url) == "0001"
    if path:
        assert hashlib.sha256(Path(path).read_bytes()).hexdigest() == digest


def test_read_only_refuses_a_newer_or_foreign_database(db_url, tmp_path):
    _at_revision(db_url, "head")
    engine = sa.create_engine(store_module._normalise_url(db_url))
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '0999'"))
    engine.dispose()
    with pytest.raises(store_module.StoreVersionError, match="newer oligomet"):
        Store.open_read_only(db_url)
    foreign = tmp_path / "other.sqlite"
    sa.create_engine(f"sqlite:///{foreign}").connect().close()
    with pytest.raises(store_module.StoreVersionError, match="not an oligomet registry store"):
        Store.open_read_only(foreign)
    with pytest.raises(FileNotFoundError, match="no registry store"):
        Store.open_read_only(tmp_path / "missing.sqlite")
    assert not (tmp_path / "missing.sqlite").exists()


def test_cli_refuses_a_partial_export_prints_stored_counts_and_reads_without_migrating(clean_dir, tmp_path):
    from typer.testing import CliRunner

    from oligomet.cli import app

    run = CliRunner().invoke
    db = tmp_path / "reg.sqlite"
    res = run(app, ["registry", "import", str(clean_dir), "--db", str(db)])
    assert res.exit_code == 0 and "  lesions: stored 0 → 6" in res.output
    _partial_export(clean_dir, tmp_path / "v2", header_only=False)
    res = run(app, ["registry", "import", str(tmp_path / "v2"), "--db", str(db), "--plain"])
    assert res.exit_code == 1 and "import_deletes_stored_rows" in res.output
    assert "  lesions: stored 6 would be 0" in res.output
    res = run(app, ["registry", "import", str(tmp_path / "v2"), "--db", str(db), "--allow-deletions"])
    assert res.exit_code == 0 and "import imported" in res.output
    assert "  lesions: stored 6 → 0" in res.output and "  patients: stored 4 → 4" in res.output
    # reading commands open the store read-only: an older store is not migrated behind the user's back
    old = tmp_path / "old.sqlite"
    _at_revision(f"sqlite:///{old}", "0002")
    res = run(app, ["registry", "export", str(tmp_path / "out"), "--db", str(old)])
    assert res.exit_code == 2 and "registry upgrade" in res.output
    assert _version(f"sqlite:///{old}") == "0002"
    res = run(app, ["registry", "upgrade", "--db", str(old)])
    assert res.exit_code == 0 and _version(f"sqlite:///{old}") == store_module._head_revision()
    assert run(app, ["registry", "imports", "--db", str(old)]).output.strip() == "no imports"
