"""The monitoring record (监测台账): the append-only history of inclusion, proposals, approvals and
rejections, and the panel figures the elimination rules read.

Rows are only ever inserted; a unique index on ``proposal_id`` lets the database refuse a
second approval of the same proposal (``insert_record`` lets that IntegrityError through).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import pandas as pd
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from fanpin.core.text import strip_invisible_text
from fanpin.store.schema import households, monitoring, panel

_m = monitoring.c
COLUMNS: tuple[str, ...] = tuple(c.name for c in monitoring.columns)
#: The panel columns the elimination rules read.
RULE_COLUMNS: tuple[str, ...] = ("household_id", "period", "income_pc", "income_net", "medical_oop", "schooling_cost", "disaster_loss")
_CHUNK = 1_000


def _frame(conn: Connection, stmt, columns: Sequence[str] | None = None) -> pd.DataFrame:  # noqa: ANN001 - a Select
    return pd.DataFrame(conn.execute(stmt).fetchall(), columns=list(columns or [col.name for col in stmt.selected_columns]))


def history(engine: Engine | Connection, household_id: str | None = None, townships: Iterable[str] | None = None) -> pd.DataFrame:
    """Every record (of one household, or all; within ``townships`` if given), oldest first."""
    stmt = select(monitoring).order_by(_m.record_id)
    if household_id:
        stmt = stmt.where(_m.household_id == str(household_id))
    if townships is not None:
        inside = select(households.c.household_id).where(households.c.township_code.in_(sorted(townships)))
        stmt = stmt.where(_m.household_id.in_(inside))
    if isinstance(engine, Connection):
        return _frame(engine, stmt, COLUMNS)
    with engine.connect() as conn:
        return _frame(conn, stmt, COLUMNS)


def latest_records(conn: Connection) -> pd.DataFrame:
    """Each household's latest record (all columns)."""
    latest = select(_m.household_id, func.max(_m.record_id).label("rid")).group_by(_m.household_id).subquery()
    return _frame(conn, select(monitoring).join(latest, latest.c.rid == _m.record_id), COLUMNS)


def status_rows(conn: Connection) -> pd.DataFrame:
    """household_id, period, status, record_id of every record (the register's "since")."""
    return _frame(conn, select(_m.household_id, _m.period, _m.status, _m.record_id))


def household_records(conn: Connection, household_id: str) -> pd.DataFrame:
    """One household's records by month and time (the profile's history)."""
    stmt = select(monitoring).where(_m.household_id == str(household_id)).order_by(_m.period, _m.recorded_at, _m.record_id)
    return _frame(conn, stmt, COLUMNS)


def last_record(conn: Connection, household_id: str) -> dict | None:
    """The household's latest record, or None if it was never monitored."""
    stmt = select(monitoring).where(_m.household_id == str(household_id)).order_by(_m.record_id.desc()).limit(1)
    row = conn.execute(stmt).mappings().first()
    return None if row is None else dict(row)


def record_by_id(conn: Connection, record_id: int) -> dict | None:
    row = conn.execute(select(monitoring).where(_m.record_id == int(record_id))).mappings().first()
    return None if row is None else dict(row)


def latest_record_id(conn: Connection, household_id: str) -> int | None:
    found = conn.execute(select(func.max(_m.record_id)).where(_m.household_id == str(household_id))).scalar()
    return None if found is None else int(found)


def insert_record(conn: Connection, values: Mapping[str, object]) -> int:
    """Append one record; returns its ``record_id``.  Its note (typed by a person) is kept as
    written but for invisible characters, like every free text that enters the store."""
    values = {k: strip_invisible_text(v) if k == "note" and isinstance(v, str) else v for k, v in values.items()}
    return int(conn.execute(insert(monitoring).values(**values)).inserted_primary_key[0])


def rule_inputs(conn: Connection, household_ids: Sequence[str], periods: Sequence[int] | None = None) -> pd.DataFrame:
    """Income and large-spending figures (``RULE_COLUMNS``) of the households, in ``periods`` or all months."""
    p = panel.c
    parts = []
    ids = [str(h) for h in household_ids]
    for i in range(0, len(ids), _CHUNK):
        stmt = select(*(p[c] for c in RULE_COLUMNS)).where(p.household_id.in_(ids[i : i + _CHUNK]))
        if periods is not None:
            stmt = stmt.where(p.period.in_([int(x) for x in periods]))
        parts.append(_frame(conn, stmt, RULE_COLUMNS))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(RULE_COLUMNS))
