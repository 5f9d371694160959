"""Decision corrections from the case page, the quality dashboard (roles, per-site access, the study
layer's numbers) and the interactive curves (their JSON, Plotly served by the app itself)."""
import io
import json
import re

import numpy as np
import pandas as pd
import sqlalchemy as sa

from oligomet.board.decisions import Decision, DecisionLog
from oligomet.web.store import audit, verify_audit

from .conftest import SITE_A, SITE_B, client_for, csrf_of


def _last_audit(engine, action):
    with engine.connect() as conn:
        return conn.execute(sa.select(audit).where(audit.c.action == action).order_by(audit.c.id.desc())
                            .limit(1)).first()


def _decide(c, agenda_id, **data):
    token = csrf_of(c.get(f"/case/{agenda_id}").text)
    return c.post(f"/case/{agenda_id}/decision", data={"role": "surgeon", "follow_up": "CT in 3 months",
                                                       "csrf": token, **data})


def test_a_correction_is_a_new_record_pointing_to_the_old_one(web, case_a, db_url):
    app, engine = web
    agenda_id, pid, day = case_a
    c = client_for(app, "chair_a")
    r = _decide(c, agenda_id, other="observation", reason="typed in the wrong case")
    assert r.status_code == 200
    old = json.loads(_last_audit(engine, "decision").detail)["decision"]
    form = c.get(f"/case/{agenda_id}?correct={old}")
    assert form.status_code == 200 and f"Correcting decision #{old}" in form.text
    assert f'name="corrects" value="{old}"' in form.text
    r = c.post(f"/case/{agenda_id}/decision", data={"other": "repeat resection", "reason": "the board chose resection",
                                                   "role": "surgeon", "follow_up": "surgery list", "corrects": str(old),
                                                   "csrf": csrf_of(form.text)})
    assert r.status_code == 200
    entry = _last_audit(engine, "decision_correction")
    detail = json.loads(entry.detail)
    assert entry.username == "chair_a" and detail["corrects"] == old and detail["patient"] == pid
    new = detail["decision"]
    rows = DecisionLog(db_url).history(pid).set_index("id")
    assert rows.loc[new, "corrects"] == old and rows.loc[old, "superseded_by"] == new
    # the correction keeps the meeting it corrects: its case date, the rules and evidence shown then
    for col in ("case_date", "recommended", "ruleset_version", "evidence_hash"):
        assert rows.loc[new, col] == rows.loc[old, col]
    assert rows.loc[old, "chosen_option"] == "observation"             # the old record is unchanged
    row_old = re.search(rf'<tr id="decision-{old}" class="superseded">.*?</tr>', r.text, re.DOTALL)
    assert row_old and f"corrected by #{new}" in row_old.group(0)
    assert f"corrects #{old}" in re.search(rf'<tr id="decision-{new}".*?</tr>', r.text, re.DOTALL).group(0)
    assert f"(corrects {old})" in c.get("/decisions").text
    # a replaced record cannot be corrected again (that would fork its history)
    again = c.post(f"/case/{agenda_id}/decision", data={"other": "x", "reason": "y", "role": "surgeon",
                                                       "follow_up": "z", "corrects": str(old),
                                                       "csrf": csrf_of(form.text)})
    assert again.status_code == 400 and f"already corrected by decision {new}" in again.text
    assert c.get(f"/case/{agenda_id}?correct={old}").status_code == 400
    assert verify_audit(engine) == []


def test_a_correction_must_name_a_decision_on_this_patient(web, case_a, db_url, registry):
    app, _ = web
    agenda_id, pid, day = case_a
    other = registry["patients"].loc[registry["patients"]["patient_id"] != pid, "patient_id"].iloc[0]
    foreign = DecisionLog(db_url).append(Decision(str(other), pd.Timestamp(day).date(), "resection", ("resection",),
                                                  "v", "0" * 64, "surgeon"))
    c = client_for(app, "chair_a")
    r = _decide(c, agenda_id, other="x", reason="y", corrects=str(foreign))
    assert r.status_code == 400 and "not a decision on this patient" in r.text
    assert _decide(c, agenda_id, other="x", reason="y", corrects="abc").status_code == 400
    b = client_for(app, "member_b")                                    # site B may not correct a site-A record
    r = b.post(f"/case/{agenda_id}/decision", data={"other": "x", "reason": "y", "role": "surgeon", "follow_up": "z",
                                                   "corrects": "1", "csrf": csrf_of(b.get("/").text)})
    assert r.status_code == 403


def _site_b_patient(registry):
    p = registry["patients"]
    b = p.loc[p["site"] == SITE_B]
    return str(b["patient_id"].iloc[0]), b["primary_diagnosis_date"].iloc[0]


