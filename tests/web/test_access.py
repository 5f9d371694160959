"""Access and audit of the board web app, through FastAPI's TestClient: every route refuses an
anonymous request, cookies and headers, lockout, CSRF, roles, per-site 403, and the audit chain."""
import json

import sqlalchemy as sa
from fastapi.routing import APIRoute
from typer.testing import CliRunner

from oligomet.cli import app as cli
from oligomet.web.accounts import add_user, authenticate
from oligomet.web.app import POLICY
from oligomet.web.store import audit, open_engine, verify_audit

from .conftest import PASSWORD, SITE_A, SITE_B, board_case, client_for, csrf_of, login


def _audit(engine, action=None):
    with engine.connect() as conn:
        q = sa.select(audit).order_by(audit.c.id)
        if action:
            q = q.where(audit.c.action == action)
        return conn.execute(q).all()


def test_every_protected_route_refuses_an_anonymous_request(web):
    app, _ = web
    c = client_for(app)
    routes = [r for r in app.routes if isinstance(r, APIRoute)]
    assert {r.name for r in routes} == set(POLICY), "each route must be named in the access policy"
    checked = 0
    for r in routes:
        if POLICY[r.name] == "public":
            continue
        path = r.path.replace("{agenda_id}", "1")
        for method in r.methods:
            resp = c.request(method, path, follow_redirects=False)
            assert resp.status_code in (303, 401), (method, path, resp.status_code)
            if resp.status_code == 303:
                assert resp.headers["location"] == "/login"
            checked += 1
    assert checked >= 10


def test_session_cookie_flags_and_security_headers(web):
    app, _ = web
    c = client_for(app)
    r = login(c, "viewer_a")
    cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("oligomet_session=")][0]
    for flag in ("HttpOnly", "Secure", "SameSite=strict", "Max-Age=28800", "Path=/"):
        assert flag in cookie
    page = c.get("/")
    csp = page.headers["content-security-policy"]
    script_src = [p for p in csp.split(";") if p.strip().startswith("script-src")][0]
    assert "'self'" in script_src and "unsafe-inline" not in script_src
    assert "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "<script>" not in page.text and "<script src=\"/static/app.js\"" in page.text


