"""Shared test configuration, and the real PostgreSQL server every store test uses (registry, board, web)."""
from __future__ import annotations

import contextlib
import glob
import os
import subprocess
import threading
import uuid
from pathlib import Path

import pytest

REFERENCE_DIR = Path(__file__).parent / "reference"
PG_ADMIN_URL = os.environ.get("OLIGOMET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture()
def task_pools(monkeypatch):
    """Counts the worker pools ``registry/_processes.run_tasks`` starts (``task_pools.made``).

    The import stages that use it (reading a folder, ``validate``, ``data_hash``) each fork only from a
    size of their own: a test sets that to 0 to have workers for its small data.
    """
    from oligomet.registry import _processes

    class CountingPool(_processes.ProcessPoolExecutor):
        made = 0

        def __init__(self, *args, **kw):
            type(self).made += 1
            super().__init__(*args, **kw)

    monkeypatch.setattr(_processes, "ProcessPoolExecutor", CountingPool)
    return CountingPool


@pytest.fixture()
def another_thread():
    """A context manager inside which another Python thread runs (so no worker may be forked)."""
    @contextlib.contextmanager
    def running():
        stop = threading.Event()
        other = threading.Thread(target=stop.wait)
        other.start()
        try:
            yield other
        finally:
            stop.set()
            other.join()
    return running


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    return REFERENCE_DIR


def _pg_connect():
    import psycopg2
    return psycopg2.connect(PG_ADMIN_URL, connect_timeout=3)


@pytest.fixture(scope="session")
def pg_server():
    """A reachable PostgreSQL server: connect, else try to start the local cluster, else skip."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed")
    try:
        _pg_connect().close()
        return PG_ADMIN_URL
    except Exception as first:
        for version in sorted(glob.glob("/etc/postgresql/*")):
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", Path(version).name, "main", "start"],
                           capture_output=True, timeout=60)
        try:
            _pg_connect().close()
            return PG_ADMIN_URL
        except Exception:
            message = f"no PostgreSQL server could be reached or started: {first}"
            if os.environ.get("OLIGOMET_REQUIRE_PG"):  # set by .ci/run: CI must test PostgreSQL for real
                pytest.fail(message)
            pytest.skip(message)


@pytest.fixture()
def pg_url(pg_server):
    """A fresh database for one test, dropped afterwards."""
    name = f"oligomet_test_{uuid.uuid4().hex[:12]}"
    conn = _pg_connect()
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
