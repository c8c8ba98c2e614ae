"""The official procedure's supervision rules on hand-built cases (SQLite and PostgreSQL):
``procedure_skipped`` (an inclusion or elimination took effect without an approved case that passed
every step of its last round) and ``notice_too_short`` (the township check fewer than the
province's notice days after the notice went up).  Imported records are never flagged."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.quality import rules as R
from fanpin.store import cases as case_store
from fanpin.store import meta as meta_store
from fanpin.store import monitoring as history_store
from fanpin.store import monitoring_records as records_store
from fanpin.store import schema as S
from fanpin.workflow import orders
from tests.conftest import insert_tiny_regions
from tests.workflow.chain import decide, walk

T1, T2 = "990101001000", "990101002000"
V1, V2 = "990101001001", "990101002001"
#: One household per situation (the number is its place in ``HH``).
HH = [f"9901010{'01' if i < 5 else '02'}00100{i:03d}" for i in range(1, 11)]
P = 202506
CODES = ["procedure_skipped", "notice_too_short"]
CW, TL, COUNTY = Principal("cw_one", "admin", None), Principal("tl_one", "admin", None), Principal("leader", "admin", None)


def _db(url: str):
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
        conn.execute(insert(S.households), [
            {"household_id": h, "village_code": V1 if h[7:9] == "01" else V2, "township_code": T1 if h[7:9] == "01" else T2, "household_type": "ordinary",
             "size": 3, "relocated": False, "no_labour_guarantee": False, "in_cooperative": False}
            for h in HH
        ])
        store.set_meta(conn, "income_lines", json.dumps({"2025": 8100.0}))
    return engine


@pytest.fixture
def eng(db_url: str):
    e = _db(db_url)
    yield e
    e.dispose()


def _at(d: date, hour: int = 10) -> datetime:
    return datetime.combine(d, datetime.min.time()) + timedelta(hours=hour)


def _eliminated(engine, hid: str, steps: list[tuple[str, str, date]], *, state: str = "approved") -> int:
    """A household monitored (no order: as if imported into the history) and eliminated in ``P``
    through a case with exactly ``steps`` (step, result, day), written with the store's functions;
    the case's id."""
    first = steps[0][2] if steps else date(2025, 6, 2)
    with engine.begin() as conn:
        history_store.insert_record(conn, {"household_id": hid, "period": 202501, "status": "monitored", "category": "marginal", "risk_types": "illness",
                                           "recorded_at": datetime(2025, 1, 10), "recorded_by": "cw_one"})
        pid = history_store.insert_record(conn, {"household_id": hid, "period": P, "status": "proposed", "category": "marginal", "risk_types": "illness",
                                                 "method": "natural", "recorded_at": _at(first, 9), "recorded_by": "cw_one"})
        case_id = case_store.insert_case(conn, {
            "household_id": hid, "kind": "elimination", "origin": "proposal", "proposal_id": pid, "period": P, "category": "marginal",
            "risk_types": "illness", "method": "natural", "state": state, "closed": state == "approved", "opened_by": "cw_one", "opened_at": _at(first, 9),
            "version": 1, "updated_at": _at(first, 9), "updated_by": "cw_one",
        })
        case_store.insert_step(conn, {"case_id": case_id, "step": "opened", "result": "done", "done_by": "cw_one", "done_at": _at(first, 9)})
        for step, result, day in steps:
            who = {"township_check": "tl_one", "county_approval": "leader"}.get(step, "cw_one")
            case_store.insert_step(conn, {"case_id": case_id, "step": step, "result": result, "done_by": who, "done_at": _at(day),
                                          "step_date": day if step in ("village_review", "notice") else None})
        if state == "approved":
            last = steps[-1][2] if steps else first
            history_store.insert_record(conn, {"household_id": hid, "period": P, "status": "eliminated", "category": "marginal", "risk_types": "illness",
                                               "method": "natural", "recorded_at": _at(last, 16), "recorded_by": "cw_one", "approved_by": "leader",
                                               "proposal_id": pid})
    return case_id


def _chain(review: date, notice: date, check: date, county: date) -> list[tuple[str, str, date]]:
    return [("village_review", "passed", review), ("notice", "done", notice), ("township_check", "passed", check), ("county_approval", "passed", county)]


def _found(engine, period: int = P) -> dict[str, dict[str, str]]:
    f = R.find(engine, period, principal=SYSTEM, codes=CODES)
    return {code: dict(zip(g["household_id"], g["detail"])) for code, g in f.groupby("rule")}


