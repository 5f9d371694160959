"""Hypothesis fuzzing: no input crashes the importer with anything but a validation report."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from oligomet.registry import TABLE_ORDER, TABLES, ValidationReport, check_registry

DATA = Path(__file__).parent / "data"

CLEAN = DATA / "clean"
# 20 examples per test keeps the folder fast; raise OLIGOMET_FUZZ_EXAMPLES for a longer hunt.
SETTINGS = settings(max_examples=int(os.environ.get("OLIGOMET_FUZZ_EXAMPLES", "20")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

# Cells a registry really gets: ambiguous dates, units, Excel artefacts, ids of other rows, junk.
NASTY = st.sampled_from([
    "", " ", "NA", "n/a", "-", "0", "-1", "1e309", "nan", "inf", "3,5", "12.0", "1.5", "999999999999999999999",
    "01/02/2020", "31/12/2020", "2020-02-30", "2020-13-01", "1850-01-01", "2020-01-01 25:99", "0000-00-00",
    "P001", "P001-L1", "P002-T1", "P999", "L1;;L2", ";", "sabr", "SABR", "IIIa", "VI", "liver", "male",
    '"', "'", ",", ";;", "\t", "é", "\x00", "=SUM(A1)", "NULL", "True", "yes", "😀",
])
CELL = st.one_of(NASTY, st.text(max_size=12))


def _check(folder, **kw):
    tables, report = check_registry(folder, **kw)
    assert isinstance(report, ValidationReport)
    assert list(tables) == list(TABLE_ORDER)
    for name, frame in tables.items():
        assert list(frame.columns) == TABLES[name].field_names
    assert set(report.problems.columns) >= {"severity", "table", "row", "patient_id", "field", "value", "rule"}
    return report


@SETTINGS
@given(table=st.sampled_from(TABLE_ORDER), text=st.text(max_size=400))
@example(table="lesions", text="")   # no lesions, yet events and treatments name some (an IndexError once)
def test_random_text_as_a_table_file(table, text):
    with tempfile.TemporaryDirectory() as tmp:
        for p in CLEAN.glob("*.csv"):
            (Path(tmp) / p.name).write_bytes(p.read_bytes())
        (Path(tmp) / f"{table}.csv").write_text(text, encoding="utf-8", errors="surrogatepass")
        _check(tmp)


@SETTINGS
@given(table=st.sampled_from(TABLE_ORDER), data=st.binary(max_size=300))
def test_random_bytes_as_a_table_file(table, data):
    with tempfile.TemporaryDirectory() as tmp:
        for p in CLEAN.glob("*.csv"):
            (Path(tmp) / p.name).write_bytes(p.read_bytes())
        (Path(tmp) / f"{table}.csv").write_bytes(data)
        _check(tmp)


@SETTINGS
@given(edits=st.lists(st.tuples(st.sampled_from(TABLE_ORDER), st.integers(0, 7), st.integers(0, 15), CELL),
                      min_size=1, max_size=12),
       data_lock=st.one_of(st.none(), st.dates().map(str)),
       date_format=st.sampled_from([None, "DD/MM/YYYY", "MM/DD/YYYY"]))
def test_garbled_cells_of_a_clean_registry(edits, data_lock, date_format):
    frames = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in CLEAN.glob("*.csv")}
    for table, row, col, value in edits:
        f = frames[table]
        f.iloc[row % len(f), col % f.shape[1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        for name, f in frames.items():
            f.to_csv(Path(tmp) / f"{name}.csv", index=False)
        _check(tmp, data_lock=data_lock, date_format=date_format)


@SETTINGS
@given(edits=st.lists(st.tuples(st.integers(0, 20), st.integers(0, 40), CELL), min_size=1, max_size=10))
@example(edits=[(0, 5, "999999999999999999999")])  # found by a long run: overflowed the Int64 cast of birth_year
def test_garbled_redcap_export(edits):
    red = pd.read_csv(DATA / "redcap_clean.csv", dtype=str, keep_default_na=False)
    for row, col, value in edits:
        red.iloc[row % len(red), col % red.shape[1]] = value
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "export.csv"
        red.to_csv(path, index=False)
        _check(path, format="redcap")


@settings(max_examples=int(os.environ.get("OLIGOMET_FUZZ_EXAMPLES", "20")) // 2, deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(edits=st.lists(st.tuples(st.sampled_from(["patients", "lesions", "labs"]), st.integers(0, 7),
                                st.sampled_from(["histology", "segment_or_lobe", "cea", "diameter_mm", "site"]),
                                CELL), min_size=1, max_size=6))
def test_store_import_of_garbled_registry_returns_a_result(edits):
    """Through the store too: rejected with a report, or imported and loaded back unchanged."""
    from oligomet.registry import Store, read_registry
    frames = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in CLEAN.glob("*.csv")}
    for table, row, col, value in edits:
        if col in frames[table]:
            frames[table].iloc[row % len(frames[table]), frames[table].columns.get_loc(col)] = value
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "reg"
        folder.mkdir()
        for name, f in frames.items():
            f.to_csv(folder / f"{name}.csv", index=False)
        store = Store(Path(tmp) / "s.sqlite")
        result = store.import_registry(folder)
        assert result.status in ("imported", "rejected")
        if result.status == "imported":
            read, _ = read_registry(folder)
            loaded = store.load()
            for name in TABLE_ORDER:
                pd.testing.assert_frame_equal(loaded[name], read[name].reset_index(drop=True), obj=name)
        else:
            assert not result.report.ok
        store.close()
