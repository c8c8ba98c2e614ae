"""Verification orders (核查工单): from clues to a decision, with optimistic locking.

Every change is one transaction that records who (``principal.actor``) and when, with an
``audit_log`` row for creation and decision.  Two people editing the same order cannot
overwrite each other: an update carries the ``version`` its editor read and only succeeds if
the row still has it (``fanpin.store.orders.update_if_version``); otherwise ``StaleOrder``
says who changed it and when.  Every function takes the acting ``principal``
(``fanpin.access.roles.Principal``): a change is refused (``AccessDenied``) unless the role may
make it and, for a case worker, the household lies in their townships; lists keep only those
townships.  The demo and batch jobs pass ``SYSTEM``, commands ``system_principal()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Connection, Engine

from fanpin.access.roles import AccessDenied, Principal, require_household
from fanpin.store import clues as clue_store
from fanpin.store import households as household_store
from fanpin.store import monitoring_records as records_store
from fanpin.store import orders as store
from fanpin.workflow import procedure
from fanpin.workflow.common import (
    CATEGORIES,
    DUE_DAYS,
    RISK_TYPES,
    StaleOrder,
    WorkflowError,
    actor_of,
    audit_change,
    check_access,
    read_scope,
    stamp_time,
)

#: 致贫/返贫风险1-5: the national record has five places.
MAX_RISKS = len(records_store.RISK_COLUMNS)

ORDER_STATES = ("open", "verifying", "decided")
ASSIGNEE_KINDS = ("township", "department")


def _assignee_kind(kind: str) -> None:
    if kind not in ASSIGNEE_KINDS:
        raise WorkflowError("bad_assignee", f"assignee kind must be township or department, not {kind!r}")


def _order_household(conn: Connection, clue_ids: list[int], household_id: str | None, principal: Principal) -> tuple[str, datetime | None]:
    """The one household the order is about and its first clue's receipt (None without clues)."""
    if clue_ids:
        rows = clue_store.clue_rows(conn, clue_ids)
        if len(rows) != len(clue_ids):
            raise WorkflowError("no_clue", "some clues do not exist")
        hh = set(rows["household_id"])
        if len(hh) != 1:
            raise WorkflowError("mixed_households", "an order covers one household: the clues are about several", households=sorted(hh))
        if household_id and household_id not in hh:
            raise WorkflowError("mixed_households", "the clues are about another household")
        return hh.pop(), pd.Timestamp(rows["received_at"].min()).to_pydatetime()
    if not household_id:
        raise WorkflowError("no_household", "give clues or a household ID")
    if not household_store.exists(conn, household_id):
        if principal.townships is not None:  # do not tell a scoped user what exists elsewhere
            raise AccessDenied("township", f"household {household_id} is outside {principal.username}'s townships")
        raise WorkflowError("no_household", f"no household {household_id}")
    return household_id, None


def create_order(
    engine: Engine,
    *,
    assignee_kind: str,
    assignee: str,
    principal: Principal,
    clue_ids: Sequence[int] = (),
    household_id: str | None = None,
    due_days: int = DUE_DAYS,
    now: datetime | None = None,
) -> int:
    """A verification order from new clues about one household (or from a household ID alone).

    The due date counts ``due_days`` from the first clue's receipt (from today without clues).
    """
    _assignee_kind(assignee_kind)
    at = stamp_time(now)
    ids = sorted({int(i) for i in clue_ids})
    actor = actor_of(principal)
    with engine.begin() as conn:
        household_id, first_at = _order_household(conn, ids, household_id, principal)
        first_at = first_at or at
        check_access(principal, "order_create", conn, household_id)
        oid = store.insert_order(conn, {
            "household_id": household_id, "assignee_kind": assignee_kind, "assignee": assignee, "created_at": at, "created_by": actor,
            "due_date": first_at.date() + timedelta(days=int(due_days)), "state": "open", "version": 1, "updated_at": at, "updated_by": actor,
            "first_clue_at": first_at,
        })
        if ids:
            # Atomic claim: only clues still "new" move; anything else means someone got there first.
            if clue_store.claim_new(conn, ids) != len(ids):
                raise WorkflowError("clue_taken", "a clue is already in an order or closed; reload", clue_ids=ids)
            store.link_clues(conn, oid, ids)
        detail = {"household_id": household_id, "clues": ids, "assignee": f"{assignee_kind}:{assignee}"}
        audit_change(conn, principal, "order_created", f"order:{oid}", detail, at)
    return oid


def _readable_order(conn: Connection, order_id: int, principal: Principal) -> dict:
    row = store.order_row(conn, order_id)
    if row is None:
        raise WorkflowError("no_order", f"no order {order_id}")
    read_scope(principal)
    require_household(principal, conn, row["household_id"])
    return row


