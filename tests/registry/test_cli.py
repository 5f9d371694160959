"""``oligomet registry`` commands through typer's test runner."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from oligomet.cli import app

runner = CliRunner()
BAD = Path(__file__).parent / "bad"


def test_validate_clean_exits_zero(clean_dir):
    res = runner.invoke(app, ["registry", "validate", str(clean_dir), "--plain"])
    assert res.exit_code == 0, res.output
    assert "registry validation OK: 0 error(s), 0 warning(s)" in res.output


def test_validate_bad_prints_every_problem_and_exits_one(tmp_path):
    out = tmp_path / "problems.csv"
    exp = json.loads((BAD / "2_after_death_or_lock" / "expected.json").read_text())
    res = runner.invoke(app, ["registry", "validate", str(BAD / "2_after_death_or_lock"), "--data-lock",
                              exp["data_lock"], "--plain", "-o", str(out)])
    assert res.exit_code == 1
    lines = [ln for ln in res.output.splitlines() if ln.startswith("ERROR")]
    assert len(lines) == len(exp["errors"]) == 5
    assert "ERROR   labs row 5 patient P002 date = '2021-10-01': after the patient's death on 2021-09-14 " \
           "[after_death]" in res.output
    written = pd.read_csv(out)
    assert sorted(written["rule"]) == sorted(e["rule"] for e in exp["errors"])


def test_validate_rich_table_output():
    res = runner.invoke(app, ["registry", "validate", str(BAD / "9_codes")])
    assert res.exit_code == 1
    assert "unknown_code" in res.output and "livr" in res.output and "FAILED: 4 error(s)" in res.output


def test_validate_date_format_option():
    res = runner.invoke(app, ["registry", "validate", str(BAD / "10_dates"), "--date-format", "DD/MM/YYYY",
                              "--plain"])
    # 01/03/2018 is read, 2017-13-01 and "yesterday" stay errors, and 31/02/2023 is no calendar day
    assert res.exit_code == 1 and "3 error(s)" in res.output and "31 February 2023 does not exist" in res.output
    res = runner.invoke(app, ["registry", "validate", str(BAD / "10_dates"), "--date-format", "YYYY/DD/MM"])
    assert res.exit_code == 2 and "not supported" in res.output


def test_validate_missing_path_is_a_usage_error(tmp_path):
    res = runner.invoke(app, ["registry", "validate", str(tmp_path / "nope")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_import_export_and_provenance(clean_dir, tmp_path):
    db = tmp_path / "reg.sqlite"
    res = runner.invoke(app, ["registry", "import", str(clean_dir), "--db", str(db)])
    assert res.exit_code == 0, res.output
    assert "import imported (import #1)" in res.output
    res = runner.invoke(app, ["registry", "import", str(clean_dir), "--db", f"sqlite:///{db}"])
    assert res.exit_code == 0 and "import unchanged (import #1)" in res.output
    res = runner.invoke(app, ["registry", "import", str(BAD / "6_sabr"), "--db", str(db), "--plain"])
    assert res.exit_code == 1 and "import rejected" in res.output and "sabr_dose_missing" in res.output
    res = runner.invoke(app, ["registry", "imports", "--db", str(db)])
    assert res.exit_code == 0 and len(res.output.strip().splitlines()) == 2   # header + one import
    res = runner.invoke(app, ["registry", "export", str(tmp_path / "out"), "--db", str(db)])
    assert res.exit_code == 0
    for p in clean_dir.glob("*.csv"):
        a = pd.read_csv(p, dtype=str, keep_default_na=False)
        b = pd.read_csv(tmp_path / "out" / p.name, dtype=str, keep_default_na=False)
        b = b[a.columns.tolist()]  # export adds the empty pseudonym column to patients
        pd.testing.assert_frame_equal(_canon(a), _canon(b), obj=p.name)


def _canon(frame):
    """Numbers as floats and rows in key order, so '32' == '32.0' and row order does not matter."""
    out = frame.copy()
    for c in out.columns:
        num = pd.to_numeric(out[c], errors="coerce")
        if num.notna().sum() == (out[c] != "").sum() and (out[c] != "").any():
            out[c] = num.map(lambda v: "" if pd.isna(v) else repr(float(v)))
    return out.sort_values(list(out.columns)).reset_index(drop=True)


def test_import_with_identifier_key_file(tmp_path):
    key = tmp_path / "key.txt"
    key.write_text("a-secret-key-of-the-data-controller\n")
    db = tmp_path / "reg.sqlite"
    res = runner.invoke(app, ["registry", "import", str(BAD / "identifiers"), "--db", str(db)])
    assert res.exit_code == 1 and "direct_identifier" in res.output
    assert "Jansen" not in res.output
    res = runner.invoke(app, ["registry", "import", str(BAD / "identifiers"), "--db", str(db),
                              "--identifier-key-file", str(key)])
    assert res.exit_code == 0, res.output


def test_export_to_excel_then_validate_the_workbook(clean_dir, tmp_path):
    db = tmp_path / "reg.sqlite"
    assert runner.invoke(app, ["registry", "import", str(clean_dir), "--db", str(db)]).exit_code == 0
    xlsx = tmp_path / "registry.xlsx"
    res = runner.invoke(app, ["registry", "export", str(xlsx), "--db", str(db), "--format", "excel"])
    assert res.exit_code == 0 and xlsx.exists()
    res = runner.invoke(app, ["registry", "validate", str(xlsx), "--plain"])
    assert res.exit_code == 0 and "0 error(s), 0 warning(s)" in res.output
