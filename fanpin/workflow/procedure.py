"""The official procedure (纳入监测 and 风险消除): a case passes 村级民主评议, 村内公示, 乡镇审核 and
县级审定 before it takes effect.

Why a chain and not one approval: counties are inspected on it.  A household identified by a
verification order (干部排查, 部门筛查预警, 农户申请) or proposed for risk elimination becomes a *case*
waiting for the village review; the village's meeting is recorded (result, date, the record's
reference), then the public notice (its first day; it lasts at least ``notice_days``, a province's
parameter), then the township's check (by a case worker or township leader of that township, after
the notice ended, not by whoever opened the case), then the county's approval (a county-level role,
not the township checker), with its 公告.  Only the county's approval changes the register: the
monitoring history gets its row and the national record (``monitoring_records``) is written, so
imported records and cases decided here are one register.  A rejection at any step returns the case
with a reason; whoever may work it resubmits it (from the village review) or withdraws it.

Each step is one transaction: the versioned update of the case (two people acting on one case at
the same moment leave one step), the step row, the audit row.  One open case per household is
enforced by the database (a partial unique index), so two proposals made at once leave one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin.access.roles import Principal, can
from fanpin.store import cases as store
from fanpin.store import meta as meta_store
from fanpin.store import monitoring as history_store
from fanpin.store import monitoring_records as records_store
from fanpin.workflow.common import WorkflowError, actor_of, audit_change, check_access, read_scope, stamp_time

KINDS: tuple[str, ...] = ("inclusion", "elimination")
#: The steps in order; a case's ``state`` is the step it waits for.
STEPS: tuple[str, ...] = ("village_review", "notice", "township_check", "county_approval")
OPEN_STATES: tuple[str, ...] = (*STEPS, "returned")
CASE_STATES: tuple[str, ...] = (*OPEN_STATES, "approved", "withdrawn")
#: Where an inclusion came from (农户申请, 干部排查, 部门筛查预警), from the order's clues' channel.
ORIGINS: tuple[str, ...] = ("application", "cadre", "department", "proposal")
_CHANNEL_ORIGIN = {"self_report": "application", "cadre_visit": "cadre", "department": "department", "scoring": "department"}
#: The permission each step needs: the township's steps, and the county's.
STEP_PERMISSION = {"village_review": "case_local", "notice": "case_local", "township_check": "case_local", "county_approval": "case_county"}


def notice_days(engine: Engine | Connection) -> int:
    """The province's minimum notice period in days (stored with the data; default 5)."""
    return meta_store.notice_days(engine)


@dataclass(frozen=True)
class Opened:
    """A case opened inside the caller's transaction."""

    case_id: int
    household_id: str
    kind: str


def origin_of(channels: Sequence[str]) -> str:
    """The inclusion's origin from its clues' channels: a household's own application counts
    first, then a cadre's visit, else a department's screening."""
    found = {_CHANNEL_ORIGIN.get(str(c), "department") for c in channels}
    return next(o for o in ("application", "cadre", "department") if o in found or o == "department")


def open_case(
    conn: Connection, *, household_id: str, kind: str, origin: str, period: int, principal: Principal, at: datetime,
    order_id: int | None = None, proposal_id: int | None = None, category: str | None = None, risk_types: Sequence[str] = (),
    method: str | None = None,
) -> Opened:
    """Open a case waiting for the village review, in the caller's transaction (the order's decision
    or the elimination proposal); ``already_open`` when the household has an open case."""
    if kind not in KINDS or origin not in ORIGINS:
        raise WorkflowError("bad_case", f"unknown case kind {kind!r} or origin {origin!r}")
    values = {
        "household_id": str(household_id), "kind": kind, "origin": origin, "order_id": order_id, "proposal_id": proposal_id,
        "period": int(period), "category": category, "risk_types": ",".join(risk_types) or None, "method": method,
        "state": "village_review", "closed": False, "opened_by": actor_of(principal), "opened_at": at, "version": 1,
        "updated_at": at, "updated_by": principal.actor,
    }
    if store.open_case_of(conn, str(household_id)) is not None:
        raise WorkflowError("already_open", f"household {household_id} already has an open case")
    try:  # two at the same moment: the partial unique index leaves one (the caller's transaction rolls back)
        case_id = store.insert_case(conn, values)
    except IntegrityError as exc:
        raise WorkflowError("already_open", f"household {household_id} already has an open case") from exc
    store.insert_step(conn, {"case_id": case_id, "step": "opened", "result": "done", "done_by": principal.actor, "done_at": at})
    return Opened(case_id, str(household_id), kind)


