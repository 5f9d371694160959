"""HL7 FHIR R4 / mCODE in (issue 15 part 5): hand-written mCODE bundles of four patients read to the same
registry as a clean CSV folder of the same patients, table by table; problems named by bundle entry."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_mapping import assert_same_registry
from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.registry import check_registry, read_registry

MCODE = Path(__file__).parents[1] / "data" / "mcode"
BUNDLES = MCODE / "bundles"


@pytest.fixture(scope="module")
def clean():
    tables, report = read_registry(MCODE / "clean")
    assert report.problems.empty, report.problems.to_string()
    return tables


def _copy(tmp_path: Path) -> Path:
    folder = tmp_path / "bundles"
    shutil.copytree(BUNDLES, folder)
    return folder


def _edit(path: Path, entry: int, change) -> None:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    change(bundle["entry"][entry]["resource"])
    path.write_text(json.dumps(bundle, indent=1), encoding="utf-8")


def test_folder_of_bundles_reads_to_the_clean_registry(clean):
    tables, report = check_registry(BUNDLES)
    assert report.errors.empty, report.errors.to_string()
    assert_same_registry(tables, clean)
    # the one thing not read is said, not dropped silently
    assert list(report.warnings["rule"]) == ["fhir_not_read"]
    assert "MedicationRequest" in report.warnings["message"].iloc[0]


def test_one_bundle_file_is_a_source_too(clean):
    tables, report = check_registry(BUNDLES / "MC-002.json")
    assert report.problems.empty, report.problems.to_string()
    one = {name: t[t["patient_id"] == "MC-002"] if "patient_id" in t else t.iloc[:0] for name, t in clean.items()}
    assert_same_registry(tables, one)
    # the SABR course: cGy -> Gy, fractions from fractionsDelivered, the lesion from reasonReference
    sabr = tables["treatments"].iloc[0]
    assert (sabr["modality"], sabr["dose_gy"], sabr["fractions"], sabr["lesion_ids"]) == ("sabr", 54.0, 3, "MC-002-L1")


def test_direct_identifiers_are_refused_with_their_entry_and_never_shown(tmp_path):
    folder = _copy(tmp_path)

    def identify(patient):
        patient["name"] = [{"family": "Jansen", "given": ["Piet"]}]
        patient["identifier"] = [{"system": "urn:oid:2.16.840.1.113883.2.4.6.3", "value": "123456782"}]
    _edit(folder / "MC-001.json", 1, identify)
    _, report = check_registry(folder)
    ident = report.errors[report.errors["rule"] == "direct_identifier"]
    assert sorted(ident["field"]) == ["identifier", "name"]
    assert ident["message"].str.startswith(
        "MC-001.json entry[1] (http://example.org/fhir/Patient/MC-001) Patient.").all()
    text = report.problems.to_string()
    assert "Jansen" not in text and "123456782" not in text

    key = "a secret of the data controller"
    tables, keyed = check_registry(folder, identifier_key=key)
    assert keyed.errors.empty, keyed.errors.to_string()
    pseudonym = tables["patients"].set_index("patient_id")["pseudonym"]
    assert len(pseudonym["MC-001"]) == 64 and pseudonym.drop("MC-001").isna().all()
    assert not any("Jansen" in str(v) for t in tables.values() for v in t.astype(str).to_numpy().ravel())


def test_invalid_fhir_and_unknown_codes_are_all_reported_with_entry_and_element(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder / "MC-001.json", 1, lambda p: p.update(birthDate="1956-13-14"))                 # no 13th month
    _edit(folder / "MC-003-004.json", 3, lambda c: c.update(bodySite=[], code={"text": "mets"}))  # organ unknown
    _edit(folder / "MC-002.json", 8, lambda o: o["valueQuantity"].update(code="mmol/L", unit="mmol/L"))
    _, report = check_registry(folder)
    e = report.errors.set_index("rule")
    assert e.loc["fhir_invalid", "message"].startswith("MC-001.json entry[1] (http://example.org/fhir/Patient/MC-001) "
                                                       "Patient.birthDate:")
    assert "1956-13-14" in e.loc["fhir_invalid", "message"]
    assert e.loc["fhir_code", "message"].startswith(
        "MC-003-004.json entry[3] (http://example.org/fhir/Condition/MC-003-L1) Condition.bodySite")
    assert "required_missing" not in e.index     # the unknown organ is one problem, not also an empty field
    assert "'mmol/L'" in e.loc["fhir_unit", "message"] and "entry[8]" in e.loc["fhir_unit", "message"]
    # MC-001's Patient was not read: its error says so once, not again for each resource pointing at it
    assert "fhir_reference" not in e.index


def test_registry_rules_are_told_in_the_bundle_terms(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder / "MC-003-004.json", 9, lambda p: p.update(deceasedDateTime="2016-05-01"))  # before the diagnosis
    _, report = check_registry(folder)
    death = report.errors[report.errors["rule"] == "death_before_diagnosis"]
    assert len(death) == 1
    msg = death["message"].iloc[0]
    assert msg.startswith("MC-003-004.json entry[9] (http://example.org/fhir/Patient/MC-004) Patient.deceasedDateTime"
                          " -> patients.death_date: "), msg
    assert death["row"].iloc[0] == 9


def test_unresolved_subject_is_an_error_naming_the_reference(tmp_path):
    folder = _copy(tmp_path)
    _edit(folder / "MC-001.json", 15, lambda o: o.update(subject={"reference": "Patient/MC-999"}))
    _, report = check_registry(folder)
    ref = report.errors[report.errors["rule"] == "fhir_reference"]
    assert len(ref) == 1 and "'Patient/MC-999'" in ref["message"].iloc[0]
    assert ref["message"].iloc[0].startswith("MC-001.json entry[15] ")


def test_cli_validate_and_import_a_folder_of_bundles(tmp_path, clean):
    from oligomet.registry import Store

    runner = CliRunner()
    res = runner.invoke(app, ["registry", "validate", str(BUNDLES), "--plain"])
    assert res.exit_code == 0, res.output
    db = tmp_path / "r.sqlite"
    res = runner.invoke(app, ["registry", "import", str(BUNDLES), "--db", str(db)])
    assert res.exit_code == 0, res.output
    with Store(db) as store:
        imports = store.imports()
        files = set(store.import_files()["file"])
        assert_same_registry(store.load(), clean)
    assert imports.loc[0, "format"] == "fhir"
    assert files == {"MC-001.json", "MC-002.json", "MC-003-004.json"}
