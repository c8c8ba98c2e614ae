"""Warning clues (预警线索): recording, merging duplicates, the month's scoring clues, the inbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal
from fanpin.store import schema as S
from fanpin.workflow.common import RISK_TYPES, WorkflowError, _check, _now, _scope_where

CHANNELS = ("self_report", "cadre_visit", "department")


# --------------------------------------------------------------------------- clues


def add_clue(
    engine: Engine,
    household_id: str,
    period: int,
    channel: str,
    source: str,
    risk_type: str,
    detail: str | None = None,
    amount: float | None = None,
    received_at: datetime | None = None,
    *,
    principal: Principal | None = None,
) -> int:
    """Record a clue (cadre visit, self-report, feed); a duplicate of an open clue about the
    same household and risk type in the same month is stored as ``merged`` into it."""
    if channel not in CHANNELS:
        raise WorkflowError("bad_channel", f"unknown channel {channel!r}")
    if risk_type not in RISK_TYPES:
        raise WorkflowError("bad_risk", f"unknown risk type {risk_type!r}")
    at = _now(received_at)
    with engine.begin() as conn:
        _check(principal, "clue_add", conn, household_id)
        first = conn.execute(
            select(S.clues.c.clue_id)
            .where(S.clues.c.household_id == household_id, S.clues.c.period == int(period), S.clues.c.risk_type == risk_type, S.clues.c.status.in_(("new", "ordered")))
            .order_by(S.clues.c.clue_id)
            .limit(1)
        ).scalar()
        res = conn.execute(
            insert(S.clues).values(
                household_id=household_id, period=int(period), channel=channel, source=source, risk_type=risk_type, detail=detail,
                amount=amount, received_at=at, status="merged" if first else "new", merged_into=first,
            )
        )
        return int(res.inserted_primary_key[0])


def merge_duplicates(engine: Engine, period: int | None = None) -> int:
    """Merge open clues about the same household, risk type and month into the earliest one.

    Idempotent: returns how many clues it marked ``merged`` (0 the second time).
    """
    c = S.clues.c
    q = select(c.clue_id, c.household_id, c.period, c.risk_type, c.status).where(c.status.in_(("new", "ordered")))
    if period is not None:
        q = q.where(c.period == int(period))
    with engine.begin() as conn:
        f = pd.DataFrame(conn.execute(q).fetchall(), columns=["clue_id", "household_id", "period", "risk_type", "status"])
        if f.empty:
            return 0
        # Keep an ordered clue if the group has one (it is already in an order), else the earliest.
        f["rank"] = (f["status"] != "ordered").astype(int)
        f = f.sort_values(["household_id", "period", "risk_type", "rank", "clue_id"])
        keeper = f.groupby(["household_id", "period", "risk_type"])["clue_id"].transform("first")
        dup = f[(f["clue_id"] != keeper) & (f["status"] == "new")]
        if dup.empty:
            return 0
        rows = [{"cid": int(a), "into": int(b)} for a, b in zip(dup["clue_id"], keeper[dup.index])]
        conn.execute(update(S.clues).where(c.clue_id == bindparam("cid")).values(status="merged", merged_into=bindparam("into")), rows)
        return len(rows)


def generate_scoring_clues(engine: Engine, period: int, panel, received_at: datetime | None = None, *, principal: Principal | None = None) -> int:  # noqa: ANN001 - PanelScores
    """Insert ``source="scoring"`` clues for households newly red in ``period`` (fanpin.engine.trends).

    Idempotent: a household that already has a scoring clue for the month gets none.
    """
    _check(principal, "clue_generate")
    hids = panel.household_ids[panel.newly_red(period)].astype(str)
    if len(hids) == 0:
        return 0
    j = panel.col(period)
    score = panel.score[panel.newly_red(period), j]
    at = _now(received_at)
    c = S.clues.c
    with engine.begin() as conn:
        have = {r[0] for r in conn.execute(select(c.household_id).where(c.source == "scoring", c.period == int(period)))}
        keep = ~np.isin(hids, list(have)) if have else np.ones(len(hids), dtype=bool)
        rows = [
            {"household_id": h, "period": int(period), "channel": "department", "source": "scoring", "risk_type": "other",
             "detail": f"风险评分升至红色 {s:.1f} / score turned red {s:.1f}", "amount": None, "received_at": at, "status": "new"}
            for h, s in zip(hids[keep], score[keep])
        ]
        if rows:
            conn.execute(insert(S.clues), rows)
    if rows:  # a scoring clue about a household already reported for "other" this month merges into it
        merge_duplicates(engine, period)
    return len(rows)


def clue_sources(engine: Engine) -> list[str]:
    """The sources clues have come from (feeds, cadres, households, scoring, the risk model)."""
    with engine.connect() as conn:
        return sorted(r[0] for r in conn.execute(select(S.clues.c.source).distinct()))


def clue_inbox(
    engine: Engine,
    *,
    township: str | None = None,
    source: str | None = None,
    risk_type: str | None = None,
    statuses: Sequence[str] = ("new",),
    max_age_days: int | None = None,
    until_period: int | None = None,
    today: date | None = None,
    limit: int = 5000,
    principal: Principal | None = None,
) -> pd.DataFrame:
    """Clues with their township, newest first; ``age_days`` counts from receipt to ``today``
    (a case worker's townships only)."""
    c, h = S.clues.c, S.households.c
    q = (
        select(c.clue_id, c.household_id, h.township_code, c.period, c.channel, c.source, c.risk_type, c.detail, c.amount, c.received_at, c.status, c.merged_into)
        .join_from(S.clues, S.households, c.household_id == h.household_id)
        .where(c.status.in_(list(statuses)))
        .order_by(c.received_at.desc(), c.clue_id.desc())
        .limit(limit)
    )
    today = today or date.today()
    q = _scope_where(q, principal, h.township_code)
    if township:
        q = q.where(h.township_code == township)
    if source:
        q = q.where(c.source == source)
    if risk_type:
        q = q.where(c.risk_type == risk_type)
    if until_period is not None:
        q = q.where(c.period <= int(until_period))
    if max_age_days is not None:
        q = q.where(c.received_at >= datetime.combine(today - timedelta(days=int(max_age_days)), datetime.min.time()))
    with engine.connect() as conn:
        f = pd.DataFrame(conn.execute(q).fetchall(), columns=[col.name for col in q.selected_columns])
    if f.empty:
        f["age_days"] = pd.Series(dtype=int)
        return f
    f["received_at"] = pd.to_datetime(f["received_at"])
    f["age_days"] = (pd.Timestamp(today) - f["received_at"].dt.normalize()).dt.days
    return f