# --------------------------------------------------------------------------- the steps
def _load(conn: Connection, case_id: int, principal: Principal, permission: str) -> dict:
    case = store.case_row(conn, case_id)
    if case is None:
        raise WorkflowError("no_case", f"no case {case_id}")
    check_access(principal, permission, conn, case["household_id"])
    return case


def _advance(conn: Connection, case: dict, version: int, states: Sequence[str], values: dict, principal: Principal, at: datetime) -> None:
    if not store.update_if_version(conn, case["case_id"], version, states, values, actor=principal.actor, at=at):
        raise WorkflowError("stale_case", f"case {case['case_id']} was changed by someone else; reload", case_id=case["case_id"])


def _step(conn: Connection, case: dict, step: str, result: str, principal: Principal, at: datetime, **values: object) -> None:
    store.insert_step(conn, {"case_id": case["case_id"], "step": step, "result": result, "done_by": principal.actor, "done_at": at, **values})
    detail = {"case_id": case["case_id"], "kind": case["kind"], "step": step, "result": result}
    if values.get("reason"):
        detail["reason"] = values["reason"]
    audit_change(conn, principal, "case_step", case["household_id"], detail, at)


def _need_reason(passed: bool, reason: str | None) -> str | None:
    reason = (reason or "").strip() or None
    if not passed and reason is None:
        raise WorkflowError("need_reason", "say why the case is returned")
    return reason


def _returned(reason: str | None) -> dict:
    return {"state": "returned", "returned_reason": reason, "notice_start": None, "notice_end": None}


def village_review(
    engine: Engine, case_id: int, version: int, *, passed: bool, meeting_date: date, document: str | None = None, reason: str | None = None,
    now: datetime | None = None, principal: Principal,
) -> None:
    """村级民主评议: the village meeting's result, its date and the record's reference."""
    at = stamp_time(now)
    reason = _need_reason(passed, reason)
    if meeting_date > at.date():
        raise WorkflowError("future_date", "the meeting's date is in the future")
    with engine.begin() as conn:
        case = _load(conn, case_id, principal, "case_local")
        if meeting_date < case["opened_at"].date():
            raise WorkflowError("date_before_case", "the meeting's date is before the case was opened")
        _advance(conn, case, version, ("village_review",), {"state": "notice"} if passed else _returned(reason), principal, at)
        _step(conn, case, "village_review", "passed" if passed else "rejected", principal, at, step_date=meeting_date, document=document, reason=reason)


def start_notice(
    engine: Engine, case_id: int, version: int, *, first_day: date, document: str | None = None, now: datetime | None = None, principal: Principal,
) -> date:
    """村内公示: the notice's first day and text; returns the first day the township step may start."""
    at = stamp_time(now)
    with engine.begin() as conn:
        case = _load(conn, case_id, principal, "case_local")
        steps = store.step_frame(conn, [case_id])
        review = steps[(steps["step"] == "village_review") & (steps["result"] == "passed")]
        if len(review) and first_day < pd.Timestamp(review["step_date"].iloc[-1]).date():
            raise WorkflowError("date_before_review", "the notice cannot start before the village review")
        if first_day > at.date():
            raise WorkflowError("future_date", "the notice's first day is in the future")
        end = first_day + timedelta(days=notice_days(conn))
        _advance(conn, case, version, ("notice",), {"state": "township_check", "notice_start": first_day, "notice_end": end}, principal, at)
        _step(conn, case, "notice", "done", principal, at, step_date=first_day, notice_end=end, document=document)
    return end


