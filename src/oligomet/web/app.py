"""The ASGI app of ``oligomet board serve``: FastAPI routes, server-rendered Jinja2 pages.

Access is decided in one place, :func:`_guard`, a dependency of the whole app: every route is named in
``POLICY`` with the permission it needs (a route missing there is refused: fail closed), every POST
must carry the session's CSRF token, and the user must hold a site to see its patients. Pages render
the board layer's results; they compute nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import secrets
import warnings
from pathlib import Path

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from . import accounts
from . import plots
from .cases import EDITABLE, Board, FactError, parse_fact
from .store import agenda, append_audit, audited, fact_edits, followups, now

HERE = Path(__file__).parent
COOKIE = "oligomet_session"
LOGIN_COOKIE = "oligomet_login_csrf"
STATUSES = ("to discuss", "decided", "deferred")

PERMISSIONS = {
    "chair": {"view", "agenda", "edit", "decide", "quality"},
    "board_member": {"view", "edit", "decide"},
    "data_manager": {"view", "agenda", "edit", "quality"},
    "viewer": {"view"},
}
# route name -> permission; "public" = no login. A route not listed here is refused.
POLICY = {
    "login_form": "public", "login": "public", "logout": "session", "password_form": "session",
    "password": "session", "agenda": "view", "agenda_add": "agenda", "agenda_status": "agenda",
    "case": "view", "case_print": "view", "fact_edit": "edit", "decide": "decide", "decisions": "view",
    "case_curves": "view", "plotly_js": "session", "quality": "quality", "quality_data": "quality",
}
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "
                               "frame-ancestors 'none'",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


class _LoginRequired(Exception):
    pass


class _PasswordChangeRequired(Exception):
    pass


# complexity: an app factory; each route is a closure over the engine, the board and the settings
def create_app(engine: sa.Engine, board: Board, *, secure_cookies: bool = True,  # noqa: C901
               demo: bool = False) -> FastAPI:
    """The app on ``engine`` (web tables, decisions) and ``board`` (the registry)."""
    from ..board.decisions import ROLES as CLINICAL_ROLES
    from ..board.decisions import Decision, DecisionError, DecisionLog
    from ..board.decisions import decisions as board_decisions
    from ..report.board_sheet import render_sheet, show, step_svg

    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(default=True))
    env.filters["fromjson"] = json.loads
    # a KM median or CI bound that the curve never reaches: "not reached" / "NE", as in the report
    env.filters["median"] = lambda v, na="not reached": na if v is None or v != v else f"{v:.1f}"
    env.filters["show"] = lambda v: "unknown" if isinstance(v, float) and v != v else show(v)   # NaN = unknown
    decision_log = DecisionLog(str(engine.url.render_as_string(hide_password=False)))
    decision_table = board_decisions
    # the case page looks a patient's decisions up on every view
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS web_ix_board_decisions_patient "
                             "ON board_decisions (patient_id)")

    async def _guard(request: Request) -> None:
        route = request.scope.get("route")
        need = POLICY.get(getattr(route, "name", None))
        if need is None:
            raise HTTPException(404)
        if need == "public":
            if request.method == "POST":
                form = await request.form()
                cookie = request.cookies.get(LOGIN_COOKIE, "")
                if not cookie or not secrets.compare_digest(cookie, str(form.get("csrf", ""))):
                    raise HTTPException(403, "the form expired or lacks its CSRF token: reload the page")
            return
        user, csrf = accounts.session_user(engine, request.cookies.get(COOKIE))
        if user is None:
            raise _LoginRequired()
        request.state.user, request.state.csrf = user, csrf
        if request.method == "POST":
            form = await request.form()
            if not secrets.compare_digest(csrf, str(form.get("csrf", ""))):
                append_audit(engine, user.username, "csrf_refused", request.url.path)
                raise HTTPException(403, "the form lacks a valid CSRF token: reload the page")
        if user.must_change and need != "session":
            raise _PasswordChangeRequired()
        if need != "session" and need not in PERMISSIONS.get(user.role, set()):
            append_audit(engine, user.username, "denied", request.url.path, {"needs": need})
            raise HTTPException(403, f"your role ({user.role}) may not do this")

    app = FastAPI(dependencies=[Depends(_guard)], docs_url=None, redoc_url=None, openapi_url=None)
    app.state.board = board
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.middleware("http")
    async def _headers(request: Request, call_next):
        response = await call_next(request)
        for k, v in HEADERS.items():
            response.headers.setdefault(k, v)
        if secure_cookies:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.exception_handler(_LoginRequired)
    async def _to_login(request: Request, exc):
        if request.method == "GET":
            return RedirectResponse("/login", status_code=303)
        return page(request, "error.html.j2", status=401, message="Log in first.")

    @app.exception_handler(_PasswordChangeRequired)
    async def _to_password(request: Request, exc):
        if request.method == "GET":
            return RedirectResponse("/password", status_code=303)
        return page(request, "error.html.j2", status=403, message="Change your one-time password first.")

    @app.exception_handler(HTTPException)
    async def _error(request: Request, exc: HTTPException):
        return page(request, "error.html.j2", status=exc.status_code, message=exc.detail)

    def page(request: Request, template: str, status: int = 200, **ctx) -> HTMLResponse:
        user = getattr(request.state, "user", None)
        html = env.get_template(template).render(user=user, csrf=getattr(request.state, "csrf", ""), demo=demo,
                                                 may=PERMISSIONS.get(user.role, set()) if user else set(), **ctx)
        return HTMLResponse(html, status_code=status)

    def set_cookie(resp: Response, name: str, value: str, max_age: int) -> None:
        resp.set_cookie(name, value, max_age=max_age, httponly=True, secure=secure_cookies, samesite="strict",
                        path="/")

    def granted_item(request: Request, agenda_id: int):
        """The agenda item, if the user holds its site; otherwise 403 (also for an unknown id, so ids
        of other sites cannot be probed)."""
        user = request.state.user
        item = board.item(agenda_id)
        if item is None or not user.may_see(item.site):
            append_audit(engine, user.username, "denied", f"agenda:{agenda_id}", {"reason": "site"})
            raise HTTPException(403, "not one of your sites' cases")
        return item

    # ------------------------------------------------------------------------------------- login
    @app.get("/login", name="login_form")
    def login_form(request: Request):
        token = secrets.token_urlsafe(32)
        resp = page(request, "login.html.j2", login_csrf=token)
        set_cookie(resp, LOGIN_COOKIE, token, 3600)
        return resp

    @app.post("/login", name="login")
    def login(request: Request, username: str = Form(""), password: str = Form("")):
        user, outcome = accounts.authenticate(engine, username, password)
        append_audit(engine, username or "-", "login_" + outcome, "", {})
        if user is None:
            msg = {"locked": "Too many failed attempts: this account is locked for 15 minutes.",
                   "disabled": "Wrong user name or password."}.get(outcome, "Wrong user name or password.")
            token = secrets.token_urlsafe(32)
            resp = page(request, "login.html.j2", status=401, login_csrf=token, message=msg)
            set_cookie(resp, LOGIN_COOKIE, token, 3600)
            return resp
        token, _ = accounts.open_session(engine, user.username)
        resp = RedirectResponse("/password" if user.must_change else "/", status_code=303)
        set_cookie(resp, COOKIE, token, int(accounts.SESSION_LIFETIME.total_seconds()))
        resp.delete_cookie(LOGIN_COOKIE, path="/")
        return resp

    @app.post("/logout", name="logout")
    def logout(request: Request):
        accounts.close_session(engine, request.cookies.get(COOKIE))
        append_audit(engine, request.state.user.username, "logout")
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    @app.get("/password", name="password_form")
    def password_form(request: Request):
        return page(request, "password.html.j2")

    @app.post("/password", name="password")
    def password(request: Request, current: str = Form(""), new: str = Form(""), repeat: str = Form("")):
        user = request.state.user
        ok, outcome = accounts.authenticate(engine, user.username, current)
        problem = None
        if ok is None:
            problem = "The current password is wrong." if outcome != "locked" else "Account locked."
        elif new != repeat:
            problem = "The two new passwords differ."
        else:
            try:
                accounts.reset_password(engine, user.username, new)
            except accounts.AccountError as exc:
                problem = str(exc)
        if problem:
            return page(request, "password.html.j2", status=400, message=problem)
        append_audit(engine, user.username, "password_changed")
        resp = RedirectResponse("/login", status_code=303)   # reset ended every session: log in again
        resp.delete_cookie(COOKIE, path="/")
        return resp

    # ------------------------------------------------------------------------------------ agenda
    @app.get("/", name="agenda")
    def agenda_page(request: Request, date: str | None = None):
        user = request.state.user
        try:
            day = dt.date.fromisoformat(date) if date else dt.date.today()
        except ValueError:
            raise HTTPException(400, "date: use YYYY-MM-DD") from None
        with engine.connect() as conn:
            rows = conn.execute(sa.select(agenda).where(agenda.c.meeting_date == day,
                                                        agenda.c.site.in_(user.sites)).order_by(agenda.c.id)).all()
        append_audit(engine, user.username, "view_agenda", day.isoformat(), {"n": len(rows)})
        return page(request, "agenda.html.j2", day=day, rows=rows, statuses=STATUSES,
                    may_edit="agenda" in PERMISSIONS[user.role])

    @app.post("/agenda", name="agenda_add")
    def agenda_add(request: Request, date: str = Form(...), patient_id: str = Form(...)):
        user = request.state.user
        try:
            day = dt.date.fromisoformat(date)
        except ValueError:
            raise HTTPException(400, "date: use YYYY-MM-DD") from None
        pid = patient_id.strip()
        site = board.site_of.get(pid)
        if site is None or not user.may_see(site):
            append_audit(engine, user.username, "denied", f"patient:{pid}", {"reason": "site or unknown id"})
            raise HTTPException(403, "no patient with this id at your sites")
        with engine.begin() as conn:
            new_id = conn.execute(agenda.insert().values(meeting_date=day, patient_id=pid, site=site,
                                                         status="to discuss", added_by=user.username)
                                  ).inserted_primary_key[0]
        append_audit(engine, user.username, "agenda_add", f"agenda:{new_id}", {"patient": pid, "date": str(day)})
        return RedirectResponse(f"/?date={day.isoformat()}", status_code=303)

    @app.post("/agenda/{agenda_id}/status", name="agenda_status")
    def agenda_status(request: Request, agenda_id: int, status: str = Form(...)):
        item = granted_item(request, agenda_id)
        if status not in STATUSES:
            raise HTTPException(400, f"status: one of {', '.join(STATUSES)}")
        with engine.begin() as conn:
            conn.execute(agenda.update().where(agenda.c.id == agenda_id).values(status=status))
        append_audit(engine, request.state.user.username, "agenda_status", f"agenda:{agenda_id}", {"status": status})
        return RedirectResponse(f"/?date={item.meeting_date.isoformat()}", status_code=303)

    # -------------------------------------------------------------------------------------- case
    sheet_views: dict = {}   # (id(sheet), agenda id, may edit) -> (sheet, what the case page shows of it)
    csrf_slot = "csrf-slot-" + secrets.token_hex(12)   # stands for the session's token in cached HTML

    def sheet_view(sheet, item, may_edit: bool) -> dict:
        """The parts of the case page that depend on the sheet only: the facts table, the rules, scores,
        evidence and curves, rendered to HTML. A sheet never changes (a fact edit makes a new one), so
        they are rendered once per sheet instead of on every view of a busy meeting; the fact forms'
        CSRF token is a placeholder, swapped for the session's in :func:`case_context`."""
        key = (id(sheet), item.id, may_edit)
        hit = sheet_views.get(key)
        if hit is not None and hit[0] is sheet:
            return hit[1]
        adv = sheet.advice.table()
        pred = sheet.prediction
        options = list(sheet.options)
        if len(sheet.evidence) and "option" in sheet.evidence:
            options += [o for o in sheet.evidence["option"].dropna().unique() if o not in options]
        view = dict(s=sheet, case=sheet.case, facts=sheet.facts, labels=sheet.labels,
                    fired=adv[adv["status"] == "fired"].to_dict(orient="records"),
                    undecided=adv[adv["status"] == "undecided"].to_dict(orient="records"),
                    missing=set(sheet.advice.missing), needs=sheet.advice.needs(), editable=EDITABLE,
                    scores=sheet.scores.to_dict(orient="records"), evidence=sheet.evidence.to_dict(orient="records"),
                    pred=pred, km_svg=step_svg(pred.km_curves, "group") if pred is not None else None,
                    cox_svg=step_svg(pred.cox_curves, "option") if pred is not None else None,
                    options=options, recommended=sheet.options)
        parts = dict(view, item=item, csrf=csrf_slot, perms={"edit"} if may_edit else set())
        view["facts_html"] = env.get_template("case_facts.html.j2").render(**parts)
        view["sections_html"] = env.get_template("case_sections.html.j2").render(**parts)
        if len(sheet_views) > 512:
            sheet_views.clear()
        sheet_views[key] = (sheet, view)
        return view

    def case_context(item, sheet, edits: list[dict], user, csrf: str) -> dict:
        view = sheet_view(sheet, item, "edit" in PERMISSIONS[user.role])
        return dict(view, item=item, edits=edits,
                    clinical_roles=CLINICAL_ROLES, history=decision_rows(item.patient_id),
                    facts_html=Markup(view["facts_html"].replace(csrf_slot, csrf)),
                    sections_html=Markup(view["sections_html"]))

    def decision_rows(patient_id: str | None = None) -> list[dict]:
        """The decision records (oldest first; of one patient, or all) with their follow-up plan (``plan``)
        and ``superseded_by`` (the correction that replaced a record). One indexed query, no pandas: the
        case page shows it on every view."""
        q = (sa.select(decision_table, followups.c.plan)
             .outerjoin(followups, followups.c.decision_id == decision_table.c.id).order_by(decision_table.c.id))
        if patient_id is not None:
            q = q.where(decision_table.c.patient_id == patient_id)
        with engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(q).mappings()]
        later: dict = {}
        for r in rows:
            if r["corrects"] is not None:
                later[r["corrects"]] = max(later.get(r["corrects"], 0), r["id"])
        for r in rows:
            r["superseded_by"] = later.get(r["id"])
        return rows

    def _history(item):
        return decision_rows(item.patient_id)

    def correctable(history: list[dict], decision_id: int) -> dict:
        """The record of this patient that a correction may replace: one no correction replaced yet
        (correcting a replaced record would fork the record's history)."""
        old = next((d for d in history if int(d["id"]) == decision_id), None)
        if old is None:
            raise HTTPException(400, f"decision {decision_id} is not a decision on this patient")
        if old["superseded_by"] is not None:
            raise HTTPException(400, f"decision {decision_id} was already corrected by decision "
                                     f"{old['superseded_by']}: correct that one instead")
        return old

    @app.get("/case/{agenda_id}", name="case")
    def case_page(request: Request, agenda_id: int, correct: int | None = None):
        item = granted_item(request, agenda_id)
        edits = board.edits(item.id)
        sheet = board.sheet(item, edits)
        append_audit(engine, request.state.user.username, "view_case", f"agenda:{agenda_id}",
                     {"patient": item.patient_id})
        ctx = case_context(item, sheet, edits, request.state.user, request.state.csrf)
        ctx["perms"] = PERMISSIONS[request.state.user.role]
        ctx["correcting"] = correctable(ctx["history"], correct) if correct is not None else None
        return page(request, "case.html.j2", **ctx)

    @app.get("/case/{agenda_id}/curves.json", name="case_curves")
    def case_curves(request: Request, agenda_id: int):
        """The case view's curves for the interactive plots (static/plots.js)."""
        item = granted_item(request, agenda_id)
        pred = board.sheet(item).prediction
        return JSONResponse({
            "km": plots.curves(pred.km_curves if pred is not None else None, "group", xmax=60.0,
                               title="Observed OS by treatment received (unadjusted)"),
            "cox": plots.curves(pred.cox_curves if pred is not None else None, "option", xmax=60.0,
                                title="Cox-predicted OS per option (95% band)")})

    @app.get("/vendor/plotly.min.js", name="plotly_js")
    def plotly_js():
        """Plotly, from the installed ``plotly`` package (no CDN); cached by the browser for a day."""
        try:
            path = plots.plotly_js()
        except FileNotFoundError as exc:
            raise HTTPException(404, str(exc)) from None
        return FileResponse(path, media_type="text/javascript",
                            headers={"Cache-Control": "private, max-age=86400"})

    @app.get("/case/{agenda_id}/print", name="case_print")
    def case_print(request: Request, agenda_id: int):
        item = granted_item(request, agenda_id)
        append_audit(engine, request.state.user.username, "view_print", f"agenda:{agenda_id}",
                     {"patient": item.patient_id})
        return HTMLResponse(render_sheet(board.sheet(item)))

    @app.post("/case/{agenda_id}/fact", name="fact_edit")
    def fact_edit(request: Request, agenda_id: int, fact: str = Form(...), value: str = Form(...)):
        item = granted_item(request, agenda_id)
        try:
            typed = parse_fact(fact, value)
        except FactError as exc:
            raise HTTPException(400, str(exc)) from None
        before = board.sheet(item).facts.get(fact)
        with audited(engine, request.state.user.username, "fact_edit", f"agenda:{agenda_id}",
                     {"patient": item.patient_id, "fact": fact, "before": before, "after": typed}) as (conn, _):
            conn.execute(fact_edits.insert().values(agenda_id=agenda_id, fact=fact, value=json.dumps(typed),
                                                    username=request.state.user.username, at=now()))
        return RedirectResponse(f"/case/{agenda_id}", status_code=303)

    @app.post("/case/{agenda_id}/decision", name="decide")
    def decide(request: Request, agenda_id: int, option: str = Form(""), other: str = Form(""),
               role: str = Form(""), reason: str = Form(""), follow_up: str = Form(""), corrects: str = Form("")):
        item = granted_item(request, agenda_id)
        chosen = (other.strip() or option.strip())
        if corrects.strip():
            # a correction fixes the record of the meeting it corrects: same case date, same rules and
            # evidence shown; only what was chosen, why, and by whom change
            try:
                old = correctable(_history(item), int(corrects))
            except ValueError:
                raise HTTPException(400, "corrects: a decision number") from None
            d = Decision(patient_id=item.patient_id, case_date=old["case_date"], chosen_option=chosen,
                         recommended=tuple(json.loads(old["recommended"])), ruleset_version=old["ruleset_version"],
                         evidence_hash=old["evidence_hash"], role=role, reason=reason.strip() or None,
                         corrects=int(old["id"]))
        else:
            sheet = board.sheet(item)
            d = Decision(patient_id=item.patient_id, case_date=item.meeting_date, chosen_option=chosen,
                         recommended=tuple(sheet.options), ruleset_version=sheet.advice.version,
                         evidence_hash=sheet.evidence_hash, role=role, reason=reason.strip() or None)
        if not follow_up.strip():
            raise HTTPException(400, "give the follow-up plan")
        detail = {"patient": item.patient_id, "option": chosen, "concordant": d.concordant}
        if d.corrects is not None:
            detail["corrects"] = d.corrects
        # the decision, its follow-up plan, the agenda status and the audit entry: one transaction
        try:
            with audited(engine, request.state.user.username, "decision_correction" if d.corrects is not None
                         else "decision", f"agenda:{agenda_id}", detail) as (conn, detail):
                new_id = decision_log.append(d, conn=conn)
                detail["decision"] = new_id
                conn.execute(followups.insert().values(decision_id=new_id, agenda_id=agenda_id,
                                                       plan=follow_up.strip(), username=request.state.user.username))
                conn.execute(agenda.update().where(agenda.c.id == agenda_id).values(status="decided"))
        except DecisionError as exc:
            raise HTTPException(400, str(exc).replace("(--reason)", "(the reason field)")) from None
        return RedirectResponse(f"/case/{agenda_id}", status_code=303)

    @app.get("/decisions", name="decisions")
    def decisions_page(request: Request):
        user = request.state.user
        rows = [r for r in decision_rows() if user.may_see(board.site_of.get(str(r["patient_id"]), ""))]
        for r in rows:
            r["site"] = board.site_of.get(str(r["patient_id"]))
        append_audit(engine, user.username, "view_decisions", "", {"n": len(rows)})
        return page(request, "decisions.html.j2", rows=rows[::-1])

    # ----------------------------------------------------------------------------- quality dashboard
    quality_cache: dict = {}

    def quality_of(user):
        """The study layer's board-quality analysis on the decisions and patients of the user's sites
        (per month), recomputed when a decision is added."""
        from ..study.analyses.board_quality import board_quality

        decisions = decision_log.history()
        sites = tuple(sorted(user.sites))
        key = (sites, len(decisions), int(decisions["id"].max()) if len(decisions) else 0)
        if key not in quality_cache:
            patients = board.tables["patients"]
            patients = patients[patients["site"].astype(str).isin(sites)]
            decisions = decisions[decisions["patient_id"].astype(str).isin(set(patients["patient_id"].astype(str)))]
            adjust = {"ecog": "ECOG performance status"}
            if patients["site"].nunique() > 1:
                adjust["C(site)"] = "site"
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                quality_cache.clear()   # one user's result at a time is enough for a weekly meeting
                quality_cache[key] = board_quality(decisions, patients, period="month", adjust=adjust)
        return quality_cache[key]

    @app.get("/quality", name="quality")
    def quality_page(request: Request):
        user = request.state.user
        result = quality_of(user)
        append_audit(engine, user.username, "view_quality", "", {"n": result.n_decisions})
        from ..report.sections.board_quality import CAVEAT
        table = result.concordance
        sites = list(dict.fromkeys(table["site"]))
        cells = {(c["period"], c["site"]): c for c in table.to_dict(orient="records")}
        return page(request, "quality.html.j2", r=result, caveat=CAVEAT, sites=sites, cells=cells,
                    periods=sorted(set(table["period"]), reverse=True),
                    medians=result.km_medians.to_dict(orient="records"),
                    hrs=result.hazard_ratios.to_dict(orient="records"),
                    km_svg=step_svg(result.km_curves.rename(columns={"group": "decision"}), "decision")
                    if len(result.km_curves) else None)

    @app.get("/quality/data.json", name="quality_data")
    def quality_data(request: Request, what: str = "concordance"):
        result = quality_of(request.state.user)
        if what == "outcomes":
            return JSONResponse(plots.curves(result.km_curves, "group", xtitle="Months since the decision",
                                             title="Overall survival after the decision, by concordance"))
        if what == "concordance":
            return JSONResponse(plots.concordance_series(result.concordance))
        raise HTTPException(400, "what: concordance or outcomes")

    return app