def test_procedure_rules_on_hand_built_cases(eng) -> None:
    d0 = date(2025, 6, 2)
    # HH0: an inclusion through the real workflow, every step by its person: clean
    oid = orders.create_order(eng, assignee_kind="township", assignee=T1, household_id=HH[0], principal=SYSTEM, now=_at(d0, 9))
    case = decide(eng, oid, CW, at=_at(d0 + timedelta(days=1)), included=True, period=P, category="marginal", risk_types=["illness"])
    walk(eng, case, local=CW, checker=TL, county=COUNTY, start=_at(d0 + timedelta(days=2)))
    # HH1: an inclusion with its order written straight into the history: no case at all
    oid1 = orders.create_order(eng, assignee_kind="township", assignee=T1, household_id=HH[1], principal=SYSTEM, now=_at(d0, 9))
    with eng.begin() as conn:
        history_store.insert_record(conn, {"household_id": HH[1], "period": P, "status": "monitored", "category": "marginal", "risk_types": "illness",
                                           "recorded_at": _at(d0, 11), "recorded_by": "cw_one", "order_id": oid1})
    # HH2: an elimination with every step, the check 5 days after the notice (5 required): clean (the boundary)
    _eliminated(eng, HH[2], _chain(d0, d0 + timedelta(days=1), d0 + timedelta(days=6), d0 + timedelta(days=7)))
    # HH3: an elimination whose case never had the notice
    _eliminated(eng, HH[3], [("village_review", "passed", d0), ("township_check", "passed", d0 + timedelta(days=2)), ("county_approval", "passed", d0 + timedelta(days=3))])
    # HH4: an elimination with a 3-day notice when 5 are required
    _eliminated(eng, HH[4], _chain(d0, d0 + timedelta(days=1), d0 + timedelta(days=4), d0 + timedelta(days=5)))
    # HH5: an imported record (the national system's; no history here), eliminated: never checked
    with eng.begin() as conn:
        records_store.record_inclusion(conn, HH[5], "marginal", ["illness"], 202409)
        records_store.record_elimination(conn, HH[5], "natural", 202503)
    # HH6: returned at the township check, resubmitted, and in its second round the notice was skipped
    _eliminated(eng, HH[6], [*_chain(d0, d0, d0 + timedelta(days=6), d0)[:2], ("township_check", "rejected", d0 + timedelta(days=6)),
                             ("resubmitted", "done", d0 + timedelta(days=7)), ("village_review", "passed", d0 + timedelta(days=8)),
                             ("township_check", "passed", d0 + timedelta(days=9)), ("county_approval", "passed", d0 + timedelta(days=10))])
    # HH7: returned, resubmitted and then the whole chain again: clean
    _eliminated(eng, HH[7], [("village_review", "rejected", d0), ("resubmitted", "done", d0 + timedelta(days=1)),
                             *_chain(d0 + timedelta(days=2), d0 + timedelta(days=2), d0 + timedelta(days=8), d0 + timedelta(days=9))])
    # HH8: the history says eliminated, but its case still waits for the county
    _eliminated(eng, HH[8], _chain(d0, d0, d0 + timedelta(days=6), d0)[:3], state="county_approval")
    with eng.begin() as conn:  # ... and the elimination row was written anyway
        pid = int(conn.execute(S.monitoring.select().where(S.monitoring.c.household_id == HH[8], S.monitoring.c.status == "proposed")).mappings().one()["record_id"])
        history_store.insert_record(conn, {"household_id": HH[8], "period": P, "status": "eliminated", "category": "marginal", "method": "natural",
                                           "recorded_at": _at(d0 + timedelta(days=8)), "recorded_by": "cw_one", "approved_by": "leader", "proposal_id": pid})
    # HH9: a proposal still under way (no elimination yet): nothing took effect
    _eliminated(eng, HH[9], _chain(d0, d0, d0 + timedelta(days=6), d0)[:1], state="notice")

    assert meta_store.notice_days(eng) == 5
    got = _found(eng)
    assert set(got["procedure_skipped"]) == {HH[1], HH[3], HH[6], HH[8]}
    assert set(got["notice_too_short"]) == {HH[4]}
    skipped = got["procedure_skipped"]
    assert skipped[HH[1]] == "2025-06纳入监测已生效，无审定通过的程序记录 / inclusion of 2025-06 took effect with no approved case"
    assert skipped[HH[3]] == "2025-06风险消除已生效，程序缺少村内公示 / risk elimination of 2025-06 took effect without village notice"
    assert skipped[HH[6]] == skipped[HH[3]]  # the first round's notice does not count for the second
    assert skipped[HH[8]] == "2025-06风险消除已生效，无审定通过的程序记录 / risk elimination of 2025-06 took effect with no approved case"
    assert got["notice_too_short"][HH[4]] == ("风险消除公示自2025-06-03起仅3天即乡镇审核（规定不少于5天） / risk elimination: township check 3 day(s) "
                                             "after the notice went up on 2025-06-03 (5 required)")
    # the province's notice days decide: 3 clears HH4, 6 flags the boundary case HH2 and the workflow's own (5 days) too
    with eng.begin() as conn:
        meta_store.set_notice_days(conn, 3)
    assert "notice_too_short" not in _found(eng)
    with eng.begin() as conn:
        meta_store.set_notice_days(conn, 6)
    assert set(_found(eng)["notice_too_short"]) == {HH[0], HH[2], HH[4]}
    # a month before any of it took effect: nothing
    assert _found(eng, 202505) == {}
    # a case worker reads their township's findings only
    f = R.find(eng, P, principal=Principal("cw2", "case_worker", frozenset({T2})), codes=CODES)
    assert set(f["household_id"]) == {HH[4], HH[6], HH[8]} and set(f["township_code"]) == {T2}
