"""The board facts the registry records on its MDT decisions (migration 0004_board_facts), read into the
case as of a date: the latest meeting on or before the date, judgements dropped once the disease changed
after that meeting, measurements carried from the meeting that recorded them; 'unknown' and blanks stay
unknown, never false. Worked by hand on a small registry, in memory and through the store (SQLite and
PostgreSQL)."""
import pandas as pd
import pytest

from oligomet.board.case import case_from_registry
from oligomet.registry import Store, validate

D = pd.Timestamp


def registry():
    """P1: colorectal, two liver lesions found 2019-02-01, resection 2019-03-01, a new liver metastasis
    2019-09-01. Three meetings: 2018-06-01 (before any metastasis; FEV1 80), 2019-02-15 (the
    metastases' work-up), 2019-10-01 (after the new metastasis; Charlson 3 only)."""
    mdt = pd.DataFrame([
        {"patient_id": "P1", "date": D("2018-06-01"), "recommendation": "observation", "fev1_pct": 80.0,
         "asa_class": 2, "liver_curable": "no"},
        {"patient_id": "P1", "date": D("2019-02-15"), "recommendation": "resection", "liver_resectable": "yes",
         "liver_ablatable": "unknown", "liver_curable": "yes", "liver_bilobar": "yes",
         "extrahepatic_disease": "no", "charlson_index": 2, "lung_curable": None},
        {"patient_id": "P1", "date": D("2019-10-01"), "recommendation": "systemic", "charlson_index": 3,
         "liver_resectable": "no"},
    ])
    return {
        "patients": pd.DataFrame([{
            "patient_id": "P1", "site": "A", "sex": "male", "birth_year": 1960, "primary_site": "colorectal",
            "primary_sidedness": "left", "primary_diagnosis_date": D("2018-01-10"),
            "primary_resection_date": D("2018-02-01"), "node_positive": True, "ras": "wild_type",
            "braf": "wild_type", "msi": "mss", "ecog": 1, "last_contact_date": D("2022-01-01")}]),
        "lesions": pd.DataFrame([
            {"lesion_id": "L1", "patient_id": "P1", "organ": "liver", "detection_date": D("2019-02-01"),
             "diameter_mm": 42.0, "segment_or_lobe": "segment VI"},
            {"lesion_id": "L2", "patient_id": "P1", "organ": "liver", "detection_date": D("2019-02-01"),
             "diameter_mm": 12.0, "segment_or_lobe": "segment III"}]),
        "treatments": pd.DataFrame([
            {"treatment_id": "T1", "patient_id": "P1", "lesion_ids": "L1;L2", "modality": "resection",
             "start_date": D("2019-03-01"), "intent": "curative", "approach": "open", "margin": "R0"}]),
        "events": pd.DataFrame([
            {"patient_id": "P1", "lesion_id": None, "date": D("2019-09-01"), "type": "new_metastasis",
             "organ": "liver"}]),
        "labs": pd.DataFrame([{"patient_id": "P1", "date": D("2019-01-20"), "cea": 12.0}]),
        "mdt_decisions": mdt,
    }


def check_worked_case(tables):
    # 2019-03-01: the 2019-02-15 meeting holds (nothing new since); 'unknown' stays unknown
    c = case_from_registry(tables, "P1", "2019-03-01")
    f = c.facts()
    assert f["liver_resectable"] is True and f["liver_curable"] is True and f["liver_bilobar"] is True
    assert f["liver_ablatable"] is None                    # recorded 'unknown'
    assert f["extrahepatic_disease"] is False               # stated by the board
    assert f["lung_curable"] is None and f["lung_resectable"] is None   # blank: unknown, not False
    assert f["comorbidity"] == 2.0                          # Charlson of the latest meeting recording it
    assert f["fev1_pct"] == 80.0 and f["asa_class"] == 2    # carried from 2018-06-01, the only record
    assert c.sources["assessment"] == "registry, MDT of 2019-02-15"
    assert c.sources["fev1_pct"] == "registry, MDT of 2018-06-01"

    # 2019-02-10: the latest meeting (2018-06-01) came before the metastases were found: its judgement
    # ('liver not curable', before any liver lesion) is not used
    f = case_from_registry(tables, "P1", "2019-02-10").facts()
    assert f["liver_curable"] is None and f["liver_resectable"] is None
    assert f["fev1_pct"] == 80.0 and f["comorbidity"] is None

    # 2019-09-15: the new metastasis of 2019-09-01 came after the 2019-02-15 meeting: judgements unknown
    c = case_from_registry(tables, "P1", "2019-09-15")
    f = c.facts()
    assert f["liver_resectable"] is None and f["liver_curable"] is None and f["liver_bilobar"] is None
    assert "disease changed after it (on 2019-09-01)" in c.sources["assessment"]
    assert f["comorbidity"] == 2.0

    # 2019-10-02: the 2019-10-01 meeting is the board's current view; what it left blank is unknown
    f = case_from_registry(tables, "P1", "2019-10-02").facts()
    assert f["liver_resectable"] is False and f["liver_curable"] is None and f["comorbidity"] == 3.0
    assert f["primary_sidedness"] == "left"


def test_board_facts_from_an_in_memory_registry():
    check_worked_case(registry())


def test_board_facts_validate_their_ranges_and_codes():
    tables = registry()
    mdt = tables["mdt_decisions"].copy()
    mdt.loc[0, "fev1_pct"] = 151.0
    mdt.loc[1, "asa_class"] = 0
    mdt.loc[2, "charlson_index"] = 40
    mdt["lung_curable"] = mdt["lung_curable"].astype(object)
    mdt.loc[2, "lung_curable"] = "maybe"
    report = validate({**tables, "mdt_decisions": mdt})
    got = {(r.rule, r.field, r.row) for r in report.errors.itertuples()}    # rows counted from 1
    assert got == {("mdt_measure_out_of_range", "fev1_pct", 1), ("mdt_measure_out_of_range", "asa_class", 2),
                   ("mdt_measure_out_of_range", "charlson_index", 3), ("unknown_code", "lung_curable", 3)}
    assert validate(tables).ok


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_board_facts_through_the_store(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'reg.sqlite'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    with Store(url) as store:
        result = store.import_registry(registry(), data_lock="2022-06-01")
        assert result.ok, str(result)
        loaded = store.load()
    assert list(loaded["mdt_decisions"]["liver_ablatable"]) == [None, "unknown", None]
    check_worked_case(loaded)
