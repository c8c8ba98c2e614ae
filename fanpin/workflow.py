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

import numpy as np
import pandas as pd
from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access import AccessDenied, Principal, require, require_household
from fanpin.audit import record
from fanpin.policies import income_line_for
from fanpin.scoring import TIERS
from fanpin.store import schema as S
from fanpin.store.io import shift_period

CHANNELS = ("self_report", "cadre_visit", "department")
CATEGORIES = ("unstable_former_poor", "marginal", "sudden_hardship")
RISK_TYPES = ("illness", "disability", "schooling", "disaster", "accident", "industry_failure", "unstable_work", "lack_of_labour", "housing", "water", "other")
METHODS = ("by_assistance", "natural")
ORDER_STATES = ("open", "verifying", "decided")
#: Identification target: 15 days from the first clue to a decision (configurable per call).
DUE_DAYS = 15
#: Income must be at or above the month's line for this many consecutive months.
STABLE_MONTHS = 6
#: "Large unavoidable spending resolved": medical out-of-pocket + schooling cost + disaster
#: loss (rolling 12 months) below this share of the household's net income.
SPENDING_SHARE = 0.3


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
    """Insert ``source="scoring"`` clues for households newly red in ``period`` (fanpin.trends).

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


# --------------------------------------------------------------------------- monitoring register


def _latest_records(conn: Connection) -> pd.DataFrame:
    m = S.monitoring.c
    latest = select(m.household_id, func.max(m.record_id).label("rid")).group_by(m.household_id).subquery()
    q = select(S.monitoring).join(latest, and_(latest.c.rid == m.record_id))
    return pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in S.monitoring.columns])


def monitoring_history(engine: Engine, household_id: str | None = None, principal: Principal | None = None) -> pd.DataFrame:
    q = select(S.monitoring).order_by(S.monitoring.c.record_id)
    if household_id:
        q = q.where(S.monitoring.c.household_id == household_id)
    if principal is not None and principal.townships is not None:
        inside = select(S.households.c.household_id).where(S.households.c.township_code.in_(sorted(principal.townships)))
        q = q.where(S.monitoring.c.household_id.in_(inside))
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in S.monitoring.columns])


def register(engine: Engine, panel=None, period: int | None = None, include_eliminated: bool = False, principal: Principal | None = None) -> pd.DataFrame:  # noqa: ANN001
    """Who is monitored (or has a pending elimination proposal), since when, category, risk types,
    assistance measures, and the latest score and tier from ``panel`` (PanelScores) if given.
    A case worker's townships only."""
    with engine.connect() as conn:
        last = _latest_records(conn)
        hist = pd.DataFrame(conn.execute(select(S.monitoring.c.household_id, S.monitoring.c.period, S.monitoring.c.status, S.monitoring.c.record_id)).fetchall(), columns=["household_id", "period", "status", "record_id"])
        a = S.assistance.c
        ids = last["household_id"].tolist()
        assist = pd.DataFrame(conn.execute(select(a.household_id, a.measure, a.period).where(a.household_id.in_(ids))).fetchall(), columns=["household_id", "measure", "period"]) if ids else pd.DataFrame(columns=["household_id", "measure", "period"])
        hh = pd.DataFrame(conn.execute(select(S.households.c.household_id, S.households.c.township_code, S.households.c.household_type, S.households.c.no_labour_guarantee).where(S.households.c.household_id.in_(ids))).fetchall(), columns=["household_id", "township_code", "household_type", "no_labour_guarantee"]) if ids else None
    cols = ["household_id", "township_code", "household_type", "status", "since", "category", "risk_types", "measures", "n_measures", "no_labour_guarantee", "proposal_id", "method", "proposed_by", "score", "tier"]
    if last.empty:
        return pd.DataFrame(columns=cols)
    if not include_eliminated:
        last = last[last["status"] != "eliminated"]
    if principal is not None and principal.townships is not None:
        inside = hh is not None and hh["township_code"].isin(sorted(principal.townships))
        keep = set(hh.loc[inside, "household_id"]) if hh is not None else set()
        last = last[last["household_id"].isin(keep)]
    # "since": the first "monitored" month after the household's last elimination.
    hist = hist.sort_values("record_id")
    elim = hist[hist["status"] == "eliminated"].groupby("household_id")["record_id"].max()
    hist["after"] = hist["record_id"] > hist["household_id"].map(elim).fillna(-1)
    since = hist[hist["after"] & (hist["status"] == "monitored")].groupby("household_id")["period"].min()
    # category / risk types: the last "monitored" row (proposal rows copy them)
    out = last.rename(columns={"record_id": "proposal_id_"}).merge(hh, on="household_id", how="left")
    out["since"] = out["household_id"].map(since)
    out["proposal_id"] = np.where(out["status"] == "proposed", out["proposal_id_"], np.nan)
    out["proposed_by"] = np.where(out["status"] == "proposed", out["recorded_by"], None)
    out["method"] = np.where(out["status"] == "proposed", out["method"], None)
    if len(assist):
        g = assist.groupby("household_id")["measure"]
        out["measures"] = out["household_id"].map(g.agg(lambda s: ",".join(sorted(set(s)))))
        out["n_measures"] = out["household_id"].map(g.size()).fillna(0).astype(int)
    else:
        out["measures"], out["n_measures"] = None, 0
    out["score"], out["tier"] = np.nan, None
    if panel is not None and len(out):
        j = panel.col(period) if period is not None else len(panel.periods) - 1
        rows = np.searchsorted(panel.household_ids, out["household_id"].to_numpy().astype(str))
        rows = np.clip(rows, 0, max(len(panel.household_ids) - 1, 0))
        found = panel.household_ids[rows] == out["household_id"].to_numpy().astype(str)
        out["score"] = np.where(found, panel.score[rows, j], np.nan).round(2)
        t = panel.tier[rows, j]
        out["tier"] = [TIERS[k] if ok and k >= 0 else None for k, ok in zip(t, found)]
    return out[cols].sort_values("household_id").reset_index(drop=True)


