"""The web app's own tables, beside the registry in the same database (SQLite or PostgreSQL).

Users, sessions, the meeting agenda, the board's fact edits (append-only), the follow-up plan of each
decision (the decision itself lives in ``board_decisions``, see ``board/decisions.py``) and the audit
log. The audit log is append-only (triggers refuse UPDATE and DELETE) and each entry carries the
SHA-256 of the previous entry's hash and its own content, so a changed or deleted entry breaks the
chain (:func:`verify_audit`).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import threading

import sqlalchemy as sa

metadata = sa.MetaData()

ROLES = ("chair", "board_member", "data_manager", "viewer")

users = sa.Table(
    "web_users", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("sites", sa.Text, nullable=False, doc="JSON list of the sites this user may see"),
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("failed_logins", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime(timezone=True)),
    sa.Column("must_change", sa.Boolean, nullable=False, default=False),
)
sessions = sa.Table(
    "web_sessions", metadata,
    sa.Column("token_sha256", sa.String(64), primary_key=True),   # the cookie's token is never stored
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
)
agenda = sa.Table(
    "web_agenda", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("meeting_date", sa.Date, nullable=False),
    sa.Column("patient_id", sa.String, nullable=False),
    sa.Column("site", sa.String, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="to discuss"),
    sa.Column("added_by", sa.String(64), nullable=False),
)
fact_edits = sa.Table(
    "web_fact_edits", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("agenda_id", sa.Integer, sa.ForeignKey("web_agenda.id"), nullable=False),
    sa.Column("fact", sa.String, nullable=False),
    sa.Column("value", sa.Text, nullable=False, doc="JSON value"),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)
followups = sa.Table(
    "web_followups", metadata,
    sa.Column("decision_id", sa.Integer, primary_key=True),
    sa.Column("agenda_id", sa.Integer, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
)
audit = sa.Table(
    "web_audit", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String(40), nullable=False, doc="UTC, ISO 8601 (text, so the hash input is exact)"),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)

_APPEND_ONLY = ("web_audit", "web_fact_edits", "web_followups")
GENESIS = "0" * 64


def _guards(dialect: str) -> list[str]:
    out = []
    for t in _APPEND_ONLY:
        if dialect == "sqlite":
            for op in ("UPDATE", "DELETE"):
                out.append(f"CREATE TRIGGER IF NOT EXISTS {t}_no_{op.lower()} BEFORE {op} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, '{t} is append-only'); END")
        elif dialect == "postgresql":
            out += [f"CREATE OR REPLACE FUNCTION {t}_append_only() RETURNS trigger AS $$ BEGIN "
                    f"RAISE EXCEPTION '{t} is append-only'; END; $$ LANGUAGE plpgsql",
                    f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}",
                    f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                    f"FOR EACH ROW EXECUTE FUNCTION {t}_append_only()"]
    return out


def open_engine(url: str) -> sa.Engine:
    """The engine for ``url`` with the web tables and their append-only guards created if missing."""
    from ..registry.store import _normalise_url

    engine = sa.create_engine(_normalise_url(url))
    if engine.dialect.name == "sqlite":
        # write-ahead logging: readers never wait for the writer, and a commit is one append to the log
        # (one fsync instead of the rollback journal's several). Each request writes an audit entry, so
        # this decides the latency of a busy meeting. The mode is stored in the file; synchronous stays FULL.
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    metadata.create_all(engine)
    with engine.begin() as conn:
        for stmt in _guards(engine.dialect.name):
            conn.exec_driver_sql(stmt)
    return engine


def now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def aware(t: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes: they were stored as UTC."""
    return t.replace(tzinfo=dt.timezone.utc) if t is not None and t.tzinfo is None else t


# ---------------------------------------------------------------------------------------- audit chain
_audit_lock = threading.Lock()   # one writer at a time in this process; PostgreSQL also takes a lock


def entry_hash(prev_hash: str, at: str, username: str, action: str, target: str, detail: str) -> str:
    payload = json.dumps([prev_hash, at, username, action, target, detail], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@contextlib.contextmanager
def audited(engine: sa.Engine, username: str, action: str, target: str = "", detail: dict | None = None):
    """One transaction for a change and its audit entry, so that both are written or neither (and a busy
    meeting pays one commit per request). Yields ``(conn, detail)``: write the change on ``conn``, and
    complete ``detail`` if needed (e.g. with the new record's id); the entry is appended on leaving."""
    detail = {} if detail is None else detail
    with _audit_lock, engine.begin() as conn:
        if engine.dialect.name == "postgresql":   # serialise writers of other processes too
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(1404)")
        yield conn, detail
        detail_text = json.dumps(detail, sort_keys=True, ensure_ascii=False, default=str)
        at = now().isoformat(timespec="microseconds")
        last = conn.execute(sa.select(audit.c.hash).order_by(audit.c.id.desc()).limit(1)).scalar()
        prev = last or GENESIS
        conn.execute(audit.insert().values(at=at, username=username, action=action, target=target,
                                           detail=detail_text, prev_hash=prev,
                                           hash=entry_hash(prev, at, username, action, target, detail_text)))


def append_audit(engine: sa.Engine, username: str, action: str, target: str = "", detail: dict | None = None) -> None:
    with audited(engine, username, action, target, detail):
        pass


def verify_audit(engine: sa.Engine) -> list[str]:
    """Problems in the audit chain (empty = intact): an entry whose content no longer matches its hash
    (changed), or whose ``prev_hash`` is not the previous entry's hash (deleted or reordered)."""
    problems, prev = [], GENESIS
    with engine.connect() as conn:
        for row in conn.execute(sa.select(audit).order_by(audit.c.id)):
            if row.prev_hash != prev:
                problems.append(f"audit entry {row.id}: does not follow the previous entry (one was deleted "
                                f"or changed before it)")
            if entry_hash(row.prev_hash, row.at, row.username, row.action, row.target, row.detail) != row.hash:
                problems.append(f"audit entry {row.id}: its content was changed after it was written")
            prev = row.hash
    return problems
