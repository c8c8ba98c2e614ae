"""What clues, orders and monitoring share: the vocabularies, errors, the permission check and the audit row written with each change."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.engine import Connection

from fanpin.access.audit import record
from fanpin.access.roles import Principal, require, require_household

CATEGORIES = ("unstable_former_poor", "marginal", "sudden_hardship")
RISK_TYPES = ("illness", "disability", "schooling", "disaster", "accident", "industry_failure", "unstable_work", "lack_of_labour", "housing", "water", "other")
METHODS = ("by_assistance", "natural")
#: Identification target: 15 days from the first clue to a decision (configurable per call).
DUE_DAYS = 15


ERROR_CODES = (
    "bad_channel", "bad_risk", "no_clue", "mixed_households", "no_household", "bad_assignee", "clue_taken", "no_order", "bad_transition",
    "need_category", "need_risk", "need_reason", "bad_method", "not_eligible", "not_monitored", "already_proposed", "no_proposal",
    "self_approval", "already_resolved",
)


class WorkflowError(Exception):
    """A refused transition; ``code`` names it for the page's message."""

    def __init__(self, code: str, message: str, **fields: object) -> None:
        super().__init__(message)
        self.code = code
        self.fields = fields


class StaleOrder(WorkflowError):
    """The order changed since the editor read it: reload and redo."""

    def __init__(self, order_id: int, changed_by: str | None, changed_at: datetime | None, version: int) -> None:
        super().__init__(
            "stale",
            f"order {order_id} was changed by {changed_by or '?'} at {changed_at:%Y-%m-%d %H:%M:%S} (version {version}); reload"
            if changed_at
            else f"order {order_id} was changed by {changed_by or '?'} (version {version}); reload",
            order_id=order_id,
            changed_by=changed_by,
            changed_at=changed_at,
            version=version,
        )
        self.order_id = order_id
        self.changed_by = changed_by
        self.changed_at = changed_at
        self.version = version


def as_of_date(period: int, today: date | None = None) -> date:
    """The day ages and overdue flags are counted to: the month's last day for a past month, else today.

    Looking at an earlier month (the demo county ends in the past) should not make every clue
    of that month look a year old.
    """
    today = today or date.today()
    y, m = divmod(int(period), 100)
    end = date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
    return min(end, today)


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now()).replace(microsecond=0)


def _audit(conn: Connection, actor: str, action: str, target: str, detail: dict, at: datetime) -> None:
    """One vocabulary for the log: ``fanpin.audit.record`` in the change's own transaction."""
    record(conn, actor, action, target, detail, at=at)


def _check(principal: Principal | None, action: str, conn: Connection | None = None, household_id: str | None = None) -> None:
    """Refuse unless ``principal`` may do ``action`` (on ``household_id``); no principal: no check."""
    if principal is None:
        return
    if household_id is None:
        require(principal, action)
    else:
        require_household(principal, conn, household_id, action)


def _scope_where(q, principal: Principal | None, column):  # noqa: ANN001, ANN202
    """Add ``township_code IN (...)`` for a scoped principal."""
    if principal is not None and principal.townships is not None:
        q = q.where(column.in_(sorted(principal.townships)))
    return q
