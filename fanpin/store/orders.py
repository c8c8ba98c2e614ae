"""Verification orders (核查工单) and their clues: insert, the versioned update, the reads.

An order changes only through ``update_if_version``: ``UPDATE ... WHERE version = :read``,
atomic on SQLite and PostgreSQL alike, so two editors cannot overwrite each other.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.core.text import strip_invisible_text
from fanpin.store.schema import clues, households, order_clues, orders

_o, _oc = orders.c, order_clues.c

#: The columns ``order_frame`` returns, besides ``township_code`` and ``n_clues``.
LIST_COLUMNS: tuple[str, ...] = (
    "order_id", "household_id", "assignee_kind", "assignee", "state", "decision", "category", "risk_types", "reason", "findings", "notes",
    "first_clue_at", "created_at", "created_by", "due_date", "decided_at", "decided_by", "version", "updated_at", "updated_by",
)


def _frame(conn: Connection, stmt) -> pd.DataFrame:  # noqa: ANN001 - a Select
    return pd.DataFrame(conn.execute(stmt).fetchall(), columns=[col.name for col in stmt.selected_columns])


#: The order's free-text columns (typed by people): kept as written but for invisible characters.
TEXT_COLUMNS: tuple[str, ...] = ("reason", "findings", "notes")


def _clean(values: Mapping[str, object]) -> dict[str, object]:
    """``values`` with the free texts stripped of bidi overrides, zero-width and control characters
    (``fanpin.core.text.strip_invisible``; tabs and newlines stay): every order's text enters here."""
    return {k: strip_invisible_text(v) if k in TEXT_COLUMNS else v for k, v in values.items()}


def insert_order(conn: Connection, values: Mapping[str, object]) -> int:
    """A new order row; returns its ID."""
    return int(conn.execute(insert(orders).values(**_clean(values))).inserted_primary_key[0])


def link_clues(conn: Connection, order_id: int, clue_ids: Sequence[int]) -> None:
    """Record which clues the order verifies."""
    if clue_ids:
        conn.execute(insert(order_clues), [{"order_id": int(order_id), "clue_id": int(i)} for i in clue_ids])


def order_row(conn: Connection, order_id: int) -> dict | None:
    """The order's row as a dict (None when there is no such order)."""
    row = conn.execute(select(orders).where(_o.order_id == int(order_id))).mappings().first()
    return None if row is None else dict(row)


def clue_ids(conn: Connection, order_id: int) -> list[int]:
    """The clues an order verifies, in ID order."""
    stmt = select(_oc.clue_id).where(_oc.order_id == int(order_id)).order_by(_oc.clue_id)
    return [int(r[0]) for r in conn.execute(stmt)]


def risk_types(conn: Connection, order_id: int) -> list[str]:
    """The distinct risk types named by an order's clues, sorted."""
    stmt = select(clues.c.risk_type).join_from(order_clues, clues, _oc.clue_id == clues.c.clue_id).where(_oc.order_id == int(order_id)).distinct()
    return sorted(r[0] for r in conn.execute(stmt))


def update_if_version(
    conn: Connection, order_id: int, version: int, states: Sequence[str], values: Mapping[str, object], *, actor: str, at: datetime
) -> bool:
    """Apply ``values`` (and bump the version, stamp who and when) only if the order still has
    ``version`` and one of ``states``; False when someone else got there first."""
    stmt = (
        update(orders)
        .where(_o.order_id == int(order_id), _o.version == int(version), _o.state.in_(list(states)))
        .values(**_clean(values), version=_o.version + 1, updated_at=at, updated_by=actor)
    )
    return conn.execute(stmt).rowcount == 1


def stamp(conn: Connection, order_id: int) -> tuple[str | None, datetime | None, int]:
    """Who changed the order last, when, and its version now."""
    row = conn.execute(select(_o.updated_by, _o.updated_at, _o.version).where(_o.order_id == int(order_id))).first()
    return row.updated_by, row.updated_at, int(row.version)


def order_frame(engine: Engine, *, states: Sequence[str], township: str | None = None, townships: Iterable[str] | None = None) -> pd.DataFrame:
    """Orders in ``states`` with their household's township and clue count, newest first
    (``townships``: the principal's scope, None for all)."""
    h = households.c
    n_clues = select(_oc.order_id, func.count().label("n_clues")).group_by(_oc.order_id).subquery()
    stmt = (
        select(*(_o[c] for c in LIST_COLUMNS[:2]), h.township_code, *(_o[c] for c in LIST_COLUMNS[2:]),
               func.coalesce(n_clues.c.n_clues, 0).label("n_clues"))
        .join_from(orders, households, _o.household_id == h.household_id)
        .outerjoin(n_clues, n_clues.c.order_id == _o.order_id)
        .where(_o.state.in_(list(states)))
        .order_by(_o.order_id.desc())
    )
    if townships is not None:
        stmt = stmt.where(h.township_code.in_(sorted(townships)))
    if township:
        stmt = stmt.where(h.township_code == township)
    with engine.connect() as conn:
        return _frame(conn, stmt)


def household_orders(conn: Connection, household_id: str) -> pd.DataFrame:
    """One household's orders (all columns, oldest first) with ``clue_ids``: "3, 7" per order."""
    hid = str(household_id)
    f = _frame(conn, select(orders).where(_o.household_id == hid).order_by(_o.created_at, _o.order_id))
    links = conn.execute(
        select(_oc.order_id, _oc.clue_id).join(orders, _o.order_id == _oc.order_id).where(_o.household_id == hid).order_by(_oc.order_id, _oc.clue_id)
    ).all()
    by_order: dict[int, list[str]] = {}
    for oid, cid in links:
        by_order.setdefault(int(oid), []).append(str(cid))
    f["clue_ids"] = [", ".join(by_order.get(int(o), [])) for o in f["order_id"]] if len(f) else pd.Series(dtype=object)
    return f
