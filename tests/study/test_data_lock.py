"""The protocol's data lock is a censoring date, worked by hand on four patients (time unit days).

Lock 2020-07-01. Every index resection is on 2020-01-01, so the lock is 182 days after it (2020 is a leap year).
* A: distant progression 2020-09-01 and last contact 2021-01-01, both after the lock: PFS and OS censored
  at the lock, 182 days (without the lock PFS is an event at 244 days, OS censored at 366).
* B: dies 2020-03-01, before the lock: OS event at 60 days, with or without the lock.
* C: systemic therapy started 2020-08-01, after the lock: ignored (``systemic_after_origin`` false).
* D: first treatment 2020-09-01, after the lock: no origin, so no follow-up.
The same registry as a CSV folder runs: records after the lock do not fail a study (a study frozen on a
registry that keeps growing).
"""
from __future__ import annotations

import importlib.util
import math
import warnings
from pathlib import Path

import pytest

from oligomet.registry import write_registry
from oligomet.study import run_study
from oligomet.study.protocol_source import ProtocolError, loads

_spec = importlib.util.spec_from_file_location(
    "hand_registry_fixture", Path(__file__).resolve().parents[1] / "endpoints" / "registry_fixture.py")
fixture = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fixture)

LOCK = "2020-07-01"


def registry():
    p, t, e = fixture.patient, fixture.treatment, fixture.event
    return fixture.build_registry(
        [p("A", last_contact_date="2021-01-01"), p("B", death_date="2020-03-01", last_contact_date="2020-03-01"),
         p("C", last_contact_date="2021-01-01"), p("D", last_contact_date="2021-01-01")],
        treatments=[t("TA", "A", "resection", "2020-01-01", intent="curative"),
                    t("TB", "B", "resection", "2020-01-01", intent="curative"),
                    t("TC", "C", "resection", "2020-01-01", intent="curative"),
                    t("TC2", "C", "systemic", "2020-08-01", intent="palliative"),
                    t("TD", "D", "resection", "2020-09-01", intent="curative")],
        events=[e("A", "2020-09-01", "distant_progression")])


def protocol(lock_line: str, data: str = "synthetic = {n_patients = 10}") -> str:
    return f"""
title = "Data lock"
name = "lock"
time_unit = "days"
[data]
{data}
{lock_line}
[[endpoints]]
name = "os"
[[endpoints]]
name = "pfs"
"""


def study(text: str, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return run_study(loads(text, "toml"), **kw)


def run(text: str, **kw):
    return study(text, **kw).cohort.set_index("patient_id")


def test_methods_state_the_lock():
    methods = " ".join(study(protocol(f'data_lock = "{LOCK}"'), tables=registry()).results.methods)
    assert f"Data were locked on {LOCK}: records after that date were ignored and follow-up was censored" in methods
    assert "locked" not in " ".join(study(protocol(""), tables=registry()).results.methods)


@pytest.fixture(scope="module")
def locked():
    return run(protocol(f'data_lock = "{LOCK}"'), tables=registry())


@pytest.fixture(scope="module")
def unlocked():
    return run(protocol(""), tables=registry())


def test_event_after_the_lock_is_censored_at_the_lock(locked, unlocked):
    assert (unlocked.loc["A", "pfs_time"], unlocked.loc["A", "pfs_event"]) == (244.0, 1.0)
    assert (unlocked.loc["A", "os_time"], unlocked.loc["A", "os_event"]) == (366.0, 0.0)
    assert (locked.loc["A", "pfs_time"], locked.loc["A", "pfs_event"]) == (182.0, 0.0)
    assert (locked.loc["A", "os_time"], locked.loc["A", "os_event"]) == (182.0, 0.0)


def test_event_before_the_lock_is_kept(locked, unlocked):
    for frame in (locked, unlocked):
        assert (frame.loc["B", "os_time"], frame.loc["B", "os_event"]) == (60.0, 1.0)


def test_treatment_after_the_lock_is_ignored(locked, unlocked):
    assert bool(unlocked.loc["C", "systemic_after_origin"]) is True
    assert bool(locked.loc["C", "systemic_after_origin"]) is False
    assert locked.loc["C", "os_time"] == 182.0
    # D's only treatment is after the lock: no index treatment, no origin, no follow-up
    assert unlocked.loc["D", "index_treatment_id"] == "TD"
    assert locked.loc["D", "index_treatment_id"] is None and math.isnan(locked.loc["D", "os_time"])


def test_toml_date_and_declared_format_give_the_same_lock(locked):
    for line in (f"data_lock = {LOCK}", 'date_format = "DD/MM/YYYY"\ndata_lock = "01/07/2020"'):
        assert loads(protocol(line), "toml").data.data_lock == LOCK
        assert run(protocol(line), tables=registry()).equals(locked)


@pytest.mark.parametrize("value", ["01-02-2020", "2020-1-2", "2020/07/01", "July 1, 2020"])
def test_non_iso_lock_is_a_protocol_error(value):
    text = protocol(f'data_lock = "{value}"')
    with pytest.raises(ProtocolError) as err:
        loads(text, "toml")
    (field, line, message), = err.value.problems
    assert field == "data.data_lock" and line == text.splitlines().index(f'data_lock = "{value}"') + 1
    assert "YYYY-MM-DD" in message and repr(value) in message


def test_ambiguous_lock_names_both_readings():
    with pytest.raises(ProtocolError, match=r"2020-02-01 \(day first\) or 2020-01-02 \(month first\)"):
        loads(protocol('data_lock = "01-02-2020"'), "toml")


def test_records_after_the_lock_do_not_fail_a_folder_study(tmp_path, locked):
    write_registry(registry(), tmp_path / "reg")
    folder = run(protocol(f'data_lock = "{LOCK}"', data=f'folder = "{tmp_path / "reg"}"'))
    assert folder.loc["A", ["pfs_time", "pfs_event", "os_time"]].tolist() == [182.0, 0.0, 182.0]
    assert bool(folder.loc["C", "systemic_after_origin"]) is False


def test_registry_cli_refuses_a_non_iso_data_lock(tmp_path):
    from typer.testing import CliRunner

    from oligomet.cli import app

    write_registry(registry(), tmp_path / "reg")
    bad = CliRunner().invoke(app, ["registry", "validate", str(tmp_path / "reg"), "--data-lock", "01-02-2020"])
    assert bad.exit_code == 2 and "2020-02-01 (day first) or 2020-01-02 (month first)" in bad.output
    assert "--date-format" in bad.output
    ok = CliRunner().invoke(app, ["registry", "validate", str(tmp_path / "reg"), "--data-lock", "01-02-2021",
                                  "--date-format", "DD-MM-YYYY", "--plain"])
    assert ok.exit_code == 0, ok.output
    late = CliRunner().invoke(app, ["registry", "validate", str(tmp_path / "reg"), "--data-lock", "01-02-2020",
                                    "--date-format", "DD-MM-YYYY", "--plain"])
    assert late.exit_code == 1 and "after the data-lock date 2020-02-01" in late.output