def get_order(engine: Engine, order_id: int, *, principal: Principal) -> dict:
    """The order's row and its ``clue_ids`` (refused outside a case worker's townships)."""
    with engine.connect() as conn:
        out = _readable_order(conn, order_id, principal)
        out["clue_ids"] = store.clue_ids(conn, order_id)
    return out


def order_risk_types(engine: Engine, order_id: int, *, principal: Principal) -> list[str]:
    """The risk types named by an order's clues (the decision form's default)."""
    with engine.connect() as conn:
        _readable_order(conn, order_id, principal)
        return [r for r in store.risk_types(conn, order_id) if r in RISK_TYPES]


def _update_order(
    conn: Connection, order_id: int, version: int, principal: Principal, at: datetime, values: dict, allowed_states: Sequence[str],
    action: str = "order_work",
) -> dict:
    """Apply ``values`` if the order still has ``version`` and is in an allowed state; returns the old row."""
    row = store.order_row(conn, order_id)
    if row is None:
        raise WorkflowError("no_order", f"no order {order_id}")
    check_access(principal, action, conn, row["household_id"])
    if row["version"] != int(version):
        raise StaleOrder(int(order_id), row["updated_by"], row["updated_at"], row["version"])
    if row["state"] not in allowed_states:
        raise WorkflowError("bad_transition", f"order {order_id} is {row['state']}: not allowed", order_id=order_id, state=row["state"])
    if not store.update_if_version(conn, order_id, version, allowed_states, values, actor=principal.actor, at=at):
        raise StaleOrder(int(order_id), *store.stamp(conn, order_id))  # someone committed between our read and our write
    return row


def start_verification(engine: Engine, order_id: int, version: int, now: datetime | None = None, *, principal: Principal) -> None:
    """open -> verifying."""
    at = stamp_time(now)
    with engine.begin() as conn:
        row = _update_order(conn, order_id, version, principal, at, {"state": "verifying"}, ("open",))
        audit_change(conn, principal, "order_started", f"order:{order_id}", {"household_id": row["household_id"]}, at)


def assign_order(
    engine: Engine, order_id: int, version: int, assignee_kind: str, assignee: str, now: datetime | None = None, *, principal: Principal
) -> None:
    """Hand an undecided order to another township or department."""
    _assignee_kind(assignee_kind)
    with engine.begin() as conn:
        _update_order(conn, order_id, version, principal, stamp_time(now), {"assignee_kind": assignee_kind, "assignee": assignee}, ("open", "verifying"))


def add_note(
    engine: Engine, order_id: int, version: int, text: str, *, findings: str | None = None, now: datetime | None = None, principal: Principal
) -> None:
    """Append a note (signed with the principal's name) and optionally replace the findings on an undecided order."""
    at, actor = stamp_time(now), actor_of(principal)
    with engine.begin() as conn:
        row = store.order_row(conn, order_id)
        if row is None:
            raise WorkflowError("no_order", f"no order {order_id}")
        values: dict = {}
        if text.strip():
            values["notes"] = (row["notes"] + "\n" if row["notes"] else "") + f"{at:%Y-%m-%d %H:%M} {actor}: {text.strip()}"
        if findings is not None:
            values["findings"] = findings
        _update_order(conn, order_id, version, principal, at, values, ("open", "verifying"))
        audit_change(conn, principal, "order_note", f"order:{order_id}", {"household_id": row["household_id"], "findings": findings is not None}, at)


def _decision_values(included: bool, category: str | None, risk_types: Sequence[str], reason: str | None) -> dict:
    """The decision's columns, refused when an inclusion lacks a category or known risk types, or a refusal a reason."""
    if included:
        if category not in CATEGORIES:
            raise WorkflowError("need_category", "a monitored household needs a category")
        if not risk_types or any(r not in RISK_TYPES for r in risk_types):
            raise WorkflowError("need_risk", "a monitored household needs at least one known risk type")
        if len(set(risk_types)) > MAX_RISKS:
            raise WorkflowError("too_many_risks", f"the monitoring record holds at most {MAX_RISKS} risk types", limit=MAX_RISKS)
    elif not (reason and reason.strip()):
        raise WorkflowError("need_reason", "say why the household is not included")
    return {
        "state": "decided", "decision": "included" if included else "not_included", "category": category if included else None,
        "risk_types": ",".join(risk_types) if included else None, "reason": reason,
    }


