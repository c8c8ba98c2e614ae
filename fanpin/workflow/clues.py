"""Warning clues (预警线索): recording, merging duplicates, the month's scoring clues, the inbox.

Every clue is written through ``fanpin.store.clues.insert_clues`` (the one writer); the
queries are in ``fanpin.store.clues``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from fanpin.access.roles import Principal
from fanpin.core.clue_text import coded
from fanpin.store import clues as store
from fanpin.store import households as household_store
from fanpin.workflow.common import RISK_TYPES, WorkflowError, check_access, read_scope, stamp_time

CHANNELS = ("self_report", "cadre_visit", "department")
#: Clue statuses, in the order a clue goes through them (labels: locale ``clue_status.<code>``).
CLUE_STATUSES = ("new", "merged", "ordered", "closed")


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
    principal: Principal,
) -> int:
    """Record a clue (cadre visit, self-report, feed); a duplicate of an open clue about the
    same household and risk type in the same month is stored as ``merged`` into it."""
    if channel not in CHANNELS:
        raise WorkflowError("bad_channel", f"unknown channel {channel!r}")
    if risk_type not in RISK_TYPES:
        raise WorkflowError("bad_risk", f"unknown risk type {risk_type!r}")
    at = stamp_time(received_at)
    with engine.begin() as conn:
        check_access(principal, "clue_add", conn, household_id)
        if not household_store.exists(conn, household_id):  # a scoped principal was refused above, alike
            raise WorkflowError("no_household", f"no household {household_id}")
        first = store.first_open_clue(conn, household_id, period, risk_type)
        row = {
            "household_id": household_id, "period": int(period), "channel": channel, "source": source, "risk_type": risk_type,
            "detail": detail, "amount": amount, "received_at": at, "status": "merged" if first else "new", "merged_into": first,
        }
        return store.insert_clues(conn, [row])[0]


def merge_duplicates(engine: Engine, period: int | None = None) -> int:
    """Merge open clues about the same household, risk type and month into the earliest one.

    Idempotent: returns how many clues it marked ``merged`` (0 the second time).  A batch step
    after bulk feeds (imports, the demo): it changes statuses only and shows no one anything,
    so it takes no principal.
    """
    with engine.begin() as conn:
        f = store.open_clues(conn, period)
        if f.empty:
            return 0
        # Keep an ordered clue if the group has one (it is already in an order), else the earliest.
        f["rank"] = (f["status"] != "ordered").astype(int)
        f = f.sort_values(["household_id", "period", "risk_type", "rank", "clue_id"])
        keeper = f.groupby(["household_id", "period", "risk_type"])["clue_id"].transform("first")
        dup = f[(f["clue_id"] != keeper) & (f["status"] == "new")]
        pairs = list(zip(dup["clue_id"], keeper[dup.index]))
        store.mark_merged(conn, pairs)
        return len(pairs)


def generate_scoring_clues(engine: Engine, period: int, panel, received_at: datetime | None = None, *, principal: Principal) -> int:  # noqa: ANN001 - PanelScores
    """Insert ``source="scoring"`` clues for households newly red in ``period`` (fanpin.engine.trends).

    Idempotent: a household that already has a scoring clue for the month gets none.
    """
    check_access(principal, "clue_generate")
    red = panel.newly_red(period)
    hids = panel.household_ids[red].astype(str)
    if len(hids) == 0:
        return 0
    score = panel.score[red, panel.col(period)]
    at = stamp_time(received_at)
    with engine.begin() as conn:
        have = store.scoring_households(conn, period)
        keep = ~np.isin(hids, list(have)) if have else np.ones(len(hids), dtype=bool)
        rows = [
            {"household_id": h, "period": int(period), "channel": "department", "source": "scoring", "risk_type": "other",
             "detail": coded("score_red", score=round(float(s), 1)), "received_at": at}
            for h, s in zip(hids[keep], score[keep])
        ]
        if rows:
            store.insert_clues(conn, rows)
    if rows:  # a scoring clue about a household already reported for "other" this month merges into it
        merge_duplicates(engine, period)
    return len(rows)


def clue_sources(engine: Engine) -> list[str]:
    """The sources clues have come from (feeds, cadres, households, scoring, the risk model): a
    filter's choices, no household data."""
    return store.distinct_sources(engine)


def clue_inbox(
    engine: Engine,
    *,
    principal: Principal,
    township: str | None = None,
    source: str | None = None,
    risk_type: str | None = None,
    statuses: Sequence[str] = ("new",),
    max_age_days: int | None = None,
    until_period: int | None = None,
    today: date | None = None,
    limit: int = 5000,
) -> pd.DataFrame:
    """Clues with their township, newest first; ``age_days`` counts from receipt to ``today``
    (a case worker's townships only)."""
    today = today or date.today()
    since = None if max_age_days is None else datetime.combine(today - timedelta(days=int(max_age_days)), datetime.min.time())
    f = store.inbox(
        engine, statuses=statuses, townships=read_scope(principal), township=township, source=source, risk_type=risk_type,
        until_period=until_period, received_since=since, limit=limit,
    )
    if f.empty:
        f["age_days"] = pd.Series(dtype=int)
        return f
    f["received_at"] = pd.to_datetime(f["received_at"])
    f["age_days"] = (pd.Timestamp(today) - f["received_at"].dt.normalize()).dt.days
    return f
