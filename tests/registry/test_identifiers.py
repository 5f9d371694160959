"""Issue 16, D8 and D24: identifiers never reach the store, and ids are short enough to be keys.

D8a: a ``pseudonym`` column in the source is accepted only with a key and as 64 hex digits.
D8b: BSNs, NHS numbers, e-mail addresses and phone numbers in id and free-text cells are refused,
     naming table, row, patient, field and kind, and the value is never echoed.
D24: an id over 100 characters is ``id_too_long``, not a PostgreSQL driver error at write time.
Issue 15: identifier column names in Dutch, German and French.
"""
from __future__ import annotations

import hashlib
import hmac
import random
import shutil
import string
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.registry import Store, check_registry, read_registry, validate, write_registry
from oligomet.registry.rules.ids import MAX_ID_LENGTH, identifier_kinds, is_bsn, is_nhs_number

KEY = "a-secret-key-of-the-data-controller"
KEYS = ["rule", "table", "row", "patient_id", "field"]
RAW_PSEUDONYM = "Jan Jansen, 1950-01-01, Dorpsstraat 1"
BSN = "111222333"          # 9*1+8*1+7*1+6*2+5*2+4*2+3*3+2*3 - 3 = 66 = 6*11
EMAIL = "j.jansen@example.nl"
PHONE = "06-12345678"
NHS = "943 476 5919"       # the NHS's own example number
INTL_PHONE = "+31 (0)20 123 4567"


def _copy(clean_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "reg"
    shutil.copytree(clean_dir, folder)
    return folder


def _edit(folder: Path, table: str, frame_edit) -> None:
    path = folder / f"{table}.csv"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame_edit(frame)
    frame.to_csv(path, index=False)


def _shown(report) -> str:
    """Everything a user can see of a report: the text listing and every column of every problem."""
    return report.to_text() + "\n" + report.problems.to_csv()


def _counts(store: Store) -> dict[str, int]:
    with store.engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()
                for t in ("patients", "lesions", "treatments", "labs")}


# ---------------------------------------------------------------- D8a: source pseudonyms
def _with_pseudonyms(clean_dir, tmp_path, values) -> Path:
    folder = _copy(clean_dir, tmp_path)
    _edit(folder, "patients", lambda p: p.insert(len(p.columns), "pseudonym", values))
    return folder


def test_raw_text_in_a_pseudonym_column_is_refused_and_never_kept(clean_dir, tmp_path, db_url):
    folder = _with_pseudonyms(clean_dir, tmp_path, [RAW_PSEUDONYM, "a" * 64, "", "b" * 64])
    for key in (None, KEY):
        tables, report = check_registry(folder, identifier_key=key)
        errors = sorted(report.errors[KEYS].itertuples(index=False, name=None), key=str)
        want = [("pseudonym_not_hmac", "patients", 1, "P001", "pseudonym")]
        if key is None:
            want.append(("pseudonym_without_key", "patients", None, None, "pseudonym"))
        assert errors == sorted(want, key=str)
        assert report.errors["value"].isna().all()
        assert "Jansen" not in _shown(report)
        # the raw text is not even kept in memory
        assert not tables["patients"]["pseudonym"].astype(str).str.contains("Jansen").any()
    store = Store(db_url)
    result = store.import_registry(folder, identifier_key=KEY)
    assert result.status == "rejected" and "pseudonym_not_hmac" in set(result.report.errors["rule"])
    assert _counts(store)["patients"] == 0
    store.close()


def test_hex_pseudonyms_are_accepted_only_with_a_key(clean_dir, tmp_path):
    given = [hashlib.sha256(f"patient {i}".encode()).hexdigest() for i in range(4)]
    folder = _with_pseudonyms(clean_dir, tmp_path, given)
    _, report = check_registry(folder)
    assert list(report.errors[KEYS].itertuples(index=False, name=None)) == [
        ("pseudonym_without_key", "patients", None, None, "pseudonym")]
    assert "identifier key" in report.errors.loc[0, "message"]
    store = Store(tmp_path / "s.sqlite")
    assert store.import_registry(folder).status == "rejected"
    assert _counts(store)["patients"] == 0
    result = store.import_registry(folder, identifier_key=KEY)
    assert result.status == "imported", result.report.to_text()
    assert store.load()["patients"]["pseudonym"].tolist() == given
    store.close()


