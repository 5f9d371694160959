"""The web app on PostgreSQL: login, a case, a decision; the audit chain and its append-only trigger.
Uses the shared PostgreSQL fixtures of tests/conftest.py (a fresh database per test)."""
import json

import pytest
import sqlalchemy as sa

from oligomet.datasets.synthetic import synthetic_registry
from oligomet.registry.store import Store
from oligomet.web.accounts import add_user
from oligomet.web.store import open_engine, verify_audit

from .conftest import PASSWORD, SITE_A, board_case, client_for, csrf_of


@pytest.mark.postgres
def test_web_app_on_postgresql(pg_url):
    from oligomet.web.app import create_app
    from oligomet.web.cases import Board
    registry = synthetic_registry(400, seed=11)
    with Store(pg_url) as store:
        assert store.import_registry(registry).ok
    engine = open_engine(pg_url)
    add_user(engine, "chair_a", "chair", [SITE_A], PASSWORD)
    app = create_app(engine, Board.from_url(engine, pg_url))
    c = client_for(app, "chair_a")
    pid, day = board_case(registry, SITE_A)
    r = c.post("/agenda", data={"date": day, "patient_id": pid, "csrf": csrf_of(c.get("/").text)})
    assert r.status_code == 200 and pid in r.text
    token = csrf_of(r.text)
    for fact, value in (("liver_resectable", "no"), ("liver_ablatable", "yes")):
        assert c.post("/case/1/fact", data={"fact": fact, "value": value, "csrf": token}).status_code == 200
    r = c.post("/case/1/decision", data={"other": "observation", "reason": "frail", "role": "surgeon",
                                        "follow_up": "CT in 3 months", "csrf": token})
    assert r.status_code == 200 and "CT in 3 months" in c.get("/decisions").text
    assert verify_audit(engine) == []
    with pytest.raises(sa.exc.DatabaseError, match="append-only"), engine.begin() as conn:
        conn.exec_driver_sql("UPDATE web_audit SET username = 'someone else'")
    with engine.begin() as conn:   # a tamperer with owner rights disables the trigger first
        conn.exec_driver_sql("ALTER TABLE web_audit DISABLE TRIGGER web_audit_append_only")
        conn.exec_driver_sql("UPDATE web_audit SET detail = '{}' WHERE action = 'decision'")
    problems = verify_audit(engine)
    assert len(problems) == 1 and "changed after it was written" in problems[0]
    with engine.connect() as conn:
        assert json.loads(conn.execute(sa.text("SELECT detail FROM web_audit WHERE action = 'fact_edit' "
                                               "ORDER BY id LIMIT 1")).scalar())["fact"] == "liver_resectable"
    app.state.board.engine.dispose()
    engine.dispose()
