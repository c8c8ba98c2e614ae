"""The monitoring workflow on SQLite and PostgreSQL: clues, orders (state machine, optimistic
locking with two concurrent writers), closed-loop figures, elimination rules and approval."""

from __future__ import annotations

import json
import threading
from datetime import date, datetime

import numpy as np
import pytest
from sqlalchemy import func, insert, select

from fanpin import store
from fanpin.access.roles import SYSTEM, AccessDenied, Principal
from fanpin.engine.trends import PanelScores
from fanpin.store import monitoring_records
from fanpin.store import schema as S
from fanpin.workflow import clues, common, elimination, monitoring, orders, procedure
from tests.conftest import insert_tiny_regions
from tests.workflow.chain import decide, version_of, walk

T1, T2 = "990101001000", "990101002000"
V1, V2 = "990101001001", "990101002001"
HH = ["99010100100100001", "99010100100100002", "99010100200100003", "99010100200100004"]
LINE = {2024: 7800.0, 2025: 8100.0}


def P(name: str) -> Principal:
    """A county-wide user who may do everything, named ``name`` (who/when columns say it)."""
    return Principal(name, "admin")


def _db(url: str):
    engine = store.make_engine(url, create=True)
    store.upgrade(engine)
    with engine.begin() as conn:
        insert_tiny_regions(conn)
        conn.execute(insert(S.households), [
            {"household_id": h, "village_code": V1 if i < 2 else V2, "township_code": T1 if i < 2 else T2, "household_type": "ordinary", "size": 3,
             "relocated": False, "no_labour_guarantee": i == 3, "in_cooperative": False}
            for i, h in enumerate(HH)
        ])
        store.set_meta(conn, "income_lines", json.dumps({str(k): v for k, v in LINE.items()}))
    return engine


def _panel(engine, hid: str, incomes: dict[int, float], spend: float = 0.0, net: float = 30000.0) -> None:
    with engine.begin() as conn:
        conn.execute(insert(S.panel), [
            {"period": p, "household_id": hid, "income_net": net, "income_pc": v, "medical_oop": spend, "schooling_cost": 0.0, "disaster_loss": 0.0}
            for p, v in incomes.items()
        ])


def _clue(engine, hid: str, risk: str = "illness", period: int = 202506, at: datetime = datetime(2025, 6, 3, 9)) -> int:
    return clues.add_clue(engine, hid, period, "department", "medical_insurance", risk, "test", 12000.0, received_at=at, principal=SYSTEM)


@pytest.fixture
def eng(db_url: str):
    e = _db(db_url)
    yield e
    e.dispose()


def test_clues_merge_and_inbox_filters(eng) -> None:
    a = _clue(eng, HH[0])
    b = _clue(eng, HH[0], at=datetime(2025, 6, 5))  # same household, cause, month -> merged
    c = _clue(eng, HH[0], risk="disaster")  # other cause: its own clue
    d = _clue(eng, HH[0], period=202507, at=datetime(2025, 7, 2))  # other month
    e = clues.add_clue(eng, HH[2], 202506, "self_report", "household", "accident", received_at=datetime(2025, 6, 20), principal=SYSTEM)
    box = clues.clue_inbox(eng, principal=SYSTEM, today=date(2025, 7, 3))
    assert sorted(box["clue_id"]) == sorted([a, c, d, e])
    merged = clues.clue_inbox(eng, principal=SYSTEM, statuses=("merged",), today=date(2025, 7, 3))
    assert merged["clue_id"].tolist() == [b] and merged["merged_into"].tolist() == [a]
    assert clues.clue_inbox(eng, principal=SYSTEM, township=T2)["clue_id"].tolist() == [e]
    assert clues.clue_inbox(eng, principal=SYSTEM, source="household")["clue_id"].tolist() == [e]
    assert sorted(clues.clue_inbox(eng, principal=SYSTEM, risk_type="illness")["clue_id"]) == sorted([a, d])
    young = clues.clue_inbox(eng, principal=SYSTEM, max_age_days=14, today=date(2025, 7, 3))
    assert sorted(young["clue_id"]) == sorted([d, e])
    assert young.set_index("clue_id").loc[e, "age_days"] == 13
    with pytest.raises(common.WorkflowError) as err:  # an unknown household: a clear refusal, not a foreign-key error
        clues.add_clue(eng, "no-such-household", 202506, "cadre_visit", "cadre", "illness", principal=SYSTEM)
    assert err.value.code == "no_household"
    # feed duplicates inserted in bulk (as the demo does) merge after the fact, once
    with eng.begin() as conn:
        conn.execute(insert(S.clues), [{"household_id": HH[1], "period": 202506, "channel": "department", "source": "hrss", "risk_type": "unstable_work",
                                        "received_at": datetime(2025, 6, k), "status": "new"} for k in (1, 2, 3)])
    assert clues.merge_duplicates(eng) == 2
    assert clues.merge_duplicates(eng) == 0


