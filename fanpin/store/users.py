"""The users table: accounts, their password hashes, failures and lock-outs.

Functions that change an account take the caller's Connection, so the change and its audit
row commit together; reads take an Engine or a Connection.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine, Row
from sqlalchemy.sql import Select

from fanpin.store.schema import regions, users

#: One account row as read (attribute access by column name).
UserRow = Row


def _run(target: Engine | Connection, stmt: Select):  # noqa: ANN202 - a Result, read inside the connection
    if isinstance(target, Connection):
        return target.execute(stmt).all()
    with target.connect() as conn:
        return conn.execute(stmt).all()


def township_codes(target: Engine | Connection) -> set[str]:
    """The township region codes in this database (what a case worker may be scoped to)."""
    return {r[0] for r in _run(target, select(regions.c.region_code).where(regions.c.level == "township"))}


def user_row(target: Engine | Connection, username: str) -> UserRow | None:
    """The whole account row (hash included: for logins only), or None."""
    rows = _run(target, select(users).where(users.c.username == str(username)))
    return rows[0] if rows else None


def user_row_by_email(conn: Connection, email: str) -> UserRow | None:
    """The account whose user name is this email, compared without case (identity-provider logins)."""
    return conn.execute(select(users).where(func.lower(users.c.username) == str(email).lower())).first()


def exists(conn: Connection, username: str) -> bool:
    return conn.execute(select(users.c.username).where(users.c.username == str(username))).first() is not None


def insert_user(conn: Connection, values: Mapping[str, object]) -> None:
    conn.execute(insert(users).values(**values))


def update_user(conn: Connection, username: str, values: Mapping[str, object]) -> int:
    """Change columns of one account; returns the rows changed (0: no such user)."""
    return int(conn.execute(update(users).where(users.c.username == str(username)).values(**values)).rowcount or 0)


def _unlocked(at: datetime):  # noqa: ANN202 - a SQL condition
    return or_(users.c.locked_until.is_(None), users.c.locked_until <= at)


def claim_attempt(engine: Engine, username: str, at: datetime) -> int | None:
    """Count a login attempt as a failure before its password is checked, in a transaction of its
    own, and return the new count; None (and no count) while the account is locked at ``at``.

    One atomic UPDATE ... RETURNING: attempts sent in parallel each get their own number, so the
    sixth of forty simultaneous guesses already knows it is over the limit (a read, a slow password
    check and a write of count+1 let all forty through)."""
    stmt = update(users).where(users.c.username == str(username), _unlocked(at)).values(failed_logins=users.c.failed_logins + 1).returning(users.c.failed_logins)
    with engine.begin() as conn:
        row = conn.execute(stmt).first()
    return None if row is None else int(row[0])


def lock(conn: Connection, username: str, at: datetime, until: datetime) -> None:
    """Lock the account until ``until`` and clear its count (unless another attempt locked it already)."""
    conn.execute(update(users).where(users.c.username == str(username), _unlocked(at)).values(failed_logins=0, locked_until=until))


def add_failures(conn: Connection, username: str, delta: int) -> None:
    conn.execute(update(users).where(users.c.username == str(username)).values(failed_logins=func.max(users.c.failed_logins + int(delta), 0) if conn.dialect.name == "sqlite" else func.greatest(users.c.failed_logins + int(delta), 0)))


def user_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(users)).scalar() or 0)


def list_users(engine: Engine) -> pd.DataFrame:
    """Every account without its hash, by user name."""
    cols = [c for c in users.columns if c.name != "password_hash"]
    rows = _run(engine, select(*cols).order_by(users.c.username))
    return pd.DataFrame(rows, columns=[c.name for c in cols])
