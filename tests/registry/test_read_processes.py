"""A CSV folder read in worker processes gives the tables and the problem report of reading it here.

``registry/_processes.py``: each table's file is read and conformed in a task of its own, shared between
this process and forked workers; the problems of each task are merged in the order reading one table
after another gives. Fork is used only when this is the one Python thread.
"""
from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

from oligomet.registry import io, read_registry, validate
from oligomet.registry import _processes as processes
from oligomet.registry.fields import TABLE_ORDER, TABLES
from oligomet.registry.importers.tabular import csv_tables

DATA = Path(__file__).parent / "data"
BAD = Path(__file__).parent / "bad"
FOLDERS = [DATA / "clean"] + sorted(p for p in BAD.iterdir() if p.is_dir())
KEY = "a secret of twenty characters"


@pytest.fixture()
def pools(monkeypatch, task_pools):
    """Worker processes even for the small test folders; counts the pools started."""
    monkeypatch.setattr(io, "_PROCESSES_FROM_BYTES", 0)
    return task_pools


def _read(monkeypatch, folder: Path, n: str, **kw):
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", n)
    return read_registry(folder, **kw)


def assert_same(here, there) -> None:
    (tables_here, report_here), (tables_there, report_there) = here, there
    assert list(tables_here) == list(tables_there) == list(TABLE_ORDER)
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(tables_here[name], tables_there[name], check_exact=True)
        # the index holds the source rows as Python ints (or is empty): the same objects' types too
        assert list(map(type, tables_here[name].index)) == list(map(type, tables_there[name].index)), name
    pd.testing.assert_frame_equal(report_here.problems, report_there.problems, check_exact=True)


def damaged_folder(tmp_path: Path) -> Path:
    """Problems of every stage, in several tables at once: reading (a file of NUL bytes, a stray quote,
    a short line, a second file of one table, files of no table), identifiers, unknown columns, and
    parsing, also in complications (whose patient comes from treatments) read from a ';' file."""
    folder = tmp_path / "damaged"
    shutil.copytree(DATA / "clean", folder)
    (folder / "adverse_events.csv").write_bytes(b"patient_id,date,term\nP001,2017-06-20,neuro\x00pathy\n")
    (folder / "Labs.CSV").write_text("patient_id,date,cea\nP001,2017-05-12,12.4\n")   # read, not labs.csv
    (folder / "notes.csv").write_text("a,b\n1,2\n")
    (folder / "another.csv").write_text("c\n3\n")
    patients = (folder / "patients.csv").read_text().splitlines()
    patients[0] += ",name,shoe_size"
    patients[1:] = [line + f",Person {i},4{i}" for i, line in enumerate(patients[1:])]
    patients[2] = patients[2].rsplit(",", 3)[0]                     # a short line
    (folder / "patients.csv").write_text("\n".join(patients) + "\n")
    (folder / "complications.csv").write_text(
        "treatment_id;date;clavien_dindo;description\n"
        "P001-T2;2017-02-30;II;wound infection\n"
        "P002-T2;05/03/2020;IIIz;pneumothorax\n"
        "P404-T1;2020-03-05;I;\n")
    events = (folder / "events.csv").read_text().splitlines()
    events.insert(2, 'P002,,2021-02-01,"distant_progression,liver,,,')   # a quote opened, never closed
    (folder / "events.csv").write_text("\n".join(events) + "\n")
    return folder


@pytest.mark.parametrize("folder", FOLDERS, ids=lambda p: p.name)
def test_workers_read_the_test_folders_as_this_process_does(folder, monkeypatch, pools):
    here = _read(monkeypatch, folder, "1")
    assert pools.made == 0
    there = _read(monkeypatch, folder, "2")
    tables = [name for name in csv_tables(folder) if name in TABLES]
    assert pools.made == (threading.active_count() == 1 and len(tables) > 1)
    assert_same(here, there)


@pytest.mark.parametrize("kw", [{}, {"identifier_key": KEY}, {"date_format": "DD/MM/YYYY"}], ids=str)
def test_workers_report_damaged_files_as_this_process_does(tmp_path, monkeypatch, pools, kw):
    folder = damaged_folder(tmp_path)
    here = _read(monkeypatch, folder, "1", **kw)
    there = _read(monkeypatch, folder, "3", **kw)
    assert pools.made == (threading.active_count() == 1)
    assert_same(here, there)
    problems = here[1].problems
    rules = set(problems["rule"])
    assert {"file_unreadable", "duplicate_table", "unknown_table", "unknown_column", "wrong_field_count",
            "unbalanced_quote", "date_unparseable"} <= rules
    assert ("direct_identifier" in rules) == ("identifier_key" not in kw)
    # the patient of a complication's problem comes from the treatments table
    dates = problems[(problems["table"] == "complications") & (problems["rule"] == "date_unparseable")]
    assert list(dates["patient_id"]) == ["P001"]
    pd.testing.assert_frame_equal(validate(here[0]).problems, validate(there[0]).problems, check_exact=True)


def test_no_fork_while_another_python_thread_runs(tmp_path, monkeypatch, pools, another_thread):
    folder = damaged_folder(tmp_path)
    here = _read(monkeypatch, folder, "1")
    with another_thread():
        there = _read(monkeypatch, folder, "2")
    assert pools.made == 0
    assert_same(here, there)


def test_small_folders_are_read_here(monkeypatch):
    monkeypatch.setattr(processes, "ProcessPoolExecutor", None)   # would fail if used
    _read(monkeypatch, DATA / "clean", "2")


def twice(key):
    return key * 2


def test_tasks_give_their_results_in_the_order_given(monkeypatch):
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", "3")
    done = processes.run_tasks(twice, {k: (k,) for k in "dcbae"})
    assert list(done.items()) == [(k, k * 2) for k in "dcbae"]


def fails(key, where: str, caller: int):
    time.sleep(0.2)   # long enough for each process to take some of the tasks
    if (os.getpid() == caller) == (where == "here"):
        raise KeyError(f"task {key} failed {where}")
    return key


@pytest.mark.parametrize("where", ["here", "in a worker"])
def test_an_error_in_a_task_is_raised_to_the_caller(monkeypatch, where):
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", "2")
    if threading.active_count() > 1 and where != "here":
        pytest.skip("no worker while another Python thread runs")
    with pytest.raises(KeyError, match=f"failed {where}"):
        processes.run_tasks(fails, {k: (k, where, os.getpid()) for k in "abcd"})


@pytest.mark.parametrize("value", ["0", "-1", "two", "1.5"])
def test_a_bad_process_count_is_refused(monkeypatch, value):
    monkeypatch.setenv("OLIGOMET_IMPORT_PROCESSES", value)
    with pytest.raises(ValueError, match="OLIGOMET_IMPORT_PROCESSES"):
        processes.import_processes()