def township_check(
    engine: Engine, case_id: int, version: int, *, passed: bool, document: str | None = None, reason: str | None = None,
    now: datetime | None = None, principal: Principal,
) -> None:
    """乡镇审核: after the notice ended, by someone of the township other than who opened the case."""
    at = stamp_time(now)
    reason = _need_reason(passed, reason)
    with engine.begin() as conn:
        case = _load(conn, case_id, principal, "case_local")
        if case["state"] == "township_check" and case["notice_end"] is not None and at.date() < case["notice_end"]:
            days = (case["notice_end"] - at.date()).days
            raise WorkflowError("notice_running", f"the notice runs {days} more day(s)", days=days, until=case["notice_end"])
        if case["opened_by"] == principal.username:
            raise WorkflowError("same_person", "the township check is done by someone other than who opened the case", who=case["opened_by"])
        _advance(conn, case, version, ("township_check",), {"state": "county_approval"} if passed else _returned(reason), principal, at)
        _step(conn, case, "township_check", "passed" if passed else "rejected", principal, at, document=document, reason=reason)


def county_approval(
    engine: Engine, case_id: int, version: int, *, passed: bool, document: str | None = None, reason: str | None = None,
    now: datetime | None = None, principal: Principal,
) -> None:
    """县级审定 (with its 公告): the case takes effect (the register changes) or returns."""
    at = stamp_time(now)
    reason = _need_reason(passed, reason)
    with engine.begin() as conn:
        case = _load(conn, case_id, principal, "case_county")
        steps = store.step_frame(conn, [case_id])
        checker = steps.loc[(steps["step"] == "township_check") & (steps["result"] == "passed"), "done_by"]
        if principal.username in {case["opened_by"], *checker.tail(1)}:
            raise WorkflowError("same_person", "the county approval is done by someone other than who opened or checked the case")
        values = {"state": "approved", "closed": True} if passed else _returned(reason)
        _advance(conn, case, version, ("county_approval",), values, principal, at)
        _step(conn, case, "county_approval", "passed" if passed else "rejected", principal, at, document=document, reason=reason)
        if passed:
            _take_effect(conn, case, principal, at)


def _take_effect(conn: Connection, case: dict, principal: Principal, at: datetime) -> None:
    """The county approved: the monitoring history's row and the national record."""
    hid, period = case["household_id"], int(case["period"])
    risks = [r for r in (case["risk_types"] or "").split(",") if r]
    if case["kind"] == "inclusion":
        history_store.insert_record(conn, {
            "household_id": hid, "period": period, "status": "monitored", "category": case["category"], "risk_types": case["risk_types"],
            "recorded_at": at, "recorded_by": case["opened_by"], "approved_by": principal.actor, "order_id": case["order_id"],
        })
        records_store.record_inclusion(conn, hid, case["category"], risks, period, at)
        audit_change(conn, principal, "case_approved", hid, {"case_id": case["case_id"], "kind": "inclusion", "order_id": case["order_id"]}, at)
        return
    prop = history_store.record_by_id(conn, int(case["proposal_id"]))
    try:
        history_store.insert_record(conn, {
            "household_id": hid, "period": prop["period"], "status": "eliminated", "category": prop["category"], "risk_types": prop["risk_types"],
            "method": prop["method"], "recorded_at": at, "recorded_by": prop["recorded_by"], "approved_by": principal.actor,
            "order_id": prop["order_id"], "proposal_id": int(case["proposal_id"]),
        })
    except IntegrityError as exc:  # the proposal was resolved by someone else at the same moment
        raise WorkflowError("already_resolved", f"proposal {case['proposal_id']} was already resolved; reload") from exc
    records_store.record_elimination(conn, hid, prop["method"], int(prop["period"]), at)
    detail = {"case_id": case["case_id"], "proposal_id": int(case["proposal_id"]), "method": prop["method"], "proposer": prop["recorded_by"]}
    audit_change(conn, principal, "elimination_approved", hid, detail, at)


