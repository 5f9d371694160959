"""Running twice gives identical numbers; the CLI prints one clear error line without a traceback."""
from __future__ import annotations

import json
import warnings

from typer.testing import CliRunner

from oligomet.cli import app
from oligomet.report.results_json import results_document
from oligomet.study import run_study

from .conftest import EXAMPLES


def _doc(registry):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study = run_study(EXAMPLES / "crlm_early_recurrence.yaml", tables=registry)
    return json.dumps(results_document(study.results), sort_keys=True, allow_nan=False)


def test_two_runs_give_identical_results(registry):
    first, second = _doc(registry), _doc(registry)
    assert first == second
    doc = json.loads(first)
    # the run is described completely: subgroups with interaction tests, Cox per endpoint
    assert set(doc["numbers"]["subgroups"]) == {"Recurrence within 4 months", "Neoadjuvant then local vs upfront local"}
    assert doc["numbers"]["subgroups"]["Recurrence within 4 months"]["os"]["interaction"]["df"] == 1
    assert {"os", "pfs"} <= set(doc["numbers"]["cox"])


def test_cli_validate_protocol_ok_and_error(tmp_path):
    runner = CliRunner()
    ok = runner.invoke(app, ["validate-protocol", str(EXAMPLES / "sarcoma_lung_metastasectomy.toml")])
    assert ok.exit_code == 0 and "valid" in ok.output
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "t"\nname = "t"\nfoo = 1\n[data]\nsynthetic = {n_patients = 10}\n'
                   '[[endpoints]]\nname = "os"\n')
    res = runner.invoke(app, ["validate-protocol", str(bad)])
    assert res.exit_code == 1
    assert "bad.toml:3: foo: unknown field 'foo'" in res.output
    assert "Traceback" not in res.output


def test_cli_run_error_is_one_message_and_debug_raises(tmp_path):
    runner = CliRunner()
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "t"\nname = "t"\n[data]\nfolder = "does-not-exist"\n[[endpoints]]\nname = "os"\n')
    res = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "r")])
    assert res.exit_code == 1 and res.output.startswith("error: ") and "no such file or folder" in res.output
    assert "Traceback" not in res.output
    dbg = runner.invoke(app, ["run", str(bad), "--out", str(tmp_path / "r"), "--debug"])
    assert dbg.exit_code != 0 and dbg.exception is not None


def test_cli_help_for_every_study_command():
    runner = CliRunner()
    for cmd in ("run", "demo", "validate-protocol"):
        res = runner.invoke(app, [cmd, "--help"])
        assert res.exit_code == 0 and "Usage" in res.output


def test_cli_demo_writes_four_reports_and_index(tmp_path):
    res = CliRunner().invoke(app, ["demo", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    index = (tmp_path / "index.html").read_text()
    names = ("salvage_after_sabr", "crlm_early_recurrence", "crlm_ablation_timing", "sarcoma_lung_metastasectomy")
    for name in names:
        assert f'href="{name}/report.html"' in index
        doc = json.loads((tmp_path / name / "results.json").read_text())
        assert doc["provenance"]["synthetic"] == {"n_patients": 5000, "seed": 20240601, "n_sites": 7}
        assert "Synthetic data" in (tmp_path / name / "report.html").read_text()
