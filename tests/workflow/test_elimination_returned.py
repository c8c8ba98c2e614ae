"""A risk elimination returned by the township and resubmitted, each step by a different person of
the roles that take it in practice (case workers, the township leader, the bureau leader), on SQLite
and PostgreSQL.

The browser journey (tests/browser/test_journeys.py) clicks one whole chain through the register
page (the inclusion, with a rejection by the county and a resubmission) and proposes the
elimination on the page; the elimination's own chain (the same form) is walked here, at the
domain level, where it costs milliseconds instead of minutes."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from fanpin.access.roles import SYSTEM, Principal
from fanpin.workflow import common, elimination, monitoring, orders, procedure
from tests.workflow.chain import decide, version_of
from tests.workflow.test_workflow import HH, T1, _db, _months, _panel

CW_A, CW_B, CW_C = (Principal(n, "case_worker", frozenset({T1})) for n in ("cw_a", "cw_b", "cw_c"))
TL_A = Principal("tl_a", "township_leader", frozenset({T1}))
LEADER_A = Principal("leader_a", "leader")


@pytest.fixture
def eng(db_url: str):
    e = _db(db_url)
    yield e
    e.dispose()


def _chain(eng, case_id: int, start: datetime, *, township_passes: bool) -> None:
    """Village review by B, the notice by C (five days), the township check by the township leader;
    the county's approval by the bureau leader when the township passed it."""
    procedure.village_review(eng, case_id, version_of(eng, case_id), passed=True, meeting_date=start.date(), document="评议通过", principal=CW_B, now=start)
    end = procedure.start_notice(eng, case_id, version_of(eng, case_id), first_day=start.date(), document="公示", principal=CW_C, now=start)
    at = datetime.combine(end, start.time())
    if not township_passes:
        with pytest.raises(common.WorkflowError) as err:  # a rejection needs its reason
            procedure.township_check(eng, case_id, version_of(eng, case_id), passed=False, principal=TL_A, now=at)
        assert err.value.code == "need_reason"
        procedure.township_check(eng, case_id, version_of(eng, case_id), passed=False, reason="收入证明不全", principal=TL_A, now=at)
        return
    procedure.township_check(eng, case_id, version_of(eng, case_id), passed=True, document="同意", principal=TL_A, now=at)
    procedure.county_approval(eng, case_id, version_of(eng, case_id), passed=True, document="公告第10号", principal=LEADER_A, now=at.replace(hour=at.hour + 1))


def test_an_elimination_returned_by_the_township_is_resubmitted_and_approved(eng) -> None:
    _panel(eng, HH[0], {m: 9000.0 for m in _months(202501, 6)})
    oid = orders.create_order(eng, household_id=HH[0], assignee_kind="township", assignee=T1, principal=CW_A, now=datetime(2025, 1, 3))
    cid = decide(eng, oid, CW_A, at=datetime(2025, 1, 3), included=True, period=202501, category="marginal", risk_types=["illness"])
    _chain(eng, cid, datetime(2025, 1, 4, 9), township_passes=True)
    assert HH[0] in set(monitoring.register(eng, principal=SYSTEM)["household_id"])
    pid = elimination.propose_elimination(eng, HH[0], 202506, "by_assistance", principal=CW_A, now=datetime(2025, 7, 1, 9))
    ecase = int(procedure.cases(eng, household_id=HH[0], kinds=["elimination"], principal=SYSTEM).iloc[0]["case_id"])
    # the first round: the township leader returns it with its reason; the household stays monitored
    _chain(eng, ecase, datetime(2025, 7, 2, 9), township_passes=False)
    case = procedure.cases(eng, household_id=HH[0], kinds=["elimination"], principal=SYSTEM).iloc[0]
    assert (case["state"], case["returned_reason"], bool(case["closed"])) == ("returned", "收入证明不全", False)
    assert monitoring.register(eng, principal=SYSTEM).set_index("household_id").loc[HH[0], "status"] == "proposed"
    assert monitoring.monitoring_history(eng, HH[0], principal=SYSTEM)["status"].tolist() == ["monitored", "proposed"]
    with pytest.raises(common.WorkflowError):  # a returned case takes no step until it is resubmitted
        procedure.village_review(eng, ecase, version_of(eng, ecase), passed=True, meeting_date=date(2025, 7, 10), principal=CW_B, now=datetime(2025, 7, 10, 9))
    # case worker A resubmits; the chain again, each step by its person, and the county approves
    procedure.resubmit(eng, ecase, version_of(eng, ecase), note="补齐收入证明", principal=CW_A, now=datetime(2025, 7, 10, 9))
    assert procedure.cases(eng, household_id=HH[0], kinds=["elimination"], principal=SYSTEM).iloc[0]["state"] == "village_review"
    _chain(eng, ecase, datetime(2025, 7, 11, 9), township_passes=True)
    case = procedure.cases(eng, household_id=HH[0], kinds=["elimination"], principal=SYSTEM).iloc[0]
    assert (case["state"], bool(case["closed"])) == ("approved", True)
    steps = procedure.steps(eng, [ecase], principal=SYSTEM)
    assert steps["step"].tolist() == ["opened", "village_review", "notice", "township_check", "resubmitted",
                                      "village_review", "notice", "township_check", "county_approval"]
    assert steps["result"].tolist()[3] == "rejected"
    assert steps["done_by"].tolist()[-4:] == ["cw_b", "cw_c", "tl_a", "leader_a"]
    hist = monitoring.monitoring_history(eng, HH[0], principal=SYSTEM)
    assert hist["status"].tolist() == ["monitored", "proposed", "eliminated"]
    last = hist.iloc[-1]
    assert (last["method"], last["recorded_by"], last["approved_by"], last["proposal_id"]) == ("by_assistance", "cw_a", "leader_a", pid)
    assert HH[0] not in set(monitoring.register(eng, principal=SYSTEM)["household_id"])
