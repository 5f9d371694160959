"""The board sheet end to end: a synthetic registry in SQLite, `oligomet board case` writes the
sheet and case.json, `oligomet board decide` appends decisions (append-only, corrections point back),
and the early-recurrence sheet shows the study's HR direction built into the synthetic registry."""
import json
import warnings

import pandas as pd
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from oligomet.board.case import case_from_registry
from oligomet.board.decisions import Decision, DecisionError, DecisionLog
from oligomet.board.predict import RegistryContext
from oligomet.board.sheet import build_sheet
from oligomet.cli import app
from oligomet.datasets.synthetic import synthetic_registry
from oligomet.registry.store import Store
from oligomet.report.board_sheet import render_sheet

runner = CliRunner()


@pytest.fixture(scope="module")
def registry():
    return synthetic_registry(1500, seed=11)


@pytest.fixture(scope="module")
def db(registry, tmp_path_factory):
    path = tmp_path_factory.mktemp("db") / "reg.sqlite"
    with Store(path) as store:
        assert store.import_registry(registry).ok
    return str(path)


def _early_recurrence_patient(registry):
    from oligomet.endpoints import derive_endpoints
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fr = derive_endpoints(registry, origin="first_recurrence")
    pick = fr[(fr["primary_site"] == "colorectal") & (fr["first_local_modality"] == "resection")
              & (fr["recurrence_months"] > 4) & (fr["recurrence_months"] <= 12)
              & (fr["origin_date"] < pd.Timestamp("2023-01-01"))]
    row = pick.iloc[0]
    return row["patient_id"], (row["origin_date"] + pd.Timedelta(days=7)).date().isoformat()


def test_cli_case_writes_sheet_and_json_then_decide(registry, db, tmp_path):
    pid, as_of = _early_recurrence_patient(registry)
    case_file = tmp_path / "judgement.toml"
    case_file.write_text("[organs.liver]\ntechnically_resectable = true\n")
    out = tmp_path / "sheet"
    r = runner.invoke(app, ["board", "case", "--patient", pid, "--as-of", as_of, "--db", db, "--case",
                            str(case_file), "--out", str(out)])
    assert r.exit_code == 0, r.output
    doc = json.loads((out / "case.json").read_text())
    assert doc["case"]["patient_id"] == pid
    assert doc["rules"]["recommendation"][0] == "repeat local treatment of the liver (resection or ablation)"
    assert [p["rule"] for p in doc["rules"]["path"]][0] == "CRLM-ER-4-to-12m"
    html = (out / "board_sheet.html").read_text()
    assert "Treatment was chosen by indication" in html and "@page { size: A4" in html
    assert pid in html and "unknown" in html

    log_db = str(tmp_path / "decisions.sqlite")
    opt = doc["rules"]["recommendation"][0]
    r = runner.invoke(app, ["board", "decide", "--sheet", str(out / "case.json"), "--option", opt,
                            "--role", "surgeon", "--db", log_db])
    assert r.exit_code == 0, r.output
    assert "concordant" in r.output and "discordant" not in r.output
    r = runner.invoke(app, ["board", "decide", "--sheet", str(out / "case.json"), "--option", "observation",
                            "--role", "surgeon", "--db", log_db])
    assert r.exit_code == 1 and "give the reason" in r.output
    r = runner.invoke(app, ["board", "decide", "--sheet", str(out / "case.json"), "--option", "systemic therapy",
                            "--role", "medical_oncologist", "--reason", "patient preference", "--corrects", "1",
                            "--db", log_db])
    assert r.exit_code == 0, r.output
    hist = DecisionLog(log_db).history(pid)
    assert list(hist["concordant"]) == [True, True]       # 'systemic therapy' is the rule's second option
    assert hist.loc[0, "superseded_by"] == 2 and hist.loc[1, "corrects"] == 1
    assert hist.loc[0, "evidence_hash"] == doc["evidence_hash"]
    assert hist.loc[0, "ruleset_version"] == doc["rules"]["version"]