def test_an_exported_registry_without_pseudonyms_reimports_without_a_key(clean_dir, tmp_path):
    tables, _ = read_registry(clean_dir)
    write_registry(tables, tmp_path / "export")          # writes an empty pseudonym column
    assert "pseudonym" in (tmp_path / "export" / "patients.csv").read_text().splitlines()[0]
    _, report = check_registry(tmp_path / "export")
    assert report.ok and len(report.problems) == 0, report.to_text()


def test_identifier_columns_with_a_key_replace_a_source_pseudonym(clean_dir, tmp_path):
    folder = _with_pseudonyms(clean_dir, tmp_path, ["c" * 64] * 4)
    _edit(folder, "patients", lambda p: p.insert(1, "name", ["A", "B", "C", "D"]))
    tables, report = check_registry(folder, identifier_key=KEY)
    assert report.ok, report.to_text()
    want = hmac.new(KEY.encode(), b"name=A", hashlib.sha256).hexdigest()
    assert tables["patients"].loc[1, "pseudonym"] == want


# ---------------------------------------------------------------- D8b: identifier values
def test_a_bsn_as_patient_id_is_refused_everywhere_and_never_echoed(clean_dir, tmp_path, db_url):
    folder = _copy(clean_dir, tmp_path)
    for p in folder.iterdir():
        p.write_text(p.read_text().replace("P001", BSN))
    _edit(folder, "labs", lambda f: f.__setitem__("cea", f["cea"].replace("12.4", "-12.4")))
    tables, report = check_registry(folder)
    found = report.errors[report.errors["rule"] == "identifier_value"]
    got = set(found[["table", "row", "field"]].itertuples(index=False, name=None))
    assert {("patients", 1, "patient_id"), ("lesions", 1, "patient_id"), ("lesions", 2, "lesion_id"),
            ("treatments", 2, "lesion_ids"), ("treatments", 2, "treatment_id"),
            ("complications", 1, "treatment_id"), ("labs", 2, "patient_id"),
            ("mdt_decisions", 1, "patient_id"), ("adverse_events", 1, "patient_id"),
            ("adverse_events", 2, "patient_id")} <= got
    # ... and nothing of the other patients (P002-P004) or other fields
    assert len(found) == 17
    assert found["message"].str.contains("Dutch citizen service number").all()
    assert found["value"].isna().all() and (found["patient_id"] == "<redacted>").all()
    # the other problem of that patient names it by row only
    cea = report.errors[report.errors["rule"] == "cea_negative"]
    assert list(cea[["table", "row", "patient_id"]].itertuples(index=False, name=None)) == [("labs", 1, "<redacted>")]
    assert BSN not in _shown(report)
    store = Store(db_url)
    result = store.import_registry(folder)
    assert result.status == "rejected"
    assert BSN not in _shown(result.report)
    assert _counts(store) == {"patients": 0, "lesions": 0, "treatments": 0, "labs": 0}
    store.close()


