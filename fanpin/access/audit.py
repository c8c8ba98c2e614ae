"""The audit log: one append-only record per security-relevant event, and its one reader.

Logins, failed logins, household detail views, unmasking, exports, imports, policy
adoption, order decisions, eliminations and briefs are all written through ``record``
so that actions have one vocabulary (``AUDIT_ACTIONS``).  The database refuses updates
and deletes of ``audit_log`` (triggers from migration 0004), so history cannot be
rewritten through the app.  Every read (the administrator's page, a household's
history) goes through ``audit_query``.  The SQL is in ``fanpin.store.audit``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.access.roles import Principal, require
from fanpin.store import audit as store

#: Actions written to the log (codes; labels live in locales under ``audit_action``).
#: Not to be confused with ``fanpin.access.roles.PERMISSIONS`` (what a role may do).
AUDIT_ACTIONS: tuple[str, ...] = (
    "login",
    "login_failed",
    "logout",
    "household_view",
    "unmask",
    "export",
    "import",
    "import_refused",
    "import_rollback",
    "policy_adopted",
    "policy_saved",
    "income_line_set",
    "order_created",
    "order_started",
    "order_note",
    "order_decided",
    "elimination_proposed",
    "elimination_approved",
    "elimination_rejected",
    "case_step",
    "case_approved",
    "attachment_added",
    "model_trained",
    "model_to_clues",
    "findings_to_clues",
    "brief",
    "user_changed",
)


def _detail(detail: Mapping | str | None) -> str | None:
    if detail is None or isinstance(detail, str):
        return detail
    return json.dumps(dict(detail), ensure_ascii=False, sort_keys=True, default=str)


def record(
    target_db: Engine | Connection,
    actor: str,
    action: str,
    target: str | None = None,
    detail: Mapping | str | None = None,
    at: datetime | None = None,
) -> None:
    """Append one entry.  Given a Connection it joins that transaction (so the entry
    commits or rolls back with the change it describes); given an Engine it commits alone."""
    row = {
        "at": (at or datetime.now()).replace(microsecond=0),
        "actor": str(actor)[:64],
        "action": str(action)[:32],
        "target": None if target is None else str(target)[:64],
        "detail": _detail(detail),
    }
    if isinstance(target_db, Connection):
        store.insert_entry(target_db, row)
    else:
        with target_db.begin() as conn:
            store.insert_entry(conn, row)


def _start(day: date | datetime | None) -> datetime | None:
    if day is None or isinstance(day, datetime):
        return day
    return datetime.combine(day, time.min)


def _end(day: date | datetime | None) -> datetime | None:
    """Exclusive end: a date means the whole day, a datetime is taken as it is."""
    if day is None or isinstance(day, datetime):
        return day
    return datetime.combine(day + timedelta(days=1), time.min)


def audit_query(
    engine: Engine | Connection,
    *,
    principal: Principal,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    target_contains: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    limit: int = 2000,
) -> tuple[pd.DataFrame, int]:
    """Audit entries matching the filters, newest first (at most ``limit``), and how many match.

    ``target`` matches exactly (a household's history); ``target_contains`` is a substring
    search, a bound parameter with LIKE wildcards escaped, so it is data, never SQL.
    ``since``/``until`` given as dates include the whole day.  Reading the log needs ``audit_view``."""
    require(principal, "audit_view")
    return store.query_entries(
        engine, actor=actor, action=action, target=target, target_contains=target_contains,
        since=_start(since), until=_end(until), limit=limit,
    )


def audit_actors(engine: Engine, *, principal: Principal) -> list[str]:
    """Everyone who appears in the log, sorted (the actor filter's choices)."""
    require(principal, "audit_view")
    return sorted(store.distinct_values(engine, "actor"))


def audit_actions(engine: Engine, *, principal: Principal) -> list[str]:
    """The action codes in use (the known vocabulary first, in its order)."""
    require(principal, "audit_view")
    used = store.distinct_values(engine, "action")
    return [a for a in AUDIT_ACTIONS if a in used] + sorted(used - set(AUDIT_ACTIONS))
