"""Issue 16, D17: a REDCap value typed on another instrument's row is warned about, not dropped silently.

In a repeating-instrument export each row belongs to one instrument (or to the record's
non-repeating fields) and only that instrument's fields are read from it.
"""
from __future__ import annotations

import pandas as pd

from oligomet.registry import check_registry

KEYS = ["rule", "table", "row", "patient_id", "field", "value"]
RULE = "redcap_value_on_other_instrument"


def _export(redcap_clean, tmp_path, edits) -> tuple:
    red = pd.read_csv(redcap_clean, dtype=str, keep_default_na=False)
    for row, col, value in edits:           # row: 1-based data row of the export
        red.loc[row - 1, col] = value
    path = tmp_path / "export.csv"
    red.to_csv(path, index=False)
    return check_registry(path)


def test_the_clean_export_has_no_value_on_another_instrument(redcap_clean):
    _, report = check_registry(redcap_clean)
    assert RULE not in set(report.problems["rule"])


def test_values_on_another_instruments_row_are_warned_with_record_row_instrument_and_field(redcap_clean,
                                                                                          tmp_path):
    tables, report = _export(redcap_clean, tmp_path, [
        (2, "lab_date", "2017-06-01"),        # R1 lesions 1: a lab typed on the lesion's row
        (2, "cea", "5.0"),
        (6, "death_date", "2023-01-01"),      # R1 labs 1: the death date typed on a lab row
        (6, "histology", "adenocarcinoma"),   # free text: located, not echoed
        (5, "modality___sabr", "1"),          # R1 complications 1: a ticked box of treatments
        (6, "modality___resection", "0"),     # an unticked box is no value
        (7, "event_date", "2019-01-01"),      # R2's non-repeating row: a field of the events instrument
    ])
    assert report.ok                          # warnings: the rest of the export is usable
    got = sorted(report.warnings[report.warnings["rule"] == RULE][KEYS].itertuples(index=False, name=None),
                 key=str)
    assert got == sorted([
        (RULE, "redcap", 2, "R1", "lab_date", "2017-06-01"),
        (RULE, "redcap", 2, "R1", "cea", "5.0"),
        (RULE, "redcap", 6, "R1", "death_date", "2023-01-01"),
        (RULE, "redcap", 6, "R1", "histology", None),
        (RULE, "redcap", 5, "R1", "modality___sabr", "1"),
        (RULE, "redcap", 7, "R2", "event_date", "2019-01-01"),
    ], key=str)
    msg = dict(zip(zip(report.warnings["row"], report.warnings["field"]), report.warnings["message"]))
    assert "a row of instrument 'lesions'" in msg[(2, "lab_date")] and "the record's labs row" in msg[(2, "lab_date")]
    assert "a row of instrument 'labs'" in msg[(6, "death_date")]
    assert "non-repeating (patients) row" in msg[(6, "death_date")]
    assert "a row of instrument 'complications'" in msg[(5, "modality___sabr")]
    assert "the non-repeating (patients) row" in msg[(7, "event_date")] and "events row" in msg[(7, "event_date")]
    # the values were indeed not read: the warning is the only trace of them
    assert pd.isna(tables["patients"].loc[1, "death_date"])
    assert list(tables["labs"]["cea"]) == [12.4]
    assert list(tables["events"]["date"]) == [pd.Timestamp("2019-10-10")]
    assert list(tables["treatments"]["modality"]) == ["resection", "sabr"]


def test_fields_shared_by_several_instruments_are_not_warned(redcap_clean, tmp_path):
    # ``organ`` is read on lesions rows and (besides ``event_organ``) on events rows
    tables, report = _export(redcap_clean, tmp_path, [(10, "event_organ", ""), (10, "organ", "bone")])
    assert RULE not in set(report.problems["rule"])
    assert tables["events"].iloc[0]["organ"] == "bone"