def test_email_phone_and_nhs_number_in_free_text_are_refused(clean_dir, tmp_path):
    folder = _copy(clean_dir, tmp_path)
    _edit(folder, "patients", lambda f: f.__setitem__("histology", f["histology"].where(
        f["patient_id"] != "P002", f"adenocarcinoma, GP {EMAIL}")))
    _edit(folder, "complications", lambda f: f.__setitem__("description", f["description"].replace(
        "pneumothorax requiring drain", f"pneumothorax, wife called {PHONE}")))
    _edit(folder, "lesions", lambda f: f.__setitem__("segment_or_lobe", f["segment_or_lobe"].replace(
        "RUL", f"RUL (NHS {NHS})")))
    _edit(folder, "treatments", lambda f: f.__setitem__("regimen", f["regimen"].replace(
        "CAPOX-bevacizumab", f"CAPOX, oncologist {INTL_PHONE}")))
    _, report = check_registry(folder)
    assert sorted(report.errors[KEYS].itertuples(index=False, name=None), key=str) == sorted([
        ("identifier_value", "patients", 2, "P002", "histology"),
        ("identifier_value", "lesions", 3, "P002", "segment_or_lobe"),
        ("identifier_value", "treatments", 8, "P004", "regimen"),
        ("identifier_value", "complications", 2, "P002", "description")], key=str)
    kind = dict(zip(report.errors["field"], report.errors["message"]))
    assert "e-mail address" in kind["histology"] and "UK NHS number" in kind["segment_or_lobe"]
    assert "phone number" in kind["description"] and "phone number" in kind["regimen"]
    shown = _shown(report)
    for secret in (EMAIL, PHONE, NHS, INTL_PHONE, "jansen", "12345678"):
        assert secret not in shown


POSITIVE = [
    ("123456782", "bsn"), ("1234.56.782", "bsn"), ("123 456 782", "bsn"), (f"id {BSN}", "bsn"),
    ("9434765919", "nhs"), ("943-476-5919", "nhs"),
    ("jan.jansen+onco@ziekenhuis.example.nl", "email"),
    ("06-12345678", "phone"), ("0612345678", "phone"), ("020 123 4567", "phone"), ("+31 6 12345678", "phone"),
    ("+44 20 7946 0958", "phone"), ("0044 20 7946 0958", "phone"), ("07700 900123", "phone"),
]
NEGATIVE = [
    "SYN-000123", "SYN-000123-L4", "P001-T2", "R1-L1", "2020-01-03", "03-04-2020", "03/04/2020", "20200103",
    "01-02-2020 03-04-2020", "CEA 12.4 ng/mL", "CA 19-9 1234.5", "45.8", "dose 0.5 1.0 2.0 3.0 4.0 5.0",
    "60 Gy in 8 fractions", "segment VII", "FOLFOX-bevacizumab", "pT3N1M1", "Hôpital Saint-Louis",
    "0000012345", "00000012345", "000000000", "111222334", "9434765918", "12.123456782", "123456782.5",
    "1700000000123", "ECOG 0-1", "wound infection, CD IIIa",
]


@pytest.mark.parametrize("text,kind", POSITIVE)
def test_identifier_patterns_are_recognised(text, kind):
    assert kind in identifier_kinds(text)


@pytest.mark.parametrize("text", NEGATIVE)
def test_dates_lab_values_and_study_ids_are_not_identifiers(text):
    assert identifier_kinds(text) == []


def test_check_digits_follow_their_definitions():
    rng = random.Random(16)
    for _ in range(2000):
        n = "".join(rng.choice(string.digits) for _ in range(9))
        d = [int(c) for c in n]
        elfproef = (9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7] - d[8]) % 11
        assert is_bsn(n) == (elfproef == 0 and not n.startswith("00")), n
        nhs = n + "0"
        total = sum((10 - i) * d[i] for i in range(9))
        check = (11 - total % 11) % 11
        assert is_nhs_number(nhs) == (check == 0 and not n.startswith("00")), nhs
    # about one number in 11 passes each test: they are checksums, not patterns
    share = sum(is_bsn(f"{rng.randrange(10**8, 10**9)}") for _ in range(11000)) / 11000
    assert 0.07 < share < 0.11


def test_the_synthetic_registry_validates_clean():
    from oligomet.datasets import synthetic
    tables = synthetic.synthetic_registry(1500, n_sites=7, seed=5)
    report = validate(tables, data_lock=str(synthetic.DATA_LOCK.date()))
    assert report.ok and len(report.problems) == 0, report.to_text(limit=10)


