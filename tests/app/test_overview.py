"""The overview page shows the domain functions' numbers, in both languages."""

from __future__ import annotations

import pytest

from fanpin import store
from fanpin.access.roles import Principal
from fanpin.core import fmt
from fanpin.engine.policies import baseline_policy, stored_lines
from fanpin.engine.summary import month_summary, township_table
from fanpin.engine.trends import score_panel

from .conftest import new_app, open_page, run_as

WORKER = Principal("case_worker", "case_worker")  # every township


def _expected(engine, period: int, township: str | None = None):
    periods = store.periods(engine)
    ps = score_panel(store.load_snapshots(engine, periods), baseline_policy(engine, period), stored_lines(engine))
    return ps, month_summary(ps, period, township)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_overview_renders_the_month_summary(app_db, lang: str) -> None:
    engine, spec = app_db
    at = open_page("overview", lang=lang)
    assert not at.exception, at.exception
    period = spec.periods[-1]
    _, s = _expected(engine, period)
    metrics = {m.label: m.value for m in at.metric}
    red = "红色" if lang == "zh" else "Red"
    assert metrics[red] == fmt.count(s.counts["red"], lang)
    assert at.metric[0].value == fmt.count(s.households, lang)
    assert len(at.dataframe) >= 3


def test_changing_the_month_changes_the_numbers(app_db) -> None:
    engine, spec = app_db
    earlier = spec.periods[5]
    at = open_page("overview", period=earlier)
    assert not at.exception
    _, s = _expected(engine, earlier)
    labels = [m.label for m in at.metric]
    values = [m.value for m in at.metric]
    assert values[labels.index("红色")] == fmt.count(s.counts["red"], "zh")
    assert values[labels.index("本月新增红色")] == fmt.count(s.newly_red, "zh")
    assert at.metric[1].delta == fmt.signed(s.change["red"])


def test_selecting_a_township_filters_the_page(app_db) -> None:
    engine, spec = app_db
    period = spec.periods[-1]
    ps, _ = _expected(engine, period)
    table = township_table(ps, period)
    at = new_app()
    at.session_state["ov_township_table"] = {"selection": {"rows": [1], "columns": []}}
    run_as(at, "admin")
    assert not at.exception, at.exception
    code = table["township_code"].iloc[1]
    _, s = _expected(engine, period, code)
    assert at.metric[0].value == fmt.count(s.households, "zh")
    assert at.metric[1].value == fmt.count(s.counts["red"], "zh")
    assert s.households < len(ps.household_ids)


def test_role_without_the_page_is_refused(app_db) -> None:
    at = open_page("simulator", role="case_worker")
    assert not at.exception
    assert any("无权" in e.value for e in at.error)
    assert not at.metric


def test_closed_loop_figures_follow_the_orders(small_demo, tmp_path, monkeypatch) -> None:
    """With orders in the database, the overview shows the workflow's closed-loop figures."""
    import shutil

    from fanpin.workflow.common import as_of_date
    from fanpin.workflow.orders import (
        closed_loop,
        create_order,
        get_order,
        start_verification,
    )

    engine, spec = small_demo
    copy = tmp_path / "orders.db"
    shutil.copy(engine.url.database, copy)
    eng = store.make_engine(f"sqlite:///{copy}")
    hh = store.load_snapshot(eng, spec.periods[-1])["household_id"].iloc[:3].tolist()
    for h in hh:
        create_order(eng, assignee_kind="township", assignee="990101001000", principal=WORKER, household_id=h)
    oid = create_order(eng, assignee_kind="department", assignee="medical_insurance", principal=WORKER, household_id=hh[0])
    start_verification(eng, oid, get_order(eng, oid, principal=WORKER)["version"], principal=WORKER)
    monkeypatch.setenv("FANPIN_DB_URL", f"sqlite:///{copy}")
    at = open_page("overview")
    assert not at.exception
    loop = closed_loop(eng, as_of_date(spec.periods[-1]), principal=Principal("admin", "admin"))
    metrics = {m.label: m.value for m in at.metric}
    assert loop.orders == 4
    assert metrics["核查工单"] == fmt.count(loop.orders, "zh")
    assert metrics["已研判"] == fmt.count(loop.decided, "zh")


def test_after_adopting_a_scenario_the_overview_the_simulator_and_the_map_agree(demo_copy) -> None:
    """Issue 18 item 1: with a scenario at another line adopted, the pages show one line and one red count."""
    from dataclasses import replace

    from fanpin.engine.policies import adopt_policy, save_policy
    from fanpin.engine.scoring import RiskPolicy

    eng = demo_copy
    period = store.periods(eng)[-1]
    line = stored_lines(eng).stored_at(period) - 500.0
    scenario = replace(RiskPolicy.default(), income_line=line, line_year=period // 100)
    save_policy(eng, scenario, "收入线下调", principal=Principal("ana", "analyst"))
    adopt_policy(eng, "收入线下调", principal=Principal("boss", "leader"))
    shown_line = fmt.yuan(line, "zh")

    overview = open_page("overview")
    assert not overview.exception, overview.exception
    red = {m.label: m.value for m in overview.metric}["红色"]
    assert shown_line in overview.caption[0].value

    simulator = open_page("simulator")
    assert not simulator.exception, simulator.exception
    assert simulator.number_input(key="sim_income_line").value == line
    assert {m.label: m.value for m in simulator.metric}["红色"] == red  # the scenario starts at the baseline
    assert any(shown_line in c.value for c in simulator.caption)

    map_page = open_page("map")
    assert not map_page.exception, map_page.exception
    assert any(shown_line in c.value for c in map_page.caption)
