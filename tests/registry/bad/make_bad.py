"""Write one bad registry per rejected class, from the clean example, with the problems expected.

Run from the repository root: ``python tests/registry/bad/make_bad.py``. Each folder
``tests/registry/bad/<class>/`` gets the registry files and ``expected.json``: the options to
validate with and the exact list of errors (rule, table, row, patient_id, field) a reader of the
edits below would predict. The expectations are written by hand here, next to the edit that
causes them; the test compares them with the validator's output both ways (nothing missing,
nothing extra).

Rows are 1-based data rows (the header is not counted): a row appended to the clean
``patients.csv`` (4 patients) is row 5.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd

HERE = Path(__file__).parent
CLEAN = HERE.parent / "data" / "clean"
REDCAP_CLEAN = HERE.parent / "data" / "redcap_clean.csv"


def load() -> dict[str, pd.DataFrame]:
    return {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in sorted(CLEAN.glob("*.csv"))}


def add(tables, name, **row):
    tables[name] = pd.concat([tables[name], pd.DataFrame([row])], ignore_index=True).fillna("")


def setcell(tables, name, row, field, value):
    tables[name].loc[row - 1, field] = value  # row is the 1-based data row


def write(name, tables, problems, data_lock=None, format=None, date_format=None):
    out = HERE / name
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir()
    if isinstance(tables, dict):
        for t, frame in tables.items():
            frame.to_csv(out / f"{t}.csv", index=False)
    keys = ("rule", "table", "row", "patient_id", "field")
    expected = {"data_lock": data_lock, "format": format, "date_format": date_format,
                "errors": [dict(zip(keys, p)) for p in problems]}
    (out / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    return out


def main() -> None:
    # 1. death before the primary diagnosis / before a metastasis is detected
    t = load()
    add(t, "patients", patient_id="P005", site="Leuven", sex="male", birth_year="1950", primary_site="colorectal",
        primary_diagnosis_date="2019-05-01", death_date="2019-04-01", last_contact_date="2019-04-01")
    add(t, "patients", patient_id="P006", site="Leuven", sex="female", birth_year="1952", primary_site="sarcoma",
        primary_diagnosis_date="2019-01-01", death_date="2019-05-20", last_contact_date="2019-05-20")
    add(t, "lesions", lesion_id="P006-L1", patient_id="P006", organ="lung", detection_date="2019-06-01",
        diameter_mm="12")
    write("1_death_dates", t, [
        ("death_before_diagnosis", "patients", 5, "P005", "death_date"),
        ("contact_before_diagnosis", "patients", 5, "P005", "last_contact_date"),
        ("death_before_detection", "patients", 6, "P006", "death_date"),
    ])

    # 2. records after death (P002 died 2021-09-14) and after the data lock
    t = load()
    add(t, "labs", patient_id="P002", date="2021-10-01", cea="5.0")                       # labs row 5
    add(t, "events", patient_id="P002", date="2021-12-01", type="distant_progression")   # events row 6
    setcell(t, "treatments", 4, "end_date", "2021-10-10")     # P002-T2 ends after death
    write("2_after_death_or_lock", t, [
        ("after_death", "labs", 5, "P002", "date"),
        ("after_death", "events", 6, "P002", "date"),
        ("after_death", "treatments", 4, "P002", "end_date"),
        # data lock 2022-06-30: only P001's last contact (2023-06-30) and P003's (2022-12-01) lie after it
        ("after_data_lock", "patients", 1, "P001", "last_contact_date"),
        ("after_data_lock", "patients", 3, "P003", "last_contact_date"),
    ], data_lock="2022-06-30")

    # 3. local recurrence of an untreated lesion / before its local treatment
    t = load()
    add(t, "events", patient_id="P001", lesion_id="P001-L1", date="2017-09-01", type="local_recurrence")  # row 6
    add(t, "lesions", lesion_id="P003-L3", patient_id="P003", organ="lung", detection_date="2019-01-01",
        diameter_mm="7")
    add(t, "events", patient_id="P003", lesion_id="P003-L3", date="2019-06-01", type="local_recurrence")  # row 7
    add(t, "patients", patient_id="P005", site="Leuven", sex="male", birth_year="1950", primary_site="colorectal",
        primary_diagnosis_date="2019-05-01", last_contact_date="2020-04-01")
    add(t, "events", patient_id="P005", date="2019-09-01", type="local_recurrence")   # row 8, no treatment at all
    write("3_local_recurrence", t, [
        ("local_recurrence_before_treatment", "events", 6, "P001", "date"),
        ("local_recurrence_untreated", "events", 7, "P003", "lesion_id"),
        ("local_recurrence_untreated", "events", 8, "P005", "type"),
    ])

    # 4. Clavien-Dindo grade not in the list; grade V for a living patient
    t = load()
    add(t, "complications", treatment_id="P001-T2", date="2017-09-28", clavien_dindo="IIIc")   # row 4
    add(t, "complications", treatment_id="P003-T2", date="2018-02-20", clavien_dindo="V")      # row 5, P003 alive
    write("4_clavien_dindo", t, [
        ("clavien_dindo_grade", "complications", 4, "P001", "clavien_dindo"),
        ("grade_v_without_death", "complications", 5, "P003", "clavien_dindo"),
    ])

    # 5. diameters <= 0 or > 300 mm; negative CEA, CA 19-9, ablation margin
    t = load()
    setcell(t, "lesions", 2, "diameter_mm", "0")
    setcell(t, "lesions", 5, "diameter_mm", "450")
    setcell(t, "labs", 3, "cea", "-1.5")
    setcell(t, "labs", 4, "ca19_9", "-3")
    setcell(t, "treatments", 7, "ablation_margin_mm", "-2")   # P004-T1, RFA
    write("5_measurements", t, [
        ("diameter_nonpositive", "lesions", 2, "P001", "diameter_mm"),
        ("diameter_implausible", "lesions", 5, "P003", "diameter_mm"),
        ("cea_negative", "labs", 3, "P002", "cea"),
        ("value_negative", "labs", 4, "P004", "ca19_9"),
        ("value_negative", "treatments", 7, "P004", "ablation_margin_mm"),
    ])

    # 6. SABR: fractions <= 0, missing dose, implausible dose per fraction
    t = load()
    setcell(t, "treatments", 3, "fractions", "0")                       # P002-T1
    add(t, "treatments", treatment_id="P003-T3", patient_id="P003", lesion_ids="P003-L2", modality="sabr",
        start_date="2019-03-01", fractions="3")                           # row 9: no dose
    add(t, "treatments", treatment_id="P003-T4", patient_id="P003", lesion_ids="P003-L2", modality="sabr",
        start_date="2019-09-01", dose_gy="120", fractions="1")            # row 10: 120 Gy in one fraction
    write("6_sabr", t, [
        ("sabr_fractions", "treatments", 3, "P002", "fractions"),
        ("sabr_dose_missing", "treatments", 9, "P003", "dose_gy"),
        ("sabr_dose_per_fraction", "treatments", 10, "P003", "dose_gy"),
    ])

    # 7. unknown references, duplicate ids, one patient at two sites with two birth years
    t = load()
    add(t, "lesions", lesion_id="P999-L1", patient_id="P999", organ="liver", detection_date="2019-01-01")   # row 7
    add(t, "lesions", lesion_id="P001-L2", patient_id="P001", organ="liver", detection_date="2017-05-10")   # row 8
    add(t, "complications", treatment_id="T999", date="2019-01-01", clavien_dindo="I")                     # row 4
    add(t, "events", patient_id="P001", lesion_id="P001-L9", date="2019-01-01", type="new_metastasis")     # row 6
    add(t, "patients", patient_id="P003", site="Amsterdam", sex="female", birth_year="1971",
        primary_site="sarcoma", primary_diagnosis_date="2015-05-20", last_contact_date="2022-12-01")      # row 5
    write("7_identity_references", t, [
        ("unknown_reference", "lesions", 7, "P999", "patient_id"),
        ("duplicate_id", "lesions", 2, "P001", "lesion_id"),
        ("duplicate_id", "lesions", 8, "P001", "lesion_id"),
        ("unknown_reference", "complications", 4, None, "treatment_id"),
        ("unknown_reference", "events", 6, "P001", "lesion_id"),
        ("conflicting_birth_year", "patients", 3, "P003", "birth_year"),
        ("conflicting_birth_year", "patients", 5, "P003", "birth_year"),
    ])

    # 8. REDCap rows: instance missing, (record, instrument, instance) twice, checkbox value 2
    red = pd.read_csv(REDCAP_CLEAN, dtype=str, keep_default_na=False)
    red.loc[7, "redcap_repeat_instance"] = ""            # data row 8: R2 lesions without instance
    red.loc[len(red)] = red.loc[2].copy()                # data row 12: R1 lesions 2 again
    red.loc[8, "lesion_ids___1"] = "2"                   # data row 9: R2 treatment checkbox = 2
    out = write("8_redcap", None, [
        ("redcap_missing_instance", "redcap", 8, "R2", "redcap_repeat_instance"),
        ("redcap_duplicate_instance", "redcap", 12, "R1", "redcap_repeat_instance"),
        ("redcap_checkbox_value", "redcap", 9, "R2", "lesion_ids___1"),
        # consequences: the lesion row dropped for its missing instance leaves R2's event pointing at an
        # unknown lesion, and the invalid checkbox is not a tick, so the SABR lists no lesion and the
        # local recurrence of R2-L1 has no local treatment
        ("unknown_reference", "events", 10, "R2", "lesion_id"),
        ("local_recurrence_untreated", "events", 10, "R2", "lesion_id"),
    ], format="redcap")
    red.to_csv(out / "export.csv", index=False)

    # 9. unknown codes
    t = load()
    setcell(t, "lesions", 1, "organ", "livr")
    setcell(t, "treatments", 2, "modality", "proton")
    setcell(t, "events", 3, "type", "death")
    setcell(t, "patients", 2, "sex", "X")
    write("9_codes", t, [
        ("unknown_code", "lesions", 1, "P001", "organ"),
        ("unknown_code", "treatments", 2, "P001", "modality"),
        ("unknown_code", "events", 3, "P003", "type"),
        ("unknown_code", "patients", 2, "P002", "sex"),
    ])

    # 10. unparseable and ambiguous dates (no date_format given)
    t = load()
    setcell(t, "lesions", 3, "detection_date", "01/03/2018")      # ambiguous: 1 March or 3 January
    setcell(t, "labs", 1, "date", "2017-13-01")                   # month 13
    setcell(t, "mdt_decisions", 2, "date", "yesterday")
    setcell(t, "patients", 1, "last_contact_date", "31/02/2023")  # day first (settled by 31), but no such day
    write("10_dates", t, [
        ("date_ambiguous", "lesions", 3, "P002", "detection_date"),
        ("date_unparseable", "labs", 1, "P001", "date"),
        ("date_unparseable", "mdt_decisions", 2, "P001", "date"),
        ("date_unparseable", "patients", 1, "P001", "last_contact_date"),
    ])

    # direct identifiers without a key
    t = load()
    t["patients"].insert(1, "name", ["A. Jansen", "B. de Vries", "C. Peeters", "D. Maes"])
    t["patients"].insert(2, "mrn", ["100234", "100235", "200777", "200778"])
    write("identifiers", t, [
        ("direct_identifier", "patients", None, None, "name"),
        ("direct_identifier", "patients", None, None, "mrn"),
    ])

    reading()


def reading() -> None:
    """11. what a reader must not lose silently (issue 16: D3, D6, D7, D13; whitespace-only rows).

    Written as bytes: the defects are in the file's lines, which a CSV writer would repair.
    """
    t = load()
    out = write("11_reading", t, [
        # complications line 2 opens a quote that line 3 closes: line 3 (P002's IIIa) would be swallowed
        ("unbalanced_quote", "complications", 1, None, "description"),
        # patients line 2 lost its last field (P001's last_contact_date)
        ("wrong_field_count", "patients", 1, "P001", None),
        # patients line 4 is Latin-1 in a file whose line 3 is UTF-8
        ("mixed_encoding", "patients", 3, None, None),
        # mdt-decisions.csv and mdt_decisions.csv are one table
        ("duplicate_table", "mdt_decisions", None, None, None),
        # consequence: P002-T2's complication of line 3 is not read, so nothing is left to report about it
    ])
    comp = (out / "complications.csv").read_text().splitlines()
    comp[1] = comp[1].replace("wound infection", '"wound infection')
    comp[2] = comp[2].replace("drain", 'drain"')
    comp.append('P003-T1,2016-12-14,II,"fever\nresolved"')      # a legal multi-line cell: a warning
    (out / "complications.csv").write_text("\n".join(comp) + "\n")
    pat = (out / "patients.csv").read_text().splitlines()
    pat[1] = pat[1].rsplit(",", 1)[0]
    pat[2] = pat[2].replace("adenocarcinoma", "adénocarcinome")
    pat[3] = pat[3].replace("leiomyosarcoma", "léiomyosarcome")
    (out / "patients.csv").write_bytes("\n".join(pat[:3]).encode() + b"\n" + pat[3].encode("latin-1") + b"\n"
                                       + "\n".join(pat[4:]).encode() + b"\n")
    labs = (out / "labs.csv").read_text().splitlines()
    labs.insert(2, " ,  ,")                                       # whitespace only: a blank line
    (out / "labs.csv").write_text("\n".join(labs) + "\n")
    (out / "mdt-decisions.csv").write_bytes((out / "mdt_decisions.csv").read_bytes())


if __name__ == "__main__":
    main()