@dataclass
class Eligibility:
    """Per household: the elimination rules and their outcome."""

    frame: pd.DataFrame  # household_id, months_above, income_ok, spending, income_net, spending_ok, no_labour, eligible

    def row(self, household_id: str) -> dict:
        return self.frame.set_index("household_id").loc[household_id].to_dict()


def elimination_eligibility(
    engine: Engine,
    household_ids: Sequence[str],
    period: int,
    *,
    stable_months: int = STABLE_MONTHS,
    spending_share: float = SPENDING_SHARE,
) -> Eligibility:
    """Risk elimination rules at ``period``: income_pc at or above each month's income line for
    ``stable_months`` consecutive months ending at ``period`` (fanpin.policies.income_line_for per
    month), medical + schooling + disaster spending below ``spending_share`` of net income, and not a
    household with no labour capacity (兜底: stays monitored)."""
    ids = sorted({str(h) for h in household_ids})
    cols = ["household_id", "months_above", "income_ok", "spending", "income_net", "spending_ok", "no_labour", "eligible"]
    if not ids:
        return Eligibility(pd.DataFrame(columns=cols))
    months = [shift_period(int(period), -k) for k in range(stable_months - 1, -1, -1)]
    p = S.panel.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(p.household_id, p.period, p.income_pc, p.income_net, p.medical_oop, p.schooling_cost, p.disaster_loss).where(p.household_id.in_(ids), p.period.in_(months))
        ).fetchall()
        nolab = dict(conn.execute(select(S.households.c.household_id, S.households.c.no_labour_guarantee).where(S.households.c.household_id.in_(ids))).fetchall())
    lines = {m: income_line_for(engine, m) for m in months}
    f = pd.DataFrame(rows, columns=["household_id", "period", "income_pc", "income_net", "medical_oop", "schooling_cost", "disaster_loss"])
    above = pd.DataFrame(False, index=ids, columns=months)
    if len(f):
        f["line"] = f["period"].map(lines).astype(float)
        f["above"] = f["income_pc"] >= f["line"]
        wide = f.pivot(index="household_id", columns="period", values="above").reindex(index=ids, columns=months)
        above = wide.eq(True)
    # consecutive months at or above the line, counting back from ``period``
    run = np.cumprod(above.to_numpy()[:, ::-1], axis=1).sum(axis=1)
    cur = f[f["period"] == int(period)].set_index("household_id").reindex(ids) if len(f) else pd.DataFrame(index=ids, columns=["income_net", "medical_oop", "schooling_cost", "disaster_loss"])
    spending = cur[["medical_oop", "schooling_cost", "disaster_loss"]].astype(float).fillna(0.0).sum(axis=1).to_numpy()
    net = cur["income_net"].astype(float).to_numpy()
    spending_ok = np.nan_to_num(net, nan=0.0) > 0
    spending_ok &= spending < spending_share * np.nan_to_num(net, nan=0.0)
    no_labour = np.array([bool(nolab.get(h, False)) for h in ids])
    income_ok = run >= stable_months
    out = pd.DataFrame({
        "household_id": ids, "months_above": run.astype(int), "income_ok": income_ok, "spending": spending, "income_net": net,
        "spending_ok": spending_ok, "no_labour": no_labour, "eligible": income_ok & spending_ok & ~no_labour,
    })
    return Eligibility(out)


