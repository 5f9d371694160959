"""Several hospitals in one registry (issue 15 part 3): each site's import is its own transaction with
its own provenance, re-importing a site replaces that site's rows only, and ids are namespaced by
site. SQLite and PostgreSQL."""
from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.registry import Store, read_registry, write_registry
from oligomet.registry.fields import TABLE_ORDER, TABLES
from oligomet.registry.mapping import load_mapping
from oligomet.registry.sites import check_site_name

DUTCH = Path(__file__).parents[1] / "data" / "dutch_site"
ID_COLUMNS = {"patient_id", "lesion_id", "treatment_id"}


def site_export(tables: dict, pids, folder: Path, site_value=None) -> Path:
    """The clean registry's patients ``pids`` written as one hospital's CSV export; its ``site``
    column holds ``site_value`` (None: left empty, as many exports have it)."""
    part = {n: (f[f["patient_id"].isin(pids)] if "patient_id" in f else f) for n, f in tables.items()}
    part["complications"] = tables["complications"][
        tables["complications"]["treatment_id"].isin(set(part["treatments"]["treatment_id"]))]
    part["patients"] = part["patients"].assign(site=site_value)
    return write_registry(part, folder)


def strip_site(stored: dict, site: str) -> dict:
    """The stored rows of ``site`` with the ``site:`` prefix taken off every id (the hospital's own ids)."""
    head = f"{site}:"
    pids = set(stored["patients"].loc[stored["patients"]["site"] == site, "patient_id"])
    out = {}
    for name in TABLE_ORDER:
        frame = stored[name]
        keep = (frame["patient_id"].isin(pids) if "patient_id" in frame
                else frame["treatment_id"].str.startswith(head))
        frame = frame[keep].copy()
        for col in frame.columns:
            if col in ID_COLUMNS or col == "lesion_ids":
                assert frame[col].dropna().str.startswith(head).all(), (name, col)
                frame[col] = frame[col].str.replace(head, "", regex=False)
        out[name] = frame
    return out


def assert_same_tables(got: dict, want: dict, *, ignore=()) -> None:
    for name in TABLE_ORDER:
        key = list(TABLES[name].key)
        a = got[name].drop(columns=list(ignore), errors="ignore").sort_values(key).reset_index(drop=True)
        b = want[name].drop(columns=list(ignore), errors="ignore").sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, obj=name)


def raw_rows_of_site(url: str, site: str) -> dict[str, pd.DataFrame]:
    """Every stored row of ``site`` as the database holds it (surrogate ids and import ids included),
    table by table: what "untouched" must mean."""
    like = f"{site}:%"
    out = {}
    with Store.open_read_only(url) as store, store.engine.connect() as conn:
        for name in TABLE_ORDER:
            col = "treatment_id" if name == "complications" else "patient_id"
            order = ", ".join(f'"{c}"' for c in (["id"] if len(TABLES[name].key) > 1 else list(TABLES[name].key)))
            out[name] = pd.read_sql(sa.text(f'SELECT * FROM "{name}" WHERE "{col}" LIKE :p ORDER BY {order}'),
                                    conn, params={"p": like})
    return out


@pytest.fixture()
def clean(clean_dir):
    tables, report = read_registry(clean_dir)
    assert report.errors.empty
    return tables


def test_two_hospitals_patient_ids_never_collide(db_url, clean, tmp_path):
    """Both hospitals number their patients P001...: stored as Rotterdam:P001 and Leuven:P001, and every
    id that refers to them (lesions, treatments and their lesion lists, events, complications) too."""
    pids = ["P001", "P002", "P003", "P004"]
    rotterdam = site_export(clean, pids, tmp_path / "rotterdam")
    leuven = site_export(clean, pids, tmp_path / "leuven", site_value="Leuven")
    with Store(db_url) as store:
        assert store.import_registry(rotterdam, site="Rotterdam").status == "imported"
        assert store.import_registry(leuven, site="Leuven").status == "imported"
        stored = store.load()
    assert len(stored["patients"]) == 8
    assert sorted(stored["patients"]["patient_id"])[:2] == ["Leuven:P001", "Leuven:P002"]
    assert set(stored["treatments"]["lesion_ids"].dropna()) >= {"Rotterdam:P001-L1;Rotterdam:P001-L2"}
    for site in ("Rotterdam", "Leuven"):
        want = {n: f.copy() for n, f in clean.items()}
        want["patients"]["site"] = site
        assert_same_tables(strip_site(stored, site), want)


def test_endpoints_run_on_a_registry_of_namespaced_sites(db_url, clean, tmp_path):
    from oligomet.endpoints import derive_endpoints

    pids = ["P001", "P002", "P003", "P004"]
    with Store(db_url) as store:
        for site in ("Rotterdam", "Leuven"):
            store.import_registry(site_export(clean, pids, tmp_path / site), site=site)
        stored = store.load()
    frame = derive_endpoints(stored)
    single = derive_endpoints(clean)
    assert len(frame) == 2 * len(single)
    # the same patients, the same endpoints, whichever hospital they are stored for
    rotterdam = frame[frame["patient_id"].str.startswith("Rotterdam:")].copy()
    for col in [c for c in rotterdam.columns if c.endswith("_id")]:
        rotterdam[col] = rotterdam[col].str.removeprefix("Rotterdam:")
    cols = [c for c in single.columns if c != "site"]
    pd.testing.assert_frame_equal(rotterdam[cols].sort_values("patient_id").reset_index(drop=True),
                                  single[cols].sort_values("patient_id").reset_index(drop=True), check_dtype=False)


