"""AppTest: a clue through an order to a decision, and a monitored household through elimination,
on a copy of the small demo county (the shared one stays untouched)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.store import schema as S
from fanpin.workflow import clues, common, elimination, monitoring
from fanpin.workflow import orders as orders_mod
from tests.app.conftest import open_page, switch_user


@pytest.fixture
def wf_db(demo_copy):
    return demo_copy

def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _texts(at) -> str:
    return " ".join(str(x.value) for x in (*at.markdown, *at.caption, *at.success, *at.error, *at.warning, *at.info))


def test_clue_to_decision_and_elimination(wf_db) -> None:
    eng = wf_db
    last = store.periods(eng)[-1]
    as_of = common.as_of_date(last)
    at = open_page("clues", role="case_worker")
    _no_exception(at)
    # feed duplicates were merged when the demo was written; the page shows the inbox the domain function gives
    assert clues.merge_duplicates(eng) == 0
    inbox = clues.clue_inbox(eng, principal=SYSTEM, max_age_days=30, until_period=last, today=as_of)
    assert len(inbox) > 0
    assert f"{len(inbox):,}" in _texts(at) or str(len(inbox)) in _texts(at)
    # scoring clues for the month: the button adds what the domain function finds, once
    at.button(key="cl_gen").click().run()
    n_scoring = len(clues.clue_inbox(eng, principal=SYSTEM, source="scoring", statuses=("new", "merged")))
    assert any(f"新增 {n_scoring} 条" in str(s.value) for s in at.success)
    at.button(key="cl_gen").click().run()
    assert any("新增 0 条" in str(s.value) for s in at.success)
    inbox = clues.clue_inbox(eng, principal=SYSTEM, max_age_days=30, until_period=last, today=as_of)

    # pick a clue about a household that will also be eligible for elimination, if any
    elig = elimination.elimination_eligibility(eng, inbox["household_id"].tolist(), last, principal=SYSTEM).frame.set_index("household_id")["eligible"]
    ok = [i for i, h in enumerate(inbox["household_id"]) if elig.get(h, False)]
    row = ok[0] if ok else 0
    clue_id, hid = int(inbox["clue_id"].iloc[row]), inbox["household_id"].iloc[row]
    at.session_state["cl_inbox"] = {"selection": {"rows": [row], "columns": []}}
    at.run()
    at.button(key="cl_create").click().run()
    _no_exception(at)
    orders = orders_mod.list_orders(eng, principal=SYSTEM)
    assert len(orders) == 1 and orders["household_id"].iloc[0] == hid
    oid = int(orders["order_id"].iloc[0])
    assert orders_mod.get_order(eng, oid, principal=SYSTEM)["clue_ids"] == [clue_id]
    assert orders_mod.get_order(eng, oid, principal=SYSTEM)["created_by"] == "case_worker"
    assert orders_mod.get_order(eng, oid, principal=SYSTEM)["assignee"] == inbox["township_code"].iloc[row]  # the clue's township by default

    at.button(key="cl_start").click().run()
    _no_exception(at)
    assert orders_mod.get_order(eng, oid, principal=SYSTEM)["state"] == "verifying"
    at.text_area(key="cl_note").input("入户核实医疗票据")
    at.text_area(key=f"cl_findings_{oid}").input("自付支出属实")
    at.button(key="cl_note_save").click().run()
    _no_exception(at)
    o = orders_mod.get_order(eng, oid, principal=SYSTEM)
    assert (o["version"], o["findings"]) == (3, "自付支出属实") and o["notes"].endswith("case_worker: 入户核实医疗票据")
    at.radio(key="cl_decision_zh").set_value("included").run()
    at.selectbox(key="cl_category_zh").set_value("sudden_hardship").run()
    assert at.multiselect(key=f"cl_risks_{oid}_zh").value == orders_mod.order_risk_types(eng, oid, principal=SYSTEM)
    at.button(key="cl_decide").click().run()
    _no_exception(at)
    o = orders_mod.get_order(eng, oid, principal=SYSTEM)
    assert (o["state"], o["decision"], o["category"], o["decided_by"]) == ("decided", "included", "sudden_hardship", "case_worker")
    with eng.connect() as conn:
        assert conn.execute(select(S.clues.c.status).where(S.clues.c.clue_id == clue_id)).scalar() == "closed"
        assert [r[0] for r in conn.execute(select(S.audit_log.c.action).where(S.audit_log.c.action.like("order_%")))] == ["order_created", "order_decided"]

    # someone else changes an order this user has open: a clear message, nothing overwritten
    leader = Principal("leader", "admin")  # someone else, with the rights to work the order
    o2 = orders_mod.create_order(eng, household_id=hid, assignee_kind="department", assignee="hrss", principal=leader)
    at.run()
    at.selectbox(key="cl_order_zh").set_value(o2).run()
    orders_mod.start_verification(eng, o2, 1, principal=leader)
    at.button(key="cl_start").click().run()
    _no_exception(at)
    assert any("leader" in str(e.value) or "局领导" in str(e.value) for e in at.error) or any("局领导" in str(w.value) for w in at.warning)
    assert orders_mod.get_order(eng, o2, principal=SYSTEM)["version"] == 2

    if not ok:  # no eligible household among the clues: take one by household ID
        all_ids = elimination.elimination_eligibility(eng, [hid], last, principal=SYSTEM).frame
        pytest.skip(f"no eligible household among the demo clues ({all_ids.to_dict('records')})")

    # ---- the register: propose, refuse self-approval, approve as a second person
    at = open_page("register", role="case_worker")
    _no_exception(at)
    assert hid in list(at.dataframe[0].value.iloc[:, 0])
    at.selectbox(key="rg_hid").set_value(hid).run()
    at.radio(key="rg_method").set_value("by_assistance").run()
    at.button(key="rg_propose").click().run()
    _no_exception(at)
    hist = monitoring.monitoring_history(eng, hid, principal=SYSTEM)
    assert hist["status"].tolist() == ["monitored", "proposed"]
    at.button(key="rg_approve").click().run()
    assert any("另一人" in str(e.value) for e in at.error)  # the proposer cannot approve
    assert monitoring.monitoring_history(eng, hid, principal=SYSTEM)["status"].tolist() == ["monitored", "proposed"]
    switch_user(at, "leader")
    at.button(key="rg_approve").click().run()
    _no_exception(at)
    hist = monitoring.monitoring_history(eng, hid, principal=SYSTEM)
    assert hist["status"].tolist() == ["monitored", "proposed", "eliminated"]
    assert (hist["recorded_by"].iloc[-1], hist["approved_by"].iloc[-1], hist["method"].iloc[-1]) == ("case_worker", "leader", "by_assistance")
    # identified and eliminated in the same month: flagged
    assert monitoring.early_eliminations(eng, principal=SYSTEM)["household_id"].tolist()[-1] == hid


@pytest.mark.parametrize("page", ["clues", "register"])
def test_pages_in_english(wf_db, page: str) -> None:
    eng = wf_db
    last = store.periods(eng)[-1]
    box = clues.clue_inbox(eng, principal=SYSTEM, until_period=last)
    analyst = Principal("analyst", "admin")
    o1 = orders_mod.create_order(eng, clue_ids=[int(box["clue_id"].iloc[0])], assignee_kind="township", assignee=box["township_code"].iloc[0], principal=analyst)
    orders_mod.decide_order(eng, o1, 1, included=True, principal=analyst, period=last, category="marginal", risk_types=["illness"])
    orders_mod.create_order(eng, household_id=box["household_id"].iloc[1], assignee_kind="department", assignee="hrss", principal=analyst)
    at = open_page(page, lang="en")
    _no_exception(at)
    assert at.title[0].value in ("Warning clues and verification orders", "Monitoring register")
