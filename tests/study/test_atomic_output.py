"""Issue 16, D18 and D23: a report folder is replaced as a whole (no stale tables of a previous study, no
half report after a failed write), and the CLI names an error that has no message (MemoryError)."""
from __future__ import annotations

import errno
import json
import re
import warnings

import matplotlib
import pandas as pd
import pytest
from typer.testing import CliRunner

matplotlib.use("Agg")
from matplotlib.figure import Figure  # noqa: E402

from oligomet.cli import app  # noqa: E402
from oligomet.report import _atomic_folder, html  # noqa: E402
from oligomet.report.html import write_report  # noqa: E402
from oligomet.report.tables import ReportTable  # noqa: E402
from oligomet.report.document import FigureItem, StudyResults, TextItem  # noqa: E402

from .conftest import EXAMPLES  # noqa: E402


def _results(study: str, table_names: list[str]) -> StudyResults:
    res = StudyResults(title=f"Study {study}", name=study)
    sec = res.section("main", "Main")
    fig = Figure(figsize=(2, 2))
    fig.add_subplot().plot([0, 1], [1, 0])
    sec.items.append(FigureItem(f"km_{study}", "KM", fig))
    for name in table_names:
        sec.items.append(ReportTable(name, name, pd.DataFrame({"n": [1, 2]})))
    sec.items.append(TextItem(f"text of {study}"))
    res.numbers = {"study": study}
    res.provenance = {"study": study, "versions": {"oligomet": "test"}}
    return res


def _files(folder) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _siblings(folder) -> list[str]:
    return sorted(p.name for p in folder.parent.iterdir() if p.name != folder.name)


def test_a_second_report_replaces_the_first_without_stale_files(tmp_path):
    out = tmp_path / "report"
    write_report(_results("first", ["table_first", "shared"]), out)
    assert (out / "tables" / "table_first.csv").exists()
    write_report(_results("second", ["shared"]), out)
    files = _files(out)
    assert "tables/table_first.csv" not in files and "figures/km_first.png" not in files
    assert {"tables/shared.csv", "figures/km_second.png", "results.json", "report.html"} <= set(files)
    assert json.loads(files["results.json"])["numbers"] == {"study": "second"}
    assert _siblings(out) == []           # no temporary or old folder left beside it


@pytest.mark.parametrize("exchange", [True, False], ids=["renameat2-exchange", "two-renames"])
def test_a_failure_mid_write_leaves_the_previous_report_intact(tmp_path, monkeypatch, exchange):
    out = tmp_path / "report"
    write_report(_results("first", ["table_first"]), out)
    before = _files(out)
    if not exchange:
        monkeypatch.setattr(_atomic_folder, "_exchange", lambda a, b: False)

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    # the CSVs and figures of the new report are written, then the workbook fails
    monkeypatch.setattr(html, "write_docx", disk_full)
    with pytest.raises(OSError, match="No space left"):
        write_report(_results("second", ["table_second"]), out)
    assert _files(out) == before
    assert _siblings(out) == []           # the half-written new report is removed

    monkeypatch.undo()
    if not exchange:
        monkeypatch.setattr(_atomic_folder, "_exchange", lambda a, b: False)
    write_report(_results("second", ["table_second"]), out)   # and the next write works
    assert "tables/table_second.csv" in _files(out) and "tables/table_first.csv" not in _files(out)
    assert _siblings(out) == []


def test_a_failed_swap_puts_the_previous_report_back(tmp_path, monkeypatch):
    out = tmp_path / "report"
    write_report(_results("first", ["table_first"]), out)
    before = _files(out)
    monkeypatch.setattr(_atomic_folder, "_exchange", lambda a, b: False)
    real_rename = _atomic_folder.os.rename

    def rename(src, dst):
        if str(src).startswith(str(tmp_path / ".report.new-")):
            raise OSError(errno.EIO, "I/O error")
        real_rename(src, dst)

    monkeypatch.setattr(_atomic_folder.os, "rename", rename)
    with pytest.raises(OSError, match="I/O error"):
        write_report(_results("second", ["table_second"]), out)
    assert _files(out) == before and _siblings(out) == []


def test_a_folder_that_is_not_a_report_is_refused_and_untouched(tmp_path):
    out = tmp_path / "documents"
    out.mkdir()
    (out / "thesis.docx").write_bytes(b"precious")
    with pytest.raises(FileExistsError, match="is not empty and holds no oligomet report"):
        write_report(_results("first", ["t"]), out)
    assert _files(out) == {"thesis.docx": b"precious"} and _siblings(out) == []
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(FileExistsError, match="is a file"):
        write_report(_results("first", ["t"]), afile)


def test_an_empty_existing_folder_is_used(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    write_report(_results("first", ["t"]), out)
    assert "results.json" in _files(out)


def test_cli_run_into_a_previous_report_leaves_no_stale_tables(tmp_path, registry, monkeypatch):
    """The issue's reproduction: `oligomet run` into an --out that holds another study's report."""
    import oligomet.study as study_pkg

    out = tmp_path / "out"
    write_report(_results("previous", ["previous_table"]), out)
    (out / "tables" / "stale_from_an_old_version.csv").write_text("x\n")
    real = study_pkg.run_study
    monkeypatch.setattr(study_pkg, "run_study", lambda protocol, out=None, **kw: real(protocol, out=out,
                                                                                     tables=registry))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = CliRunner().invoke(app, ["run", str(EXAMPLES / "crlm_early_recurrence.yaml"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    files = _files(out)
    assert not [f for f in files if "previous" in f or "stale" in f]
    doc = json.loads(files["results.json"])
    assert doc["name"] == "crlm_early_recurrence"
    # every table file belongs to this run: the CSVs on disk are exactly those the new report.html links to
    linked = set(re.findall(r'href="(tables/[^"]+\.csv)"', files["report.html"].decode("utf-8")))
    assert linked and {f for f in files if f.endswith(".csv")} == linked


def test_cli_run_refuses_a_non_report_out_before_running(tmp_path, monkeypatch):
    import oligomet.study.cohort as cohort

    def never(*args, **kwargs):   # the refusal comes before the registry is even loaded
        raise AssertionError("the analysis ran")

    monkeypatch.setattr(cohort, "load_registry", never)
    out = tmp_path / "home"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    res = CliRunner().invoke(app, ["run", str(EXAMPLES / "crlm_early_recurrence.yaml"), "--out", str(out)])
    assert res.exit_code == 1
    assert res.output.startswith("error: ") and "holds no oligomet report" in res.output
    assert (out / "notes.txt").read_text() == "mine"


@pytest.mark.parametrize("exc, expected", [
    (MemoryError(), "error: MemoryError (the machine ran out of memory;"),
    (KeyError("site"), "error: KeyError: 'site'"),
    (RuntimeError(""), "error: RuntimeError; rerun with --debug"),
    (ValueError("time column 'os' has negative times"), "error: time column 'os' has negative times\n"),
])
def test_cli_names_errors_without_a_message(tmp_path, monkeypatch, exc, expected):
    import oligomet.study as study_pkg

    def fail(*args, **kwargs):
        raise exc

    monkeypatch.setattr(study_pkg, "run_study", fail)
    res = CliRunner().invoke(app, ["run", str(EXAMPLES / "crlm_early_recurrence.yaml"), "--out",
                                   str(tmp_path / "r")])
    assert res.exit_code == 1
    assert res.output.startswith(expected)
    assert res.output.strip() != "error:" and "Traceback" not in res.output
