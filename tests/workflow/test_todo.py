"""我的待办 (``fanpin.workflow.todo``): what waits for whom, on SQLite and PostgreSQL.

A case worker sees their township's open orders (the overdue one first), the cases waiting for a
step they may take and a case returned to them, never another township's; the township leader
the township's steps (the check once the notice ended); the county leader the county approvals
only.  The count is the number of items, and the digest lists exactly them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import insert

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.core.i18n import translate
from fanpin.store import schema as S
from fanpin.workflow import orders, procedure, todo
from tests.conftest import insert_tiny_regions
from tests.workflow.chain import decide, version_of, walk

T1, T2 = "990101001000", "990101002000"
V1, V2 = "990101001001", "990101002001"
A = [f"99010100100100{i:03d}" for i in range(1, 9)]  # township 1
B = [f"99010100200100{i:03d}" for i in range(1, 4)]  # township 2
P = 202507
TODAY = date(2025, 7, 10)
CW1 = Principal("cw_one", "case_worker", frozenset({T1}))
CW2 = Principal("cw_two", "case_worker", frozenset({T2}))
TL1 = Principal("tl_one", "township_leader", frozenset({T1}))
LEADER = Principal("leader", "leader")


def _at(day: int, month: int = 7, hour: int = 10) -> datetime:
    return datetime(2025, month, day, hour)


@pytest.fixture
def county(db_url: str):
    """Orders and cases of both townships at every stage (see the test for what each is)."""
    eng = store.make_engine(db_url, create=True)
    store.upgrade(eng)
    with eng.begin() as conn:
        insert_tiny_regions(conn)
        conn.execute(insert(S.households), [
            {"household_id": h, "village_code": V1 if h in A else V2, "township_code": T1 if h in A else T2, "household_type": "ordinary", "size": 3,
             "relocated": False, "no_labour_guarantee": False, "in_cooperative": False}
            for h in (*A, *B)
        ])

    def order(hid: str, town: str, at: datetime) -> int:
        return orders.create_order(eng, assignee_kind="township", assignee=town, household_id=hid, principal=SYSTEM, now=at)

    def case(hid: str, town: str, who: Principal, at: datetime) -> int:
        return decide(eng, order(hid, town, at - timedelta(days=1)), who, at=at, included=True, period=P, category="marginal", risk_types=["illness"])

    ids = {
        "overdue": order(A[0], T1, _at(1, 6)),  # due 16 June: overdue
        "open": order(A[1], T1, _at(5)),  # due 20 July
        "other_town": order(B[0], T2, _at(1, 6)),  # overdue, but not township 1's
    }
    ids["verifying"] = order(A[2], T1, _at(1))  # due 16 July
    orders.start_verification(eng, ids["verifying"], 1, principal=CW1, now=_at(2))
    ids["review"] = case(A[3], T1, CW1, _at(2))  # waits for the village review
    ids["county"] = case(A[4], T1, CW1, _at(1))  # passed the township: waits for the county
    walk(eng, ids["county"], local=CW1, checker=TL1, county=LEADER, start=_at(1, hour=14), until="township_check")
    ids["returned"] = case(A[5], T1, CW1, _at(3))  # the village meeting returned it
    procedure.village_review(eng, ids["returned"], version_of(eng, ids["returned"]), passed=False, meeting_date=date(2025, 7, 4), reason="材料不全",
                             principal=CW1, now=_at(4))
    ids["notice_ended"] = case(A[6], T1, CW1, _at(2))  # notice from 3 July: ended 8 July, the township may check
    walk(eng, ids["notice_ended"], local=CW1, checker=TL1, county=LEADER, start=_at(3), until="notice")
    ids["notice_running"] = case(A[7], T1, CW1, _at(7))  # notice from 8 July: runs until 13 July
    walk(eng, ids["notice_running"], local=CW1, checker=TL1, county=LEADER, start=_at(8), until="notice")
    ids["other_case"] = case(B[1], T2, CW2, _at(2))  # township 2's village review
    ids["other_county"] = case(B[2], T2, CW2, _at(1))  # township 2's case waiting for the county
    walk(eng, ids["other_county"], local=CW2, checker=Principal("tl_two", "township_leader", frozenset({T2})), county=LEADER, start=_at(1, hour=14),
         until="township_check")
    yield eng, ids
    eng.dispose()


def _items(d: todo.Digest) -> list[tuple[str, int]]:
    return list(zip(d.items["kind"], d.items["ref"].astype(int)))


def test_a_case_worker_sees_their_townships_work_overdue_first(county) -> None:
    eng, ids = county
    d = todo.my_work(eng, principal=CW1, today=TODAY)
    assert _items(d) == [
        ("order_verify", ids["overdue"]),  # overdue first
        ("order_decide", ids["verifying"]),  # then by days left: 6
        ("order_verify", ids["open"]),  # 10
        ("case_returned", ids["returned"]),
        ("case_step", ids["review"]),
    ]  # not the township check of cases they opened themselves, not the county's, nothing of township 2
    assert d.items["days_left"].tolist()[:3] == [-24, 6, 10]
    assert d.items["overdue"].tolist() == [True, False, False, False, False]
    assert (d.count, d.overdue) == (len(d.items), 1) == (5, 1)
    assert set(d.items["township_code"]) == {T1}
    other = todo.my_work(eng, principal=CW2, today=TODAY)
    assert _items(other) == [("order_verify", ids["other_town"]), ("case_step", ids["other_case"])]


def test_the_township_leader_checks_once_the_notice_ended(county) -> None:
    eng, ids = county
    d = todo.my_work(eng, principal=TL1, today=TODAY)  # no order rights: the township's steps only
    assert _items(d) == [("case_returned", ids["returned"]), ("notice_ended", ids["notice_ended"]), ("case_step", ids["review"])]
    assert d.items.set_index("ref").loc[ids["notice_ended"], "due"] == date(2025, 7, 8)
    later = todo.my_work(eng, principal=TL1, today=date(2025, 7, 13))  # the second notice has run its days too
    assert ("notice_ended", ids["notice_running"]) in _items(later) and later.count == 4


def test_a_leader_sees_county_approvals_only(county) -> None:
    eng, ids = county
    d = todo.my_work(eng, principal=LEADER, today=TODAY)
    assert sorted(_items(d)) == sorted([("case_step", ids["county"]), ("case_step", ids["other_county"])])
    assert set(d.items["step"]) == {"county_approval"} and d.count == 2 and d.overdue == 0


def test_the_digest_lists_exactly_the_items(county) -> None:
    eng, ids = county
    d = todo.my_work(eng, principal=CW1, today=TODAY)
    text = todo.digest_text(d, CW1, TODAY, lambda key, **p: translate(key, "en", **p))
    lines = text.splitlines()
    assert lines[0] == "Work for cw_one (2025-07-10): 5 item(s), 1 overdue"
    assert lines[1] == f"- Start verifying: order {ids['overdue']} · {A[0]} · due 2025-06-16 (-24 day(s) left) · Overdue"
    assert [ln.split(" · ")[1] for ln in lines[1:]] == d.items["household_id"].tolist()
    assert len(lines) == 1 + d.count
