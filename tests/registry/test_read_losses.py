"""Issue 16: reading a source never loses data silently (D3, D4, D6, D7, D13, whitespace-only rows).

Each test builds the reproduction of the issue and asserts the fixed behaviour: a problem naming
file, line (or sheet and cell), table, column and patient where known, and what to do; or the
data kept.
"""
from __future__ import annotations

import csv
import datetime as dt
import os
import re
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.utils.datetime import to_excel
from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.registry import RULES, Store, check_registry, read_registry, write_registry

BAD = Path(__file__).parent / "bad"
KEYS = ["rule", "table", "row", "patient_id", "field"]


def _problems(report, rule):
    return report.problems[report.problems["rule"] == rule].reset_index(drop=True)


def _rows(report, rule):
    return list(_problems(report, rule)[["table", "row", "patient_id", "field"]].itertuples(index=False, name=None))


@pytest.fixture()
def reg(clean_dir, tmp_path) -> Path:
    shutil.copytree(clean_dir, tmp_path / "reg")
    return tmp_path / "reg"


# ---------------------------------------------------------------- D3: a stray quote swallows records

GRADES = ["I", "II", "IIIa", "IIIb", "IVa", "IVb", "II", "IIIa", "IVa", "IVb", "I", "II", "IIIb", "I"]


def _complications(reg: Path, descriptions: dict[int, str]) -> list[str]:
    """14 complications of P001-T2 (data rows 1..14); ``descriptions`` overrides the text of some rows."""
    lines = ["treatment_id,date,clavien_dindo,description"]
    for i, grade in enumerate(GRADES, 1):
        day = (pd.Timestamp("2017-09-20") + pd.Timedelta(days=i)).date()  # after the resection of 2017-09-20
        lines.append(f"P001-T2,{day},{grade},{descriptions.get(i, f'complication {i}')}")
    (reg / "complications.csv").write_text("\n".join(lines) + "\n")
    return lines


def test_d3_an_unbalanced_quote_that_swallows_ten_complications_is_an_error(reg):
    # row 2 opens a quote that only the text of row 12 closes: rows 3-11 (grades IIIb..IVb) vanish into one cell
    _complications(reg, {2: '"drain left in place', 12: 'bleeding after "re-look'})
    tables, report = check_registry(reg)
    assert not report.ok
    assert _rows(report, "unbalanced_quote") == [("complications", 2, None, "description")]
    msg = _problems(report, "unbalanced_quote").loc[0, "message"]
    assert "complications.csv" in msg and "line 3" in msg and "line 13" in msg
    assert "line(s) 4, 5, 6, 7, 8, 9, 10, 11, 12, 13 look like records" in msg  # the swallowed lines
    assert "doubled" in msg  # what to do
    # the garbled record (lines 3-13) is not read as a complication; the 3 records outside it are kept
    assert list(tables["complications"].index) == [1, 13, 14]
    # and nothing of it reaches a store
    store = Store(reg.parent / "s.sqlite")
    try:
        assert store.import_registry(reg).status == "rejected"
    finally:
        store.close()


def test_d3_fixed_quotes_keep_every_complication(reg):
    _complications(reg, {2: '"drain left in place"', 12: '"bleeding after ""re-look"""'})
    tables, report = check_registry(reg)
    assert report.ok, report.to_text()
    comp = tables["complications"]
    assert len(comp) == 14 and list(comp["clavien_dindo"]) == GRADES
    assert comp.loc[12, "description"] == 'bleeding after "re-look"'


def test_d3_a_legal_multiline_cell_is_kept_and_reported_with_its_lines(reg):
    lines = _complications(reg, {3: '"wound infection\nsecond look: superficial"'})
    lines[-1] = lines[-1].replace(",I,", ",VI,")  # a bad grade on data row 14, physical line 16
    (reg / "complications.csv").write_text("\n".join(lines) + "\n")
    tables, report = check_registry(reg)
    assert _rows(report, "multiline_cell") == [("complications", 3, None, "description")]
    warn = _problems(report, "multiline_cell").loc[0]
    assert warn["severity"] == "warning" and "lines 4-5" in warn["message"]
    comp = tables["complications"]
    assert len(comp) == 14 and comp.loc[3, "description"] == "wound infection\nsecond look: superficial"
    # no drift after the multi-line cell: the bad grade is reported at row 15 = its physical line 16 - 1
    assert list(report.errors[["rule", "table", "row"]].itertuples(index=False, name=None)) == [
        ("clavien_dindo_grade", "complications", 15)]


