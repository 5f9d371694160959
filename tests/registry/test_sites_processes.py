"""Site imports in real, separate processes (issue 15 "what must show"), SQLite and PostgreSQL:

* two ``oligomet registry import --site`` processes at once run one after the other: the second
  waits for the store's write lock while the first is paused inside its transaction;
* ``kill -9`` of a site's import in the middle of its transaction (after it deleted the site's
  stored rows and wrote some of the new ones) leaves every site's rows, the provenance and the
  store as they were, and the next import works.

The children run ``tests/registry/import_child.py``, which stops at a named stage of the write
(``registry/store.py`` ``_trace``), so that the pause and the kill land at the same place every time.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

import oligomet
from oligomet.registry import Store, read_registry
from oligomet.registry.fields import TABLE_ORDER

from test_sites import assert_same_tables, raw_rows_of_site, site_export, strip_site

CHILD = Path(__file__).with_name("import_child.py")
_WAIT = 120   # seconds: a child that has not reached a stage by then has hung (a failure, not a timing check)


def start_import(markers: Path, stop_at: str, mode: str, *args: str) -> subprocess.Popen:
    markers.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(Path(oligomet.__file__).parents[1])}
    return subprocess.Popen([sys.executable, str(CHILD), str(markers), stop_at, mode, *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def wait_for(marker: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + _WAIT
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the import ended ({proc.returncode}) before {marker.name}:\n{proc.stdout.read()}")
        assert time.monotonic() < deadline, f"the import did not reach {marker.name} in {_WAIT} s"
        time.sleep(0.05)


def finish(proc: subprocess.Popen) -> str:
    out, _ = proc.communicate(timeout=_WAIT)
    assert proc.returncode == 0, out
    return out


def provenance_rows(url: str) -> dict[str, pd.DataFrame]:
    with Store.open_read_only(url) as store, store.engine.connect() as conn:
        return {t: pd.read_sql(sa.text(f"SELECT * FROM {t} ORDER BY 1, 2"), conn)
                for t in ("imports", "import_files", "import_counts", "import_patients")}


def test_two_site_imports_at_once_are_serialised(db_url, clean_dir, tmp_path):
    clean, _ = read_registry(clean_dir)
    pids = ["P001", "P002", "P003", "P004"]
    exports = {s: site_export(clean, pids, tmp_path / s) for s in ("A", "B")}
    Store(db_url).close()   # the schema exists before the two processes start
    first = start_import(tmp_path / "mA", "wrote_lesions", "wait", str(exports["A"]), "--site", "A", "--db", db_url)
    wait_for(tmp_path / "mA" / "wrote_lesions", first)
    second = start_import(tmp_path / "mB", "none", "wait", str(exports["B"]), "--site", "B", "--db", db_url)
    try:
        wait_for(tmp_path / "mB" / "lock_wait", second)
        time.sleep(2)
        # A holds the write lock half-way through its write: B waits at the lock, and nobody sees A's rows
        assert not (tmp_path / "mB" / "locked").exists() and second.poll() is None
        with Store.open_read_only(db_url) as store:
            assert store.load()["patients"].empty and store.imports().empty
    finally:
        (tmp_path / "mA" / "go").touch()
    finish(first)
    finish(second)
    assert (tmp_path / "mB" / "locked").stat().st_mtime_ns >= (tmp_path / "mA" / "go").stat().st_mtime_ns
    with Store.open_read_only(db_url) as store:
        stored = store.load()
        assert list(store.imports()["site"]) == ["A", "B"]
    for site in ("A", "B"):
        want = {n: f.assign(site=site) if n == "patients" else f for n, f in clean.items()}
        assert_same_tables(strip_site(stored, site), want)


def test_kill_9_in_the_middle_of_a_site_import_leaves_every_site_and_the_store_intact(db_url, clean_dir, tmp_path):
    clean, _ = read_registry(clean_dir)
    pids = ["P001", "P002", "P003", "P004"]
    with Store(db_url) as store:
        for site in ("A", "B"):
            assert store.import_registry(site_export(clean, pids, tmp_path / site), site=site).status == "imported"
    before = {s: raw_rows_of_site(db_url, s) for s in ("A", "B")}
    provenance = provenance_rows(db_url)
    # B's new export (P004 withdrawn) is killed after its DELETE of B's rows and the first inserts
    new_b = site_export(clean, ["P001", "P002", "P003"], tmp_path / "B2")
    child = start_import(tmp_path / "m", "wrote_lesions", "hang", str(new_b), "--site", "B", "--db", db_url)
    try:
        wait_for(tmp_path / "m" / "wrote_lesions", child)
        assert (tmp_path / "m" / "deleted").exists()
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=_WAIT)
    assert child.returncode == -signal.SIGKILL
    # opening for writing: SQLite rolls the hot journal back here
    with Store(db_url) as store, store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
            assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
    for site in ("A", "B"):
        after = raw_rows_of_site(db_url, site)
        for name in TABLE_ORDER:
            pd.testing.assert_frame_equal(after[name], before[site][name], obj=f"{site} {name}")
    for name, frame in provenance_rows(db_url).items():
        pd.testing.assert_frame_equal(frame, provenance[name], obj=name)
    # the store works: the same import, now without a kill, replaces B (on PostgreSQL it first waits
    # until the server has ended the dead client's transaction and its lock)
    with Store(db_url, statement_timeout=_WAIT) as store:
        result = store.import_registry(new_b, site="B")
        assert result.status == "imported", result.report
        stored = store.load()
    assert stored["patients"]["patient_id"].str.startswith("B:").sum() == 3
    assert raw_rows_of_site(db_url, "A")["patients"].equals(before["A"]["patients"])
