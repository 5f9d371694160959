"""The decision record on PostgreSQL: the append-only trigger refuses UPDATE and DELETE there too.
Uses the shared PostgreSQL fixtures of tests/conftest.py (a fresh database per test)."""
import datetime as dt

import pytest
import sqlalchemy as sa

from oligomet.board.decisions import Decision, DecisionLog


@pytest.mark.postgres
def test_postgresql_decisions_append_only(pg_url):
    log = DecisionLog.open_store(pg_url)
    d = Decision("P1", dt.date(2024, 1, 1), "systemic therapy", ("systemic therapy",), "v1", "h" * 64, "surgeon")
    first = log.append(d)
    second = log.append(Decision("P1", d.case_date, "observation", d.recommended, "v1", "h" * 64,
                                 "medical_oncologist", reason="frail", corrects=first))
    for stmt in ("UPDATE board_decisions SET role = 'x'", "DELETE FROM board_decisions"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), log.engine.begin() as conn:
            conn.exec_driver_sql(stmt)
    hist = log.history("P1")
    assert list(hist["id"]) == [first, second] and hist.loc[0, "superseded_by"] == second
    assert list(hist["concordant"]) == [True, False]
    DecisionLog(pg_url).close()   # opening again keeps the table and its trigger
    log.close()