def test_d3_a_quote_never_closed_to_the_end_of_the_file(reg):
    _complications(reg, {10: '"left open'})
    tables, report = check_registry(reg)
    assert _rows(report, "unbalanced_quote") == [("complications", 10, None, "description")]
    assert "line(s) 12, 13, 14, 15 look" in _problems(report, "unbalanced_quote").loc[0, "message"]
    assert len(tables["complications"]) == 9


# ---------------------------------------------------------------- D4: formulas and error cells in Excel

def _workbook(clean_dir, path: Path) -> Path:
    tables, _ = read_registry(clean_dir)
    return write_registry(tables, path, format="excel")


def _cell(ws, field: str, data_row: int) -> str:
    col = [c.value for c in ws[1]].index(field) + 1
    return f"{openpyxl.utils.get_column_letter(col)}{data_row + 1}"


def test_d4_a_death_date_formula_without_a_computed_value_is_not_read_as_alive(clean_dir, tmp_path):
    xlsx = _workbook(clean_dir, tmp_path / "reg.xlsx")
    wb = openpyxl.load_workbook(xlsx)
    death = _cell(wb["patients"], "death_date", 1)           # P001, alive in the clean registry
    wb["patients"][death] = "=DATE(2017,5,3)"                 # openpyxl saves formulas without their value
    cea = _cell(wb["labs"], "cea", 2)
    wb["labs"][cea] = "#N/A"                                  # an error cell
    wb["labs"][_cell(wb["labs"], "cea", 3)] = "=1/0"          # #DIV/0! once computed; here never computed
    wb.save(xlsx)
    tables, report = check_registry(xlsx)
    assert not report.ok
    assert _rows(report, "formula_without_value") == [("patients", 1, None, "death_date"), ("labs", 3, None, "cea")]
    f = _problems(report, "formula_without_value").loc[0]
    assert f["value"] == "=DATE(2017,5,3)" and f"sheet 'patients' cell {death} (row 1, column death_date)" in \
        f["message"]
    assert "recalculat" in f["message"]
    assert _rows(report, "excel_error_cell") == [("labs", 2, None, "cea")]
    e = _problems(report, "excel_error_cell").loc[0]
    assert e["value"] == "#N/A" and f"cell {cea}" in e["message"]
    # not also reported as a missing value, and the import refuses
    assert "required_missing" not in set(report.problems["rule"])
    store = Store(tmp_path / "s.sqlite")
    try:
        assert store.import_registry(xlsx).status == "rejected"
    finally:
        store.close()


def _set_saved_values(xlsx: Path, sheet_index: int, cells: dict[str, str]) -> None:
    """Rewrite the sheet XML as Excel would after recalculating: ``cells`` maps address -> ``<c>`` body."""
    name = f"xl/worksheets/sheet{sheet_index}.xml"
    with zipfile.ZipFile(xlsx) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    xml = parts[name].decode()
    for addr, body in cells.items():
        xml, n = re.subn(rf'<c r="{addr}"( s="\d+")?>(<f>[^<]*</f>)<v\s*/?>(</v>)?</c>',
                         lambda m, addr=addr, body=body: f'<c r="{addr}"{m.group(1) or ""}{body[0]}>'
                                                        f'{m.group(2)}{body[1]}</c>', xml)
        assert n == 1, addr
    parts[name] = xml.encode()
    with zipfile.ZipFile(xlsx, "w") as z:
        for n, data in parts.items():
            z.writestr(n, data)


