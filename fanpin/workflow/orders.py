"""The monitoring workflow: clues -> verification orders -> decision -> monitoring -> risk elimination.

Every change is one transaction that records who and when (``audit_log`` for
decisions and eliminations).  Two people editing the same order cannot overwrite
each other: an order update carries the ``version`` its editor read and only
succeeds if the row still has it (``UPDATE ... WHERE version = :read``, atomic on
SQLite and PostgreSQL alike); otherwise ``StaleOrder`` says who changed it and
when.  ``monitoring`` is append-only: a proposal, its approval or rejection, each
is a new row, and a unique index on ``proposal_id`` lets the database refuse a
second approval of the same proposal.

Domain functions take an ``engine`` and plain values; all SQL is SQLAlchemy Core.
Pages also pass the logged-in ``principal`` (``fanpin.access.Principal``): a change
is then refused (``AccessDenied``) unless the role may make it and, for a case
worker, the household lies in their townships; lists keep only those townships.
``principal=None`` (the command line, batch jobs) checks nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine

from fanpin.access.roles import AccessDenied, Principal, require_household
from fanpin.store import schema as S
from fanpin.workflow.common import (
    CATEGORIES,
    DUE_DAYS,
    RISK_TYPES,
    StaleOrder,
    WorkflowError,
    _audit,
    _check,
    _now,
    _scope_where,
)

ORDER_STATES = ("open", "verifying", "decided")


# --------------------------------------------------------------------------- orders


def create_order(
    engine: Engine,
    *,
    assignee_kind: str,
    assignee: str,
    actor: str,
    clue_ids: Sequence[int] = (),
    household_id: str | None = None,
    due_days: int = DUE_DAYS,
    now: datetime | None = None,
    principal: Principal | None = None,
) -> int:
    """A verification order from new clues about one household (or from a household ID alone).

    The due date counts ``due_days`` from the first clue's receipt (from today without clues).
    """
    if assignee_kind not in ("township", "department"):
        raise WorkflowError("bad_assignee", f"assignee kind must be township or department, not {assignee_kind!r}")
    at = _now(now)
    ids = sorted({int(i) for i in clue_ids})
    c = S.clues.c
    with engine.begin() as conn:
        first_at = at
        if ids:
            rows = conn.execute(select(c.clue_id, c.household_id, c.status, c.received_at).where(c.clue_id.in_(ids))).fetchall()
            if len(rows) != len(ids):
                raise WorkflowError("no_clue", "some clues do not exist")
            hh = {r.household_id for r in rows}
            if len(hh) != 1:
                raise WorkflowError("mixed_households", "an order covers one household: the clues are about several", households=sorted(hh))
            if household_id and household_id not in hh:
                raise WorkflowError("mixed_households", "the clues are about another household")
            household_id = hh.pop()
            first_at = min(r.received_at for r in rows)
        elif not household_id:
            raise WorkflowError("no_household", "give clues or a household ID")
        else:
            if conn.execute(select(S.households.c.household_id).where(S.households.c.household_id == household_id)).first() is None:
                if principal is not None and principal.townships is not None:  # do not tell a scoped user what exists elsewhere
                    raise AccessDenied("township", f"household {household_id} is outside {principal.username}'s townships")
                raise WorkflowError("no_household", f"no household {household_id}")
        _check(principal, "order_create", conn, household_id)
        res = conn.execute(
            insert(S.orders).values(
                household_id=household_id, assignee_kind=assignee_kind, assignee=assignee, created_at=at, created_by=actor,
                due_date=(first_at.date() + timedelta(days=int(due_days))), state="open", version=1, updated_at=at, updated_by=actor,
                first_clue_at=first_at,
            )
        )
        oid = int(res.inserted_primary_key[0])
        if ids:
            # Atomic claim: only clues still "new" move; anything else means someone got there first.
            n = conn.execute(update(S.clues).where(c.clue_id.in_(ids), c.status == "new").values(status="ordered")).rowcount
            if n != len(ids):
                raise WorkflowError("clue_taken", "a clue is already in an order or closed; reload", clue_ids=ids)
            conn.execute(insert(S.order_clues), [{"order_id": oid, "clue_id": i} for i in ids])
        _audit(conn, actor, "order_created", f"order:{oid}", {"household_id": household_id, "clues": ids, "assignee": f"{assignee_kind}:{assignee}"}, at)
    return oid


def get_order(engine: Engine, order_id: int, principal: Principal | None = None) -> dict:
    with engine.connect() as conn:
        row = conn.execute(select(S.orders).where(S.orders.c.order_id == int(order_id))).mappings().first()
        if row is None:
            raise WorkflowError("no_order", f"no order {order_id}")
        if principal is not None:
            require_household(principal, conn, row["household_id"])
        out = dict(row)
        out["clue_ids"] = [r[0] for r in conn.execute(select(S.order_clues.c.clue_id).where(S.order_clues.c.order_id == int(order_id)).order_by(S.order_clues.c.clue_id))]
    return out


def order_risk_types(engine: Engine, order_id: int) -> list[str]:
    """The risk types named by an order's clues (the decision form's default)."""
    c, oc = S.clues.c, S.order_clues.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.risk_type).join_from(S.order_clues, S.clues, oc.clue_id == c.clue_id).where(oc.order_id == int(order_id)).distinct())
        return sorted(r[0] for r in rows if r[0] in RISK_TYPES)


def _update_order(
    conn: Connection, order_id: int, version: int, actor: str, at: datetime, values: dict, allowed_states: Sequence[str],
    principal: Principal | None = None, action: str = "order_work",
) -> dict:
    """Apply ``values`` if the order still has ``version`` and is in an allowed state; returns the old row."""
    o = S.orders.c
    row = conn.execute(select(S.orders).where(o.order_id == int(order_id))).mappings().first()
    if row is None:
        raise WorkflowError("no_order", f"no order {order_id}")
    _check(principal, action, conn, row["household_id"])
    if row["version"] != int(version):
        raise StaleOrder(int(order_id), row["updated_by"], row["updated_at"], row["version"])
    if row["state"] not in allowed_states:
        raise WorkflowError("bad_transition", f"order {order_id} is {row['state']}: not allowed", order_id=order_id, state=row["state"])
    n = conn.execute(
        update(S.orders)
        .where(o.order_id == int(order_id), o.version == int(version), o.state.in_(list(allowed_states)))
        .values(**values, version=o.version + 1, updated_at=at, updated_by=actor)
    ).rowcount
    if n != 1:  # someone committed between our read and our write
        cur = conn.execute(select(o.updated_by, o.updated_at, o.version).where(o.order_id == int(order_id))).first()
        raise StaleOrder(int(order_id), cur.updated_by, cur.updated_at, cur.version)
    return dict(row)


def start_verification(engine: Engine, order_id: int, version: int, actor: str, now: datetime | None = None, *, principal: Principal | None = None) -> None:
    """open -> verifying."""
    with engine.begin() as conn:
        _update_order(conn, order_id, version, actor, _now(now), {"state": "verifying"}, ("open",), principal)


def assign_order(
    engine: Engine, order_id: int, version: int, assignee_kind: str, assignee: str, actor: str, now: datetime | None = None, *, principal: Principal | None = None
) -> None:
    """Hand an undecided order to another township or department."""
    if assignee_kind not in ("township", "department"):
        raise WorkflowError("bad_assignee", f"assignee kind must be township or department, not {assignee_kind!r}")
    with engine.begin() as conn:
        _update_order(conn, order_id, version, actor, _now(now), {"assignee_kind": assignee_kind, "assignee": assignee}, ("open", "verifying"), principal)


def add_note(
    engine: Engine, order_id: int, version: int, text: str, actor: str, *, findings: str | None = None, now: datetime | None = None, principal: Principal | None = None
) -> None:
    """Append a note (and optionally replace the findings) on an undecided order."""
    at = _now(now)
    with engine.begin() as conn:
        row = conn.execute(select(S.orders.c.notes).where(S.orders.c.order_id == int(order_id))).first()
        if row is None:
            raise WorkflowError("no_order", f"no order {order_id}")
        values: dict = {}
        if text.strip():
            values["notes"] = (row.notes + "\n" if row.notes else "") + f"{at:%Y-%m-%d %H:%M} {actor}: {text.strip()}"
        if findings is not None:
            values["findings"] = findings
        _update_order(conn, order_id, version, actor, at, values, ("open", "verifying"), principal)


def decide_order(
    engine: Engine,
    order_id: int,
    version: int,
    *,
    included: bool,
    actor: str,
    period: int,
    category: str | None = None,
    risk_types: Sequence[str] = (),
    reason: str | None = None,
    findings: str | None = None,
    now: datetime | None = None,
    principal: Principal | None = None,
) -> None:
    """Decide a verifying (or open) order: into monitoring with a category and risk types,
    or not included with a reason.  Closes its clues; writes monitoring and audit rows."""
    at = _now(now)
    if included:
        if category not in CATEGORIES:
            raise WorkflowError("need_category", "a monitored household needs a category")
        if not risk_types or any(r not in RISK_TYPES for r in risk_types):
            raise WorkflowError("need_risk", "a monitored household needs at least one known risk type")
    elif not (reason and reason.strip()):
        raise WorkflowError("need_reason", "say why the household is not included")
    values = {
        "state": "decided", "decision": "included" if included else "not_included", "category": category if included else None,
        "risk_types": ",".join(risk_types) if included else None, "reason": reason, "decided_at": at, "decided_by": actor,
    }
    if findings is not None:
        values["findings"] = findings
    with engine.begin() as conn:
        row = _update_order(conn, order_id, version, actor, at, values, ("open", "verifying"), principal, "order_decide")
        ids = [r[0] for r in conn.execute(select(S.order_clues.c.clue_id).where(S.order_clues.c.order_id == int(order_id)))]
        if ids:
            conn.execute(update(S.clues).where(S.clues.c.clue_id.in_(ids)).values(status="closed"))
        if included:
            conn.execute(
                insert(S.monitoring).values(
                    household_id=row["household_id"], period=int(period), status="monitored", category=category, risk_types=",".join(risk_types),
                    recorded_at=at, recorded_by=actor, order_id=int(order_id),
                )
            )
        _audit(conn, actor, "order_decided", f"order:{order_id}", {"household_id": row["household_id"], **{k: values[k] for k in ("decision", "category", "risk_types", "reason")}}, at)


def list_orders(
    engine: Engine, *, states: Sequence[str] = ORDER_STATES, township: str | None = None, today: date | None = None, principal: Principal | None = None
) -> pd.DataFrame:
    """Orders with township, clue count, days open and an ``overdue`` flag (past due and undecided,
    or decided after the due date)."""
    o, h, oc = S.orders.c, S.households.c, S.order_clues.c
    n_clues = select(oc.order_id, func.count().label("n_clues")).group_by(oc.order_id).subquery()
    q = (
        select(
            o.order_id, o.household_id, h.township_code, o.assignee_kind, o.assignee, o.state, o.decision, o.category, o.risk_types, o.reason,
            o.findings, o.notes, o.first_clue_at, o.created_at, o.created_by, o.due_date, o.decided_at, o.decided_by, o.version, o.updated_at,
            o.updated_by, func.coalesce(n_clues.c.n_clues, 0).label("n_clues"),
        )
        .join_from(S.orders, S.households, o.household_id == h.household_id)
        .outerjoin(n_clues, n_clues.c.order_id == o.order_id)
        .where(o.state.in_(list(states)))
        .order_by(o.order_id.desc())
    )
    q = _scope_where(q, principal, h.township_code)
    if township:
        q = q.where(h.township_code == township)
    with engine.connect() as conn:
        f = pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in q.selected_columns])
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


def closed_loop(engine: Engine, today: date | None = None, principal: Principal | None = None) -> ClosedLoop:
    """The figures the overview and the 预警处置 page show (one query, grouped in pandas)."""
    f = list_orders(engine, today=today, principal=principal)

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
