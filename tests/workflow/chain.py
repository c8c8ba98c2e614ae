"""Test helpers: an order decided after its verification, and a case walked through the official
procedure (village review, notice, township check, county approval) by the people named."""

from __future__ import annotations

from datetime import datetime, timedelta

from fanpin.access.roles import SYSTEM, Principal
from fanpin.store import cases as case_store
from fanpin.workflow import orders, procedure


def decide(engine, order_id: int, who: Principal, *, at: datetime | None = None, findings: str = "入户核实", **kw) -> int | None:
    """Start the verification (if it is not started) and decide with findings; the case ID of an inclusion."""
    o = orders.get_order(engine, order_id, principal=SYSTEM)
    version = o["version"]
    if o["state"] == "open":
        orders.start_verification(engine, order_id, version, principal=who, now=at)
        version += 1
    return orders.decide_order(engine, order_id, version, principal=who, findings=findings, now=at, **kw)


def version_of(engine, case_id: int) -> int:
    with engine.connect() as conn:
        return case_store.case_row(conn, case_id)["version"]


def walk(engine, case_id: int, *, local: Principal, checker: Principal, county: Principal, start: datetime, until: str = "county_approval") -> datetime:
    """Village review and notice by ``local``, the township check by ``checker`` once the notice
    ended, the county approval by ``county``; stops after ``until``.  Returns the last step's time."""
    at = start
    procedure.village_review(engine, case_id, version_of(engine, case_id), passed=True, meeting_date=at.date(), document="村民代表会议记录", principal=local, now=at)
    if until == "village_review":
        return at
    end = procedure.start_notice(engine, case_id, version_of(engine, case_id), first_day=at.date(), document="公示", principal=local, now=at)
    if until == "notice":
        return at
    at = datetime.combine(end, at.time())
    procedure.township_check(engine, case_id, version_of(engine, case_id), passed=True, principal=checker, now=at)
    if until == "township_check":
        return at
    at += timedelta(days=1)
    procedure.county_approval(engine, case_id, version_of(engine, case_id), passed=True, document="公告", principal=county, now=at)
    return at