# ---------------------------------------------------------------- D24: id length
ID_COLUMNS = [("patients", "patient_id"), ("lesions", "lesion_id"), ("lesions", "patient_id"),
              ("treatments", "treatment_id"), ("treatments", "patient_id"), ("treatments", "lesion_ids"),
              ("complications", "treatment_id"), ("events", "patient_id"), ("events", "lesion_id"),
              ("labs", "patient_id"), ("mdt_decisions", "patient_id"), ("adverse_events", "patient_id")]


def test_every_id_column_is_listed():
    from oligomet.registry import TABLES
    listed = {(t, f.name) for t, table in TABLES.items() for f in table.fields
              if f.name.endswith("_id") or f.type == "list"}
    assert listed == set(ID_COLUMNS)


@pytest.mark.parametrize("table,field", ID_COLUMNS)
def test_every_id_column_has_a_length_limit(clean_dir, table, field):
    tables, _ = read_registry(clean_dir)
    frame = tables[table].copy()
    row = frame.index[frame[field].notna()][0]
    original = frame.loc[row, field]
    for length, refused in ((MAX_ID_LENGTH, False), (MAX_ID_LENGTH + 1, True), (4000, True)):
        value = "X" * length
        if field == "lesion_ids":
            value = original + ";" + value
        frame.loc[row, field] = value
        report = validate({**tables, table: frame})
        hit = report.errors[(report.errors["rule"] == "id_too_long")]
        if not refused:
            assert hit.empty
            continue
        assert list(hit[["table", "row", "field"]].itertuples(index=False, name=None)) == [(table, row, field)]
        assert f"this one has {length}" in hit.iloc[0]["message"]
        assert len(hit.iloc[0]["value"]) < 60 and f"({len(value)} characters)" in hit.iloc[0]["value"]


def test_a_4000_character_id_is_refused_before_postgresql(pg_url, clean_dir, tmp_path):
    rng = random.Random(24)
    long_id = "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(4000))
    store = Store(pg_url)
    with store.engine.begin() as conn:   # why the rule exists: PostgreSQL cannot index such a key
        conn.execute(sa.text("CREATE TEMP TABLE k (id text PRIMARY KEY)"))
        with pytest.raises(sa.exc.OperationalError, match="index row"), conn.begin_nested():
            conn.execute(sa.text("INSERT INTO k VALUES (:v)"), {"v": long_id})
        # ... while the limit, even in 4-byte characters, is far inside what it accepts
        conn.execute(sa.text("INSERT INTO k VALUES (:v)"), {"v": "\U0001F600" * MAX_ID_LENGTH})
    folder = _copy(clean_dir, tmp_path)
    for p in folder.iterdir():
        p.write_text(p.read_text().replace("P003", long_id))
    result = store.import_registry(folder)
    assert result.status == "rejected"
    rules = set(result.report.errors["rule"])
    assert rules == {"id_too_long"}, result.report.to_text(limit=5)
    assert _counts(store)["patients"] == 0
    store.close()


# ---------------------------------------------------------------- command line: all at once
def test_validate_command_lists_every_identifier_problem_at_once(clean_dir, tmp_path):
    folder = _copy(clean_dir, tmp_path)
    _edit(folder, "patients", lambda f: f.__setitem__("histology", f["histology"].where(
        f["patient_id"] != "P003", f"leiomyosarcoma {EMAIL}")))
    _edit(folder, "labs", lambda f: f.__setitem__("patient_id", f["patient_id"].replace("P004", "P" * 150)))
    _with = folder / "patients.csv"
    frame = pd.read_csv(_with, dtype=str, keep_default_na=False)
    frame["pseudonym"] = [RAW_PSEUDONYM, "", "", ""]
    frame.to_csv(_with, index=False)
    res = CliRunner().invoke(app, ["registry", "validate", str(folder), "--plain"])
    assert res.exit_code == 1
    for rule in ("identifier_value", "id_too_long", "pseudonym_without_key", "pseudonym_not_hmac"):
        assert f"[{rule}]" in res.output, rule
    assert "ERROR   patients row 3 patient P003 histology: histology holds what looks like an e-mail address" \
        in res.output
    assert EMAIL not in res.output and "Jansen" not in res.output


