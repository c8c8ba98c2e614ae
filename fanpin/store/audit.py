"""The audit_log table: the one insert, the filtered reads (the administrator's page, a
household's history) and the check of its hash chain.

The table is append-only (triggers from migrations 0004 and 0006 refuse UPDATE, DELETE,
REPLACE and TRUNCATE); there is no update or delete function here on purpose.  Each row
carries the hash of the row before it and its own hash over that and its fields, so a row
rewritten or removed behind the triggers' back (raw SQL with the triggers dropped, a file
edited) breaks the chain from that row on: ``verify_chain`` names the first broken row.
The canonical form hashed (``entry_hash``) must never change: migration 0006 used it too.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import DateTime, bindparam, func, insert, select, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from fanpin.store.schema import audit_log

#: The columns of a read, in table order.
COLUMNS: tuple[str, ...] = tuple(c.name for c in audit_log.columns)


#: Serialises PostgreSQL's audit writers for the length of their transaction, so that two
#: entries never chain onto the same predecessor (an arbitrary, fixed advisory-lock key).
_PG_CHAIN_LOCK = 7_271_003


def _canonical(at: datetime | str | None, actor: object, action: object, target: object, detail: object) -> str:
    when = at.strftime("%Y-%m-%d %H:%M:%S") if isinstance(at, datetime) else str(at or "")[:19]
    return "\x1f".join("" if v is None else str(v) for v in (when, actor, action, target, detail))


def entry_hash(prev: str | None, at: datetime | str | None, actor: object, action: object, target: object, detail: object) -> str:
    """SHA-256 over the previous row's hash and this row's fields (unit-separated)."""
    return hashlib.sha256(((prev or "") + "\x1e" + _canonical(at, actor, action, target, detail)).encode("utf-8")).hexdigest()


def chain_function(prev: str | None, canonical: str) -> str:
    """``fanpin_audit_hash`` as registered on every SQLite connection (fanpin.store.engine)."""
    return hashlib.sha256(((prev or "") + "\x1e" + canonical).encode("utf-8")).hexdigest()


_SQLITE_INSERT = text(
    "INSERT INTO audit_log (at, actor, action, target, detail, prev_hash, row_hash) "
    "SELECT :at, :actor, :action, :target, :detail, p.h, fanpin_audit_hash(p.h, :canon) "
    "FROM (SELECT (SELECT row_hash FROM audit_log ORDER BY audit_id DESC LIMIT 1) AS h) AS p"
).bindparams(bindparam("at", type_=DateTime()))


def insert_entry(conn: Connection, row: Mapping[str, object]) -> None:
    """Append one row (at, actor, action, target, detail) in the caller's transaction, chained
    onto the last row.  SQLite: one INSERT ... SELECT, which reads the last hash under the write
    lock the statement takes; PostgreSQL: an advisory lock held to the end of the transaction."""
    canon = _canonical(row.get("at"), row.get("actor"), row.get("action"), row.get("target"), row.get("detail"))
    if conn.dialect.name == "sqlite":
        conn.execute(_SQLITE_INSERT, {**{k: row.get(k) for k in ("at", "actor", "action", "target", "detail")}, "canon": canon})
        return
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_PG_CHAIN_LOCK)))
    prev = conn.execute(select(audit_log.c.row_hash).order_by(audit_log.c.audit_id.desc()).limit(1)).scalar()
    conn.execute(insert(audit_log).values(**row, prev_hash=prev, row_hash=chain_function(prev, canon)))


@dataclass(frozen=True)
class ChainReport:
    """The result of checking the chain: rows checked, and the first broken row if any."""

    rows: int
    first_broken: int | None = None  # audit_id
    reason: str | None = None  # "hash" (the row's fields or hash were changed) / "link" (a row before it was removed or changed)

    @property
    def intact(self) -> bool:
        return self.first_broken is None


def verify_chain(engine: Engine, chunk: int = 50_000) -> ChainReport:
    """Recompute every row's hash in audit_id order (read in chunks, so memory stays flat)."""
    a = audit_log.c
    prev: str | None = None
    n = 0
    last_id = None
    with engine.connect() as conn:
        while True:
            q = select(a.audit_id, a.at, a.actor, a.action, a.target, a.detail, a.prev_hash, a.row_hash).order_by(a.audit_id).limit(chunk)
            if last_id is not None:
                q = q.where(a.audit_id > last_id)
            rows = conn.execute(q).all()
            if not rows:
                return ChainReport(n)
            for r in rows:
                n += 1
                if (r.prev_hash or None) != prev:
                    return ChainReport(n, int(r.audit_id), "link")
                if r.row_hash != entry_hash(prev, r.at, r.actor, r.action, r.target, r.detail):
                    return ChainReport(n, int(r.audit_id), "hash")
                prev = r.row_hash
            last_id = rows[-1].audit_id


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