def test_scoring_clues_are_idempotent(eng) -> None:
    ids = np.array(sorted(HH), dtype=object)
    tier = np.array([[0, 2], [2, 2], [1, 2], [-1, 2]], dtype=np.int8)  # newly red: HH0, HH2 (HH1 already red, HH3 absent before)
    ps = PanelScores([202505, 202506], ids, np.array([T1, T1, T2, T2], dtype=object), np.array([T1, T2], dtype=object),
                     np.full((4, 2), 70.0, dtype=np.float32), tier, np.zeros((4, 2), dtype=np.float32), np.array([7800.0, 7800.0]))
    cadre = clues.add_clue(eng, HH[2], 202506, "cadre_visit", "cadre", "other", "收入偏低", received_at=datetime(2025, 6, 2), principal=SYSTEM)
    assert clues.generate_scoring_clues(eng, 202506, ps, principal=SYSTEM) == 2
    assert clues.generate_scoring_clues(eng, 202506, ps, principal=SYSTEM) == 0
    box = clues.clue_inbox(eng, principal=SYSTEM, source="scoring", statuses=("new", "merged"))
    assert sorted(box["household_id"]) == [HH[0], HH[2]]
    # HH2 was already reported for "other" this month: its scoring clue merged into the cadre's
    assert box.set_index("household_id").loc[HH[2], "merged_into"] == cadre
    assert box.set_index("household_id").loc[HH[0], "status"] == "new"


