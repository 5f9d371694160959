"""The registry's validation rules, by id.

``RULES[id] = (issue class, severity, what it checks)``. The issue class is the number of the
rejected class in the registry specification (1-10), or ``"-"`` for structural checks and
warnings. ``docs/registry.md`` lists the same table; a test keeps the two in step.

The checks themselves live by topic: :mod:`.structure` (required fields, codes, keys,
references), :mod:`.chronology` (dates in the right order), :mod:`.clinical` (plausible values),
:mod:`.followup` (warnings), :mod:`.ids` (personal identifiers, id length). Readers add the
parse rules (``date_*``, ``not_a_*``, ``redcap_*``, file and column rules).
"""
from __future__ import annotations

RULES: dict[str, tuple[str, str, str]] = {
    # 1. death before diagnosis / detection
    "death_before_diagnosis": ("1", "error", "death date before the primary diagnosis date"),
    "death_before_detection": ("1", "error", "death date before the detection of a metastasis"),
    # 2. after death / data lock
    "after_death": ("2", "error", "treatment, complication, event, lab, MDT decision or adverse event dated after "
                                   "death"),
    "after_data_lock": ("2", "error", "a date after the data-lock date"),
    "date_in_future": ("2", "error", "a date after today (checked when no data-lock date is given)"),
    # 3. local recurrence
    "local_recurrence_untreated": ("3", "error", "local recurrence of a lesion (or patient) with no local treatment"),
    "local_recurrence_before_treatment": ("3", "error", "local recurrence dated before the first local treatment "
                                                         "of that lesion (or patient)"),
    # 4. Clavien-Dindo
    "clavien_dindo_grade": ("4", "error", "Clavien-Dindo grade not in I, II, IIIa, IIIb, IVa, IVb, V"),
    "grade_v_without_death": ("4", "error", "Clavien-Dindo grade V (death) but the patient has no death date"),
    # 5. implausible measurements
    "diameter_nonpositive": ("5", "error", "lesion diameter <= 0 mm"),
    "diameter_implausible": ("5", "error", "lesion diameter > 300 mm (likely a cm/mm mix-up)"),
    "cea_negative": ("5", "error", "negative CEA"),
    "value_negative": ("5", "error", "negative CA 19-9 or ablation margin"),
    "mdt_measure_out_of_range": ("5", "error", "MDT measurement out of range: FEV1 outside 0-150 % predicted, "
                                               "Charlson index outside 0-37, ASA class outside 1-6"),
    # 6. SABR
    "sabr_fractions": ("6", "error", "SABR with fractions missing or <= 0"),
    "sabr_dose_missing": ("6", "error", "SABR without a total dose"),
    "sabr_dose_per_fraction": ("6", "error", "SABR dose per fraction outside 3-35 Gy"),
    # resection detail and adverse events of systemic therapy
    "extent_wrong_treatment": ("-", "error", "a performed resection extent on a treatment that is not a resection, "
                                             "or an assessed extent on a systemic treatment"),
    "extent_organ": ("-", "error", "a resection extent that does not exist in the treated organ (a lobectomy of a "
                                   "liver lesion, a hemihepatectomy of a lung lesion)"),
    "finding_without_operation": ("-", "error", "an intra-operative finding on a treatment without an operation "
                                                "(systemic, SABR, percutaneous ablation)"),
    "ctcae_grade": ("-", "error", "CTCAE grade not 1-5"),
    "ctcae_grade_5_without_death": ("-", "error", "CTCAE grade 5 (death) but the patient has no death date"),
    # 7. identity and references
    "unknown_reference": ("7", "error", "reference to an unknown patient, lesion or treatment"),
    "reference_other_patient": ("7", "error", "reference to a lesion or treatment of another patient"),
    "duplicate_id": ("7", "error", "the same patient, lesion or treatment id twice"),
    "conflicting_birth_year": ("7", "error", "the same patient (id, or pseudonym) at two sites with different "
                                             "birth years"),
    # 8. REDCap rows
    "redcap_missing_instance": ("8", "error", "repeating-instrument row without redcap_repeat_instance"),
    "redcap_duplicate_instance": ("8", "error", "the same (record, instrument, instance) twice"),
    "redcap_checkbox_value": ("8", "error", "checkbox column value not 0 or 1"),
    "redcap_unknown_instrument": ("8", "warning", "repeating instrument that maps to no registry table (its rows "
                                                  "are kept aside)"),
    "redcap_missing_instrument": ("8", "warning", "a registry instrument the export does not have (an empty table)"),
    "redcap_extra_instrument": ("8", "warning", "a project instrument that is not part of the registry (its fields "
                                                "are kept aside)"),
    "redcap_checkbox_multiple": ("8", "error", "several boxes ticked for a single-choice field"),
    "redcap_value_on_other_instrument": ("8", "warning", "a value typed on the row of another instrument (not "
                                                         "read)"),
    # 9. codes
    "unknown_code": ("9", "error", "value not in the field's code list (the allowed values are listed)"),
    # 10. dates
    "date_unparseable": ("10", "error", "a date that is not in an accepted format"),
    "date_ambiguous": ("10", "error", "a day/month date like 03/04/2020 without a declared date_format"),
    "date_out_of_range": ("10", "error", "a date before 1900 or after 2100"),
    "date_order_inferred": ("10", "warning", "day-month dates read in the order their values settle (15-01-2016: "
                                             "day first)"),
    # structure and types
    "missing_table": ("-", "error", "the patients table is missing"),
    "missing_column": ("-", "error", "a required column is missing from a table"),
    "unknown_column": ("-", "warning", "a column that is not in the data model (ignored)"),
    "unknown_table": ("-", "warning", "a file or sheet that is not a registry table (ignored)"),
    "direct_identifier": ("-", "error", "a direct identifier column (name, MRN, national id, ...) without a key"),
    "identifier_value": ("-", "error", "a BSN, NHS number, e-mail address or phone number in an id or free-text "
                                       "field (the value is not shown)"),
    "pseudonym_without_key": ("-", "error", "a pseudonym column in the source without an identifier key"),
    "pseudonym_not_hmac": ("-", "error", "a pseudonym that is not a 64-hex keyed hash (the value is not shown)"),
    "id_too_long": ("-", "error", "an id longer than 100 characters"),
    "file_unreadable": ("-", "error", "a file that cannot be read as CSV / Excel"),
    "file_encoding": ("-", "warning", "a CSV file that is not UTF-8 anywhere (read as Windows-1252)"),
    # reading sources: nothing may be lost silently (docs/registry.md, "Reading sources")
    "mixed_encoding": ("-", "error", "a CSV line with bytes that are not UTF-8 in an otherwise UTF-8 file"),
    "wrong_field_count": ("-", "error", "a CSV record with more or fewer fields than the header"),
    "unbalanced_quote": ("-", "error", "a quoted CSV cell running over lines that look like records"),
    "multiline_cell": ("-", "warning", "a quoted CSV cell with a line break (read as one cell)"),
    "formula_without_value": ("-", "error", "an Excel formula cell saved without its computed value"),
    "excel_error_cell": ("-", "error", "an Excel error cell (#N/A, #DIV/0!, #REF!, ...)"),
    "duplicate_table": ("-", "error", "two files or sheets for one table (e.g. patients.csv and Patients.csv)"),
    "duplicate_column": ("-", "error", "the same column twice in one table"),
    # site mapping files (registry/mapping.py)
    "mapping_source_missing": ("-", "error", "a file the site mapping reads is not in the source folder"),
    "mapping_column_missing": ("-", "error", "a column the site mapping reads is not in its file"),
    "mapping_expression": ("-", "error", "a computed column of the site mapping cannot be evaluated on the data"),
    # HL7 FHIR R4 / mCODE bundles (registry/importers/fhir.py)
    "fhir_invalid": ("-", "error", "a FHIR resource that breaks FHIR R4 (a value, a missing resourceType); the "
                                   "resource is not read"),
    "fhir_reference": ("-", "error", "a FHIR reference (subject) to no Patient of the bundle(s)"),
    "fhir_code": ("-", "error", "a cancer or body-site code the mCODE importer does not know (primary site, organ)"),
    "fhir_unit": ("-", "error", "a FHIR quantity in a unit the importer does not convert (size, dose, CEA, CA 19-9)"),
    "fhir_missing_primary": ("-", "error", "a FHIR Patient without a primary cancer condition"),
    "fhir_not_read": ("-", "warning", "FHIR resources or observation codes that are not part of the registry "
                                      "(not read)"),
    "fhir_second_primary": ("-", "warning", "a second primary cancer condition of a patient (the earliest is read)"),
    "fhir_death_without_date": ("-", "warning", "Patient.deceasedBoolean true without a date (no death recorded)"),
    "fhir_identifier_dropped": ("-", "warning", "Patient.contact or photo dropped when an identifier key is given"),
    "fhir_radiotherapy_not_sabr": ("-", "warning", "a radiotherapy course without a stereotactic technique "
                                                   "(modality other)"),
    "fhir_several_doses": ("-", "warning", "a radiotherapy course with volumes of different doses (the first is read)"),
    "required_missing": ("-", "error", "a required field is empty"),
    "not_a_number": ("-", "error", "a numeric field that is not a number"),
    "not_an_integer": ("-", "error", "an integer field that is not a whole number"),
    "not_a_boolean": ("-", "error", "a yes/no field that is not 0/1, true/false, yes/no"),
    "end_before_start": ("-", "error", "treatment end date before its start date"),
    "complication_before_treatment": ("-", "error", "complication dated before its treatment started"),
    "treatment_before_detection": ("-", "error", "local treatment of a lesion starting before the lesion was "
                                                 "detected"),
    "local_recurrence_organ": ("-", "warning", "local recurrence recorded in another organ than its lesion"),
    "contact_after_death": ("-", "error", "last contact date after the death date"),
    "contact_before_diagnosis": ("-", "error", "last contact date before the primary diagnosis"),
    "birth_year_implausible": ("-", "error", "birth year before 1900 or after the primary diagnosis"),
    "duplicate_row": ("-", "warning", "the same complication, event, lab or MDT decision twice"),
    "duplicate_person": ("7", "warning", "two patient ids with the same pseudonym (same identifiers)"),
    "stored_at_other_site": ("7", "error", "patient id already stored for another site (store import)"),
    "store_constraint": ("-", "error", "the database refused the write (nothing was written)"),
    "import_deletes_stored_rows": ("-", "error", "a table empty or absent in the source while the store holds rows "
                                                 "of its patients (refused unless deletions are allowed)"),
    "site_mismatch": ("7", "error", "an import for one site (--site) whose export names another site for a patient"),
    # warnings
    "followup_over_30_years": ("-", "warning", "follow-up longer than 30 years after the primary diagnosis"),
    "no_followup_date": ("-", "warning", "patient with neither a death date nor a last contact date"),
}
