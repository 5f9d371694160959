"""Reading the interchange formats into the in-memory contract."""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

from oligomet.registry import TABLE_ORDER, TABLES, check_registry, read_registry, write_registry

DTYPES = {"date": "datetime64[ns]", "int": "Int64", "float": "float64", "bool": "boolean"}


def _assert_contract(tables):
    assert list(tables) == list(TABLE_ORDER)
    for name, frame in tables.items():
        assert list(frame.columns) == TABLES[name].field_names
        for f in TABLES[name].fields:
            assert str(frame[f.name].dtype) == DTYPES.get(f.type, "object"), (name, f.name)


def test_clean_folder_reads_into_the_contract(clean_dir):
    tables, report = read_registry(clean_dir)
    assert report.ok and len(report.problems) == 0
    _assert_contract(tables)
    p = tables["patients"]
    assert p.index.name == "row" and list(p.index) == [1, 2, 3, 4]
    assert p.loc[2, "death_date"] == pd.Timestamp("2021-09-14")
    assert p.loc[1, "node_positive"] is True or p.loc[1, "node_positive"] == True  # noqa: E712
    assert pd.isna(p.loc[3, "node_positive"])
    assert tables["treatments"].loc[2, "lesion_ids"] == "P001-L1;P001-L2"
    assert tables["treatments"].loc[3, "fractions"] == 8
    assert p["pseudonym"].isna().all()


def test_blank_lines_keep_file_row_numbers_and_semicolon_csv(clean_dir, tmp_path):
    shutil.copytree(clean_dir, tmp_path / "reg")
    lab = tmp_path / "reg" / "labs.csv"
    lines = lab.read_text().splitlines()
    # European spreadsheet export: ';' separator, a blank line after data row 1, bad CEA on data row 4
    lines = [ln.replace(",", ";") for ln in lines]
    lines.insert(2, "")
    lines[-1] = "P004;2019-01-16;abc"
    lab.write_text("\n".join(lines) + "\n")
    _, report = check_registry(tmp_path / "reg")
    err = report.errors
    assert list(err["rule"]) == ["not_a_number"]
    assert err.loc[0, "table"] == "labs" and err.loc[0, "row"] == 5 and err.loc[0, "patient_id"] == "P004"


def test_latin1_file_is_read_with_a_warning(clean_dir, tmp_path):
    shutil.copytree(clean_dir, tmp_path / "reg")
    p = tmp_path / "reg" / "patients.csv"
    p.write_bytes(p.read_bytes().replace(b"adenocarcinoma,2017", "adénocarcinome,2017".encode("latin-1")))
    tables, report = read_registry(tmp_path / "reg")
    assert report.ok and list(report.warnings["rule"]) == ["file_encoding"]
    assert tables["patients"].loc[2, "histology"] == "adénocarcinome"


def test_missing_patients_table_and_unknown_files_and_columns(clean_dir, tmp_path):
    shutil.copytree(clean_dir, tmp_path / "reg")
    (tmp_path / "reg" / "patients.csv").unlink()
    (tmp_path / "reg" / "notes.csv").write_text("a,b\n1,2\n")
    les = tmp_path / "reg" / "lesions.csv"
    les.write_text(les.read_text().replace("segment_or_lobe", "Segment_Or_Lobe,colour", 1)
                   .replace(",S7", ",S7,blue", 1))
    _, report = check_registry(tmp_path / "reg")
    probs = report.problems
    assert ("missing_table", "patients") in set(zip(probs["rule"], probs["table"]))
    assert ("unknown_table", "notes") in set(zip(probs["rule"], probs["table"]))
    unknown = probs[probs["rule"] == "unknown_column"]
    assert list(unknown["field"]) == ["colour"] and (unknown["severity"] == "warning").all()
    # every lesion now points at an unknown patient: reported, not raised
    assert (probs[probs["table"] == "lesions"]["rule"] == "unknown_reference").sum() == 6


