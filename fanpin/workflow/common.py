"""What clues, orders and monitoring share: the vocabularies, errors, the permission check and the audit row written with each change."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy.engine import Connection, Engine

from fanpin.access.audit import record
from fanpin.access.roles import AccessDenied, Principal, require, require_household

CATEGORIES = ("unstable_former_poor", "marginal", "sudden_hardship")
RISK_TYPES = ("illness", "disability", "schooling", "disaster", "accident", "industry_failure", "unstable_work", "lack_of_labour", "housing", "water", "other")
METHODS = ("by_assistance", "natural")
#: Identification target: 15 days from the first clue to a decision (configurable per call).
DUE_DAYS = 15


ERROR_CODES = (
    "bad_channel", "bad_risk", "no_clue", "mixed_households", "no_household", "bad_assignee", "clue_taken", "no_order", "bad_transition",
    "need_category", "need_risk", "need_reason", "bad_method", "not_eligible", "not_monitored", "already_proposed", "no_proposal",
    "self_approval", "already_resolved", "too_many_risks", "not_verifying", "need_findings",
    "already_open", "no_case", "stale_case", "bad_case", "future_date", "date_before_case", "date_before_review", "notice_running", "same_person",
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


def stamp_time(now: datetime | None) -> datetime:
    """``now`` (or the clock) to the second, as every who/when column stores it."""
    return (now or datetime.now()).replace(microsecond=0)


def audit_change(conn: Connection, principal: Principal, action: str, target: str, detail: dict, at: datetime) -> None:
    """One vocabulary for the log: ``fanpin.access.audit.record`` in the change's own transaction,
    the principal as the actor."""
    record(conn, principal.actor, action, target, detail, at=at)


def check_access(principal: Principal, action: str, conn: Connection | Engine | None = None, household_id: str | None = None) -> None:
    """Refuse (``AccessDenied``) unless ``principal`` may do ``action`` (on ``household_id``).

    No principal is refused like a role without the right: there is no "check nothing"."""
    if household_id is None:
        require(principal, action)
    else:
        require_household(principal, conn, household_id, action)


def read_scope(principal: Principal) -> frozenset[str] | None:
    """The townships a reader may see (None: all); refuses a missing principal."""
    if not isinstance(principal, Principal):
        raise AccessDenied("principal", "no principal: household data are read and changed on someone's behalf")
    return principal.townships


def actor_of(principal: Principal) -> str:
    """The name written to who/when columns and the audit log; refuses a missing principal."""
    read_scope(principal)
    return principal.actor