def test_cli_unknown_patient_is_one_clear_line(db, tmp_path):
    r = runner.invoke(app, ["board", "case", "--patient", "NOPE", "--as-of", "2020-01-01", "--db", db,
                            "--out", str(tmp_path / "x")])
    assert r.exit_code == 1 and "unknown patient id 'NOPE'" in r.output


def test_cli_case_file_only(tmp_path):
    p = tmp_path / "case.yaml"
    p.write_text("patient_id: Q1\nas_of: 2024-03-01\nprimary_site: colorectal\n"
                 "organs:\n  liver: {n_lesions: 2, largest_mm: 30, curable: false}\n"
                 "  lung: {n_lesions: 1, largest_mm: 12, curable: true}\n")
    r = runner.invoke(app, ["board", "case", "--case", str(p), "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert "recommendation: systemic therapy" in r.output
    assert "needs: BRAF status" in r.output


def test_decisions_are_append_only(tmp_path):
    log = DecisionLog.open_store(str(tmp_path / "d.sqlite"))
    d = Decision("P1", pd.Timestamp("2024-01-01").date(), "systemic therapy", ("systemic therapy",), "v1", "h" * 64,
                 "surgeon")
    i = log.append(d)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), log.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE board_decisions SET chosen_option = 'x'")
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), log.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM board_decisions")
    with pytest.raises(DecisionError, match="does not exist"):
        log.append(Decision("P1", d.case_date, "systemic therapy", d.recommended, "v1", "h" * 64, "surgeon",
                            corrects=99))
    with pytest.raises(DecisionError, match="about patient P1"):
        log.append(Decision("P2", d.case_date, "systemic therapy", d.recommended, "v1", "h" * 64, "surgeon",
                            corrects=i))
    with pytest.raises(DecisionError, match="role 'boss'"):
        log.append(Decision("P1", d.case_date, "systemic therapy", d.recommended, "v1", "h" * 64, "boss"))
    assert len(log.history()) == 1


def test_early_recurrence_sheet_shows_the_built_in_hr_direction(registry):
    # the synthetic registry builds in HR 0.42 for repeat local treatment vs systemic only (OS)
    pid, as_of = _early_recurrence_patient(registry)
    ctx = RegistryContext(registry)
    case = case_from_registry(registry, pid, as_of)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sheet = build_sheet(case, ctx)
    p = sheet.prediction
    assert p.setting.startswith("recurrence of colorectal liver metastases")
    hr = p.cox_hr
    (term,) = [t for t in hr.index if t.startswith("repeat local treatment")] or \
        [t for t in hr.index if t.startswith("systemic therapy alone")]
    direction = hr.loc[term, "hr"] < 1 if term.startswith("repeat") else hr.loc[term, "hr"] > 1
    assert direction, hr
    curves = p.cox_curves.pivot(index="time", columns="option", values="survival")
    assert (curves["repeat local treatment"] >= curves["systemic therapy alone"] - 1e-12).all()
    assert "not treatment effects" in render_sheet(sheet)


def test_cli_check_reports_a_planted_conflict_and_unknown_fact(tmp_path):
    r = runner.invoke(app, ["board", "check"])
    assert r.exit_code == 0 and "ok" in r.output
    rule = ('[[rule]]\nid = "{id}"\nversion = 1\nsource = {{document = "t"}}\n'
            'when = {{fact = "{fact}", is = true}}\noptions = ["{opt}"]\n')
    (tmp_path / "r.toml").write_text('[ruleset]\nid = "t"\nversion = "0"\n' + rule.format(id="a", fact="lung_curable",
                                                                                         opt="x")
                                     + rule.format(id="b", fact="liver_curable", opt="y"))
    r = runner.invoke(app, ["board", "check", "--rules", str(tmp_path)])
    assert r.exit_code == 1 and "conflict in t / default: a and b" in r.output
    (tmp_path / "r.toml").write_text('[ruleset]\nid = "t"\nversion = "0"\n' + rule.format(id="a", fact="lung_cure",
                                                                                         opt="x"))
    r = runner.invoke(app, ["board", "check", "--rules", str(tmp_path)])
    assert r.exit_code == 1 and "r.toml:8: rule.0.when.fact: unknown fact 'lung_cure'" in r.output