def test_malformed_csv_is_a_problem_not_an_exception(clean_dir, tmp_path):
    shutil.copytree(clean_dir, tmp_path / "reg")
    (tmp_path / "reg" / "events.csv").write_text('patient_id,date,type\nP001,"2019-01-01,local\nP002,x,y,z,w\n')
    tables, report = read_registry(tmp_path / "reg")
    assert not report.ok
    # the quote opened on line 2 never closes: line 3 is swallowed; the record of lines 2-3 is not read
    assert list(report.errors[["rule", "table", "row"]].itertuples(index=False, name=None)) == [
        ("unbalanced_quote", "events", 1)]
    assert len(tables["events"]) == 0 and list(tables["events"].columns) == TABLES["events"].field_names


def test_missing_path_and_bad_options_raise(tmp_path, clean_dir):
    with pytest.raises(FileNotFoundError):
        read_registry(tmp_path / "nope")
    with pytest.raises(ValueError, match="format 'json' is not supported"):
        read_registry(clean_dir, format="json")


def test_excel_roundtrip_and_real_date_cells(clean_dir, tmp_path):
    tables, _ = read_registry(clean_dir)
    xlsx = write_registry(tables, tmp_path / "reg.xlsx", format="excel")
    back, report = read_registry(xlsx)
    assert report.ok
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(back[name], tables[name], check_index_type=False)
    # Excel date cells (not text) are accepted; row numbers are data rows (sheet row - 1)
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["labs"]
    ws["B2"] = dt.datetime(2017, 5, 13)
    ws["B2"].number_format = "dd/mm/yyyy"
    ws["C3"] = "n/a"
    wb.save(xlsx)
    back, report = read_registry(xlsx)
    assert back["labs"].loc[1, "date"] == pd.Timestamp("2017-05-13")
    assert list(report.errors[["rule", "table", "row"]].itertuples(index=False, name=None)) == [
        ("not_a_number", "labs", 2)]


def test_redcap_export_maps_instruments_ids_and_checkboxes(redcap_clean):
    tables, report = read_registry(redcap_clean)
    assert report.ok and len(report.problems) == 0
    _assert_contract(tables)
    p = tables["patients"]
    assert list(p["patient_id"]) == ["R1", "R2"] and list(p.index) == [1, 7]
    assert list(p["site"]) == ["amsterdam", "leuven"]  # from redcap_data_access_group
    les = tables["lesions"]
    assert list(les["lesion_id"]) == ["R1-L1", "R1-L2", "R2-L1"] and list(les.index) == [2, 3, 8]
    tr = tables["treatments"]
    assert list(tr["treatment_id"]) == ["R1-T1", "R2-T1"]
    assert list(tr["modality"]) == ["resection", "sabr"]           # modality___<code> checkboxes
    assert list(tr["lesion_ids"]) == ["R1-L1;R1-L2", "R2-L1"]       # lesion_ids___<instance> checkboxes
    assert tables["complications"].iloc[0]["treatment_id"] == "R1-T1"  # complication_treatment = 1
    ev = tables["events"].iloc[0]
    assert (ev["lesion_id"], ev["type"], ev["organ"]) == ("R2-L1", "local_recurrence", "lung")
    assert tables["labs"].iloc[0]["cea"] == 12.4
    assert tables["mdt_decisions"].iloc[0]["recommendation"] == "sabr"
    # the adverse-events instrument (prefixed variables ae_*) and the resection detail of the treatments
    ae = tables["adverse_events"]
    assert list(ae.index) == [12] and ae.iloc[0].to_dict() == {
        "patient_id": "R2", "date": pd.Timestamp("2018-06-01"), "term": "Neutrophil count decreased", "grade": 3,
        "drug_related": True}
    assert list(tr["assessed_extent"]) == ["segmentectomy", "lobectomy"]
    assert list(tr["resection_extent"]) == ["hemihepatectomy", None]
    assert (ev["ct_progression"], ev["fdg_pet_uptake"]) == (True, True) and pd.isna(ev["tumor_board_before_salvage"])