def test_d4_formulas_with_saved_values_use_them_and_saved_errors_are_reported(clean_dir, tmp_path):
    xlsx = _workbook(clean_dir, tmp_path / "reg.xlsx")
    wb = openpyxl.load_workbook(xlsx)
    ws = wb["patients"]
    death = _cell(ws, "death_date", 1)
    ws[death] = "=DATE(2023,6,30)"                              # P001's last contact
    ws[death].number_format = "yyyy-mm-dd"
    site = _cell(ws, "site", 3)
    ws[site] = '=IF(TRUE,"Leuven","")'
    hist = _cell(ws, "histology", 4)
    ws[hist] = '=IF(FALSE,"x","")'                            # computes "" (an empty text)
    wb["labs"][_cell(wb["labs"], "cea", 3)] = "=1/0"
    sheets = wb.sheetnames
    wb.save(xlsx)
    _set_saved_values(xlsx, sheets.index("patients") + 1, {
        death: ("", f"<v>{to_excel(dt.datetime(2023, 6, 30))}</v>"), site: (' t="str"', "<v>Leuven</v>"),
        hist: (' t="str"', "<v></v>")})
    _set_saved_values(xlsx, sheets.index("labs") + 1, {_cell(wb["labs"], "cea", 3): (' t="e"', "<v>#DIV/0!</v>")})
    tables, report = check_registry(xlsx)
    p = tables["patients"]
    assert p.loc[1, "death_date"] == pd.Timestamp("2023-06-30") and p.loc[3, "site"] == "Leuven"
    assert pd.isna(p.loc[4, "histology"])
    assert list(report.problems[KEYS].itertuples(index=False, name=None)) == [
        ("excel_error_cell", "labs", 3, None, "cea")]
    assert "#DIV/0!" in report.problems.loc[0, "message"]


# ---------------------------------------------------------------- D6: too few or too many fields

def test_d6_a_truncated_line_is_an_error_naming_the_lost_fields(reg):
    p = reg / "patients.csv"
    lines = p.read_text().splitlines()
    lines[1] = lines[1].rsplit(",", 1)[0]       # P001 loses last_contact_date (line 2)
    lines[3] = lines[3].replace("leiomyosarcoma", "leiomyosarcoma, uterine")  # P003: unquoted comma, line 4
    p.write_text("\n".join(lines) + "\n")
    tables, report = check_registry(reg)
    assert _rows(report, "wrong_field_count") == [("patients", 1, "P001", None), ("patients", 3, "P003", None)]
    short, long = _problems(report, "wrong_field_count")["message"]
    assert "patients.csv line 2 has 14 field(s) where the header has 15" in short and "last_contact_date" in short
    assert "patients.csv line 4 has 16 fields" in long and "' uterine'" not in long and "'2022-12-01'" in long
    assert not report.ok and len(tables["patients"]) == 4


def test_d6_trailing_separators_on_data_lines_do_not_shift_columns(reg):
    # pandas would take the first column as the index when every data line has one field more
    lab = reg / "labs.csv"
    lines = lab.read_text().splitlines()
    lab.write_text("\n".join([lines[0]] + [ln + "," for ln in lines[1:]]) + "\n")
    tables, report = check_registry(reg)
    assert [r[1] for r in _rows(report, "wrong_field_count")] == [1, 2, 3, 4]
    assert list(tables["labs"]["patient_id"]) == ["P001", "P001", "P002", "P004"]


def test_d6_a_header_with_a_trailing_separator_accepts_lines_without_it(reg):
    lab = reg / "labs.csv"
    lines = lab.read_text().splitlines()
    lab.write_text("\n".join([lines[0] + ","] + lines[1:3] + [ln + "," for ln in lines[3:]]) + "\n")
    tables, report = check_registry(reg)
    assert report.ok and len(report.problems) == 0
    assert list(tables["labs"]["cea"]) == [12.4, 2.1, 3.0, 45.8]


# ---------------------------------------------------------------- D7: two sources for one table

def test_d7_two_csv_files_for_one_table(reg):
    (reg / "Patients.csv").write_text((reg / "patients.csv").read_text().splitlines()[0] + "\n")
    if len(list(reg.glob("*atients.csv"))) != 2:  # a case-insensitive file system cannot hold both
        pytest.fail("the test folder must be on a case-sensitive file system")
    (reg / "lab-s.csv").write_text("x\n")  # unrelated: stays an unknown table
    (reg / "LABS.csv").write_text("patient_id,date,cea\nP001,2017-05-12,1\n")
    tables, report = check_registry(reg)
    dup = _problems(report, "duplicate_table")
    assert list(zip(dup["table"], dup["severity"])) == [("patients", "error"), ("labs", "error")]
    assert "'Patients.csv' and 'patients.csv'" in dup.loc[0, "message"]
    assert "only 'Patients.csv' was read" in dup.loc[0, "message"]
    assert "'LABS.csv' and 'labs.csv'" in dup.loc[1, "message"]