def decide_order(
    engine: Engine,
    order_id: int,
    version: int,
    *,
    included: bool,
    period: int,
    principal: Principal,
    category: str | None = None,
    risk_types: Sequence[str] = (),
    reason: str | None = None,
    findings: str | None = None,
    now: datetime | None = None,
) -> int | None:
    """Decide an order under verification: into monitoring with a category and risk types (an
    inclusion case opens: the village review, notice, township and county steps follow, and only
    the county's approval puts the household on the register), or not included with a reason.

    A decision needs a started verification and its findings (typed now or recorded before): a
    household is not judged from the clue alone.  Closes the order's clues; returns the case's ID
    for an inclusion."""
    at = stamp_time(now)
    values = {**_decision_values(included, category, risk_types, reason), "decided_at": at, "decided_by": actor_of(principal)}
    if findings is not None and findings.strip():
        values["findings"] = findings.strip()
    with engine.begin() as conn:
        before = store.order_row(conn, order_id)
        if before is not None and before["version"] == int(version) and before["state"] in ("open", "verifying"):
            check_access(principal, "order_decide", conn, before["household_id"])  # who may decide, before what the order lacks
            if before["state"] == "open":
                raise WorkflowError("not_verifying", "start the verification before deciding", order_id=order_id)
            if not values.get("findings") and not (before["findings"] or "").strip():
                raise WorkflowError("need_findings", "record the verification's findings before deciding", order_id=order_id)
        row = _update_order(conn, order_id, version, principal, at, values, ("verifying",), "order_decide")
        clue_store.close_clues(conn, store.clue_ids(conn, order_id))
        case_id = None
        if included:
            channels = clue_store.channels(conn, store.clue_ids(conn, order_id))
            case_id = procedure.open_case(
                conn, household_id=row["household_id"], kind="inclusion", origin=procedure.origin_of(channels), period=int(period), principal=principal,
                at=at, order_id=int(order_id), category=category, risk_types=list(dict.fromkeys(risk_types)),
            ).case_id
        detail = {"household_id": row["household_id"], **{k: values[k] for k in ("decision", "category", "risk_types", "reason")}, "case_id": case_id}
        audit_change(conn, principal, "order_decided", f"order:{order_id}", detail, at)
    return case_id


def list_orders(
    engine: Engine, *, principal: Principal, states: Sequence[str] = ORDER_STATES, township: str | None = None, today: date | None = None
) -> pd.DataFrame:
    """Orders with township, clue count, days open and an ``overdue`` flag (past due and undecided,
    or decided after the due date); a case worker's townships only."""
    f = store.order_frame(engine, states=states, township=township, townships=read_scope(principal))
    return _order_times(f, today or date.today())


def _order_times(f: pd.DataFrame, today: date) -> pd.DataFrame:
    if f.empty:
        for col in ("days_to_decision", "overdue"):
            f[col] = pd.Series(dtype=float)
        return f
    start = pd.to_datetime(f["first_clue_at"].fillna(f["created_at"]))
    decided = pd.to_datetime(f["decided_at"])
    due = pd.to_datetime(f["due_date"])
    f["days_to_decision"] = (decided.dt.normalize() - start.dt.normalize()).dt.days
    end = decided.dt.normalize().fillna(pd.Timestamp(today))
    f["overdue"] = (end > due).to_numpy()
    return f


@dataclass
class ClosedLoop:
    """Closed-loop figures: clue-to-decision time and overdue orders."""

    orders: int
    decided: int
    median_days: float | None  # first clue to decision, decided orders
    overdue: int
    overdue_share: float
    by_township: pd.DataFrame = field(repr=False)  # township_code, orders, overdue, overdue_share, median_days
    by_department: pd.DataFrame = field(repr=False)  # assignee (department), same columns


def closed_loop(engine: Engine, today: date | None = None, *, principal: Principal, township: str | None = None) -> ClosedLoop:
    """The figures the overview and the 预警处置 page show (one query, grouped in pandas); the
    orders of ``township``'s households only when given (a township-filtered overview, its brief)."""
    f = list_orders(engine, today=today, principal=principal, township=township)

    def group(frame: pd.DataFrame, key: str) -> pd.DataFrame:
        if frame.empty:
            return pd.DataFrame(columns=[key, "orders", "overdue", "overdue_share", "median_days"])
        g = frame.groupby(key)
        out = pd.DataFrame({"orders": g.size(), "overdue": g["overdue"].sum().astype(int), "median_days": g["days_to_decision"].median()})
        out["overdue_share"] = out["overdue"] / out["orders"]
        return out.reset_index()[[key, "orders", "overdue", "overdue_share", "median_days"]]

    n = len(f)
    decided = f["days_to_decision"].dropna() if n else pd.Series(dtype=float)
    overdue = int(f["overdue"].sum()) if n else 0
    return ClosedLoop(
        orders=n,
        decided=int(len(decided)),
        median_days=float(decided.median()) if len(decided) else None,
        overdue=overdue,
        overdue_share=overdue / n if n else 0.0,
        by_township=group(f, "township_code"),
        by_department=group(f[f["assignee_kind"] == "department"] if n else f, "assignee"),
    )
