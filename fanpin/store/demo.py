"""The demo county's writes (column arrays in bulk, month by month) and the few reads its planting needs.

The generator in ``fanpin.demo`` is numpy over households; everything it writes goes through
here, so a bigger county (a province, a national-export sample) changes the generator, not
the SQL.  Clues go through the one clue writer, ``fanpin.store.clues.insert_clues``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, insert, inspect, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.store.io import bulk_insert
from fanpin.store.schema import (
    assistance,
    dept_records,
    events,
    households,
    members,
    metadata,
    monitoring,
    official_relations,
    panel,
    regions,
)

#: The tables the generator fills in bulk from column arrays (clues: ``insert_clues``).
BULK_TABLES = {t.name: t for t in (regions, households, members, panel, events, assistance)}

Columns = Mapping[str, np.ndarray | Sequence]


# --------------------------------------------------------------------------- the build
def write_columns(conn: Connection, table: str, columns: Columns) -> int:
    """Append column arrays to one of ``BULK_TABLES`` (COPY on PostgreSQL); returns the rows written."""
    if table not in BULK_TABLES:
        raise ValueError(f"the demo does not bulk-write {table!r}")
    return bulk_insert(conn, BULK_TABLES[table], columns) if columns else 0


def mark_heads(conn: Connection, flag: str, household_ids: Sequence[str]) -> None:
    """Set ``flag`` (dibao or tekun) on the heads of ``household_ids``."""
    if flag not in ("dibao", "tekun"):
        raise ValueError(f"not a head's benefit flag: {flag!r}")
    if not len(household_ids):
        return
    m = members.c
    stmt = update(members).where(m.household_id == bindparam("hid"), m.relation == "head").values({flag: True})
    conn.execute(stmt, [{"hid": str(h)} for h in household_ids])


def table_names(engine: Engine) -> set[str]:
    """The tables in the database (what ``fanpin demo`` checks before it replaces one)."""
    return set(inspect(engine).get_table_names())


def drop_everything(engine: Engine) -> None:
    """Drop fanpin's tables and Alembic's version table (a server database the demo rebuilds)."""
    metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")


# --------------------------------------------------------------------------- planting: reads
def panel_parts(conn: Connection, period: int) -> pd.DataFrame:
    """household_id, income_property, income_transfer, business_cost for one month
    (the parts of net income the rules do not read but a planting must keep consistent)."""
    p = panel.c
    rows = conn.execute(select(p.household_id, p.income_property, p.income_transfer, p.business_cost).where(p.period == int(period))).fetchall()
    return pd.DataFrame(rows, columns=["household_id", "income_property", "income_transfer", "business_cost"])


def proposal_ids(conn: Connection, household_ids: Sequence[str]) -> dict[str, int]:
    """household_id -> record_id of its proposed elimination (the planting's own proposals)."""
    m = monitoring.c
    rows = conn.execute(select(m.household_id, m.record_id).where(m.status == "proposed", m.household_id.in_(list(household_ids)))).fetchall()
    return {h: int(r) for h, r in rows}


# --------------------------------------------------------------------------- planting: writes
def secure_housing_by_grade(conn: Connection, period: int, unsafe_grade: int) -> None:
    """Mark every household housing-secure except those whose house is graded ``unsafe_grade`` or worse in ``period``."""
    h, p = households.c, panel.c
    conn.execute(update(households).values(housing_secured=True))
    unsafe = select(p.household_id).where(p.period == int(period), p.housing_grade >= unsafe_grade)
    conn.execute(update(households).where(h.household_id.in_(unsafe)).values(housing_secured=False))


def mark_housing_secured(conn: Connection, household_ids: Sequence[str]) -> None:
    if len(household_ids):
        conn.execute(update(households).where(households.c.household_id.in_(list(household_ids))).values(housing_secured=True))


def update_members(conn: Connection, changes: Iterable[Mapping[str, object]]) -> None:
    """Each change: ``member_id`` and the columns to set."""
    for change in changes:
        values = {k: v for k, v in change.items() if k != "member_id"}
        conn.execute(update(members).where(members.c.member_id == int(change["member_id"])).values(**values))


def update_panel(conn: Connection, period: int, changes: Iterable[Mapping[str, object]]) -> None:
    """Each change: ``household_id`` and the columns to set in its row of ``period``."""
    p = panel.c
    for change in changes:
        values = {k: v for k, v in change.items() if k != "household_id"}
        conn.execute(update(panel).where(p.period == int(period), p.household_id == change["household_id"]).values(**values))


def insert_rows(conn: Connection, table: str, rows: Sequence[Mapping[str, object]]) -> None:
    """Insert row dicts into ``dept_records``, ``official_relations`` or ``monitoring``."""
    tables = {t.name: t for t in (dept_records, official_relations, monitoring)}
    if table not in tables:
        raise ValueError(f"the planting does not insert into {table!r}")
    if rows:
        conn.execute(insert(tables[table]), list(rows))


__all__ = [
    "BULK_TABLES",
    "drop_everything",
    "insert_rows",
    "mark_heads",
    "mark_housing_secured",
    "panel_parts",
    "proposal_ids",
    "secure_housing_by_grade",
    "table_names",
    "update_members",
    "update_panel",
    "write_columns",
]
