"""Site mapping files (issue 15 part 1): a Dutch hospital's own export into the registry, through data only."""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from oligomet.registry import read_registry
from oligomet.registry.fields import TABLE_ORDER
from oligomet.registry.mapping import MappingError, check_mapped, import_mapped, load_mapping, loads_mapping

DUTCH = Path(__file__).parents[1] / "data" / "dutch_site"


def assert_same_registry(got: dict, want: dict) -> None:
    """Table by table, rows in key order, indexes dropped (a mapped table is numbered 1..n)."""
    from oligomet.registry.fields import TABLES

    for name in TABLE_ORDER:
        key = list(TABLES[name].key)
        a = got[name].sort_values(key).reset_index(drop=True)
        b = want[name].sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=True, obj=name)


def test_dutch_csv_imports_to_the_same_registry_as_the_clean_folder():
    tables, report = check_mapped(DUTCH, DUTCH / "mapping.yaml")
    assert report.errors.empty, report.problems.to_string()
    clean, clean_report = read_registry(DUTCH / "clean")
    assert clean_report.errors.empty
    assert_same_registry(tables, clean)
    # what the mapping did, spelled out: cm -> mm, decimal commas, SBRT -> sabr, onbekend -> missing
    les = tables["lesions"].set_index("lesion_id")
    assert les.loc["NL-001-L2", "diameter_mm"] == 11.0
    assert set(tables["treatments"]["modality"]) == {"resection", "sabr", "rfa", "mwa"}
    assert tables["patients"].set_index("patient_id").loc["NL-003", "node_positive"] is pd.NA