def test_d7_two_sheets_for_one_table(clean_dir, tmp_path):
    xlsx = _workbook(clean_dir, tmp_path / "reg.xlsx")
    wb = openpyxl.load_workbook(xlsx)
    extra = wb.create_sheet("labs ")  # a trailing space: the same table after normalisation
    extra.append(["patient_id", "date", "cea"])
    extra.append(["P001", "2018-01-01", 5])
    wb.save(xlsx)
    _, report = check_registry(xlsx)
    dup = _problems(report, "duplicate_table")
    assert list(dup["table"]) == ["labs"]
    assert "'labs' and 'labs '" in dup.loc[0, "message"] and "sheet" in dup.loc[0, "message"]
    assert not report.ok


# ---------------------------------------------------------------- D13: one bad byte, no mojibake

def test_d13_one_latin1_line_in_a_utf8_file_is_named_and_the_other_accents_kept(reg):
    p = reg / "patients.csv"
    lines = p.read_text().splitlines()
    lines[1] = lines[1].replace("Amsterdam", "Hôpital Amsterdam")
    lines[3] = lines[3].replace("Leuven", "Hôpital Leuven")
    data = ("\n".join(lines[:3]) + "\n").encode() + (lines[3] + "\n").encode("latin-1") + \
        ("\n".join(lines[4:]) + "\n").encode()
    p.write_bytes(data)
    tables, report = check_registry(reg)
    assert _rows(report, "mixed_encoding") == [("patients", 3, None, None)]
    bad = _problems(report, "mixed_encoding").loc[0]
    assert bad["severity"] == "error" and "patients.csv line 4" in bad["message"] and "\\xf4" in bad["value"]
    site = tables["patients"]["site"]
    assert site.loc[1] == "Hôpital Amsterdam"          # never 'HÃ´pital'
    assert not site.str.contains("Ã").any()
    assert "file_encoding" not in set(report.problems["rule"])


def test_d13_a_wholly_windows_1252_file_is_read_with_a_warning_naming_the_lines(reg):
    p = reg / "patients.csv"
    lines = p.read_text().splitlines()
    lines[2] = lines[2].replace("Amsterdam", "Hôpital d’Amsterdam")  # ’ exists in cp1252, not Latin-1
    p.write_bytes(("\n".join(lines) + "\n").encode("cp1252"))
    tables, report = check_registry(reg)
    assert report.ok and list(report.warnings["rule"]) == ["file_encoding"]
    assert "line(s) 3" in report.warnings.loc[0, "message"]
    assert tables["patients"].loc[2, "site"] == "Hôpital d’Amsterdam"


# ---------------------------------------------------------------- whitespace-only rows are blank

@pytest.mark.parametrize("quoted", [False, True])
def test_whitespace_only_rows_are_blank_and_keep_row_numbers(reg, quoted):
    lab = reg / "labs.csv"
    lines = lab.read_text().splitlines()
    lines[-1] = lines[-1].replace("45.8", "abc")
    if quoted:
        lines[1] = lines[1].replace("P001", '"P001"')
    lines[2:2] = ["   ", " , ,\t", ""]
    lab.write_text("\n".join(lines) + "\n")
    tables, report = check_registry(reg)
    assert list(report.problems[["rule", "row"]].itertuples(index=False, name=None)) == [("not_a_number", 7)]
    assert list(tables["labs"].index) == [1, 5, 6, 7]


def test_whitespace_only_rows_in_a_sheet_are_blank(clean_dir, tmp_path):
    xlsx = _workbook(clean_dir, tmp_path / "reg.xlsx")
    wb = openpyxl.load_workbook(xlsx)
    wb["labs"].append([" ", "  ", None])
    wb["labs"].append(["P004", "2019-03-01", 4.5])
    wb.save(xlsx)
    tables, report = check_registry(xlsx)
    assert report.ok and len(report.problems) == 0
    assert list(tables["labs"].index) == [1, 2, 3, 4, 6]


# ---------------------------------------------------------------- the fast and the careful reader agree

def test_a_file_with_quotes_reads_like_the_same_file_without(reg, clean_dir):
    plain, _ = read_registry(clean_dir)
    for p in reg.glob("*.csv"):
        lines = p.read_text().splitlines()
        p.write_text("\n".join([lines[0]] + [f'"{ln.split(",", 1)[0]}",{ln.split(",", 1)[1]}' for ln in lines[1:]])
                     + "\n")
    quoted, report = read_registry(reg)
    assert report.ok and len(report.problems) == 0
    for name in plain:
        pd.testing.assert_frame_equal(quoted[name], plain[name])


