"""The sessions table: one row per logged-in browser, found by the sha256 of its token."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine, Row

from fanpin.store.schema import sessions


def insert_session(conn: Connection, values: Mapping[str, object]) -> None:
    conn.execute(insert(sessions).values(**values))


def session_row(engine: Engine, token_hash: str) -> Row | None:
    with engine.connect() as conn:
        return conn.execute(select(sessions).where(sessions.c.token_hash == str(token_hash))).first()


def touch(engine: Engine, token_hash: str, at: datetime) -> None:
    """Record that the session was seen at ``at`` (the idle timeout counts from here)."""
    with engine.begin() as conn:
        conn.execute(update(sessions).where(sessions.c.token_hash == str(token_hash)).values(last_seen=at))


def delete_session(conn: Connection, token_hash: str) -> int:
    """Remove one session; returns 1 when it was there (a second logout removes nothing)."""
    return int(conn.execute(delete(sessions).where(sessions.c.token_hash == str(token_hash))).rowcount or 0)


def delete_user_sessions(conn: Connection, username: str) -> int:
    return int(conn.execute(delete(sessions).where(sessions.c.username == str(username))).rowcount or 0)


def delete_stale(conn: Connection, expired_before: datetime, idle_before: datetime) -> int:
    """Remove sessions past their end or unseen since ``idle_before``."""
    stmt = delete(sessions).where((sessions.c.expires_at <= expired_before) | (sessions.c.last_seen < idle_before))
    return int(conn.execute(stmt).rowcount or 0)


def user_session_count(engine: Engine, username: str) -> int:
    with engine.connect() as conn:
        return len(conn.execute(select(sessions.c.token_hash).where(sessions.c.username == str(username))).all())