def test_order_state_machine_and_audit(eng) -> None:
    a = _clue(eng, HH[0])
    c = _clue(eng, HH[0], risk="disaster", at=datetime(2025, 6, 1, 8))
    x = _clue(eng, HH[2])
    with pytest.raises(common.WorkflowError) as err:
        orders.create_order(eng, clue_ids=[a, x], assignee_kind="township", assignee=T1, principal=P("u1"))
    assert err.value.code == "mixed_households"
    oid = orders.create_order(eng, clue_ids=[a, c], assignee_kind="township", assignee=T1, principal=P("u1"), now=datetime(2025, 6, 4, 10))
    o = orders.get_order(eng, oid, principal=SYSTEM)
    assert o["state"] == "open" and o["version"] == 1 and o["clue_ids"] == sorted([a, c])
    assert o["due_date"] == date(2025, 6, 16)  # 15 days from the first clue (June 1)
    with pytest.raises(common.WorkflowError) as err:  # clue already taken
        orders.create_order(eng, clue_ids=[a], assignee_kind="township", assignee=T1, principal=P("u2"))
    assert err.value.code == "clue_taken"
    orders.start_verification(eng, oid, 1, principal=P("u1"))
    orders.assign_order(eng, oid, 2, "department", "medical_insurance", principal=P("u1"))
    orders.add_note(eng, oid, 3, "入户核实", findings="医疗支出属实", principal=P("u2"))
    o = orders.get_order(eng, oid, principal=SYSTEM)
    assert (o["state"], o["assignee"], o["version"], o["updated_by"], o["findings"]) == ("verifying", "medical_insurance", 4, "u2", "医疗支出属实")
    assert "u2: 入户核实" in o["notes"]
    with pytest.raises(common.WorkflowError) as err:
        orders.decide_order(eng, oid, 4, included=True, principal=P("u1"), period=202506, category=None, risk_types=["illness"])
    assert err.value.code == "need_category"
    case_id = orders.decide_order(
        eng, oid, 4, included=True, principal=P("u1"), period=202506, category="sudden_hardship", risk_types=["illness", "disaster"], now=datetime(2025, 6, 10, 15),
    )
    with pytest.raises(common.WorkflowError) as err:  # deciding a decided order
        orders.decide_order(eng, oid, 5, included=False, principal=P("u2"), period=202506, reason="x")
    assert err.value.code == "bad_transition" and "decided" in str(err.value)
    with eng.connect() as conn:
        statuses = {r[0] for r in conn.execute(select(S.clues.c.status).where(S.clues.c.clue_id.in_([a, c])))}
        mon = conn.execute(select(S.monitoring)).mappings().all()
        audit = [r[0] for r in conn.execute(select(S.audit_log.c.action).order_by(S.audit_log.c.audit_id))]
    assert statuses == {"closed"}
    assert mon == []  # an inclusion takes effect at the county's approval, not at the decision
    case = procedure.cases(eng, principal=SYSTEM).iloc[0]
    assert (case["case_id"], case["kind"], case["state"], case["origin"], case["category"], case["risk_types"]) == (
        case_id, "inclusion", "village_review", "department", "sudden_hardship", "illness,disaster")
    assert audit == ["order_created", "order_started", "order_note", "order_decided"]
    # not included needs a reason; an order from a household ID alone
    o2 = orders.create_order(eng, household_id=HH[2], assignee_kind="township", assignee=T2, principal=P("u1"), now=datetime(2025, 6, 1))
    with pytest.raises(common.WorkflowError) as err:
        orders.decide_order(eng, o2, 1, included=False, principal=P("u1"), period=202506, reason=" ")
    assert err.value.code == "need_reason"
    with pytest.raises(common.WorkflowError) as err:  # no verification started: no decision (a double click on 提交研判)
        orders.decide_order(eng, o2, 1, included=False, principal=P("u1"), period=202506, reason="收入达标", findings="收入达标")
    assert err.value.code == "not_verifying"
    orders.start_verification(eng, o2, 1, principal=P("u1"), now=datetime(2025, 6, 2))
    with pytest.raises(common.WorkflowError) as err:  # verification started, nothing found yet
        orders.decide_order(eng, o2, 2, included=False, principal=P("u1"), period=202506, reason="收入达标")
    assert err.value.code == "need_findings"
    assert orders.get_order(eng, o2, principal=SYSTEM)["state"] == "verifying"
    orders.decide_order(eng, o2, 2, included=False, principal=P("u1"), period=202506, reason="收入达标", findings="工资流水核实", now=datetime(2025, 6, 30))
    # closed loop: o1 decided in 9 days (June 1 -> 10), on time; o2 decided on June 30, due June 16 -> overdue
    o3 = orders.create_order(eng, household_id=HH[1], assignee_kind="department", assignee="hrss", principal=P("u1"), now=datetime(2025, 6, 1))
    cl = orders.closed_loop(eng, today=date(2025, 7, 1), principal=SYSTEM)  # o3 open and past due
    assert (cl.orders, cl.decided, cl.median_days, cl.overdue) == (3, 2, (9 + 29) / 2, 2)
    assert cl.overdue_share == pytest.approx(2 / 3)
    bt = cl.by_township.set_index("township_code")
    assert bt.loc[T1, "orders"] == 2 and bt.loc[T1, "overdue"] == 1 and bt.loc[T2, "overdue_share"] == 1.0
    bd = cl.by_department.set_index("assignee")
    assert set(bd.index) == {"medical_insurance", "hrss"} and bd.loc["hrss", "overdue"] == 1
    lst = orders.list_orders(eng, states=("open",), today=date(2025, 7, 1), principal=SYSTEM)
    assert lst["order_id"].tolist() == [o3] and bool(lst["overdue"].iloc[0])


def test_stale_order_is_refused_with_who_and_when(eng) -> None:
    oid = orders.create_order(eng, household_id=HH[0], assignee_kind="township", assignee=T1, principal=P("u1"))
    orders.start_verification(eng, oid, 1, principal=P("alice"), now=datetime(2025, 6, 5, 9, 30))
    with pytest.raises(common.StaleOrder) as err:  # bob still holds version 1
        orders.add_note(eng, oid, 1, "my note", principal=P("bob"))
    assert err.value.changed_by == "alice" and err.value.changed_at == datetime(2025, 6, 5, 9, 30) and err.value.version == 2
    assert "alice" in str(err.value) and "2025-06-05 09:30" in str(err.value) and "reload" in str(err.value)
    assert orders.get_order(eng, oid, principal=SYSTEM)["notes"] is None


