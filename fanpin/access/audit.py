"""The audit log: one append-only record per security-relevant event.

Logins, failed logins, household detail views, unmasking, exports, imports, policy
adoption, order decisions, eliminations and briefs are all written through
``record`` so that actions have one vocabulary.  The database refuses updates and
deletes of ``audit_log`` (triggers from migration 0004), so history cannot be
rewritten through the app.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.engine import Connection, Engine

from fanpin.store.schema import audit_log

#: Actions written to the log (codes; labels live in locales under ``audit_action``).
ACTIONS: tuple[str, ...] = (
    "login",
    "login_failed",
    "logout",
    "household_view",
    "unmask",
    "export",
    "import",
    "import_refused",
    "policy_adopted",
    "order_created",
    "order_decided",
    "elimination_proposed",
    "elimination_approved",
    "elimination_rejected",
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
        target_db.execute(insert(audit_log).values(**row))
    else:
        with target_db.begin() as conn:
            conn.execute(insert(audit_log).values(**row))
