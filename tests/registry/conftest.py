"""Registry test fixtures: the clean examples and both database backends (PostgreSQL fixtures: tests/conftest.py)."""
from __future__ import annotations

from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
BAD = Path(__file__).parent / "bad"


@pytest.fixture()
def clean_dir() -> Path:
    return DATA / "clean"


@pytest.fixture()
def redcap_clean() -> Path:
    return DATA / "redcap_clean.csv"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """The same store tests on a SQLite file and on a real PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.sqlite'}"
    return request.getfixturevalue("pg_url")