def test_quality_dashboard_roles_and_sites(web, case_a, db_url, registry):
    app, engine = web
    agenda_id, pid, _ = case_a
    client_a = client_for(app, "chair_a")
    assert _decide(client_a, agenda_id, other="chemotherapy", reason="frail").status_code == 200
    b_pid, b_day = _site_b_patient(registry)
    DecisionLog(db_url).append(Decision(b_pid, (pd.Timestamp(b_day) + pd.Timedelta(days=300)).date(), "resection",
                                        ("resection",), "v", "0" * 64, "surgeon"))
    for name in ("viewer_a", "member_b"):
        c = client_for(app, name)
        assert c.get("/quality").status_code == 403 and c.get("/quality/data.json").status_code == 403
        assert 'href="/quality"' not in c.get("/").text
    page = client_a.get("/quality")
    assert page.status_code == 200 and "Confounding by indication" in page.text
    assert SITE_A in page.text and SITE_B not in page.text.split("</header>")[1]
    # the table is the study layer's analysis on the site-A decisions: count them independently
    history = DecisionLog(db_url).history()
    site_of = registry["patients"].set_index("patient_id")["site"].astype(str)
    current = history[history["superseded_by"].isna() & (history["patient_id"].map(site_of) == SITE_A)]
    table = pd.read_html(io.StringIO(page.text), attrs={"id": "concordance-table"})[0]
    assert list(table.columns) == ["month", SITE_A, "All sites"]
    totals = table["All sites"].astype(str).str.extract(r"\((\d+)/(\d+)\)").astype(int)   # "67% (2/3)"
    assert totals[1].sum() == len(current)
    assert totals[0].sum() == int(current["concordant"].sum())
    series = client_a.get("/quality/data.json?what=concordance").json()
    assert {s["name"] for s in series["series"]} == {SITE_A, "All sites"}
    both = client_for(app, "dm_ab")
    assert {s["name"] for s in both.get("/quality/data.json").json()["series"]} >= {SITE_A, SITE_B, "All sites"}
    assert 'href="/quality"' in both.get("/").text
    outcomes = client_a.get("/quality/data.json?what=outcomes").json()
    assert outcomes["kind"] == "survival"
    assert client_a.get("/quality/data.json?what=nonsense").status_code == 400
    assert json.loads(_last_audit(engine, "view_quality").detail)["n"] == len(current)


def test_interactive_curves_use_the_local_plotly(web, case_a):
    from oligomet.web.plots import plotly_js
    app, _ = web
    agenda_id, _, _ = case_a
    c = client_for(app, "chair_a")
    page = c.get(f"/case/{agenda_id}").text
    scripts = re.findall(r'<script[^>]*src="([^"]+)"', page)
    assert scripts == ["/static/app.js", "/vendor/plotly.min.js", "/static/plots.js"]
    assert "<script>" not in page and 'data-src="/case/' in page
    js = c.get("/vendor/plotly.min.js")
    assert js.status_code == 200 and js.content == plotly_js().read_bytes()
    assert "javascript" in js.headers["content-type"] and "max-age" in js.headers["cache-control"]
    data = c.get(f"/case/{agenda_id}/curves.json").json()
    pred = app.state.board.sheet(app.state.board.item(agenda_id)).prediction
    for key, frame, col in (("km", pred.km_curves, "group"), ("cox", pred.cox_curves, "option")):
        assert [s["name"] for s in data[key]["series"]] == [str(g) for g in pd.unique(frame[col])]
        for s in data[key]["series"]:
            surv = np.array(s["survival"], float)
            assert surv[0] == 1.0 and np.all(np.diff(surv) <= 1e-9) and np.all(np.array(s["time"]) <= 60)
    s = data["cox"]["series"][0]
    g = pred.cox_curves[(pred.cox_curves["option"].astype(str) == s["name"]) & (pred.cox_curves["time"] <= 60)]
    g = g.sort_values("time")
    np.testing.assert_allclose(s["survival"][-1], g["survival"].iloc[-1], atol=1e-4)
    np.testing.assert_allclose(s["lower"][-1], g["lower"].iloc[-1], atol=1e-4)
    assert client_for(app, "member_b").get(f"/case/{agenda_id}/curves.json").status_code == 403


def test_cached_case_html_carries_each_sessions_own_csrf_token(web, case_a):
    """The sheet's part of the case page is rendered once per sheet with a placeholder token: every form
    of every user's page must carry that user's session token, and the placeholder never shows."""
    app, _ = web
    agenda_id, _, _ = case_a
    tokens = []
    for name in ("chair_a", "dm_ab"):
        page = client_for(app, name).get(f"/case/{agenda_id}").text
        found = set(re.findall(r'name="csrf" value="([^"]+)"', page))
        assert len(found) == 1 and "csrf-slot" not in page
        assert page.count('class="inline fact-edit"') > 0
        tokens.append(found.pop())
    assert tokens[0] != tokens[1]
    viewer = client_for(app, "viewer_a").get(f"/case/{agenda_id}").text   # no edit right: no fact forms
    assert 'class="inline fact-edit"' not in viewer