def test_lockout_after_repeated_failures(web):
    app, engine = web
    add_user(engine, "locky", "viewer", [SITE_A], PASSWORD)
    c = client_for(app)
    for _ in range(4):
        assert login(c, "locky", "wrong password!").status_code == 401
    r = login(c, "locky", "wrong password!")
    assert "locked" in r.text
    r = login(c, "locky")              # the right password no longer opens it
    assert r.status_code == 401 and "locked" in r.text
    assert authenticate(engine, "locky", PASSWORD)[1] == "locked"
    assert len(_audit(engine, "login_locked")) >= 2
    assert any(e.username == "locky" for e in _audit(engine, "login_bad"))
    runner = CliRunner()
    r = runner.invoke(cli, ["board", "users", "reset", "locky", "--db", str(engine.url.database)])
    assert r.exit_code == 0, r.output
    one_time = r.output.strip().rsplit(" ", 1)[1]
    r = login(c, "locky", one_time)
    assert r.status_code == 303 and r.headers["location"] == "/password"   # must change it first
    assert c.get("/", follow_redirects=False).headers["location"] == "/password"
    token = csrf_of(c.get("/password").text)
    r = c.post("/password", data={"current": one_time, "new": "a new long password", "repeat": "a new long password",
                                  "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    assert login(c, "locky", "a new long password").headers["location"] == "/"
    assert c.get("/").status_code == 200


def test_unknown_user_gets_the_same_answer_as_a_wrong_password(web):
    app, _ = web
    c = client_for(app)
    a, b = login(c, "nobody-here", "whatever123456"), login(c, "chair_a", "whatever123456")
    assert a.status_code == b.status_code == 401
    assert "Wrong user name or password" in a.text and "Wrong user name or password" in b.text


def test_forms_without_a_valid_csrf_token_are_refused(web, registry):
    app, engine = web
    pid, day = board_case(registry, SITE_A)
    c = client_for(app, "chair_a")
    before = len(_audit(engine, "agenda_add"))
    for data in ({"date": day, "patient_id": pid}, {"date": day, "patient_id": pid, "csrf": "forged"}):
        r = c.post("/agenda", data=data)
        assert r.status_code == 403
    assert len(_audit(engine, "agenda_add")) == before
    assert len(_audit(engine, "csrf_refused")) >= 2
    anon = client_for(app)
    r = anon.post("/login", data={"username": "chair_a", "password": PASSWORD})
    assert r.status_code == 403 and "oligomet_session" not in r.headers.get("set-cookie", "")


def test_roles(web, case_a):
    app, _ = web
    agenda_id, pid, day = case_a
    viewer = client_for(app, "viewer_a")
    token = csrf_of(viewer.get("/").text)
    assert viewer.get(f"/case/{agenda_id}").status_code == 200          # a viewer may look
    assert viewer.post("/agenda", data={"date": day, "patient_id": pid, "csrf": token}).status_code == 403
    assert viewer.post(f"/case/{agenda_id}/decision", data={"option": "x", "role": "surgeon", "reason": "r",
                                                           "follow_up": "f", "csrf": token}).status_code == 403
    assert viewer.post(f"/case/{agenda_id}/fact", data={"fact": "ecog", "value": "1", "csrf": token}).status_code == 403
    dm = client_for(app, "dm_ab")
    assert dm.post(f"/case/{agenda_id}/decision", data={"option": "x", "role": "surgeon", "reason": "r",
                                                       "follow_up": "f", "csrf": csrf_of(dm.get("/").text)}
                   ).status_code == 403                                 # data managers do not decide


def test_site_b_user_is_refused_site_a(web, case_a, registry):
    app, engine = web
    agenda_id, pid, day = case_a
    b = client_for(app, "member_b")
    token = csrf_of(b.get("/").text)
    for path in (f"/case/{agenda_id}", f"/case/{agenda_id}/print", "/case/99999"):
        r = b.get(path)
        assert r.status_code == 403 and pid not in r.text
    r = b.post(f"/case/{agenda_id}/decision", data={"option": "x", "role": "surgeon", "reason": "r",
                                                   "follow_up": "f", "csrf": token})
    assert r.status_code == 403
    assert pid not in b.get(f"/?date={day}").text                     # not on their agenda either
    dm = client_for(app, "dm_ab")                                       # site B cannot add a site A patient
    assert client_for(app, "member_b").get("/").status_code == 200
    denied = [e for e in _audit(engine, "denied") if e.username == "member_b"]
    assert len(denied) >= 4
    assert dm.get(f"/case/{agenda_id}").status_code == 200             # both sites granted


def test_case_view_fact_edit_and_decisions_are_audited(web, case_a):
    app, engine = web
    agenda_id, pid, _ = case_a
    c = client_for(app, "chair_a")
    page = c.get(f"/case/{agenda_id}")
    assert page.status_code == 200 and 'class="missing' in page.text
    token = csrf_of(page.text)
    assert "(rules)" not in page.text                                   # resectability unknown: no advice yet
    r = c.post(f"/case/{agenda_id}/fact", data={"fact": "liver_resectable", "value": "no", "csrf": token})
    assert r.status_code == 200 and "liver_resectable = false (chair_a)" in r.text
    edit = _audit(engine, "fact_edit")[-1]
    assert json.loads(edit.detail)["after"] is False and edit.username == "chair_a"
    r = c.post(f"/case/{agenda_id}/fact", data={"fact": "liver_ablatable", "value": "yes", "csrf": token})
    refused = c.post(f"/case/{agenda_id}/fact", data={"fact": "patient_id", "value": "x", "csrf": token})
    assert refused.status_code == 400
    import re
    recommended = re.findall(r'<option value="([^"]+)">[^<]*\(rules\)', r.text)
    assert recommended, "the edited case should reach a recommendation"
    r = c.post(f"/case/{agenda_id}/decision", data={"option": recommended[0], "role": "surgeon",
                                                   "follow_up": "CT in 3 months", "csrf": token})
    assert r.status_code == 200
    r = c.post(f"/case/{agenda_id}/decision", data={"other": "best supportive care", "role": "medical_oncologist",
                                                   "follow_up": "review", "csrf": token})
    assert r.status_code == 400 and "reason" in r.text                # discordant needs a reason
    r = c.post(f"/case/{agenda_id}/decision", data={"other": "best supportive care", "role": "medical_oncologist",
                                                   "reason": "patient's wish", "follow_up": "review", "csrf": token})
    assert r.status_code == 200
    decisions = [json.loads(e.detail) for e in _audit(engine, "decision")]
    assert [d["concordant"] for d in decisions[-2:]] == [True, False]
    log = c.get("/decisions").text
    assert "patient&#39;s wish" in log and "CT in 3 months" in log
    assert _audit(engine, "view_case") and _audit(engine, "view_decisions")
    assert verify_audit(engine) == []


def test_script_injection_is_rendered_inert(web, case_a):
    app, _ = web
    agenda_id, _, _ = case_a
    c = client_for(app, "chair_a")
    token = csrf_of(c.get("/").text)
    evil = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    r = c.post(f"/case/{agenda_id}/decision", data={"other": evil, "role": "surgeon", "reason": evil,
                                                   "follow_up": evil, "csrf": token})
    assert r.status_code == 200
    for page in (c.get("/decisions").text, c.get(f"/case/{agenda_id}").text):
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    r = c.post("/agenda", data={"date": "2020-01-01", "patient_id": evil, "csrf": token})
    assert r.status_code == 403 and "<script>alert" not in r.text


def test_printable_sheet_is_the_cli_sheet(web, case_a):
    from oligomet.report.board_sheet import render_sheet
    app, _ = web
    agenda_id, pid, _ = case_a
    c = client_for(app, "chair_a")
    r = c.get(f"/case/{agenda_id}/print")
    board = app.state.board
    assert r.status_code == 200 and r.text == render_sheet(board.sheet(board.item(agenda_id)))
    assert f"patient {pid}" in r.text


def test_audit_chain_detects_a_changed_and_a_deleted_entry(tmp_path):
    from oligomet.web.store import append_audit
    engine = open_engine(str(tmp_path / "a.sqlite"))
    for i in range(5):
        append_audit(engine, "u", "view_case", f"agenda:{i}", {"i": i})
    assert verify_audit(engine) == []
    with engine.begin() as conn:                       # the triggers refuse changes ...
        try:
            conn.exec_driver_sql("UPDATE web_audit SET target = 'x' WHERE id = 2")
            raise AssertionError("update allowed")
        except sa.exc.DatabaseError:
            pass
    with engine.begin() as conn:                       # ... so a tamperer drops them first
        conn.exec_driver_sql("DROP TRIGGER web_audit_no_update")
        conn.exec_driver_sql("DROP TRIGGER web_audit_no_delete")
        conn.exec_driver_sql("UPDATE web_audit SET target = 'agenda:99' WHERE id = 2")
    assert verify_audit(engine) == ["audit entry 2: its content was changed after it was written"]
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM web_audit WHERE id = 4")
    problems = verify_audit(engine)
    assert any(p.startswith("audit entry 5: does not follow") for p in problems)
    r = CliRunner().invoke(cli, ["board", "audit", "verify", "--db", str(tmp_path / "a.sqlite")])
    assert r.exit_code == 1 and "entry 2" in r.output


def test_users_cli_add_disable(tmp_path):
    db = str(tmp_path / "u.sqlite")
    runner = CliRunner()
    r = runner.invoke(cli, ["board", "users", "add", "alice", "--role", "chair", "--sites", f"{SITE_A},{SITE_B}",
                            "--db", db])
    assert r.exit_code == 0 and "one-time password" in r.output
    pw = r.output.strip().rsplit(" ", 1)[1]
    engine = open_engine(db)
    user, outcome = authenticate(engine, "alice", pw)
    assert outcome == "ok" and user.sites == (SITE_A, SITE_B)
    assert runner.invoke(cli, ["board", "users", "add", "bob", "--role", "admin", "--sites", "A", "--db", db]
                         ).exit_code == 1
    assert runner.invoke(cli, ["board", "users", "disable", "alice", "--db", db]).exit_code == 0
    assert authenticate(engine, "alice", pw)[1] == "disabled"