def test_two_concurrent_writers_cannot_overwrite_each_other(db_url: str) -> None:
    e0 = _db(db_url)
    oid = orders.create_order(e0, household_id=HH[0], assignee_kind="township", assignee=T1, principal=P("u0"))
    orders.start_verification(e0, oid, 1, principal=P("u0"))
    engines = [store.make_engine(db_url), store.make_engine(db_url)]
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def work(name: str, engine, included: bool) -> None:
        version = orders.get_order(engine, oid, principal=SYSTEM)["version"]  # both read version 2
        barrier.wait()
        try:
            if included:
                orders.decide_order(engine, oid, version, included=True, principal=P(name), period=202506, category="marginal", risk_types=["illness"], findings="f")
            else:
                orders.decide_order(engine, oid, version, included=False, principal=P(name), period=202506, reason="not needed", findings="f")
            results[name] = "ok"
        except common.StaleOrder as exc:
            results[name] = exc
        except common.WorkflowError as exc:  # lost after the winner committed
            results[name] = exc

    threads = [threading.Thread(target=work, args=("alice", engines[0], True)), threading.Thread(target=work, args=("bob", engines[1], False))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    winners = [k for k, v in results.items() if v == "ok"]
    assert len(winners) == 1, results
    loser = "bob" if winners == ["alice"] else "alice"
    assert isinstance(results[loser], common.StaleOrder) and results[loser].changed_by == winners[0]
    o = orders.get_order(e0, oid, principal=SYSTEM)
    assert o["version"] == 3 and o["decided_by"] == winners[0]
    with e0.connect() as conn:
        n_cases = conn.execute(select(func.count()).select_from(S.cases)).scalar()
        n_audit = conn.execute(select(func.count()).select_from(S.audit_log).where(S.audit_log.c.action == "order_decided")).scalar()
    assert n_cases == (1 if winners == ["alice"] else 0) and n_audit == 1
    for e in (*engines, e0):
        e.dispose()


def _months(start: int, n: int) -> list[int]:
    return [store.shift_period(start, k) for k in range(n)]


def test_elimination_rules_edge_cases(eng) -> None:
    months = _months(202501, 6)  # Jan..Jun 2025, line 8,100
    _panel(eng, HH[0], {m: 8100.0 for m in months})  # exactly at the line for six months: eligible
    _panel(eng, HH[1], {**{m: 9000.0 for m in months}, 202503: 8099.0})  # one month below: run of 3
    _panel(eng, HH[2], {m: 9000.0 for m in months}, spend=9000.0, net=30000.0)  # spending 30% of income: not below
    _panel(eng, HH[3], {m: 9000.0 for m in months})  # no labour capacity: stays monitored
    el = elimination.elimination_eligibility(eng, HH, 202506, principal=SYSTEM).frame.set_index("household_id")
    assert el["months_above"].tolist() == [6, 3, 6, 6]
    assert el["income_ok"].tolist() == [True, False, True, True]
    assert el["spending_ok"].tolist() == [True, True, False, True]
    assert el["eligible"].tolist() == [True, False, False, False]
    # five months of data only
    assert elimination.elimination_eligibility(eng, [HH[0]], 202505, principal=SYSTEM).frame["months_above"].tolist() == [5]
    assert elimination.elimination_eligibility(eng, [HH[0]], 202505, principal=SYSTEM).frame["eligible"].tolist() == [False]
    # the 2024 line applies to 2024 months: Dec 2024 at 7,900 is above 7,800
    _panel(eng, HH[0], {202412: 7900.0})
    assert elimination.elimination_eligibility(eng, [HH[0]], 202506, stable_months=7, principal=SYSTEM).frame["eligible"].tolist() == [True]
    assert monitoring.early_elimination(202505, 202506) and monitoring.early_elimination(202506, 202506)
    assert monitoring.early_elimination(202504, 202506) and monitoring.early_elimination(202512, 202602)  # two months: still flagged
    assert not monitoring.early_elimination(202503, 202506) and not monitoring.early_elimination(202511, 202602)


def test_inclusion_and_elimination_pass_the_official_procedure(eng) -> None:
    """Both cases pass village review, notice (at least the province's days), a township check by
    someone other than the opener and a county approval by someone other than both; only the
    county's approval changes the register, the history and the national record."""
    alice, bob, carol = P("alice"), P("bob"), P("carol")
    _panel(eng, HH[0], {m: 9000.0 for m in _months(202501, 6)})
    _panel(eng, HH[1], {m: 5000.0 for m in _months(202501, 6)})
    with pytest.raises(common.WorkflowError) as err:  # not monitored yet
        elimination.propose_elimination(eng, HH[0], 202506, "by_assistance", principal=alice)
    assert err.value.code == "not_monitored"
    start = datetime(2025, 5, 6, 10)
    cases = {}
    for hid in HH[:2]:
        oid = orders.create_order(eng, household_id=hid, assignee_kind="township", assignee=T1, principal=alice, now=start)
        cases[hid] = decide(eng, oid, alice, at=start, included=True, period=202505, category="marginal", risk_types=["illness"])
    cid = cases[HH[0]]
    assert monitoring.register(eng, principal=SYSTEM).empty  # decided, not yet approved
    procedure.village_review(eng, cid, version_of(eng, cid), passed=True, meeting_date=date(2025, 5, 7), document="会议记录", principal=alice, now=datetime(2025, 5, 7, 9))
    end = procedure.start_notice(eng, cid, version_of(eng, cid), first_day=date(2025, 5, 8), principal=alice, now=datetime(2025, 5, 8, 9))
    assert end == date(2025, 5, 13)  # five days by default
    with pytest.raises(common.WorkflowError) as err:  # the notice is still running
        procedure.township_check(eng, cid, version_of(eng, cid), passed=True, principal=bob, now=datetime(2025, 5, 12, 18))
    assert err.value.code == "notice_running" and err.value.fields["days"] == 1
    with pytest.raises(common.WorkflowError) as err:  # the opener does not check their own case
        procedure.township_check(eng, cid, version_of(eng, cid), passed=True, principal=alice, now=datetime(2025, 5, 13, 9))
    assert err.value.code == "same_person"
    procedure.township_check(eng, cid, version_of(eng, cid), passed=True, principal=bob, now=datetime(2025, 5, 13, 9))
    with pytest.raises(common.WorkflowError) as err:  # nor approves the case they checked
        procedure.county_approval(eng, cid, version_of(eng, cid), passed=True, principal=bob, now=datetime(2025, 5, 14, 9))
    assert err.value.code == "same_person"
    with pytest.raises(common.WorkflowError) as err:  # a rejection needs its reason
        procedure.county_approval(eng, cid, version_of(eng, cid), passed=False, principal=carol, now=datetime(2025, 5, 14, 9))
    assert err.value.code == "need_reason"
    procedure.county_approval(eng, cid, version_of(eng, cid), passed=False, reason="公示材料不全", principal=carol, now=datetime(2025, 5, 14, 9))
    case = procedure.cases(eng, household_id=HH[0], principal=SYSTEM).iloc[0]
    assert (case["state"], case["returned_reason"], bool(case["closed"])) == ("returned", "公示材料不全", False)
    procedure.resubmit(eng, cid, version_of(eng, cid), note="补齐材料", principal=alice, now=datetime(2025, 5, 15, 9))
    walk(eng, cid, local=alice, checker=bob, county=carol, start=datetime(2025, 5, 15, 10))
    walk(eng, cases[HH[1]], local=alice, checker=bob, county=carol, start=datetime(2025, 5, 15, 10))
    steps = procedure.steps(eng, [cid], principal=SYSTEM)
    assert steps["step"].tolist() == ["opened", "village_review", "notice", "township_check", "county_approval", "resubmitted",
                                      "village_review", "notice", "township_check", "county_approval"]
    assert steps["result"].tolist()[4] == "rejected" and steps["done_by"].tolist()[-2:] == ["bob", "carol"]
    reg = monitoring.register(eng, principal=SYSTEM).set_index("household_id")
    assert reg.loc[HH[0], "status"] == "monitored" and reg.loc[HH[0], "since"] == 202505
    # risk elimination: the rules, then the same chain
    with pytest.raises(common.WorkflowError) as err:
        elimination.propose_elimination(eng, HH[1], 202506, "natural", principal=alice)
    assert err.value.code == "not_eligible" and err.value.fields["months_above"] == 0
    pid = elimination.propose_elimination(eng, HH[0], 202506, "by_assistance", principal=alice, now=datetime(2025, 7, 1, 9))
    with pytest.raises(common.WorkflowError) as err:
        elimination.propose_elimination(eng, HH[0], 202506, "by_assistance", principal=bob)
    assert err.value.code == "already_proposed"
    reg = monitoring.register(eng, principal=SYSTEM).set_index("household_id")
    assert reg.loc[HH[0], "status"] == "proposed" and reg.loc[HH[0], "proposed_by"] == "alice" and reg.loc[HH[0], "proposal_id"] == pid
    ecase = procedure.cases(eng, household_id=HH[0], kinds=["elimination"], principal=SYSTEM).iloc[0]
    assert (ecase["state"], ecase["proposal_id"], ecase["method"]) == ("village_review", pid, "by_assistance")
    walk(eng, int(ecase["case_id"]), local=alice, checker=bob, county=carol, start=datetime(2025, 7, 2, 9))
    hist = monitoring.monitoring_history(eng, HH[0], principal=SYSTEM)
    assert hist["status"].tolist() == ["monitored", "proposed", "eliminated"]  # append-only history
    last = hist.iloc[-1]
    assert (last["method"], last["recorded_by"], last["approved_by"], last["proposal_id"]) == ("by_assistance", "alice", "carol", pid)
    assert HH[0] not in set(monitoring.register(eng, principal=SYSTEM)["household_id"])
    # the national record is written by the same steps: one register for imported and in-app cases
    rec = monitoring_records.records(eng, HH[:2]).set_index("household_id")
    assert rec.loc[HH[1], ["monitoring_category", "risk_1", "risk_2", "identified_period", "eliminated"]].tolist() == ["marginal", "illness", None, 202505, False]
    assert rec.loc[HH[0], ["identified_period", "eliminated", "elimination_method", "eliminated_period"]].tolist() == [202505, True, "by_assistance", 202506]
    full = monitoring.register(eng, include_eliminated=True, principal=SYSTEM).set_index("household_id")
    assert full.loc[HH[0], "status"] == "eliminated" and full.loc[HH[1], "status"] == "monitored"
    with eng.connect() as conn:
        actions = [r[0] for r in conn.execute(select(S.audit_log.c.action).order_by(S.audit_log.c.audit_id))]
    assert actions[-6:] == ["elimination_proposed", "case_step", "case_step", "case_step", "case_step", "elimination_approved"]


def test_a_withdrawn_elimination_leaves_the_household_monitored(eng) -> None:
    _panel(eng, HH[0], {m: 9000.0 for m in _months(202501, 6)})
    oid = orders.create_order(eng, household_id=HH[0], assignee_kind="township", assignee=T1, principal=P("alice"), now=datetime(2025, 1, 3))
    cid = decide(eng, oid, P("alice"), at=datetime(2025, 1, 3), included=True, period=202501, category="marginal", risk_types=["illness"])
    walk(eng, cid, local=P("alice"), checker=P("bob"), county=P("carol"), start=datetime(2025, 1, 4, 9))
    pid = elimination.propose_elimination(eng, HH[0], 202506, "natural", principal=P("alice"), now=datetime(2025, 7, 1, 9))
    ecase = int(procedure.cases(eng, household_id=HH[0], kinds=["elimination"], principal=SYSTEM).iloc[0]["case_id"])
    procedure.village_review(eng, ecase, version_of(eng, ecase), passed=False, meeting_date=date(2025, 7, 2), reason="收入不稳", principal=P("alice"), now=datetime(2025, 7, 2, 9))
    with pytest.raises(common.WorkflowError) as err:
        procedure.withdraw(eng, ecase, version_of(eng, ecase), reason=" ", principal=P("alice"))
    assert err.value.code == "need_reason"
    procedure.withdraw(eng, ecase, version_of(eng, ecase), reason="继续帮扶", principal=P("alice"), now=datetime(2025, 7, 3, 9))
    hist = monitoring.monitoring_history(eng, HH[0], principal=SYSTEM)
    assert hist["status"].tolist() == ["monitored", "proposed", "monitored"] and hist.iloc[-1]["proposal_id"] == pid
    assert monitoring.register(eng, principal=SYSTEM).set_index("household_id").loc[HH[0], "status"] == "monitored"
    # a new proposal may follow: the withdrawn case is closed
    assert elimination.propose_elimination(eng, HH[0], 202506, "natural", principal=P("bob"), now=datetime(2025, 7, 4, 9)) > pid


def test_the_notice_period_is_the_provinces(eng) -> None:
    with eng.begin() as conn:
        store.meta.set_notice_days(conn, 7)
    oid = orders.create_order(eng, household_id=HH[0], assignee_kind="township", assignee=T1, principal=P("alice"), now=datetime(2025, 1, 3))
    cid = decide(eng, oid, P("alice"), at=datetime(2025, 1, 3), included=True, period=202501, category="marginal", risk_types=["illness"])
    walk(eng, cid, local=P("alice"), checker=P("bob"), county=P("carol"), start=datetime(2025, 1, 4, 9), until="notice")
    case = procedure.cases(eng, principal=SYSTEM).iloc[0]
    assert case["notice_end"] == date(2025, 1, 11)
    with pytest.raises(common.WorkflowError) as err:
        procedure.township_check(eng, cid, version_of(eng, cid), passed=True, principal=P("bob"), now=datetime(2025, 1, 10, 23))
    assert err.value.code == "notice_running"


def _race(fns) -> list[object]:
    """Run callables at the same moment on their own threads; their results or exceptions."""
    barrier = threading.Barrier(len(fns))
    out: list[object] = [None] * len(fns)

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = fns[i]()
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(fns))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return out


