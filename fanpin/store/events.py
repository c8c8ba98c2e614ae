"""Reads of the events table (shocks: illness, flood, job loss ...): the workshop cases' household
events and the brief's area events."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.store.schema import events

_e = events.c


def household_events(engine: Engine) -> pd.DataFrame:
    """Events that name a household (area events carry no household_id), in id order."""
    stmt = select(_e.event_id, _e.period, _e.event_type, _e.household_id, _e.severity, _e.amount).where(_e.household_id.is_not(None)).order_by(_e.event_id)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=["event_id", "period", "event_type", "household_id", "severity", "amount"])
    return frame.astype({"period": "int64", "severity": "float64", "amount": "float64"})


def area_events(engine: Engine, after: int, until: int, kinds: Sequence[str]) -> pd.DataFrame:
    """Area events (no household) of ``kinds`` with ``after < period <= until``: period, event_type, region_code."""
    stmt = select(_e.period, _e.event_type, _e.region_code).where(
        _e.household_id.is_(None), _e.period > int(after), _e.period <= int(until), _e.event_type.in_(list(kinds))
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).fetchall()
    return pd.DataFrame(rows, columns=["period", "event_type", "region_code"])
