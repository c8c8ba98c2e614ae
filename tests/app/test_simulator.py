"""The simulator page driven through AppTest: the numbers shown are what the domain functions give."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from fanpin import store
from fanpin.core import fmt
from fanpin.engine.policies import adopted_policy, baseline_policy, list_policies
from fanpin.engine.scenario import (
    apply_dimension_weights,
    compare,
    objective_weights,
    scale_dimension,
)
from fanpin.engine.scoring import RiskPolicy, Scorer
from tests.app.conftest import run_as, switch_user

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def db(demo_copy):
    """A private copy of the small demo (the page writes scenarios), pointed to by FANPIN_DB_URL."""
    return demo_copy

def _open(lang: str = "zh", role: str = "analyst") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = lang
    at.switch_page("pages/simulator.py")
    run_as(at, role)
    if "2024" in at.title[0].value:  # AppTest may report the month selectbox's first option on a first run
        at.run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _expected(engine, policy_of) -> tuple[dict[str, str], dict[str, str]]:
    """Shown values (tier count, delta) for the policy ``policy_of(baseline, scorer)`` gives."""
    period = store.periods(engine)[-1]
    base_policy, _ = baseline_policy(engine, period).normalised()
    scorer = Scorer.from_frame(store.load_snapshot(engine, period))
    base = scorer.run(base_policy).copy()
    scen = scorer.run(policy_of(base_policy, scorer))
    cmp = compare(base, scen)
    values = {tier: fmt.count(cmp.scen_counts[tier]) for tier in ("red", "yellow", "green")}
    values |= {"up": fmt.count(len(cmp.up)), "down": fmt.count(len(cmp.down))}
    deltas = {tier: fmt.signed(cmp.change(tier)) for tier in ("red", "yellow", "green")}
    return values, deltas


def _assert_shown(at: AppTest, values: dict[str, str], deltas: dict[str, str]) -> None:
    m = _metrics(at)
    for tier, label in (("red", "红色"), ("yellow", "黄色"), ("green", "绿色")):
        assert m[label] == (values[tier], deltas[tier]), (tier, m[label], values[tier], deltas[tier])
    assert m["等级上升户数"][0] == values["up"]
    assert m["等级下降户数"][0] == values["down"]


# --------------------------------------------------------------------------- rendering
def test_renders_in_chinese_and_english_and_starts_at_the_baseline(db) -> None:
    at = _open("zh")
    assert "阈值与权重模拟" in at.title[0].value
    values, deltas = _expected(db, lambda base, scorer: base)
    _assert_shown(at, values, deltas)
    assert values["up"] == values["down"] == "0"
    assert at.number_input(key="sim_income_line").value == baseline_policy(db, store.periods(db)[-1]).income_line
    assert len(at.get("plotly_chart")) >= 2  # transition matrix and the township map



@pytest.mark.parametrize("mode", ["hand", "ahp", "combined"])
def test_renders_in_english(db, mode: str) -> None:
    # The English run is the last one of each AppTest: the sidebar's role selectbox formats its
    # options with the session language at call time, which AppTest (outside a script run) reads
    # as Chinese, so a second run after an English one cannot match the options.
    at = _open("zh")
    at.radio(key="w_sim_mode_zh").set_value(mode).run()
    at.button(key="sim_sens_run").click().run()
    at.session_state["lang"] = "en"
    at.run()
    assert not at.exception, at.exception
    assert "simulator" in at.title[0].value
    labels = {m.label for m in at.metric}
    assert {"Red", "Yellow", "Green", "Moved up a tier", "Estimated assistance cost"} <= labels
    assert {c.key for c in at.get("plotly_chart")} >= {"sim_transition", "sim_map", "sim_tornado"}


def test_every_weights_mode_renders_in_chinese(db) -> None:
    at = _open("zh")
    assert "sim_weights_chart" not in {c.key for c in at.get("plotly_chart")}  # built only when opened
    at.session_state["sim_weights_open"] = True
    for mode in ("ahp", "entropy", "cv", "critic", "combined", "hand"):
        at.radio(key="w_sim_mode_zh").set_value(mode).run()
        assert not at.exception, (mode, at.exception)
        assert at.metric, mode
        assert "sim_weights_chart" in {c.key for c in at.get("plotly_chart")}, mode


# --------------------------------------------------------------------------- controls -> numbers
def test_income_line_changes_counts_to_the_domain_result(db) -> None:
    at = _open()
    at.number_input(key="sim_income_line").set_value(9500.0).run()
    assert not at.exception
    values, deltas = _expected(db, lambda base, scorer: replace(base, income_line=9500.0))
    _assert_shown(at, values, deltas)
    assert values["up"] != "0"
    movers = next(d.value for d in at.dataframe if "户编号" in d.value.columns and "模拟等级" in d.value.columns)
    assert len(movers) == min(500, int(values["up"].replace(",", "")) + int(values["down"].replace(",", "")))
    assert list(movers.columns) == ["户编号", "乡镇", "行政村", "基准风险分", "基准等级", "模拟风险分", "模拟等级", "分数变化"]
    assert movers["户编号"].is_unique and movers["行政村"].notna().all()
    assert (movers["基准等级"] != movers["模拟等级"]).all()


def test_sensitivity_is_computed_on_demand_and_goes_stale(db) -> None:
    at = _open()
    before = len(at.get("plotly_chart"))
    at.button(key="sim_sens_run").click().run()
    assert not at.exception
    n_charts = len(at.get("plotly_chart"))
    assert n_charts == before + 1  # the tornado chart
    assert at.segmented_control(key="w_sim_sens_tier_zh").value == "red"
    table = next(d.value for d in at.dataframe if "红色(+)" in d.value.columns)
    assert table.loc[table["指标"] == "人均纯收入/监测线", "红色(+)"].notna().all()
    at.number_input(key="sim_income_line").set_value(9000.0).run()
    assert len(at.get("plotly_chart")) == n_charts - 1  # the chart is hidden until computed again
    assert any("重新计算" in c.value for c in at.caption)


def test_cutoffs_change_counts_and_bad_order_is_refused(db) -> None:
    at = _open()
    at.slider(key="sim_cutoffs").set_value((18.0, 33.5)).run()
    values, deltas = _expected(db, lambda base, scorer: replace(base, cutoffs=(18.0, 33.5)))
    _assert_shown(at, values, deltas)

    at.slider(key="sim_cutoffs").set_value((30.0, 30.0)).run()
    assert not at.exception
    assert any("30" in e.value and "黄色线" in e.value for e in at.error)
    assert not at.metric


def test_indicator_and_dimension_weights(db) -> None:
    at = _open()
    at.slider(key="sim_w_medical_burden").set_value(0.2).run()
    assert not at.exception
    # the health total follows the indicator
    health = sum(at.slider(key=f"sim_w_{k}").value for k in ("medical_oop", "medical_burden", "serious_ill", "chronic_ill", "disabled"))
    assert at.slider(key="sim_d_health").value == pytest.approx(health)
    assert any("1.130" in c.value for c in at.caption)  # weights summed to 1.13 and were rescaled

    def with_indicator(base: RiskPolicy, scorer: Scorer) -> RiskPolicy:
        return replace(base, weights={**base.weights, "medical_burden": 0.2})

    _assert_shown(at, *_expected(db, with_indicator))

    # a dimension slider rescales its indicators in proportion
    at.slider(key="sim_d_income").set_value(0.5).run()
    assert not at.exception

    def with_dimension(base: RiskPolicy, scorer: Scorer) -> RiskPolicy:
        w = scale_dimension({**base.weights, "medical_burden": 0.2}, "income", 0.5)
        return replace(base, weights=w)

    expected_w = with_dimension(baseline_policy(db, store.periods(db)[-1]).normalised()[0], None).weights
    assert at.slider(key="sim_w_income_ratio").value == pytest.approx(expected_w["income_ratio"])
    _assert_shown(at, *_expected(db, with_dimension))


def test_ahp_mode_shows_cr_and_warns_when_inconsistent(db) -> None:
    at = _open()
    at.radio(key="w_sim_mode_zh").set_value("ahp").run()
    assert not at.exception
    assert any("CR" in s.value for s in at.success)  # starting judgements come from the baseline: consistent
    # income >> employment, employment >> health, but health >> income: a circle
    at.select_slider(key="sim_ahp_0_1").set_value(9.0)
    at.select_slider(key="sim_ahp_1_2").set_value(9.0)
    at.select_slider(key="sim_ahp_0_2").set_value(1 / 9).run()
    assert not at.exception
    assert any("CR" in w.value and "0.1" in w.value for w in at.warning)
    assert at.metric  # still computed: the analyst sees the result and the warning


def test_entropy_mode_uses_the_months_objective_weights(db) -> None:
    at = _open()
    at.radio(key="w_sim_mode_zh").set_value("entropy").run()
    assert not at.exception

    def entropy(base: RiskPolicy, scorer: Scorer) -> RiskPolicy:
        return replace(base, weights=objective_weights(scorer, "entropy"))

    _assert_shown(at, *_expected(db, entropy))
    # copying them to the sliders switches to by-hand with the same numbers
    at.button(key="sim_copy_hand").click().run()
    assert at.radio(key="w_sim_mode_zh").value == "hand"
    _assert_shown(at, *_expected(db, entropy))


# --------------------------------------------------------------------------- saving and adopting
def test_save_load_and_adopt(db) -> None:
    at = _open(role="analyst")
    at.number_input(key="sim_income_line").set_value(9000.0).run()
    at.text_input(key="sim_save_name").input("收入线9000")
    at.button(key="sim_save").click().run()
    assert not at.exception
    rows = {r["name"]: r for r in list_policies(db)}
    assert "收入线9000" in rows and rows["收入线9000"]["created_by"] == "analyst"
    assert RiskPolicy.from_json(rows["收入线9000"]["policy_json"]).income_line == 9000.0
    assert "收入线9000" in at.selectbox(key="sim_load_name").options
    assert any("收入线9000" in s.value for s in at.success)

    # reset, then load it back into the controls
    at.button(key="sim_reset").click().run()
    assert at.number_input(key="sim_income_line").value != 9000.0
    at.selectbox(key="sim_load_name").set_value("收入线9000")
    at.button(key="sim_load").click().run()
    assert at.number_input(key="sim_income_line").value == 9000.0

    # compare it with the baseline (only the open tab runs)
    assert "sim_cmp_a_zh" not in [w.key for w in at.selectbox]
    at.session_state["sim_tabs"] = "两方案对比"
    at.run()
    at.selectbox(key="sim_cmp_a_zh").set_value("__baseline__")
    at.selectbox(key="sim_cmp_b_zh").set_value("收入线9000").run()
    assert not at.exception
    assert any("A 与 B" in c.value for c in at.caption)

    # adopting needs the confirmation, then records who and when
    at.session_state["sim_tabs"] = "采纳为基准"
    at.run()
    at.selectbox(key="sim_adopt_name").set_value("收入线9000").run()
    assert at.button(key="sim_adopt").disabled
    at.checkbox(key="sim_adopt_confirm").check().run()
    assert at.button(key="sim_adopt").disabled  # an analyst prepares; the bureau leader adopts
    switch_user(at, "leader")
    at.session_state["sim_tabs"] = "采纳为基准"
    at.run()
    at.selectbox(key="sim_adopt_name").set_value("收入线9000").run()
    at.checkbox(key="sim_adopt_confirm").check().run()
    assert not at.button(key="sim_adopt").disabled
    at.button(key="sim_adopt").click().run()
    assert not at.exception
    row = {r["name"]: r for r in list_policies(db)}["收入线9000"]
    assert row["adopted_by"] == "leader"
    assert abs(datetime.now() - row["adopted_at"]) < timedelta(minutes=2)
    assert adopted_policy(db).income_line == 9000.0
    # the page now compares against the adopted baseline: nothing moves
    m = _metrics(at)
    assert m["等级上升户数"][0] == "0" and m["等级下降户数"][0] == "0"
    assert "收入线9000" in at.caption[0].value


def test_apply_dimension_weights_matches_the_ahp_page(db) -> None:
    """With all judgements 'equal', AHP mode gives every dimension 1/9 and keeps the shares within."""
    at = _open()
    at.radio(key="w_sim_mode_zh").set_value("ahp").run()
    for i in range(9):
        for j in range(i + 1, 9):
            at.select_slider(key=f"sim_ahp_{i}_{j}").set_value(1.0)
    at.run()
    assert not at.exception

    def equal_dims(base: RiskPolicy, scorer: Scorer) -> RiskPolicy:
        from fanpin.core.indicators import DIMENSIONS

        return apply_dimension_weights(base, dict.fromkeys(DIMENSIONS, 1.0))

    _assert_shown(at, *_expected(db, equal_dims))


# --------------------------------------------------------------------------- downloads
def test_movers_download_is_built_on_the_click_through_the_audited_export(db, monkeypatch) -> None:
    """The movers' file (every mover, household IDs) is made on the click by report.export, which
    writes one export row (before, the page's own lazy download wrote none)."""
    import io

    import pandas as pd
    from sqlalchemy import select
    from streamlit.runtime.media_file_manager import MediaFileManager

    from fanpin.store import schema as S

    made: dict[str, object] = {}
    real = MediaFileManager.add_deferred

    def keep(self, data_callable, mimetype, coordinates, file_name=None, **kw):
        made[file_name] = data_callable
        return real(self, data_callable, mimetype, coordinates, file_name, **kw)

    monkeypatch.setattr(MediaFileManager, "add_deferred", keep)

    def exports() -> list:
        with db.connect() as conn:
            return list(conn.execute(select(S.audit_log).where(S.audit_log.c.action == "export")))

    at = _open()
    at.number_input(key="sim_income_line").set_value(9500.0).run()
    assert not at.exception
    period = store.periods(db)[-1]
    n = len(exports())  # drawing the buttons wrote nothing
    assert {f"scenario_movers_{period}.csv", f"scenario_movers_{period}.xlsx", f"scenario_townships_{period}.csv"} <= set(made)
    values, _ = _expected(db, lambda base, scorer: replace(base, income_line=9500.0))
    moved = int(values["up"].replace(",", "")) + int(values["down"].replace(",", ""))

    data = made[f"scenario_movers_{period}.csv"]()
    frame = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert list(frame.columns) == ["户编号", "乡镇", "行政村", "基准风险分", "基准等级", "模拟风险分", "模拟等级", "分数变化"]
    assert len(frame) == moved and frame["户编号"].is_unique
    rows = exports()
    assert len(rows) == n + 1
    assert rows[-1].actor == "analyst" and rows[-1].target == f"scenario_movers_{period}"
