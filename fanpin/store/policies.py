"""The saved policies (scenarios) table: save or overwrite by name, list, load, adopt.

Policies are kept as JSON text; ``fanpin.engine.policies`` turns them into ``RiskPolicy`` and
checks who may save or adopt.  Write functions take a Connection, so the caller's transaction
(and its audit row) commits or rolls back with the change.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from fanpin.store.schema import policies

_c = policies.c


def save(conn: Connection, name: str, policy_json: str, at: datetime, by: str) -> int:
    """Insert the named policy, or overwrite the one of that name; returns its id."""
    row = conn.execute(select(_c.policy_id).where(_c.name == name)).first()
    values = {"policy_json": policy_json, "created_at": at, "created_by": by}
    if row:
        conn.execute(policies.update().where(_c.policy_id == row[0]).values(**values))
        return int(row[0])
    res = conn.execute(policies.insert().values(name=name, **values))
    return int(res.inserted_primary_key[0])


def adopt(conn: Connection, name: str, at: datetime, by: str) -> tuple[int, str] | None:
    """Mark the named policy adopted; (policy_id, policy_json), or None when there is no such name."""
    res = conn.execute(policies.update().where(_c.name == name).values(adopted_at=at, adopted_by=by))
    if res.rowcount == 0:
        return None
    row = conn.execute(select(_c.policy_id, _c.policy_json).where(_c.name == name)).first()
    return int(row[0]), str(row[1])


def adopted_json(engine: Engine) -> str | None:
    """The JSON of the most recently adopted policy, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(_c.policy_json).where(_c.adopted_at.is_not(None)).order_by(_c.adopted_at.desc()).limit(1)).first()
    return str(row[0]) if row else None


def policy_json(engine: Engine, name: str) -> str | None:
    """The JSON of the named policy, or None."""
    with engine.connect() as conn:
        row = conn.execute(select(_c.policy_json).where(_c.name == name)).first()
    return str(row[0]) if row else None


def rows(engine: Engine) -> list[dict]:
    """Every saved policy (all columns), newest first."""
    with engine.connect() as conn:
        found = conn.execute(select(policies).order_by(_c.created_at.desc())).mappings().all()
    return [dict(r) for r in found]
