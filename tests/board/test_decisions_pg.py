"""The decision record on PostgreSQL: the append-only trigger refuses UPDATE and DELETE there too.
Uses the registry tests' PostgreSQL fixtures (a fresh database per test)."""
import datetime as dt
import importlib.util
from pathlib import Path

import pytest
import sqlalchemy as sa

from oligomet.board.decisions import Decision, DecisionLog

_spec = importlib.util.spec_from_file_location("registry_conftest",
                                               Path(__file__).parents[1] / "registry" / "conftest.py")
_registry_fixtures = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_registry_fixtures)
pg_server = _registry_fixtures.pg_server
pg_url = _registry_fixtures.pg_url


@pytest.mark.postgres
def test_postgresql_decisions_append_only(pg_url):
    log = DecisionLog(pg_url)
    d = Decision("P1", dt.date(2024, 1, 1), "systemic therapy", ("systemic therapy",), "v1", "h" * 64, "surgeon")
    first = log.append(d)
    second = log.append(Decision("P1", d.case_date, "observation", d.recommended, "v1", "h" * 64,
                                 "medical_oncologist", reason="frail", corrects=first))
    for stmt in ("UPDATE board_decisions SET role = 'x'", "DELETE FROM board_decisions"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with log.engine.begin() as conn:
                conn.exec_driver_sql(stmt)
    hist = log.history("P1")
    assert list(hist["id"]) == [first, second] and hist.loc[0, "superseded_by"] == second
    assert list(hist["concordant"]) == [True, False]
    DecisionLog(pg_url).close()   # opening again keeps the table and its trigger
    log.close()