#: 开发式帮扶措施: counties flag 帮扶消除 with none of these recorded.
DEVELOPMENT_MEASURES = ("industry", "employment", "finance", "public_welfare_job")


def development_measures(engine: Engine, household_id: str) -> list[str]:
    """The development-type assistance measures recorded for a household (empty: flag 帮扶消除)."""
    a = S.assistance.c
    with engine.connect() as conn:
        rows = conn.execute(select(a.measure).where(a.household_id == household_id, a.measure.in_(DEVELOPMENT_MEASURES)).distinct())
        return sorted(r[0] for r in rows)


def _identified_period(conn: Connection, household_id: str) -> int | None:
    m = S.monitoring.c
    rows = conn.execute(select(m.period, m.status).where(m.household_id == household_id).order_by(m.record_id)).fetchall()
    start = None
    for per, status in rows:  # one household's short history
        if status == "eliminated":
            start = None
        elif status == "monitored" and start is None:
            start = int(per)
    return start


def early_elimination(identified: int | None, eliminated: int) -> bool:
    """Flag: elimination in the same or the next month as identification."""
    return identified is not None and int(eliminated) <= shift_period(int(identified), 1)


def propose_elimination(
    engine: Engine, household_id: str, period: int, method: str, actor: str, note: str | None = None, now: datetime | None = None,
    *, principal: Principal | None = None,
) -> int:
    """Propose eliminating a monitored household's risk; refused unless the rules hold.

    Returns the proposal's record_id.  A second person approves (``approve_elimination``).
    """
    if method not in METHODS:
        raise WorkflowError("bad_method", f"method must be one of {METHODS}")
    if principal is not None:
        require_household(principal, engine, household_id, "elimination_propose")
    at = _now(now)
    elig = elimination_eligibility(engine, [household_id], period).row(household_id)
    if not elig["eligible"]:
        raise WorkflowError("not_eligible", f"household {household_id} does not meet the elimination rules", **elig)
    with engine.begin() as conn:
        last = conn.execute(select(S.monitoring).where(S.monitoring.c.household_id == household_id).order_by(S.monitoring.c.record_id.desc()).limit(1)).mappings().first()
        if last is None or last["status"] != "monitored":
            code = "already_proposed" if last is not None and last["status"] == "proposed" else "not_monitored"
            raise WorkflowError(code, f"household {household_id} is not monitored without a pending proposal")
        res = conn.execute(
            insert(S.monitoring).values(
                household_id=household_id, period=int(period), status="proposed", category=last["category"], risk_types=last["risk_types"],
                method=method, recorded_at=at, recorded_by=actor, order_id=last["order_id"], note=note,
            )
        )
        rid = int(res.inserted_primary_key[0])
        early = early_elimination(_identified_period(conn, household_id), period)
        _audit(conn, actor, "elimination_proposed", household_id, {"proposal_id": rid, "method": method, "period": int(period), "early": early}, at)
    return rid