def test_reimporting_one_site_replaces_that_site_only_table_by_table(db_url, clean, tmp_path):
    pids = ["P001", "P002", "P003", "P004"]
    exports = {s: site_export(clean, pids, tmp_path / s) for s in ("A", "B", "C")}
    with Store(db_url) as store:
        for site, folder in exports.items():
            assert store.import_registry(folder, site=site).status == "imported"
    before = {s: raw_rows_of_site(db_url, s) for s in ("A", "C")}
    assert all(len(before[s][n]) for s in before for n in TABLE_ORDER)   # every table has rows to keep
    # B's new export: P003 withdrawn (gone from every file), one CEA corrected
    new_b = {n: f.copy() for n, f in clean.items()}
    labs = new_b["labs"]
    labs.loc[labs.index[0], "cea"] = 99.5
    new_b = {n: (f[f["patient_id"] != "P003"] if "patient_id" in f else f) for n, f in new_b.items()}
    new_b["complications"] = new_b["complications"][~new_b["complications"]["treatment_id"].str.startswith("P003")]
    folder = site_export(new_b, ["P001", "P002", "P004"], tmp_path / "B2")
    with Store(db_url) as store:
        result = store.import_registry(folder, site="B")
        assert result.status == "imported", result.report
        stored = store.load()
        provenance = store.imports()
    after = {s: raw_rows_of_site(db_url, s) for s in ("A", "C")}
    for site in ("A", "C"):
        for name in TABLE_ORDER:
            pd.testing.assert_frame_equal(after[site][name], before[site][name], obj=f"{site} {name}")
    want = {n: f.assign(site="B") if n == "patients" else f for n, f in new_b.items()}
    assert_same_tables(strip_site(stored, "B"), want)
    assert "B:P003" not in set(stored["patients"]["patient_id"])   # the whole site is replaced, not per patient
    assert stored["patients"]["patient_id"].str.startswith("B:").sum() == 3
    # one provenance row per import, with its site, its own hash and files
    assert list(provenance["site"]) == ["A", "B", "C", "B"]
    assert provenance["source_sha256"].nunique() == 4
    assert provenance.loc[3, "files"]["site:B"] == hashlib.sha256(b"B").hexdigest()
    assert (stored["patients"].set_index("patient_id").loc["B:P001", "site"]) == "B"


def test_an_unchanged_site_is_a_no_op_even_after_other_sites(db_url, clean, tmp_path):
    a = site_export(clean, ["P001", "P002"], tmp_path / "a")
    b = site_export(clean, ["P003", "P004"], tmp_path / "b")
    with Store(db_url) as store:
        first = store.import_registry(a, site="A")
        store.import_registry(b, site="B")
        again = store.import_registry(a, site="A")
        assert again.status == "unchanged" and again.import_id == first.import_id
        # the same folder as another site is another import (other ids, other rows)
        assert store.import_registry(a, site="D").status == "imported"
        assert len(store.imports()) == 3


def test_a_site_column_naming_another_hospital_is_refused_per_patient(db_url, clean_dir):
    with Store(db_url) as store:
        result = store.import_registry(clean_dir, site="Amsterdam")   # P003 and P004 are Leuven's
        assert result.status == "rejected"
        err = result.report.errors
        assert list(err[["rule", "row", "patient_id", "value"]].itertuples(index=False, name=None)) == [
            ("site_mismatch", 3, "P003", "Leuven"), ("site_mismatch", 4, "P004", "Leuven")]
        assert "correct --site" in err.loc[0, "message"]
        assert store.imports().empty and store.load()["patients"].empty


def test_a_site_export_missing_a_table_is_refused_unless_deletions_are_allowed(db_url, clean, tmp_path):
    folder = site_export(clean, ["P001", "P002"], tmp_path / "a")
    with Store(db_url) as store:
        store.import_registry(folder, site="A")
        (folder / "labs.csv").write_text("patient_id,date,cea\n", encoding="utf-8")
        refused = store.import_registry(folder, site="A")
        assert refused.status == "rejected"
        assert set(refused.report.errors["rule"]) == {"import_deletes_stored_rows"}
        assert len(store.load()["labs"]) == 3
        assert store.import_registry(folder, site="A", allow_deletions=True).status == "imported"
        assert store.load()["labs"].empty
        # an export with no patients at all would empty the site: refused for the patients table too
        nothing = write_registry({n: f.iloc[:0] for n, f in clean.items()}, tmp_path / "nothing")
        refused = store.import_registry(nothing, site="A")
        assert refused.status == "rejected"
        assert "patients" in set(refused.report.errors["table"])
        assert len(store.load()["patients"]) == 2