def test_redcap_single_choice_with_two_boxes(redcap_clean, tmp_path):
    red = pd.read_csv(redcap_clean, dtype=str, keep_default_na=False)
    red.loc[3, "modality___sabr"] = "1"   # data row 4: resection and sabr ticked
    red.to_csv(tmp_path / "x.csv", index=False)
    _, report = check_registry(tmp_path / "x.csv")
    bad = report.errors[report.errors["rule"] == "redcap_checkbox_multiple"]
    assert list(bad[["table", "row", "patient_id", "field"]].itertuples(index=False, name=None)) == [
        ("treatments", 4, "R1", "modality")]


def test_identifiers_refused_without_key_and_hashed_with_key(tmp_path):
    check = check_registry
    src = Path(__file__).parent / "bad" / "identifiers"
    tables, report = check(src)
    assert set(report.errors["rule"]) == {"direct_identifier"}
    # never echo identifier values in a report
    assert not report.problems["value"].astype(str).str.contains("Jansen|100234").any()
    assert "name" not in tables["patients"] and "mrn" not in tables["patients"]
    key = "a-secret-key-of-the-data-controller"
    tables, report = check(src, identifier_key=key)
    assert report.ok
    # HMAC-SHA256 over "mrn=<v>\x1fname=<v>" (columns sorted), computed here independently
    want = hmac.new(key.encode(), "mrn=100234\x1fname=A. Jansen".encode(), hashlib.sha256).hexdigest()
    assert tables["patients"].loc[1, "pseudonym"] == want
    with pytest.raises(ValueError, match="at least 16 characters"):
        check(src, identifier_key="short")


def test_repeated_header_is_reported_and_the_first_column_read(clean_dir, tmp_path):
    shutil.copytree(clean_dir, tmp_path / "reg")
    labs = tmp_path / "reg" / "labs.csv"
    lines = labs.read_text().splitlines()
    labs.write_text("\n".join([lines[0] + ",CEA"] + [ln + ",99" for ln in lines[1:]]) + "\n")
    tables, report = read_registry(tmp_path / "reg")
    assert list(report.errors[["rule", "table", "row", "field"]].itertuples(index=False, name=None)) == [
        ("duplicate_column", "labs", None, "cea")]
    assert list(tables["labs"]["cea"]) == [12.4, 2.1, 3.0, 45.8]


def test_a_corrupt_workbook_is_a_problem_not_an_exception(tmp_path):
    bad = tmp_path / "registry.xlsx"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip archive")
    tables, report = read_registry(bad)
    assert list(report.errors["rule"]) == ["file_unreadable"]
    assert all(len(f) == 0 for f in tables.values())


def test_a_missing_required_column_is_one_problem_not_one_per_row(clean_dir, tmp_path):
    shutil.copytree(clean_dir, tmp_path / "reg")
    les = pd.read_csv(tmp_path / "reg" / "lesions.csv", dtype=str).drop(columns=["organ"])
    les.to_csv(tmp_path / "reg" / "lesions.csv", index=False)
    _, report = check_registry(tmp_path / "reg")
    assert list(report.errors[["rule", "table", "row", "field"]].itertuples(index=False, name=None)) == [
        ("missing_column", "lesions", None, "organ")]


def test_headers_are_normalised_and_identifier_spellings_caught(clean_dir, tmp_path):
    shutil.copytree(clean_dir, tmp_path / "reg")
    p = tmp_path / "reg" / "patients.csv"
    lines = p.read_text().splitlines()
    lines[0] = lines[0].replace("patient_id", "Patient ID").replace("birth_year", "Birth-Year") + ",Date of Birth"
    lines[1:] = [ln + ",1956-02-03" for ln in lines[1:]]
    p.write_text("\n".join(lines) + "\n")
    tables, report = read_registry(tmp_path / "reg")
    assert list(report.errors[["rule", "field"]].itertuples(index=False, name=None)) == [
        ("direct_identifier", "date_of_birth")]
    assert list(tables["patients"]["patient_id"]) == ["P001", "P002", "P003", "P004"]
    assert tables["patients"].loc[1, "birth_year"] == 1956
