"""The audit_log table: the one insert and the filtered reads (the administrator's page, a
household's history).

The table is append-only (triggers from migration 0004 refuse UPDATE and DELETE); there is
no update or delete function here on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from fanpin.store.schema import audit_log

#: The columns of a read, in table order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in audit_log.columns)


def insert_entry(conn: Connection, row: Mapping[str, object]) -> None:
    """Append one row (at, actor, action, target, detail) in the caller's transaction."""
    conn.execute(insert(audit_log).values(**row))


def _conditions(
    actor: str | None, action: str | None, target: str | None, target_contains: str | None,
    since: datetime | None, until: datetime | None,
) -> list[ColumnElement]:
    a = audit_log.c
    conds: list[ColumnElement] = []
    if actor:
        conds.append(a.actor == str(actor))
    if action:
        conds.append(a.action == str(action))
    if target is not None:
        conds.append(a.target == str(target))
    if target_contains:
        conds.append(a.target.contains(str(target_contains)[:64], autoescape=True))
    if since is not None:
        conds.append(a.at >= since)
    if until is not None:
        conds.append(a.at < until)
    return conds


def query_entries(
    engine: Engine | Connection, *, actor: str | None = None, action: str | None = None, target: str | None = None,
    target_contains: str | None = None, since: datetime | None = None, until: datetime | None = None, limit: int = 2000,
) -> tuple[pd.DataFrame, int]:
    """Entries matching every filter given (``until`` exclusive), newest first, at most ``limit``,
    and how many match in all.  ``target_contains`` is a bound parameter with LIKE wildcards
    escaped: it is data, never SQL."""
    conds = _conditions(actor, action, target, target_contains, since, until)
    stmt = select(audit_log).where(*conds).order_by(audit_log.c.at.desc(), audit_log.c.audit_id.desc()).limit(max(int(limit), 0))
    count = select(func.count()).select_from(audit_log).where(*conds)
    if isinstance(engine, Connection):
        rows, total = engine.execute(stmt).all(), engine.execute(count).scalar()
    else:
        with engine.connect() as conn:
            rows, total = conn.execute(stmt).all(), conn.execute(count).scalar()
    return pd.DataFrame(rows, columns=list(COLUMNS)), int(total or 0)


def distinct_values(engine: Engine, column: str) -> set[str]:
    """The distinct non-null values of ``actor`` or ``action``."""
    if column not in ("actor", "action"):
        raise ValueError(f"not a filter column: {column}")
    with engine.connect() as conn:
        return {r[0] for r in conn.execute(select(audit_log.c[column]).distinct()) if r[0] is not None}
