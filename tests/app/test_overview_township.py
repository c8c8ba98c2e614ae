"""The overview filtered to a township (issue 18 item 5): the order figures follow the filter, and
the brief button makes that township's brief."""

from __future__ import annotations

import json

from sqlalchemy import select

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.core import fmt
from fanpin.engine.policies import baseline_policy, stored_lines
from fanpin.engine.summary import township_table
from fanpin.engine.trends import score_panel
from fanpin.store.schema import audit_log
from fanpin.workflow.common import as_of_date
from fanpin.workflow.orders import closed_loop, create_order

from .conftest import finish_jobs, new_app, run_as


def test_a_filtered_overview_counts_the_townships_orders_and_makes_its_brief(demo_copy, small_demo) -> None:
    eng = demo_copy
    spec = small_demo[1]
    period = spec.periods[-1]
    ps = score_panel(store.load_snapshots(eng, store.periods(eng)), baseline_policy(eng, period), stored_lines(eng))
    table = township_table(ps, period)
    code, other = table["township_code"].iloc[1], table["township_code"].iloc[0]
    snap = store.load_snapshot(eng, period)
    for town, n in ((code, 2), (other, 5)):
        for h in snap.loc[snap["township_code"] == town, "household_id"].iloc[:n]:
            create_order(eng, assignee_kind="township", assignee=town, principal=SYSTEM, household_id=h)
    at = new_app()
    at.session_state["ov_township_table"] = {"selection": {"rows": [1], "columns": []}}
    run_as(at, "leader")
    assert not at.exception, at.exception
    loop = closed_loop(eng, as_of_date(period), principal=Principal("x", "leader"), township=code)
    metrics = {m.label: m.value for m in at.metric}
    assert loop.orders == 2 and metrics["核查工单"] == fmt.count(2, "zh")
    assert any("月度研判报告将只含" in i.value for i in at.info)
    at.button(key="ov_brief").click()
    at.run()
    finish_jobs(at)
    assert not at.exception, at.exception
    assert "下载月报 (Word)" in [d.proto.label for d in at.get("download_button")]
    with eng.connect() as conn:
        detail = conn.execute(select(audit_log.c.detail).where(audit_log.c.action == "brief").order_by(audit_log.c.audit_id.desc())).scalar()
    assert json.loads(detail)["township"] == code and json.loads(detail)["scope"] == [code]