def _bad_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "site"
    shutil.copytree(DUTCH, folder, ignore=shutil.ignore_patterns("clean"))
    text = (folder / "patienten.csv").read_text(encoding="utf-8").splitlines()
    # line 3 (NL-002): sex "X"; line 4 (NL-003): a diagnosis on 30 February; line 5 (NL-004): size "groot"
    text[2] = text[2].replace(";V;1961;", ";Q;1961;")
    text[3] = text[3].replace("22-07-2014", "30-02-2014")
    text[4] = text[4].replace(";4,5;", ";groot;")
    (folder / "patienten.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
    return folder


def test_problems_are_told_in_the_source_terms(tmp_path):
    _, report = check_mapped(_bad_copy(tmp_path), DUTCH / "mapping.yaml")
    e = report.errors.set_index("rule")
    sex = e.loc["unknown_code"]
    assert sex["message"].startswith("patienten.csv line 3, column 'Geslacht' (value 'Q') -> patients.sex:")
    assert sex["row"] == 2 and sex["value"] == "Q" and sex["patient_id"] == "NL-002"
    date = e.loc["date_unparseable"]
    assert date["message"].startswith("patienten.csv line 4, column 'Datum diagnose' (value '30-02-2014') -> "
                                      "patients.primary_diagnosis_date: 30 February 2014 does not exist")
    size = e.loc["not_a_number"]
    assert "patienten.csv line 5, column 'Laesie1 grootte (cm)' (value 'groot') -> lesions.diameter_mm" \
        in size["message"]


def test_mapping_files_are_validated_with_lines(tmp_path):
    text = (DUTCH / "mapping.yaml").read_text(encoding="utf-8")
    bad = (text.replace("  labs:\n    file: lab.csv", "  lab:\n    file: lab.csv")
               .replace("      histology: Histologie", "      histologie: Histologie")
               .replace("'-T' + n", "__import__('os')")
               .replace("decimal: \",\"", "decimal: \",\"\nencoding: klingon"))
    lines = bad.splitlines()
    with pytest.raises(MappingError) as exc:
        loads_mapping(bad, path="m.yaml")
    got = {(loc, line) for loc, line, _ in exc.value.problems}
    # pydantic problems first (the expression, the encoding); names of tables and fields then
    assert ("encoding", lines.index("encoding: klingon") + 1) in got
    assert any(loc.startswith("tables.treatments.0.computed") for loc, _ in got)
    with pytest.raises(MappingError) as exc:
        loads_mapping(bad.replace("__import__('os')", "'-T' + n").replace("encoding: klingon\n", ""), path="m.yaml")
    lines = bad.replace("encoding: klingon\n", "").splitlines()
    got = {(loc, line) for loc, line, _ in exc.value.problems}
    assert ("tables.lab", lines.index("  lab:") + 1) in got
    assert ("tables.patients.0.columns.histologie", lines.index("      histologie: Histologie") + 1) in got
    assert "m.yaml:" in str(exc.value)


@pytest.mark.parametrize("text, words", [
    ("tables:\n  patients: &p\n    file: a.csv\n  labs: *p\n", "anchor"),
    ("tables:\n  patients:\n    file: a.csv\n    file: b.csv\n", "duplicate key 'file'"),
    ("tables:\n  patients:\n    file: /etc/passwd\n", "relative to the source folder"),
    ("tables:\n  patients:\n    file: ../other_site/a.csv\n", "without '..'"),
    ("tables:\n  patients:\n    file: a.csv\n    computed: {site: \"open('x').read()\"}\n", "computed"),
    ("units: {lesions.diameter_mm: inch}\ntables: {}\n", "cannot be converted"),
    ("tables:\n  lesions:\n    file: a.csv\n    columns: {organ: 'L{n} organ'}\n", "repeat"),
])
def test_a_mapping_is_data_only(text, words):
    with pytest.raises(MappingError) as exc:
        loads_mapping(text)
    assert words in str(exc.value)


def test_missing_columns_and_files_are_reported_not_raised(tmp_path):
    folder = tmp_path / "site"
    shutil.copytree(DUTCH, folder, ignore=shutil.ignore_patterns("clean"))
    (folder / "lab.csv").unlink()
    text = (DUTCH / "mapping.yaml").read_text(encoding="utf-8").replace("Bevestigd door", "Bevestiging")
    (folder / "mapping.yaml").write_text(text, encoding="utf-8")
    _, report = check_mapped(folder, folder / "mapping.yaml")
    rules = set(report.errors["rule"])
    assert {"mapping_source_missing", "mapping_column_missing"} <= rules
    msg = report.errors.set_index("rule").loc["mapping_column_missing", "message"]
    assert "'Bevestiging'" in msg and "Bevestigd door" in msg   # the file's real columns are listed


def test_import_records_the_mapping_hash_in_provenance(tmp_path):
    from oligomet.registry import Store

    mapping = load_mapping(DUTCH / "mapping.yaml")
    with Store(tmp_path / "r.sqlite") as store:
        result = import_mapped(store, DUTCH, mapping)
        assert result.status == "imported", result.report
        files = store.import_files()
        imports = store.imports()
    assert imports.loc[0, "format"] == "mapping" and imports.loc[0, "source"] == str(DUTCH.resolve())
    got = dict(zip(files["file"], files["sha256"]))
    assert got["mapping:mapping.yaml"] == mapping.hash
    assert {"patienten.csv", "recidieven.csv", "lab.csv"} <= set(got)


def test_rejected_mapped_import_writes_nothing(tmp_path):
    from oligomet.registry import Store

    with Store(tmp_path / "r.sqlite") as store:
        result = import_mapped(store, _bad_copy(tmp_path), DUTCH / "mapping.yaml")
        assert result.status == "rejected"
        assert "patienten.csv line 3" in " ".join(result.report.errors["message"])
        assert store.imports().empty and store.load()["patients"].empty


def test_suggest_places_at_least_80_percent_of_the_dutch_columns():
    """The figure on tests/data/dutch_site: 40 of 40 columns (100%) proposed right at the time of writing;
    the test requires >= 80%. (The shipped header synonyms were written by the same hand as this CSV:
    see docs/registry.md for what that figure does and does not say.)"""
    from oligomet.registry.mapping_suggest import suggest_mapping

    truth = {}
    mapping = load_mapping(DUTCH / "mapping.yaml")
    for table in mapping.tables:
        for src in mapping.sources(table):
            for fld, col in src.columns.items():
                for n in (src.repeat or [None]):
                    header = col.replace("{n}", str(n)) if n is not None else col
                    if fld == "patient_id" and table != _file_table(src.file):
                        continue    # the id column of a wide file is one column, counted for its own table
                    truth[(src.file, header)] = (table, fld)
    truth[("recidieven.csv", "Laesie")] = ("events", "lesion_id")             # computed in the mapping
    truth[("patienten.csv", "Behandeling1 laesie")] = ("treatments", "lesion_ids")
    truth[("patienten.csv", "Behandeling2 laesie")] = ("treatments", "lesion_ids")
    draft = suggest_mapping(DUTCH)
    proposed = draft.proposed()
    assert set(proposed) == set(truth)           # every column of every file was looked at
    right = sum(proposed[k] == v for k, v in truth.items())
    share = right / len(truth)
    assert share >= 0.8, f"map --suggest placed {right} of {len(truth)} columns ({share:.0%})"
    # the draft is a loadable mapping that already knows the file's conventions
    m = loads_mapping(draft.text)
    assert m.decimal == "," and m.order == "dmy" and {"NA", ".", "onbekend"} <= set(m.missing)
    assert m.units == {"lesions.diameter_mm": "cm"}
    assert m.values["treatments.modality"]["SBRT"] == "sabr"


def _file_table(name: str) -> str:
    return {"patienten.csv": "patients", "recidieven.csv": "events", "lab.csv": "labs"}[name]


def test_command_line_map_suggest_and_mapping_option(tmp_path):
    from typer.testing import CliRunner

    from oligomet.cli import app

    runner = CliRunner()
    draft = tmp_path / "draft.yaml"
    res = runner.invoke(app, ["registry", "map", "--suggest", str(DUTCH), "-o", str(draft)])
    assert res.exit_code == 0 and "40 of 40 columns placed" in res.output
    assert loads_mapping(draft.read_text(encoding="utf-8")).decimal == ","
    res = runner.invoke(app, ["registry", "validate", str(_bad_copy(tmp_path)), "--mapping",
                              str(DUTCH / "mapping.yaml"), "--plain"])
    assert res.exit_code == 1 and "patienten.csv line 3, column 'Geslacht'" in res.output
    db = tmp_path / "r.sqlite"
    res = runner.invoke(app, ["registry", "import", str(DUTCH), "--mapping", str(DUTCH / "mapping.yaml"),
                              "--db", str(db)])
    assert res.exit_code == 0 and "imported" in res.output, res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("tables:\n  patients:\n    file: a.csv\n    colums: {sex: Geslacht}\n", encoding="utf-8")
    res = runner.invoke(app, ["registry", "import", str(DUTCH), "--mapping", str(bad), "--db", str(db)])
    assert res.exit_code == 2 and "bad.yaml:4: tables.patients.0.colums: unknown key 'colums'" in res.output


GERMAN = Path(__file__).parents[1] / "data" / "german_site"


def _german_workbook(folder: Path) -> Path:
    """studie.xlsx from the hand-typed rows of german_rows.yaml (dates as date cells, sizes as numbers)."""
    import openpyxl
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(GERMAN / "mapping.yaml", folder / "mapping.yaml")
    sheets = yaml.safe_load((GERMAN / "german_rows.yaml").read_text(encoding="utf-8"))
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    book.save(folder / "studie.xlsx")
    return folder


def test_german_wide_workbook_imports_to_the_same_registry_as_the_clean_folder(tmp_path):
    folder = _german_workbook(tmp_path / "de")
    tables, report = check_mapped(folder, folder / "mapping.yaml")
    assert report.errors.empty, report.problems.to_string()
    clean, _ = read_registry(DUTCH / "clean")        # the same six patients
    assert_same_registry(tables, clean)


def test_workbook_problems_name_sheet_row_and_column(tmp_path):
    import openpyxl

    folder = _german_workbook(tmp_path / "de")
    book = openpyxl.load_workbook(folder / "studie.xlsx")
    book["Patienten"]["B3"] = "q"            # NL-002's Geschlecht
    book["Labor 2018-2019"]["C3"] = "viel"   # NL-004's CEA, second lab sheet of one table
    book.save(folder / "studie.xlsx")
    _, report = check_mapped(folder, folder / "mapping.yaml")
    msgs = sorted(report.errors["message"])
    assert msgs[0].startswith("studie.xlsx sheet 'Labor 2018-2019' row 3, column 'CEA (ng/ml)' (value 'viel') "
                              "-> labs.cea")
    assert msgs[1].startswith("studie.xlsx sheet 'Patienten' row 3, column 'Geschlecht' (value 'q') -> patients.sex")


def test_mapping_and_date_format_options_do_not_mix():
    from typer.testing import CliRunner

    from oligomet.cli import app

    res = CliRunner().invoke(app, ["registry", "validate", str(DUTCH), "--mapping", str(DUTCH / "mapping.yaml"),
                                   "--date-format", "DD-MM-YYYY"])
    assert res.exit_code == 2 and "drop --format and --date-format" in res.output
