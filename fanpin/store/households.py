"""Households as the workflow and the profile see them: where a household lies, the search, its
row, members, events and assistance measures.

Reads take a Connection (the caller's transaction holds) or an Engine; each returns plain
values or a DataFrame whose columns are the table's own names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd
from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Connection, Engine

from fanpin.store.schema import assistance, events, households, members

_h, _a = households.c, assistance.c
#: Rows per ``IN (...)`` list: long lists go in pieces (SQLite's variable limit, PostgreSQL's plan time).
_CHUNK = 1_000
#: Longest household ID the schema stores; longer search text cannot match anything.
ID_LENGTH: int = _h.household_id.type.length or 20


def _rows(target: Connection | Engine, stmt) -> list:  # noqa: ANN001 - a SQLAlchemy statement
    """The statement's rows, on the caller's connection or a fresh one."""
    if isinstance(target, Connection):
        return target.execute(stmt).all()
    with target.connect() as conn:
        return conn.execute(stmt).all()


def _frame(target: Connection | Engine, stmt, columns: Sequence[str] | None = None) -> pd.DataFrame:  # noqa: ANN001 - a Select
    rows = [tuple(r) for r in _rows(target, stmt)]
    return pd.DataFrame(rows, columns=list(columns or [col.name for col in stmt.selected_columns]))


def _chunks(ids: Iterable[str]) -> list[list[str]]:
    ids = [str(i) for i in ids]
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]


def township_of(conn_or_engine: Connection | Engine, household_id: str) -> str | None:
    """The household's township code (None when there is no such household)."""
    rows = _rows(conn_or_engine, select(_h.township_code).where(_h.household_id == str(household_id)))
    return rows[0][0] if rows else None


def exists(conn_or_engine: Connection | Engine, household_id: str) -> bool:
    return bool(_rows(conn_or_engine, select(_h.household_id).where(_h.household_id == str(household_id))))


def attributes(conn_or_engine: Connection | Engine, household_ids: Iterable[str]) -> pd.DataFrame:
    """household_id, township_code, household_type, no_labour_guarantee of the households."""
    cols = ["household_id", "township_code", "household_type", "no_labour_guarantee"]
    parts = [_frame(conn_or_engine, select(*(_h[c] for c in cols)).where(_h.household_id.in_(part)), cols) for part in _chunks(household_ids)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)


def search(
    engine: Engine, columns: Sequence[str], *, prefix: str = "", township: str | None = None, village: str | None = None,
    townships: Iterable[str] | None = None, limit: int = 50,
) -> pd.DataFrame:
    """Households whose ID starts with ``prefix`` (a bound parameter, LIKE wildcards escaped: the
    text is data), within a township, village and the principal's ``townships``; by ID."""
    stmt = select(*(_h[c] for c in columns))
    if prefix:
        stmt = stmt.where(_h.household_id.startswith(prefix, autoescape=True))
    if township:
        stmt = stmt.where(_h.township_code == str(township))
    if village:
        stmt = stmt.where(_h.village_code == str(village))
    if townships is not None:
        stmt = stmt.where(_h.township_code.in_(sorted(townships)))
    stmt = stmt.order_by(_h.household_id).limit(max(int(limit), 0))
    return _frame(engine, stmt, columns)


def household_row(conn_or_engine: Connection | Engine, household_id: str) -> dict | None:
    """Every column of one household, or None."""
    rows = _rows(conn_or_engine, select(households).where(_h.household_id == str(household_id)))
    return dict(rows[0]._mapping) if rows else None


def household_members(conn: Connection, household_id: str) -> pd.DataFrame:
    """The household's members (every column, personal data unmasked: the caller masks)."""
    stmt = select(members).where(members.c.household_id == str(household_id)).order_by(members.c.member_id)
    return _frame(conn, stmt, [c.name for c in members.columns])


def household_events(conn: Connection, household_id: str, area_codes: Sequence[str]) -> pd.DataFrame:
    """Events of the household and area events (no household) of ``area_codes`` (its village and
    township), by month."""
    e = events.c
    where = or_(e.household_id == str(household_id), and_(e.household_id.is_(None), e.region_code.in_([str(c) for c in area_codes])))
    return _frame(conn, select(events).where(where).order_by(e.period, e.event_id), [c.name for c in events.columns])


def household_assistance(conn: Connection, household_id: str) -> pd.DataFrame:
    """The household's assistance measures (幸福清单 rows), by month."""
    stmt = select(assistance).where(_a.household_id == str(household_id)).order_by(_a.period, _a.assistance_id)
    return _frame(conn, stmt, [c.name for c in assistance.columns])


def measures(conn_or_engine: Connection | Engine, household_ids: Iterable[str], kinds: Sequence[str] | None = None) -> pd.DataFrame:
    """household_id, measure, period of the households' assistance (of ``kinds`` only, if given)."""
    cols = ["household_id", "measure", "period"]
    parts = []
    for part in _chunks(household_ids):
        stmt = select(_a.household_id, _a.measure, _a.period).where(_a.household_id.in_(part))
        if kinds is not None:
            stmt = stmt.where(_a.measure.in_(list(kinds)))
        parts.append(_frame(conn_or_engine, stmt, cols))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=cols)
