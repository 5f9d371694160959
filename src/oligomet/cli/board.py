"""``oligomet board ...``: the tumor-board sheet, the decision record and the rule-set checker
(a thin shell over ``oligomet.board``).

Exit codes: 0 = fine, 1 = bad input (unknown patient, impossible case values, rule-file errors, a
decision refused) or rule-set problems found by ``check``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ._errors import error_message

app = typer.Typer(no_args_is_help=True)
_DEBUG = typer.Option(False, "--debug", help="Show the traceback on errors.")


def _fail(exc: BaseException, debug: bool) -> None:
    if debug:
        raise exc
    typer.echo(f"error: {error_message(exc)}", err=True)
    raise typer.Exit(1)


@app.command("case")
def case_cmd(patient: Optional[str] = typer.Option(None, "--patient", help="patient id in the registry"),
             as_of: Optional[str] = typer.Option(None, "--as-of", help="the board's date (YYYY-MM-DD)"),
             db: Optional[str] = typer.Option(None, "--db", help="registry database URL or SQLite file"),
             case_file: Optional[Path] = typer.Option(None, "--case",
                                                      help="case file (.toml/.yaml); with --patient its facts "
                                                           "are laid over the registry's"),
             out: Path = typer.Option(Path("board"), "--out", "-o", help="output folder"),
             debug: bool = _DEBUG) -> None:
    """Write the A4 board sheet (board_sheet.html) and case.json for one patient."""
    import warnings

    from oligomet.board.case import case_from_registry, load_case, parse_case_text
    from oligomet.board.predict import RegistryContext
    from oligomet.board.sheet import build_sheet
    from oligomet.report.board_sheet import write_sheet

    try:
        if patient is None and case_file is None:
            raise ValueError("give --patient ID --as-of DATE (with --db), or --case FILE")
        context = None
        if patient is not None:
            if as_of is None:
                raise ValueError("--patient needs --as-of DATE (the board's date)")
            from oligomet.registry.store import Store
            with Store(db) as store:
                tables = store.load()
            context = RegistryContext(tables)
            case = case_from_registry(tables, patient, as_of, context=context)
            if case_file is not None:
                text = case_file.read_text(encoding="utf-8")
                overrides, _ = parse_case_text(text, case_file.suffix.lower().lstrip("."), str(case_file))
                overrides = {k: v for k, v in overrides.items() if k not in ("patient_id", "as_of")}
                case = case.updated(overrides, source=str(case_file))
        else:
            case = load_case(case_file)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sheet = build_sheet(case, context)
        html, js = write_sheet(sheet, out)
    except Exception as exc:  # noqa: BLE001 - one clear line, see _errors
        _fail(exc, debug)
    rec = "; ".join(sheet.options) or "no recommendation"
    typer.echo(f"{html}\n{js}\nrecommendation: {rec}")
    for need in sheet.advice.needs():
        typer.echo(need)


@app.command("decide")
def decide_cmd(sheet: Path = typer.Option(..., "--sheet", help="the case.json written with the sheet"),
               option: str = typer.Option(..., "--option", help="the chosen option, as worded on the sheet"),
               role: str = typer.Option(..., "--role", help="role of who records it, e.g. surgeon"),
               reason: Optional[str] = typer.Option(None, "--reason", help="required when not concordant"),
               corrects: Optional[int] = typer.Option(None, "--corrects", help="id of the decision this corrects"),
               db: Optional[str] = typer.Option(None, "--db", help="database URL or SQLite file"),
               debug: bool = _DEBUG) -> None:
    """Append a decision to the append-only decision record."""
    from oligomet.board.decisions import DecisionLog, decision_from_sheet
    from oligomet.registry.store import _normalise_url

    try:
        d = decision_from_sheet(sheet, option=option, role=role, reason=reason, corrects=corrects)
        log = DecisionLog.open_store(_normalise_url(db))   # migrates the store, as every writing command does
        try:
            new_id = log.append(d)
        finally:
            log.close()
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    typer.echo(f"decision {new_id} recorded for {d.patient_id} ({'concordant' if d.concordant else 'discordant'} "
               f"with rules {d.ruleset_version})")


@app.command("check")
def check_cmd(rules: Optional[Path] = typer.Option(None, "--rules", help="folder of rule files (default: built-in)"),
              debug: bool = _DEBUG) -> None:
    """Check the rule sets: gaps, conflicts, overlaps, unreachable rules, unknown facts."""
    from oligomet.board.evidence import cross_check, load_evidence
    from oligomet.board.rules import RULES_DIR, check, load_rulesets

    try:
        sets = load_rulesets(rules or RULES_DIR)
        report = check(sets)
        problems = report.lines() + cross_check(sets, load_evidence())
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    for line in problems:
        typer.echo(line)
    typer.echo(f"{len(sets)} rule set(s), {sum(len(s.rules) for s in sets)} rules, {report.combinations:,} "
               f"combinations enumerated: {'ok' if not problems else f'{len(problems)} problem(s)'}")
    if problems:
        raise typer.Exit(1)


# ------------------------------------------------------------------ the web app (oligomet.web)
users_app = typer.Typer(no_args_is_help=True, help="Users of the board web app.")
audit_app = typer.Typer(no_args_is_help=True, help="The web app's audit trail.")
app.add_typer(users_app, name="users")
app.add_typer(users_app, name="user", hidden=True)   # the singular reads naturally too
app.add_typer(audit_app, name="audit")
_DB = typer.Option(..., "--db", help="database URL or SQLite file (the registry's)")


@users_app.command("add")
def users_add(username: str = typer.Argument(...), role: str = typer.Option(..., "--role",
              help="chair, board_member, data_manager or viewer"),
              sites: str = typer.Option(..., "--sites", help="comma-separated sites the user may see"),
              db: str = _DB, debug: bool = _DEBUG) -> None:
    """Add a user; prints a one-time password, to be changed at first login."""
    from oligomet.web.accounts import add_user
    from oligomet.web.store import open_engine

    try:
        pw = add_user(open_engine(db), username, role, [s.strip() for s in sites.split(",")])
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    typer.echo(f"user {username} added; one-time password: {pw}")


@users_app.command("disable")
def users_disable(username: str = typer.Argument(...), db: str = _DB, debug: bool = _DEBUG) -> None:
    """Disable a user and end their sessions."""
    from oligomet.web.accounts import disable_user
    from oligomet.web.store import open_engine

    try:
        disable_user(open_engine(db), username)
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    typer.echo(f"user {username} disabled")


@users_app.command("reset")
def users_reset(username: str = typer.Argument(...), db: str = _DB, debug: bool = _DEBUG) -> None:
    """A new one-time password (also lifts a lockout)."""
    from oligomet.web.accounts import reset_password
    from oligomet.web.store import open_engine

    try:
        pw = reset_password(open_engine(db), username)
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    typer.echo(f"user {username}: one-time password: {pw}")


@audit_app.command("verify")
def audit_verify(db: str = _DB, debug: bool = _DEBUG) -> None:
    """Check the audit trail's hash chain; exit 1 if an entry was changed or deleted."""
    from oligomet.web.store import open_engine, verify_audit

    try:
        problems = verify_audit(open_engine(db))
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    for p in problems:
        typer.echo(p)
    typer.echo("audit chain intact" if not problems else f"{len(problems)} problem(s)")
    if problems:
        raise typer.Exit(1)


@app.command("serve")
def serve_cmd(db: Optional[str] = typer.Option(None, "--db", help="registry database URL or SQLite file"),
              host: str = typer.Option("127.0.0.1", "--host", help="bind address (put a TLS reverse proxy in front)"),
              port: int = typer.Option(8000, "--port"),
              demo: bool = typer.Option(False, "--demo", help="a synthetic registry and demo users"),
              http_cookies: bool = typer.Option(False, "--insecure-cookies",
                                                help="cookies without the Secure flag (plain-http testing only)"),
              debug: bool = _DEBUG) -> None:
    """Serve the tumor-board web app."""
    import uvicorn

    from oligomet.web.cases import Board
    from oligomet.web.store import open_engine

    try:
        if demo:
            from oligomet.web.demo import make_demo
            db = make_demo(db)
        if db is None:
            raise ValueError("give --db URL (or --demo)")
        engine = open_engine(db)
        from oligomet.web.app import create_app
        web = create_app(engine, Board.from_url(engine, db), secure_cookies=not http_cookies, demo=demo)
    except Exception as exc:  # noqa: BLE001
        _fail(exc, debug)
    uvicorn.run(web, host=host, port=port, proxy_headers=True, forwarded_allow_ips="127.0.0.1")