def resubmit(engine: Engine, case_id: int, version: int, *, note: str | None = None, now: datetime | None = None, principal: Principal) -> None:
    """A returned case goes back to the village review (the whole chain again)."""
    at = stamp_time(now)
    with engine.begin() as conn:
        case = _load(conn, case_id, principal, "case_local")
        _advance(conn, case, version, ("returned",), {"state": "village_review", "returned_reason": None}, principal, at)
        _step(conn, case, "resubmitted", "done", principal, at, reason=(note or "").strip() or None)


def withdraw(engine: Engine, case_id: int, version: int, *, reason: str, now: datetime | None = None, principal: Principal) -> None:
    """A returned (or waiting) case is closed without effect; an elimination's household stays
    monitored (a ``monitored`` row closes the proposal in the history)."""
    at = stamp_time(now)
    reason = _need_reason(False, reason)
    with engine.begin() as conn:
        case = _load(conn, case_id, principal, "case_local")
        _advance(conn, case, version, OPEN_STATES, {"state": "withdrawn", "closed": True}, principal, at)
        _step(conn, case, "withdrawn", "done", principal, at, reason=reason)
        if case["kind"] == "elimination" and case["proposal_id"] is not None:
            prop = history_store.record_by_id(conn, int(case["proposal_id"]))
            try:
                history_store.insert_record(conn, {
                    "household_id": case["household_id"], "period": prop["period"], "status": "monitored", "category": prop["category"],
                    "risk_types": prop["risk_types"], "recorded_at": at, "recorded_by": principal.actor, "order_id": prop["order_id"],
                    "proposal_id": int(case["proposal_id"]), "note": reason,
                })
            except IntegrityError as exc:
                raise WorkflowError("already_resolved", f"proposal {case['proposal_id']} was already resolved; reload") from exc
            audit_change(conn, principal, "elimination_rejected", case["household_id"], {"case_id": case["case_id"], "proposal_id": int(case["proposal_id"])}, at)


# --------------------------------------------------------------------------- reading
def cases(
    engine: Engine, *, principal: Principal, household_id: str | None = None, kinds: Sequence[str] | None = None, include_closed: bool = True,
) -> pd.DataFrame:
    """Cases as the principal may see them (a township role: their townships), newest first."""
    return store.case_frame(engine, townships=read_scope(principal), household_id=household_id, kinds=kinds, include_closed=include_closed)


def steps(engine: Engine, case_ids: Sequence[int], *, principal: Principal) -> pd.DataFrame:
    """The steps of cases the principal may see, oldest first."""
    seen = cases(engine, principal=principal)
    return store.step_frame(engine, [int(c) for c in case_ids if int(c) in set(seen["case_id"].astype(int))])


def may_act(case: pd.Series | dict, principal: Principal, today: date) -> bool:
    """Whether ``principal`` may do the step the case waits for now (the page enables its button;
    the step itself checks again)."""
    state = case["state"]
    if state == "returned":
        return can(principal, "case_local") and principal.sees(case.get("township_code"))
    permission = STEP_PERMISSION.get(state)
    if permission is None or not can(principal, permission):
        return False
    if permission == "case_local" and not principal.sees(case.get("township_code")):
        return False
    if state == "township_check":
        end = case.get("notice_end")
        return case["opened_by"] != principal.username and (end is None or pd.isna(end) or today >= pd.Timestamp(end).date())
    if state == "county_approval":
        return case["opened_by"] != principal.username
    return True
