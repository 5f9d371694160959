"""Registry test fixtures: the clean examples and real database backends (SQLite and PostgreSQL)."""
from __future__ import annotations

import glob
import os
import subprocess
import uuid
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
BAD = Path(__file__).parent / "bad"
PG_ADMIN_URL = os.environ.get("OLIGOMET_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture()
def clean_dir() -> Path:
    return DATA / "clean"


@pytest.fixture()
def redcap_clean() -> Path:
    return DATA / "redcap_clean.csv"


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


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The same store tests on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return request.getfixturevalue("pg_url")
