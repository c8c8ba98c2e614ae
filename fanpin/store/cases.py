"""Cases of the official procedure and their steps: insert, the versioned update, the reads.

A case changes only through ``update_if_version`` (``UPDATE ... WHERE version = :read``), so two
people acting on one case at the same moment leave one step; the partial unique index on open
cases lets the database refuse a second open case for a household (``IntegrityError``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

import pandas as pd
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.core.text import strip_invisible_text
from fanpin.store.schema import case_steps, cases, households

_c, _s = cases.c, case_steps.c
CASE_COLUMNS: tuple[str, ...] = tuple(c.name for c in cases.columns)
STEP_COLUMNS: tuple[str, ...] = tuple(c.name for c in case_steps.columns)
#: Free text typed by people: kept as written but for invisible characters.
_TEXT = ("document", "reason", "returned_reason")


def _clean(values: Mapping[str, object]) -> dict[str, object]:
    return {k: strip_invisible_text(v) if k in _TEXT and isinstance(v, str) else v for k, v in values.items()}


def _frame(conn: Connection | Engine, stmt, columns: Sequence[str]) -> pd.DataFrame:  # noqa: ANN001 - a Select
    if isinstance(conn, Engine):
        with conn.connect() as c:
            return _frame(c, stmt, columns)
    return pd.DataFrame(conn.execute(stmt).fetchall(), columns=list(columns))


def insert_case(conn: Connection, values: Mapping[str, object]) -> int:
    """A new open case; ``IntegrityError`` when the household already has one."""
    return int(conn.execute(insert(cases).values(**_clean(values))).inserted_primary_key[0])


def insert_step(conn: Connection, values: Mapping[str, object]) -> int:
    return int(conn.execute(insert(case_steps).values(**_clean(values))).inserted_primary_key[0])


def case_row(conn: Connection, case_id: int) -> dict | None:
    row = conn.execute(select(cases).where(_c.case_id == int(case_id))).mappings().first()
    return None if row is None else dict(row)


def open_case_of(conn: Connection, household_id: str) -> dict | None:
    """The household's open case, if any."""
    row = conn.execute(select(cases).where(_c.household_id == str(household_id), _c.closed.is_(False))).mappings().first()
    return None if row is None else dict(row)


def case_by_proposal(conn: Connection, proposal_id: int) -> dict | None:
    row = conn.execute(select(cases).where(_c.proposal_id == int(proposal_id)).order_by(_c.case_id.desc()).limit(1)).mappings().first()
    return None if row is None else dict(row)


def update_if_version(conn: Connection, case_id: int, version: int, states: Sequence[str], values: Mapping[str, object], *, actor: str, at: datetime) -> bool:
    """Apply ``values`` only if the case still has ``version`` and one of ``states``."""
    stmt = (
        update(cases)
        .where(_c.case_id == int(case_id), _c.version == int(version), _c.state.in_(list(states)))
        .values(**_clean(values), version=_c.version + 1, updated_at=at, updated_by=actor)
    )
    return (conn.execute(stmt).rowcount or 0) == 1


def case_frame(
    engine: Engine | Connection, *, townships: Iterable[str] | None = None, household_id: str | None = None, kinds: Sequence[str] | None = None,
    include_closed: bool = True,
) -> pd.DataFrame:
    """Cases with their household's township and village, newest first; within ``townships`` if given."""
    h = households.c
    stmt = select(*cases.columns, h.township_code, h.village_code).join(households, h.household_id == _c.household_id)
    if townships is not None:
        stmt = stmt.where(h.township_code.in_(sorted(townships)))
    if household_id is not None:
        stmt = stmt.where(_c.household_id == str(household_id))
    if kinds:
        stmt = stmt.where(_c.kind.in_(list(kinds)))
    if not include_closed:
        stmt = stmt.where(_c.closed.is_(False))
    return _frame(engine, stmt.order_by(_c.case_id.desc()), [*CASE_COLUMNS, "township_code", "village_code"])


def step_frame(engine: Engine | Connection, case_ids: Iterable[int] | None = None) -> pd.DataFrame:
    """Steps (of these cases, or all), oldest first."""
    stmt = select(case_steps)
    if case_ids is not None:
        ids = sorted({int(i) for i in case_ids})
        if not ids:
            return pd.DataFrame(columns=list(STEP_COLUMNS))
        stmt = stmt.where(_s.case_id.in_(ids))
    return _frame(engine, stmt.order_by(_s.case_id, _s.step_id), STEP_COLUMNS)