# ---------------------------------------------------------------- issue 15: column names in other languages
@pytest.mark.parametrize("header,normalised", [
    ("Geboortedatum", "geboortedatum"), ("naam", "naam"), ("Achternaam", "achternaam"), ("adres", "adres"),
    ("BSN", "bsn"), ("Postcode", "postcode"), ("Geburtsdatum", "geburtsdatum"), ("Straße", "straße"),
    ("PLZ", "plz"), ("Date de naissance", "date_de_naissance"), ("Prénom", "prénom"), ("Téléphone", "téléphone"),
    ("Numéro de sécurité sociale", "numéro_de_sécurité_sociale"), ("courriel", "courriel"),
])
def test_identifier_columns_in_dutch_german_and_french(clean_dir, tmp_path, header, normalised):
    folder = _copy(clean_dir, tmp_path)
    _edit(folder, "patients", lambda f: f.insert(len(f.columns), header, [f"Zeer Geheim {c}" for c in "ABCD"]))
    tables, report = check_registry(folder)
    assert list(report.errors[KEYS].itertuples(index=False, name=None)) == [
        ("direct_identifier", "patients", None, None, normalised)]
    assert "Zeer Geheim" not in _shown(report)
    tables, report = check_registry(folder, identifier_key=KEY)
    assert report.ok and tables["patients"]["pseudonym"].str.fullmatch("[0-9a-f]{64}").all()


def test_a_dutch_header_gives_the_same_pseudonym_as_the_english_one(clean_dir, tmp_path):
    pseudonyms = []
    for i, header in enumerate(("name", "naam", "Nom")):
        folder = _copy(clean_dir, tmp_path / str(i))
        _edit(folder, "patients", lambda f, h=header: f.insert(1, h, ["A. Jansen", "B", "C", "D"]))
        tables, report = check_registry(folder, identifier_key=KEY)
        assert report.ok
        pseudonyms.append(tables["patients"].loc[1, "pseudonym"])
    assert pseudonyms[0] == pseudonyms[1] == pseudonyms[2] == hmac.new(
        KEY.encode(), b"name=A. Jansen", hashlib.sha256).hexdigest()


def test_ordinary_columns_are_not_taken_for_identifiers(clean_dir, tmp_path):
    folder = _copy(clean_dir, tmp_path)
    _edit(folder, "patients", lambda f: f.insert(len(f.columns), "nomenclature", ["x"] * 4))
    _, report = check_registry(folder)
    assert report.ok and list(report.warnings["rule"]) == ["unknown_column"]


def test_the_vectorised_prefilter_keeps_every_identifier():
    import numpy as np

    from oligomet.registry.rules.ids import _candidates
    padded = [f"{'x' * n} {text} {'y' * n}" for text, _ in POSITIVE for n in (0, 7, 20, 60, 130, 300)]
    texts = np.array(padded + NEGATIVE, dtype=object)
    keep = _candidates(texts)
    assert keep[:len(padded)].all()
    # ... and it is what makes validation fast: study ids never reach the exact checks
    assert not _candidates(np.array(["SYN-000123", "SYN-000123-L4", "P1-L1;P1-L2;P1-L3"], dtype=object)).any()


def test_an_in_memory_import_masks_the_bsn_in_its_parse_problems_too(clean_dir, tmp_path):
    tables = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in clean_dir.glob("*.csv")}
    for frame in tables.values():
        frame.replace({"P001": BSN, "P001-L1": f"{BSN}-L1"}, inplace=True)
    tables["labs"].loc[0, "date"] = "yesterday"            # a parse problem of that patient
    store = Store(tmp_path / "s.sqlite")
    result = store.import_registry(tables)
    assert result.status == "rejected"
    unparseable = result.report.errors[result.report.errors["rule"] == "date_unparseable"]
    assert list(unparseable[["table", "row", "patient_id"]].itertuples(index=False, name=None)) == [
        ("labs", 1, "<redacted>")]
    assert BSN not in _shown(result.report)
    assert _counts(store)["patients"] == 0
    store.close()
