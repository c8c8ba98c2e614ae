"""Login sessions that survive a reload: a random token, stored hashed, expiring, revocable.

A login issues ``secrets.token_urlsafe(32)`` (256 random bits).  The browser keeps it (a cookie,
``fanpin.ui.login``); the database keeps only its sha256, the user, when it was last seen and when
it ends at the latest, and a digest of the account as it was (role, townships, disabled, password
date).  ``resume`` answers who a token belongs to, or why not:

- ``idle``: unseen for longer than the idle timeout (counted across all the user's tabs);
- ``expired``: past its absolute end (``FANPIN_SESSION_HOURS``, default 12);
- ``revoked``: logged out elsewhere, the account disabled or deleted, or its role, townships or
  password changed since the login (the digest differs);
- ``unknown``: no such token.

Every refusal deletes the row, so a token works until the first refusal and never after.  The
token is not the password and not the username; a stolen database holds no usable token.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.engine import Engine

from fanpin.access import users
from fanpin.access.roles import ROLES, Principal
from fanpin.store import sessions as store
from fanpin.store import users as user_store

DEFAULT_HOURS = 12.0
#: ``last_seen`` is written at most this often (a write per click would be a write per rerun).
TOUCH_EVERY = timedelta(seconds=30)
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,128}$")


@dataclass(frozen=True)
class Resumed:
    """The outcome of ``resume``: the principal, or None and the reason."""

    principal: Principal | None
    reason: str = ""
    username: str | None = None


def session_hours() -> float:
    """``FANPIN_SESSION_HOURS`` (default 12): the longest a login lasts, idle or not."""
    try:
        value = float(os.environ.get("FANPIN_SESSION_HOURS", DEFAULT_HOURS))
    except ValueError:
        return DEFAULT_HOURS
    return value if value > 0 else DEFAULT_HOURS


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("ascii")).hexdigest()


def looks_like_token(value: object) -> bool:
    """Whether a cookie value could be a token (anything else is never looked up)."""
    return isinstance(value, str) and bool(_TOKEN.match(value))


def _account_digest(row: object) -> str:
    # The (salted) password hash as well as its date: two changes within one second share a date.
    parts = (row.role, row.townships or "", "1" if row.disabled else "0", str(row.password_changed_at or ""), row.password_hash or "")
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def issue(engine: Engine, principal: Principal, *, now: datetime | None = None) -> str:
    """A new session for a principal that has just logged in; returns the token (shown once,
    never stored)."""
    row = user_store.user_row(engine, principal.username)
    if row is None:
        raise ValueError(f"no user {principal.username}")
    at = _now(now)
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        store.insert_session(conn, {
            "token_hash": token_hash(token), "username": row.username, "account": _account_digest(row),
            "created_at": at, "last_seen": at, "expires_at": at + timedelta(hours=session_hours()),
        })
    return token


def _refuse(engine: Engine, hashed: str, reason: str, username: str | None) -> Resumed:
    with engine.begin() as conn:
        store.delete_session(conn, hashed)
    return Resumed(None, reason, username)


def resume(engine: Engine, token: str, idle_minutes: float, *, now: datetime | None = None) -> Resumed:
    """Who holds ``token`` now, re-read from the account (its role as it is), or why no one."""
    if not looks_like_token(token):
        return Resumed(None, "unknown")
    hashed, at = token_hash(token), _now(now)
    row = store.session_row(engine, hashed)
    if row is None:
        return Resumed(None, "unknown")
    if at >= row.expires_at:
        return _refuse(engine, hashed, "expired", row.username)
    if at - row.last_seen > timedelta(minutes=idle_minutes):
        return _refuse(engine, hashed, "idle", row.username)
    account = user_store.user_row(engine, row.username)
    if account is None or account.disabled or account.role not in ROLES or _account_digest(account) != row.account:
        return _refuse(engine, hashed, "revoked", row.username)
    principal = users.principal_for(engine, account.username)
    if principal is None:
        return _refuse(engine, hashed, "revoked", row.username)
    if at - row.last_seen >= TOUCH_EVERY:
        store.touch(engine, hashed, at)
    return Resumed(principal, "", account.username)


def end(engine: Engine, token: str) -> bool:
    """Logout: the session is deleted (True when it existed)."""
    if not looks_like_token(token):
        return False
    with engine.begin() as conn:
        return store.delete_session(conn, token_hash(token)) > 0


def end_all(engine: Engine, username: str) -> int:
    """Every session of a user (an administrator's "log out everywhere")."""
    with engine.begin() as conn:
        return store.delete_user_sessions(conn, username)


def prune(engine: Engine, idle_minutes: float, *, now: datetime | None = None) -> int:
    """Delete sessions that can no longer be resumed (called now and then at login)."""
    at = _now(now)
    with engine.begin() as conn:
        return store.delete_stale(conn, at, at - timedelta(minutes=idle_minutes))
