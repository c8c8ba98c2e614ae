"""What the risk model reads besides the panel snapshots (``fanpin.store.io``): the household
events and clues of a span of months, and which households are already followed (monitored,
or with a model clue still waiting), so a list does not suggest them twice.

The model's clues themselves are written through ``fanpin.store.clues.insert_clues``.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine

from fanpin.store.monitoring import latest_records, status_rows
from fanpin.store.schema import clues, events


def household_events(engine: Engine, first: int, last: int) -> pd.DataFrame:
    """household_id, period, event_type of every household event with ``first <= period <= last``."""
    e = events.c
    stmt = select(e.household_id, e.period, e.event_type).where(e.household_id.is_not(None), e.period >= int(first), e.period <= int(last))
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=["household_id", "period", "event_type"])


def clue_months(engine: Engine, first: int, last: int) -> pd.DataFrame:
    """household_id, period of every clue in the span, except the model's own (it must not learn from itself)."""
    c = clues.c
    stmt = select(c.household_id, c.period).where(c.period >= int(first), c.period <= int(last), c.source != "model")
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return pd.DataFrame(rows, columns=["household_id", "period"])


def monitored_households(engine: Engine) -> set[str]:
    """Households whose latest monitoring record says monitored."""
    with engine.connect() as conn:
        latest = latest_records(conn)
    return set(latest.loc[latest["status"] == "monitored", "household_id"].astype(str))


def monitoring_history(engine: Engine) -> pd.DataFrame:
    """household_id, period, status of every monitoring record, in the order they apply (the
    backtest asks who was under monitoring in a month)."""
    with engine.connect() as conn:
        rows = status_rows(conn)
    return rows.sort_values(["period", "record_id"], kind="stable")[["household_id", "period", "status"]].reset_index(drop=True)


def waiting_model_clues(engine: Engine) -> set[str]:
    """Households with a model clue still new in the inbox."""
    c = clues.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.household_id).where(c.source == "model", c.status == "new")).all()
    return {r[0] for r in rows}