def test_concurrent_claims_proposals_and_approvals_have_one_winner(db_url: str) -> None:
    e0 = _db(db_url)
    _panel(e0, HH[0], {m: 9000.0 for m in _months(202501, 6)})
    cid = _clue(e0, HH[0])
    a, b = store.make_engine(db_url), store.make_engine(db_url)
    # two people dispatch the same clue at once: one order, the other is told the clue is taken
    res = _race([
        lambda: orders.create_order(a, clue_ids=[cid], assignee_kind="township", assignee=T1, principal=P("alice")),
        lambda: orders.create_order(b, clue_ids=[cid], assignee_kind="department", assignee="hrss", principal=P("bob")),
    ])
    oids = [r for r in res if isinstance(r, int)]
    errs = [r for r in res if isinstance(r, common.WorkflowError)]
    assert len(oids) == 1 and len(errs) == 1 and errs[0].code == "clue_taken", res
    assert len(orders.list_orders(e0, principal=SYSTEM)) == 1  # the loser's order was rolled back with its claim
    case_id = decide(e0, oids[0], P("alice"), at=datetime(2025, 1, 3), included=True, period=202501, category="marginal", risk_types=["illness"])
    walk(e0, case_id, local=P("alice"), checker=P("bob"), county=P("carol"), start=datetime(2025, 1, 4, 9))
    # two people propose the same elimination at once: one proposal, one case (the database's index)
    for _ in range(5):
        res = _race([
            lambda: elimination.propose_elimination(a, HH[0], 202506, "natural", principal=P("alice")),
            lambda: elimination.propose_elimination(b, HH[0], 202506, "by_assistance", principal=P("bob")),
        ])
        won = [r for r in res if isinstance(r, int)]
        assert len(won) == 1, res
        assert {r.code for r in res if not isinstance(r, int)} <= {"already_proposed", "already_open"}, res
        ecase = procedure.cases(e0, household_id=HH[0], kinds=["elimination"], include_closed=False, principal=SYSTEM)
        assert len(ecase) == 1 and int(ecase.iloc[0]["proposal_id"]) == won[0]
        hist = monitoring.monitoring_history(e0, HH[0], principal=SYSTEM)
        assert (hist["status"] == "proposed").sum() == _ + 1  # the loser's proposal row was rolled back
        case = int(ecase.iloc[0]["case_id"])
        procedure.withdraw(e0, case, version_of(e0, case), reason="again", principal=P("alice"))
    pid = elimination.propose_elimination(e0, HH[0], 202506, "natural", principal=P("alice"), now=datetime(2025, 7, 1, 9))
    case = int(procedure.cases(e0, household_id=HH[0], include_closed=False, principal=SYSTEM).iloc[0]["case_id"])
    walk(e0, case, local=P("alice"), checker=P("bob"), county=P("carol"), start=datetime(2025, 7, 2, 9), until="township_check")
    # two county approvers at once: one elimination row, the other refused
    v = version_of(e0, case)
    res = _race([
        lambda: procedure.county_approval(a, case, v, passed=True, principal=P("dave"), now=datetime(2025, 7, 9)),
        lambda: procedure.county_approval(b, case, v, passed=True, principal=P("erin"), now=datetime(2025, 7, 9)),
    ])
    assert sum(r is None for r in res) == 1, res
    assert [r.code for r in res if isinstance(r, common.WorkflowError)] in (["stale_case"], ["already_resolved"]), res
    hist = monitoring.monitoring_history(e0, HH[0], principal=SYSTEM)
    assert hist["status"].tolist()[-1] == "eliminated" and (hist["status"] == "eliminated").sum() == 1 and hist.iloc[-1]["proposal_id"] == pid
    for e in (a, b, e0):
        e.dispose()


