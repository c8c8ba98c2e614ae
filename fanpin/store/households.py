"""Households as the workflow and the profile see them: where a household lies, its members,
events and assistance measures."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from fanpin.store.schema import households


def _scalar(conn_or_engine: Connection | Engine, stmt):  # noqa: ANN001, ANN202 - a SQLAlchemy statement and its scalar
    if isinstance(conn_or_engine, Connection):
        return conn_or_engine.execute(stmt).scalar()
    with conn_or_engine.connect() as conn:
        return conn.execute(stmt).scalar()


def township_of(conn_or_engine: Connection | Engine, household_id: str) -> str | None:
    """The household's township code (None when there is no such household)."""
    stmt = select(households.c.township_code).where(households.c.household_id == str(household_id))
    return _scalar(conn_or_engine, stmt)