# ---------------------------------------------------------------- all at once, from the command line

def test_validate_lists_every_reading_problem_at_once():
    folder = BAD / "11_reading"
    res = CliRunner().invoke(app, ["registry", "validate", str(folder), "--plain"])
    assert res.exit_code == 1
    for rule in ("unbalanced_quote", "wrong_field_count", "duplicate_table", "mixed_encoding", "multiline_cell"):
        assert f"[{rule}]" in res.output, rule
    assert {"formula_without_value", "excel_error_cell"} <= set(RULES)


# ---------------------------------------------------------------- properties: nothing vanishes unreported

FUZZ = settings(max_examples=int(os.environ.get("OLIGOMET_FUZZ_EXAMPLES", "20")), deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
FIELD = st.one_of(st.sampled_from(["", " ", "a", "b c", '"', '"x', 'y"', '""', '"q,r"', '"m\nn"', "\t", "é"]),
                  st.text(alphabet='ab ,;"\n\r\t', max_size=6))


@FUZZ
@given(rows=st.lists(st.lists(FIELD, min_size=1, max_size=5), min_size=1, max_size=12))
def test_every_nonblank_line_is_a_row_or_a_reported_problem(tmp_path, rows):
    from oligomet.registry.importers.tabular import drop_blank_rows, read_csv_text
    from oligomet.registry.report import ProblemLog

    text = "c1,c2,c3\n" + "\n".join(",".join(r) for r in rows) + "\n"
    path = tmp_path / "labs.csv"
    path.write_bytes(text.encode())
    log = ProblemLog()
    frame = read_csv_text(path, "labs", log)
    problems = log.frame()
    if frame is None:
        assert (problems["rule"] == "file_unreadable").any()
        return
    frame, kept = drop_blank_rows(frame)
    lines = re.split(r"\r\n|\r|\n", text)[:-1]
    cells = {i: next(csv.reader([ln]), []) for i, ln in enumerate(lines, 1)}
    data_lines = [i for i in range(2, len(lines) + 1) if "".join(cells[i]).strip()]
    spanning = problems["rule"].isin(["unbalanced_quote", "multiline_cell", "file_unreadable"]).any()
    if not spanning and (lines[0].strip() if lines else ""):
        # one record per line: each non-blank line is a kept row at line - 1, or named in an error
        bad = set(problems.loc[problems["rule"] == "wrong_field_count", "row"])
        assert bad == {ln - 1 for ln in data_lines if len(cells[ln]) != 3}
        assert set(kept + 1) <= set(data_lines) and set(kept + 1) | {r + 1 for r in bad} == set(data_lines)


CELL = st.one_of(st.none(), st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False, width=32),
                 st.sampled_from(["P001", " ", "=1+1", "=DATE(2017,5,3)", "#N/A", "#DIV/0!", "#REF!", "x"]),
                 st.datetimes(min_value=dt.datetime(1990, 1, 1), max_value=dt.datetime(2030, 1, 1)))


@FUZZ
@given(grid=st.lists(st.lists(CELL, min_size=3, max_size=3), min_size=0, max_size=8))
def test_every_formula_and_error_cell_of_a_sheet_is_reported(tmp_path, grid):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "labs"
    ws.append(["patient_id", "date", "cea"])
    for r in grid:
        ws.append(r)
    wb.save(tmp_path / "r.xlsx")
    tables, report = read_registry(tmp_path / "r.xlsx")
    n_formula = sum(isinstance(v, str) and v.startswith("=") for r in grid for v in r)
    n_error = sum(v in ("#N/A", "#DIV/0!", "#REF!") for r in grid for v in r)
    assert (report.problems["rule"] == "formula_without_value").sum() == n_formula
    assert (report.problems["rule"] == "excel_error_cell").sum() == n_error
    # a row is kept when it has a value; formula and error cells are reported above and read as empty
    value = [[v is not None and bool(str(v).strip()) and not str(v).startswith(("=", "#")) for v in r] for r in grid]
    assert list(tables["labs"].index) == [i + 1 for i, r in enumerate(value) if any(r)]
