"""board_decisions belongs to the registry's migrations: a store opened for writing has it (SQLite and
PostgreSQL) with exactly the columns board/decisions.py reads, its append-only triggers, and an older
store whose decisions were made on the fly before the migration existed keeps them. A database that
was never migrated gets a clear error, not a table."""
import datetime as dt

import pytest
import sqlalchemy as sa

from oligomet.board.decisions import Decision, DecisionError, DecisionLog, decisions
from oligomet.registry import Store
from oligomet.registry import store as store_module


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def url(request, tmp_path):
    return f"sqlite:///{tmp_path / 'reg.sqlite'}" if request.param == "sqlite" else request.getfixturevalue("pg_url")


def _decision(**kw):
    return Decision(**{"patient_id": "P1", "case_date": dt.date(2024, 1, 1), "chosen_option": "systemic therapy",
                       "recommended": ("systemic therapy",), "ruleset_version": "v1", "evidence_hash": "h" * 64,
                       "role": "surgeon", **kw})


def test_a_store_has_the_decision_table_its_guards_and_the_columns_decisions_reads(url):
    Store(url).close()
    log = DecisionLog(url)          # no migration here: the store's upgrade made the table
    cols = {c["name"] for c in sa.inspect(log.engine).get_columns("board_decisions")}
    assert cols == {c.name for c in decisions.columns}
    first = log.append(_decision())
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), log.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM board_decisions")
    assert list(log.history("P1")["id"]) == [first]
    log.close()


def test_an_unmigrated_database_gets_a_clear_error_and_no_table(url):
    with pytest.raises(DecisionError, match="no board_decisions table.*oligomet registry upgrade --db"):
        DecisionLog(url)
    engine = sa.create_engine(store_module._normalise_url(url))
    assert not sa.inspect(engine).has_table("board_decisions")
    engine.dispose()


def test_decisions_made_before_the_migration_are_kept_and_guarded(url):
    """A store at 0003 whose board_decisions table board/decisions.py made on first use (before 0004)."""
    from alembic import command

    engine = sa.create_engine(store_module._normalise_url(url))
    with engine.begin() as conn:
        cfg = store_module._migration_config()
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0003")
    decisions.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(decisions.insert().values(
            patient_id="OLD", case_date=dt.date(2023, 5, 1), chosen_option="resection", concordant=True,
            recommended='["resection"]', ruleset_version="v0", evidence_hash="e" * 64,
            recorded_at=dt.datetime(2023, 5, 1, tzinfo=dt.timezone.utc), role="surgeon"))
    engine.dispose()
    log = DecisionLog.open_store(url)       # migrates 0003 -> head
    assert list(log.history()["patient_id"]) == ["OLD"]
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), log.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE board_decisions SET role = 'x'")
    log.close()