def _resolve(engine: Engine, proposal_id: int, actor: str, approve: bool, note: str | None, now: datetime | None, principal: Principal | None = None) -> int:
    at = _now(now)
    m = S.monitoring.c
    with engine.begin() as conn:
        prop = conn.execute(select(S.monitoring).where(m.record_id == int(proposal_id))).mappings().first()
        if prop is None or prop["status"] != "proposed":
            raise WorkflowError("no_proposal", f"no elimination proposal {proposal_id}")
        _check(principal, "elimination_approve", conn, prop["household_id"])
        if approve and prop["recorded_by"] == actor:
            raise WorkflowError("self_approval", "the proposer cannot approve their own proposal; a second person must", proposer=actor)
        latest = conn.execute(select(func.max(m.record_id)).where(m.household_id == prop["household_id"])).scalar()
        if latest != int(proposal_id):
            raise WorkflowError("already_resolved", f"proposal {proposal_id} was already approved or rejected; reload")
        try:
            res = conn.execute(
                insert(S.monitoring).values(
                    household_id=prop["household_id"], period=prop["period"], status="eliminated" if approve else "monitored", category=prop["category"],
                    risk_types=prop["risk_types"], method=prop["method"] if approve else None, recorded_at=at, recorded_by=prop["recorded_by"] if approve else actor,
                    approved_by=actor if approve else None, order_id=prop["order_id"], proposal_id=int(proposal_id), note=note,
                )
            )
        except IntegrityError as exc:  # a concurrent approval/rejection won the unique proposal_id
            raise WorkflowError("already_resolved", f"proposal {proposal_id} was already approved or rejected; reload") from exc
        rid = int(res.inserted_primary_key[0])
        _audit(conn, actor, "elimination_approved" if approve else "elimination_rejected", prop["household_id"],
               {"proposal_id": int(proposal_id), "method": prop["method"], "proposer": prop["recorded_by"], "note": note}, at)
    return rid


def approve_elimination(
    engine: Engine, proposal_id: int, approver: str, note: str | None = None, now: datetime | None = None, *, principal: Principal | None = None
) -> int:
    """A second person approves: appends an ``eliminated`` row (approver != proposer)."""
    return _resolve(engine, proposal_id, approver, True, note, now, principal)


def reject_elimination(
    engine: Engine, proposal_id: int, actor: str, note: str | None = None, now: datetime | None = None, *, principal: Principal | None = None
) -> int:
    """Reject a proposal: the household stays monitored (a new ``monitored`` row)."""
    return _resolve(engine, proposal_id, actor, False, note, now, principal)


def early_eliminations(engine: Engine, principal: Principal | None = None) -> pd.DataFrame:
    """Eliminated (or proposed) households whose elimination month is the same or next month as identification."""
    h = monitoring_history(engine, principal=principal)
    if h.empty:
        return pd.DataFrame(columns=["household_id", "identified", "eliminated", "status"])
    out = []
    for hid, g in h.groupby("household_id", sort=True):  # per monitored household: small
        start = None
        for r in g.itertuples():
            if r.status == "monitored" and start is None:
                start = int(r.period)
            elif r.status in ("proposed", "eliminated"):
                if early_elimination(start, r.period):
                    out.append({"household_id": hid, "identified": start, "eliminated": int(r.period), "status": r.status})
                if r.status == "eliminated":
                    start = None
    return pd.DataFrame(out, columns=["household_id", "identified", "eliminated", "status"]).drop_duplicates(["household_id", "identified"], keep="last")
