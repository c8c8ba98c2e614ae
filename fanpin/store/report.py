"""The monthly brief's own reads: the month's clues by channel, source and risk type, and the
village and head of the households the brief lists (unmasked here; ``fanpin.report`` masks)."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from fanpin.store.schema import clues, households, members


def clue_counts(engine: Engine, period: int, townships: Sequence[str] | None = None) -> pd.DataFrame:
    """channel, source, risk_type, clues: the month's clues (those merged into another left out),
    only in ``townships`` when given."""
    c, h = clues.c, households.c
    q = (
        select(c.channel, c.source, c.risk_type, func.count().label("clues"))
        .join_from(clues, households, c.household_id == h.household_id)
        .where(c.period == int(period), c.status != "merged")
        .group_by(c.channel, c.source, c.risk_type)
    )
    if townships is not None:
        q = q.where(h.township_code.in_(sorted(townships)))
    with engine.connect() as conn:
        rows = conn.execute(q).fetchall()
    return pd.DataFrame(rows, columns=["channel", "source", "risk_type", "clues"])


def heads_and_villages(engine: Engine, household_ids: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(household_id, name, id_number of the head) and (household_id, village_code)."""
    heads = pd.DataFrame(columns=["household_id", "name", "id_number"])
    villages = pd.DataFrame(columns=["household_id", "village_code"])
    ids = [str(i) for i in household_ids]
    if not ids:
        return heads, villages
    m, h = members.c, households.c
    with engine.connect() as conn:
        heads = pd.DataFrame(conn.execute(select(m.household_id, m.name, m.id_number).where(m.household_id.in_(ids), m.relation == "head")).fetchall(), columns=list(heads.columns))
        villages = pd.DataFrame(conn.execute(select(h.household_id, h.village_code).where(h.household_id.in_(ids))).fetchall(), columns=list(villages.columns))
    return heads, villages


def township_villages(engine: Engine, township: str) -> pd.DataFrame:
    """household_id, village_code of every household of ``township`` (a township brief ranks its villages)."""
    h = households.c
    with engine.connect() as conn:
        rows = conn.execute(select(h.household_id, h.village_code).where(h.township_code == str(township))).fetchall()
    return pd.DataFrame(rows, columns=["household_id", "village_code"])
