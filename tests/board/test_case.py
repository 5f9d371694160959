"""The case: built from a hand-made registry as of a date, read from case files, unknown kept apart
from false, and clear errors for impossible values and unknown patients."""
import pandas as pd
import pytest

from oligomet.board.case import Case, CaseError, case_from_registry, load_case
from oligomet.board.rules import load_vocabulary


def registry():
    d = pd.Timestamp
    return {
        "patients": pd.DataFrame([{
            "patient_id": "P1", "site": "A", "sex": "male", "birth_year": 1960, "primary_site": "colorectal",
            "primary_diagnosis_date": d("2018-01-10"), "primary_resection_date": d("2018-02-01"),
            "node_positive": True, "ras": "mutant", "braf": "unknown", "msi": "mss", "ecog": 1,
            "last_contact_date": d("2022-01-01")}]),
        "lesions": pd.DataFrame([
            {"lesion_id": "L1", "patient_id": "P1", "organ": "liver", "detection_date": d("2019-02-01"),
             "diameter_mm": 42.0},
            {"lesion_id": "L2", "patient_id": "P1", "organ": "liver", "detection_date": d("2019-02-01"),
             "diameter_mm": 12.0},
            {"lesion_id": "L3", "patient_id": "P1", "organ": "lung", "detection_date": d("2020-06-01"),
             "diameter_mm": 9.0}]),
        "treatments": pd.DataFrame([
            {"treatment_id": "T1", "patient_id": "P1", "lesion_ids": "L1;L2", "modality": "resection",
             "start_date": d("2019-03-01"), "intent": "curative"}]),
        "events": pd.DataFrame([
            {"patient_id": "P1", "lesion_id": None, "date": d("2019-09-01"), "type": "new_metastasis",
             "organ": "liver"}]),
        "labs": pd.DataFrame([{"patient_id": "P1", "date": d("2019-01-20"), "cea": 250.0}]),
    }


def test_case_from_registry_as_of_before_the_lung_lesion():
    c = case_from_registry(registry(), "P1", "2020-01-01")
    f = c.facts()
    assert f["liver_n"] == 2 and f["liver_largest_mm"] == 42.0
    assert f["lung_mets"] is False and f["lung_n"] == 0          # registry lists every lesion: known free
    assert f["extrahepatic_disease"] is False
    # DFI: resection 2018-02-01 -> metastasis 2019-02-01 = 365 days
    assert f["dfi_months"] == pytest.approx(365 / 30.4375)
    assert f["cea"] == 250.0 and f["node_positive"] is True and f["ras"] == "mutant"
    assert f["braf"] is None                                       # 'unknown' in the registry is unknown
    assert f["liver_recurrence"] is True
    assert f["liver_recurrence_months"] == pytest.approx((pd.Timestamp("2019-09-01")
                                                         - pd.Timestamp("2019-03-01")).days / 30.4375)
    # what the registry does not hold stays unknown, never False
    for name in ("liver_resectable", "liver_curable", "lung_curable", "fev1_pct", "harder_organ", "comorbidity"):
        assert f[name] is None
    assert c.age == 60.0


def test_case_as_of_later_sees_the_lung_lesion_and_earlier_does_not_see_the_recurrence():
    f = case_from_registry(registry(), "P1", "2021-01-01").facts()
    assert f["lung_mets"] is True and f["extrahepatic_disease"] is True
    g = case_from_registry(registry(), "P1", "2019-05-01").facts()
    assert g["liver_recurrence"] is False and g["liver_recurrence_months"] is None


def test_facts_match_the_vocabulary():
    assert set(case_from_registry(registry(), "P1", "2021-01-01").facts()) == set(load_vocabulary())


def test_unknown_patient_and_date_before_diagnosis():
    with pytest.raises(CaseError, match="unknown patient id 'P9'"):
        case_from_registry(registry(), "P9", "2020-01-01")
    with pytest.raises(CaseError, match="before patient P1's primary diagnosis"):
        case_from_registry(registry(), "P1", "2017-01-01")


def test_board_judgements_on_top_of_the_registry():
    c = case_from_registry(registry(), "P1", "2021-01-01").updated(
        {"organs": {"liver": {"curable": True, "technically_resectable": True}, "lung": {"curable": False}}})
    f = c.facts()
    assert f["liver_curable"] is True and f["lung_curable"] is False and f["liver_n"] == 2
    assert c.sources["organs"] == "case file"


CASE_TOML = """patient_id = "X1"
as_of = 2024-05-01
primary_site = "colorectal"
primary_diagnosis_date = 2022-01-01

[organs.liver]
n_lesions = 2
largest_mm = 25
curable = true

[organs.lung]
n_lesions = 1
largest_mm = {diam}
"""


def test_case_file_toml(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text(CASE_TOML.format(diam=11))
    f = load_case(p).facts()
    assert f["liver_curable"] is True and f["lung_curable"] is None and f["largest_mm"] == 25
    assert f["extrahepatic_disease"] is True
    assert f["tbs"] == pytest.approx((2.5 ** 2 + 3 ** 2) ** 0.5)


def test_case_file_negative_diameter_names_field_and_line(tmp_path):
    p = tmp_path / "case.toml"
    p.write_text(CASE_TOML.format(diam=-4))
    with pytest.raises(CaseError) as exc:
        load_case(p)
    (where, msg), = exc.value.problems
    assert where == "line 13: organs.lung.largest_mm"
    assert "negative" in msg and str(p) in str(exc.value)


def test_case_file_yaml_date_before_diagnosis_and_unknown_field(tmp_path):
    p = tmp_path / "case.yaml"
    p.write_text("patient_id: Y\nas_of: 2024-01-01\nprimary_diagnosis_date: 2023-01-01\n"
                 "metastasis_date: 2022-06-01\nfev1: 80\n")
    with pytest.raises(CaseError) as exc:
        load_case(p)
    text = str(exc.value)
    assert "before the primary diagnosis" in text
    assert "unknown field 'fev1'" in text and "fev1_pct" in text
    assert len(exc.value.problems) == 2


def test_unknown_is_not_false_in_a_bare_case():
    f = Case(patient_id="Z", as_of="2024-01-01").facts()
    assert all(v is None for k, v in f.items() if k not in ("liver_recurrence", "lung_lr_after_sabr"))


def test_case_with_a_registry_context_equals_the_case_without():
    from oligomet.board.predict import RegistryContext
    from oligomet.datasets.synthetic import synthetic_registry

    reg = synthetic_registry(300, seed=5)
    ctx = RegistryContext(reg)
    for pid in reg["patients"]["patient_id"].iloc[:25]:
        for as_of in ("2012-01-01", "2024-06-30"):
            try:
                plain = case_from_registry(reg, pid, as_of)
            except CaseError:
                continue
            assert case_from_registry(reg, pid, as_of, context=ctx) == plain