@pytest.mark.parametrize("name", ["", " Leuven", "Leuven:Gasthuisberg", "A\nB", "x" * 65])
def test_site_names_that_could_not_namespace_ids_are_refused(name):
    with pytest.raises(ValueError, match="site"):
        check_site_name(name)


def test_a_mapped_site_is_one_transaction_with_the_mapping_hash(db_url, clean, tmp_path):
    """The Dutch export through its mapping as site Noordwest, next to another site: the import's own
    provenance row holds the source files, the mapping hash and the site."""
    mapping = load_mapping(DUTCH / "mapping.yaml")
    with Store(db_url) as store:
        store.import_registry(site_export(clean, ["P001"], tmp_path / "a"), site="A")
        result = store.import_registry(DUTCH, mapping=mapping, site="Noordwest")
        assert result.status == "imported", result.report
        prov = store.imports().iloc[-1]
        stored = store.load()
    assert prov["format"] == "mapping" and prov["site"] == "Noordwest" and prov["source"] == str(DUTCH.resolve())
    assert prov["files"]["mapping:mapping.yaml"] == mapping.hash
    assert {"patienten.csv", "recidieven.csv", "lab.csv", "site:Noordwest"} <= set(prov["files"])
    want, _ = read_registry(DUTCH / "clean")
    assert_same_tables(strip_site(stored, "Noordwest"), want)
    with Store(db_url) as store, pytest.raises(ValueError, match="the mapping says site"):
        text = (DUTCH / "mapping.yaml").read_text(encoding="utf-8").replace("mapping: 1", "mapping: 1\nsite: X")
        other = tmp_path / "dutch"
        shutil.copytree(DUTCH, other)
        (other / "mapping.yaml").write_text(text, encoding="utf-8")
        store.import_registry(other, mapping=other / "mapping.yaml", site="Noordwest")


def test_mapped_site_problems_are_told_in_the_source_terms(tmp_path):
    folder = tmp_path / "dutch"
    shutil.copytree(DUTCH, folder, ignore=shutil.ignore_patterns("clean"))
    with Store(tmp_path / "r.sqlite") as store:
        result = store.import_registry(folder, mapping=folder / "mapping.yaml", site="Utrecht")
    assert result.status == "rejected"
    err = result.report.errors
    assert set(err["rule"]) == {"site_mismatch"} and len(err) == 6
    assert err.iloc[0]["message"].startswith("patienten.csv line 2, column 'Ziekenhuis' (value 'Noordwest')")


def test_command_line_import_with_site_and_mapping(tmp_path, clean):
    db = tmp_path / "r.sqlite"
    runner = CliRunner()
    a = site_export(clean, ["P001", "P002"], tmp_path / "a")
    r = runner.invoke(app, ["registry", "import", str(a), "--site", "Amsterdam", "--db", str(db)])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["registry", "import", str(DUTCH), "--site", "Noordwest", "--mapping",
                            str(DUTCH / "mapping.yaml"), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "patients: stored 2 → 8" in r.output
    r = runner.invoke(app, ["registry", "imports", "--db", str(db)])
    assert r.exit_code == 0
    lines = r.output.splitlines()
    assert "site" in lines[0].split() and "Noordwest" in lines[2] and "Amsterdam" in lines[1]
    r = runner.invoke(app, ["registry", "import", str(a), "--site", "Am:sterdam", "--db", str(db)])
    assert r.exit_code == 2 and "may not contain ':'" in r.output


def test_a_site_import_replaces_that_sites_rows_imported_without_a_site(db_url, clean_dir, clean, tmp_path):
    """The clean folder holds Amsterdam (P001, P002) and Leuven (P003, P004), imported without --site (ids
    as given). Amsterdam's first --site import then replaces Amsterdam's rows; Leuven's stay as they were."""
    with Store(db_url) as store:
        store.import_registry(clean_dir)
        leuven_before = store.load()
        result = store.import_registry(site_export(clean, ["P001", "P002"], tmp_path / "ams"), site="Amsterdam")
        assert result.status == "imported", result.report
        stored = store.load()
        assert list(store.imports()["site"]) == [None, "Amsterdam"]
    # the rows stored as P001 and P002 are gone: nothing of Amsterdam is stored twice
    assert sorted(stored["patients"]["patient_id"]) == ["Amsterdam:P001", "Amsterdam:P002", "P003", "P004"]
    assert not stored["lesions"]["patient_id"].isin(["P001", "P002"]).any()
    for name in TABLE_ORDER:
        frame = leuven_before[name]
        keep = (frame["patient_id"].isin(["P003", "P004"]) if "patient_id" in frame
                else frame["treatment_id"].str[:4].isin(["P003", "P004"]))
        now = stored[name]
        now_keep = (now["patient_id"].isin(["P003", "P004"]) if "patient_id" in now
                    else now["treatment_id"].str[:4].isin(["P003", "P004"]))
        pd.testing.assert_frame_equal(now[now_keep].reset_index(drop=True), frame[keep].reset_index(drop=True),
                                      obj=name)
