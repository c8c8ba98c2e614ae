"""The clues table: the one writer (``insert_clues``), the queries about clues and their status changes.

Every clue, whatever made it (a cadre's visit, a department feed, a month's scoring, a
supervision finding, the risk model, the demo), is written here, so its defaults and its
shape are the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.core.text import strip_invisible_text
from fanpin.store.io import bulk_insert
from fanpin.store.schema import clues, households, panel

#: Columns a caller must give; the others default (status ``new``, no merge, no amount, no event).
REQUIRED: tuple[str, ...] = ("household_id", "period", "channel", "source", "risk_type", "received_at")
_DEFAULTS: dict[str, object] = {"detail": None, "amount": None, "event_id": None, "status": "new", "merged_into": None}


def insert_clues(conn: Connection, rows: Sequence[Mapping[str, object]] | Mapping[str, np.ndarray]) -> list[int] | int:
    """Insert clues in the caller's transaction.

    ``rows`` is either a list of dicts (the workflow, rules, model: returns the new clue IDs in
    order) or a mapping of column arrays (the demo's bulk feeds: returns the number written,
    through ``bulk_insert``'s COPY/executemany path).  Missing optional columns take the defaults.
    The free-text ``detail`` (typed by a cadre, sent by a department) is kept as written but for
    invisible characters (bidi overrides, zero-width, controls: ``fanpin.core.text``), removed here,
    where every clue's text enters the database.
    """
    if isinstance(rows, Mapping):
        missing = [c for c in REQUIRED if c not in rows]
        if missing:
            raise ValueError(f"clue columns missing: {', '.join(missing)}")
        n = len(next(iter(rows.values()))) if rows else 0
        cols = dict(rows)
        if "detail" in cols:
            cols["detail"] = np.array([strip_invisible_text(v) for v in cols["detail"]], dtype=object)
        for k, v in _DEFAULTS.items():
            cols.setdefault(k, np.full(n, v, dtype=object))
        return bulk_insert(conn, clues, cols)
    full = []
    for r in rows:
        missing = [c for c in REQUIRED if r.get(c) is None]
        if missing:
            raise ValueError(f"clue columns missing: {', '.join(missing)}")
        full.append({**_DEFAULTS, **r, "detail": strip_invisible_text(r.get("detail"))})
    if not full:
        return []
    if len(full) == 1:
        return [int(conn.execute(insert(clues).values(**full[0])).inserted_primary_key[0])]
    res = conn.execute(insert(clues).returning(clues.c.clue_id), full)
    return [int(x) for x in res.scalars().all()]


# --------------------------------------------------------------------------- reads and status changes
_c = clues.c
_OPEN = ("new", "ordered")


def _frame(conn: Connection, stmt) -> pd.DataFrame:  # noqa: ANN001 - a Select
    rows = conn.execute(stmt).fetchall()
    return pd.DataFrame(rows, columns=[col.name for col in stmt.selected_columns])


def first_open_clue(conn: Connection, household_id: str, period: int, risk_type: str) -> int | None:
    """The earliest open clue (new or ordered) about the household, month and risk type: a new
    clue that repeats it is stored as merged into it."""
    stmt = (
        select(_c.clue_id)
        .where(_c.household_id == str(household_id), _c.period == int(period), _c.risk_type == risk_type, _c.status.in_(_OPEN))
        .order_by(_c.clue_id)
        .limit(1)
    )
    found = conn.execute(stmt).scalar()
    return None if found is None else int(found)


def open_clues(conn: Connection, period: int | None = None) -> pd.DataFrame:
    """Open clues (clue_id, household_id, period, risk_type, status), of one month or all."""
    stmt = select(_c.clue_id, _c.household_id, _c.period, _c.risk_type, _c.status).where(_c.status.in_(_OPEN))
    if period is not None:
        stmt = stmt.where(_c.period == int(period))
    return _frame(conn, stmt)


def mark_merged(conn: Connection, pairs: Sequence[tuple[int, int]]) -> None:
    """Mark each ``(clue_id, into)`` clue as merged into the other."""
    if pairs:
        stmt = update(clues).where(_c.clue_id == bindparam("cid")).values(status="merged", merged_into=bindparam("into"))
        conn.execute(stmt, [{"cid": int(a), "into": int(b)} for a, b in pairs])


def scoring_households(conn: Connection, period: int) -> set[str]:
    """Households that already have a scoring clue for the month."""
    stmt = select(_c.household_id).where(_c.source == "scoring", _c.period == int(period))
    return {r[0] for r in conn.execute(stmt)}


def distinct_sources(engine: Engine) -> list[str]:
    """Every source clues have come from, sorted."""
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(_c.source).distinct()))


def inbox(
    engine: Engine,
    *,
    statuses: Sequence[str],
    townships: Iterable[str] | None = None,
    township: str | None = None,
    source: str | None = None,
    risk_type: str | None = None,
    until_period: int | None = None,
    received_since: datetime | None = None,
    limit: int = 5000,
) -> pd.DataFrame:
    """Clues with their household's township, newest first, filtered (``townships``: the
    principal's scope, None for all)."""
    h = households.c
    stmt = (
        select(_c.clue_id, _c.household_id, h.township_code, _c.period, _c.channel, _c.source, _c.risk_type, _c.detail, _c.amount,
               _c.received_at, _c.status, _c.merged_into)
        .join_from(clues, households, _c.household_id == h.household_id)
        .where(_c.status.in_(list(statuses)))
        .order_by(_c.received_at.desc(), _c.clue_id.desc())
        .limit(int(limit))
    )
    if townships is not None:
        stmt = stmt.where(h.township_code.in_(sorted(townships)))
    if township:
        stmt = stmt.where(h.township_code == township)
    if source:
        stmt = stmt.where(_c.source == source)
    if risk_type:
        stmt = stmt.where(_c.risk_type == risk_type)
    if until_period is not None:
        stmt = stmt.where(_c.period <= int(until_period))
    if received_since is not None:
        stmt = stmt.where(_c.received_at >= received_since)
    with engine.connect() as conn:
        return _frame(conn, stmt)


def clue_rows(conn: Connection, clue_ids: Sequence[int]) -> pd.DataFrame:
    """clue_id, household_id, status, received_at of the given clues (those that exist)."""
    stmt = select(_c.clue_id, _c.household_id, _c.status, _c.received_at).where(_c.clue_id.in_([int(i) for i in clue_ids]))
    return _frame(conn, stmt)


def claim_new(conn: Connection, clue_ids: Sequence[int]) -> int:
    """Move the clues still ``new`` to ``ordered`` (atomic); returns how many moved."""
    stmt = update(clues).where(_c.clue_id.in_([int(i) for i in clue_ids]), _c.status == "new").values(status="ordered")
    return int(conn.execute(stmt).rowcount)


def close_clues(conn: Connection, clue_ids: Sequence[int]) -> None:
    """The clues are dealt with (their order was decided)."""
    if clue_ids:
        conn.execute(update(clues).where(_c.clue_id.in_([int(i) for i in clue_ids])).values(status="closed"))


def household_clues(conn: Connection, household_id: str) -> pd.DataFrame:
    """Every clue about one household, all columns, by month."""
    stmt = select(clues).where(_c.household_id == str(household_id)).order_by(_c.period, _c.clue_id)
    return _frame(conn, stmt)


def new_clues_with_panel(engine: Engine, until_period: int) -> pd.DataFrame:
    """New clues up to ``until_period`` with their household and that month's panel row (the demo's
    replay chooses what to dispatch from them), in clue order."""
    p, h = panel.c, households.c
    stmt = (
        select(_c.clue_id, _c.household_id, _c.period, _c.risk_type, _c.source, _c.received_at, p.income_pc, p.income_net, p.income_wage,
               p.medical_oop, p.schooling_cost, p.disaster_loss, p.job_lost, h.township_code, h.household_type, h.no_labour_guarantee, h.n_labour)
        .join_from(clues, panel, (p.household_id == _c.household_id) & (p.period == _c.period))
        .join(households, h.household_id == _c.household_id)
        .where(_c.status == "new", _c.period <= int(until_period))
        .order_by(_c.clue_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    cols = [col.name for col in stmt.selected_columns]
    return pd.DataFrame(dict(zip(cols, (list(v) for v in zip(*rows))))) if rows else pd.DataFrame(columns=cols)



def channels(conn: Connection, clue_ids: Sequence[int]) -> list[str]:
    """The channels (self_report, cadre_visit, department, scoring) of these clues."""
    ids = sorted({int(i) for i in clue_ids})
    if not ids:
        return []
    return [str(r[0]) for r in conn.execute(select(clues.c.channel).where(clues.c.clue_id.in_(ids)).distinct())]