def test_development_measures_flag(eng) -> None:
    with eng.begin() as conn:
        conn.execute(insert(S.assistance), [
            {"household_id": HH[0], "period": 202503, "measure": "health"},
            {"household_id": HH[1], "period": 202503, "measure": "employment"},
            {"household_id": HH[1], "period": 202504, "measure": "industry"},
        ])
    assert elimination.development_measures(eng, HH[0], principal=SYSTEM) == []
    assert elimination.development_measures(eng, HH[1], principal=SYSTEM) == ["employment", "industry"]


def test_no_principal_is_refused_never_unchecked(eng) -> None:
    """``principal=None`` is not "check nothing": every read and write refuses it."""
    cid = _clue(eng, HH[0])
    oid = orders.create_order(eng, clue_ids=[cid], assignee_kind="township", assignee=T1, principal=P("u1"))
    calls = [
        lambda: clues.add_clue(eng, HH[0], 202506, "cadre_visit", "cadre", "water", principal=None),
        lambda: clues.clue_inbox(eng, principal=None),
        lambda: orders.create_order(eng, household_id=HH[1], assignee_kind="township", assignee=T1, principal=None),
        lambda: orders.get_order(eng, oid, principal=None),
        lambda: orders.start_verification(eng, oid, 1, principal=None),
        lambda: orders.list_orders(eng, principal=None),
        lambda: orders.closed_loop(eng, principal=None),
        lambda: monitoring.register(eng, principal=None),
        lambda: monitoring.monitoring_history(eng, principal=None),
        lambda: elimination.elimination_eligibility(eng, HH, 202506, principal=None),
        lambda: elimination.propose_elimination(eng, HH[0], 202506, "natural", principal=None),
    ]
    for call in calls:
        with pytest.raises(AccessDenied):
            call()
    assert orders.get_order(eng, oid, principal=SYSTEM)["version"] == 1


def test_who_acted_is_the_principal(eng) -> None:
    """Who/when columns and audit rows name ``principal.actor``; there is no separate actor argument."""
    oid = orders.create_order(eng, household_id=HH[0], assignee_kind="township", assignee=T1, principal=P("carol"))
    orders.start_verification(eng, oid, 1, principal=P("dave"))
    o = orders.get_order(eng, oid, principal=SYSTEM)
    assert (o["created_by"], o["updated_by"]) == ("carol", "dave")
    with eng.connect() as conn:
        assert [r[0] for r in conn.execute(select(S.audit_log.c.actor).order_by(S.audit_log.c.audit_id))] == ["carol", "dave"]  # 开始核查 is audited too
