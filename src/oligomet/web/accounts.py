"""Users, passwords (Argon2id via argon2-cffi), lockout and server-side sessions.

A session cookie holds a random token; the database keeps only its SHA-256, the user, the session's
CSRF token and its expiry, so logging out or disabling a user ends the session at once.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from .store import ROLES, aware, now, sessions, users

MAX_FAILURES = 5
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=8)   # one board meeting day
MIN_PASSWORD = 12

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not a password of anyone")


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class User:
    username: str
    role: str
    sites: tuple[str, ...]
    must_change: bool = False   # a one-time password: only the password page until it is changed

    def may_see(self, site: str) -> bool:
        return site in self.sites


def _check(username: str, role: str, sites: list[str], password: str | None) -> None:
    problems = []
    if not username or not username.replace("_", "").replace(".", "").replace("-", "").isalnum():
        problems.append(f"user name {username!r}: use letters, digits, '.', '_' or '-'")
    if role not in ROLES:
        problems.append(f"role {role!r} is not one of {', '.join(ROLES)}")
    if not sites or any(not s.strip() for s in sites):
        problems.append("give at least one site (--sites A,B)")
    if password is not None and len(password) < MIN_PASSWORD:
        problems.append(f"the password must have at least {MIN_PASSWORD} characters")
    if problems:
        raise AccountError("; ".join(problems))


def new_password() -> str:
    return secrets.token_urlsafe(12)


def add_user(engine: sa.Engine, username: str, role: str, sites: list[str], password: str | None = None) -> str:
    """Create a user; without ``password`` a one-time password is made (returned) that must be changed
    at first login. There is no default password."""
    one_time = password is None
    password = password or new_password()
    _check(username, role, sites, password)
    with engine.begin() as conn:
        if conn.execute(sa.select(users.c.username).where(users.c.username == username)).first():
            raise AccountError(f"user {username!r} exists already (use 'users reset' or 'users disable')")
        conn.execute(users.insert().values(username=username, password_hash=_hasher.hash(password), role=role,
                                           sites=json.dumps(sorted(set(sites))), disabled=False, failed_logins=0,
                                           must_change=one_time))
    return password


def disable_user(engine: sa.Engine, username: str) -> None:
    with engine.begin() as conn:
        if conn.execute(users.update().where(users.c.username == username).values(disabled=True)).rowcount == 0:
            raise AccountError(f"no user {username!r}")
        conn.execute(sessions.delete().where(sessions.c.username == username))


def reset_password(engine: sa.Engine, username: str, password: str | None = None) -> str:
    """A new password (a one-time one when not given); also lifts a lockout and ends open sessions."""
    one_time = password is None
    password = password or new_password()
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"the password must have at least {MIN_PASSWORD} characters")
    with engine.begin() as conn:
        n = conn.execute(users.update().where(users.c.username == username).values(
            password_hash=_hasher.hash(password), failed_logins=0, locked_until=None,
            must_change=one_time)).rowcount
        if n == 0:
            raise AccountError(f"no user {username!r}")
        conn.execute(sessions.delete().where(sessions.c.username == username))
    return password


def authenticate(engine: sa.Engine, username: str, password: str) -> tuple[User | None, str]:
    """(user, outcome) with outcome ``ok``, ``bad`` (unknown user or wrong password: the same answer),
    ``locked`` or ``disabled``. A wrong password counts towards the lockout."""
    with engine.begin() as conn:
        row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        if row is None:
            _verify(_DUMMY_HASH, password)   # same work as for a real user: no timing hint who exists
            return None, "bad"
        if row.disabled:
            return None, "disabled"
        locked = aware(row.locked_until)
        if locked is not None and locked > now():
            return None, "locked"
        if not _verify(row.password_hash, password):
            failures = row.failed_logins + 1
            lock = now() + LOCKOUT if failures >= MAX_FAILURES else None
            conn.execute(users.update().where(users.c.username == username).values(
                failed_logins=0 if lock else failures, locked_until=lock))
            return None, "locked" if lock else "bad"
        conn.execute(users.update().where(users.c.username == username).values(failed_logins=0, locked_until=None))
        return User(row.username, row.role, tuple(json.loads(row.sites)), bool(row.must_change)), "ok"


def _verify(hashed: str, password: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_key(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(engine: sa.Engine, username: str) -> tuple[str, str]:
    """(cookie token, CSRF token) of a new session."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(sessions.delete().where(sessions.c.expires < now()))
        conn.execute(sessions.insert().values(token_sha256=_token_key(token), username=username, csrf=csrf,
                                              expires=now() + SESSION_LIFETIME))
    return token, csrf


def session_user(engine: sa.Engine, token: str | None) -> tuple[User | None, str | None]:
    """The user and CSRF token of a live session, or (None, None)."""
    if not token:
        return None, None
    with engine.connect() as conn:
        row = conn.execute(sa.select(sessions.c.csrf, sessions.c.expires, users).join(
            users, users.c.username == sessions.c.username).where(
            sessions.c.token_sha256 == _token_key(token))).first()
    if row is None or row.disabled or aware(row.expires) < now():
        return None, None
    return User(row.username, row.role, tuple(json.loads(row.sites)), bool(row.must_change)), row.csrf


def close_session(engine: sa.Engine, token: str | None) -> None:
    if token:
        with engine.begin() as conn:
            conn.execute(sessions.delete().where(sessions.c.token_sha256 == _token_key(token)))
