"""The household profile page on the small demo county (AppTest): zh and en, masks, audit, the score."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import func, select
from streamlit.testing.v1 import AppTest

from fanpin import store
from fanpin.access.masking import mask_id_number, mask_name
from fanpin.access.roles import SYSTEM
from fanpin.core.i18n import translate
from fanpin.core.indicators import BY_KEY
from fanpin.engine.policies import baseline_policy
from fanpin.engine.scoring import TIERS, Scorer
from fanpin.store import schema as S
from fanpin.workflow import profile as P
from fanpin.workflow.timeline import assistance_summary
from tests.app.conftest import run_as
from tests.conftest import copy_sqlite

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture(scope="module")
def demo(small_demo):
    """The small demo as the app's database, and a household with members, clues and assistance."""
    engine, spec = small_demo
    assert spec.periods[-1] == LAST
    old = os.environ.get("FANPIN_DB_URL")
    os.environ["FANPIN_DB_URL"] = str(engine.url)
    with engine.connect() as conn:
        busy = (
            select(S.households.c.household_id)
            .where(S.households.c.household_id.in_(select(S.assistance.c.household_id)))
            .where(S.households.c.household_id.in_(select(S.clues.c.household_id)))
            .where(S.households.c.size >= 3)
            .order_by(S.households.c.household_id)
            .limit(1)
        )
        hid = conn.execute(busy).scalar_one()
    yield engine, spec, hid
    if old is None:
        os.environ.pop("FANPIN_DB_URL", None)
    else:
        os.environ["FANPIN_DB_URL"] = old


LAST = 202503  # the small demo's latest month (DemoSpec start 202401, 15 months)


def open_profile(role: str = "case_worker", lang: str = "zh", household: str | None = None) -> AppTest:
    """The app on the profile page at the latest month, optionally opened by a link to a household."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["lang"] = lang
    run_as(at, role)
    at.switch_page("pages/profile.py")
    at.run()
    # the sidebar keeps the month in session state (its widget is keyed per language)
    at.session_state["period"] = LAST
    if household:
        at.query_params["household"] = household  # opened by a link: ?household=<id>
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def views(engine, hid: str, action: str = "household_view") -> int:
    with engine.connect() as conn:
        q = select(func.count()).select_from(S.audit_log).where(S.audit_log.c.target == hid, S.audit_log.c.action == action)
        return conn.execute(q).scalar_one()


def page_bytes(at: AppTest) -> bytes:
    """Every element the page sent, serialised: tables (Arrow), charts, text, widgets."""
    out: list[bytes] = []

    def walk(node) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "SerializeToString"):
            out.append(proto.SerializeToString())
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return b"\n".join(out)


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def members_of(engine, hid: str) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(S.members.c.name, S.members.c.id_number).where(S.members.c.household_id == hid))]


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_renders_in_both_languages(demo, lang: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine, _, hid = demo
    # AppTest formats widget values in the test thread, where st.session_state is
    # not the script's: the sidebar's role selectbox (format_func=lbl at call time)
    # would be formatted in Chinese against English options.  Make the fallback
    # language the test's until the sidebar captures the language in its format_func.
    import fanpin.ui.i18n as ui_i18n

    monkeypatch.setattr(ui_i18n, "DEFAULT_LANG", lang)
    at = open_profile(lang=lang)
    assert at.title[0].value == translate("profile.title", lang)
    assert [i.value for i in at.info] == [translate("profile.pick_hint", lang)]
    at.text_input(key="pf_search").input(hid).run()
    assert not at.exception, [e.value for e in at.exception]
    assert hid in at.header[0].value
    assert {tab.label for tab in at.tabs} >= {translate("profile.tab_timeline", lang), translate("profile.tab_assistance", lang)}
    assert at.metric and at.dataframe


def test_picked_household_shows_masked_members_and_the_scorers_score(demo) -> None:
    engine, spec, hid = demo
    at = open_profile()
    at.text_input(key="pf_search").input(hid[:-1]).run()  # a prefix: the household is picked from a list
    at.selectbox(key="pf_household_zh").set_value(hid).run()
    assert not at.exception
    assert at.query_params["household"] == [hid] or at.query_params["household"] == hid

    blob = page_bytes(at)
    people = members_of(engine, hid)
    assert len(people) >= 3
    for _name, id_number in people:
        assert id_number.encode() not in blob, "a full ID number reached the page"
        assert mask_id_number(id_number).encode() in blob
    members = next(d.value for d in at.dataframe if "id_number" in d.value.columns)
    assert sorted(members["id_number"]) == sorted(mask_id_number(i) for _, i in people)
    assert sorted(members["name"]) == sorted(mask_name(n) for n, _ in people)
    assert not any(b.key == "pf_mask_again" for b in at.button)

    period = spec.periods[-1]
    scorer = Scorer.from_frame(store.load_snapshot(engine, period))
    res = scorer.run(baseline_policy(engine, period))
    row = int(np.flatnonzero(scorer.household_ids == hid)[0])
    assert metric(at, "风险分") == f"{res.score[row]:.1f}"
    assert metric(at, "风险等级") == translate(f"tier.{TIERS[res.tier[row]]}", "zh")

    # an earlier month in the sidebar: the scorer's figure for that month
    earlier = spec.periods[-6]
    at.selectbox(key="sb_period_zh").set_value(earlier).run()
    assert not at.exception
    scorer = Scorer.from_frame(store.load_snapshot(engine, earlier))
    res = scorer.run(baseline_policy(engine, earlier))
    row = int(np.flatnonzero(scorer.household_ids == hid)[0])
    assert metric(at, "风险分") == f"{res.score[row]:.1f}"

    # the 幸福清单 totals are the domain summary's
    summary = assistance_summary(P.household_detail(engine, hid, principal=SYSTEM).assistance)
    assert metric(at, "帮扶次数") == f"{int(summary['count'].sum()):,}"
    table = next(d.value for d in at.dataframe if "measure_label" in d.value.columns)
    assert table["amount"].tolist() == summary["amount"].tolist()
    assert table["measure_label"].tolist() == [translate(f"measure.{m}", "zh") for m in summary["measure"]]


def test_every_view_is_audited(demo) -> None:
    engine, _, hid = demo
    before = views(engine, hid)
    at = open_profile(role="data_steward", household=hid)  # opened by a link: ?household=<id>
    assert at.text_input(key="pf_search").value == hid
    assert hid in at.header[0].value
    assert views(engine, hid) == before + 1
    at.run()
    assert views(engine, hid) == before + 1  # once per household per session, not per rerun
    with engine.connect() as conn:
        last = conn.execute(select(S.audit_log).order_by(S.audit_log.c.audit_id.desc()).limit(1)).first()
    assert (last.actor, last.action, last.target) == ("data_steward", "household_view", hid)
    # a role that may not unmask gets no button, and the data stay masked
    assert not any(b.key == "pf_unmask" for b in at.button)
    assert translate("profile.masked_note", "zh", role=translate("role.data_steward", "zh")) in [c.value for c in at.caption]


def test_unmask_is_for_one_household_and_logged(demo) -> None:
    engine, _, hid = demo
    people = members_of(engine, hid)
    unmasks = views(engine, hid, "unmask")
    at = open_profile(role="case_worker", household=hid)
    assert people[0][1].encode() not in page_bytes(at)
    next(b for b in at.button if b.key == "pf_unmask").click().run()
    assert not at.exception
    assert views(engine, hid, "unmask") == unmasks + 1
    blob = page_bytes(at)
    assert all(i.encode() in blob for _, i in people)
    # another household: masked again, without a new unmask entry
    other = P.find_households(engine, hid[:-3], principal=SYSTEM)["household_id"]
    other = next(h for h in other if h != hid and members_of(engine, h))
    at.text_input(key="pf_search").input(other).run()
    blob = page_bytes(at)
    assert not any(i.encode() in blob for _, i in members_of(engine, other))
    assert views(engine, hid, "unmask") == unmasks + 1


def test_search_input_is_data(demo) -> None:
    at = open_profile()
    for text in ("' OR 1=1 --", "<script>alert(1)</script>", "%"):
        at.text_input(key="pf_search").input(text).run()
        assert not at.exception
        assert [w.value for w in at.warning] == [translate("profile.none_found", "zh")]
        assert not at.header


def test_leader_may_not_open_the_page(demo) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    run_as(at, "leader")
    at.switch_page("pages/profile.py")
    at.run()
    assert not at.exception
    assert at.error and not at.text_input


def test_choice_survives_a_language_switch(demo, monkeypatch: pytest.MonkeyPatch) -> None:
    import fanpin.ui.i18n as ui_i18n

    engine, _, hid = demo
    with engine.connect() as conn:
        village, town = conn.execute(select(S.households.c.village_code, S.households.c.township_code).where(S.households.c.household_id == hid)).one()
    at = open_profile()
    at.selectbox(key="pf_township_zh").set_value(town).run()
    at.selectbox(key="pf_village_zh").set_value(village).run()
    at.selectbox(key="pf_household_zh").set_value(hid).run()
    assert hid in at.header[0].value
    at.session_state["lang"] = "en"
    at.run()
    monkeypatch.setattr(ui_i18n, "DEFAULT_LANG", "en")  # see test_renders_in_both_languages
    assert not at.exception
    assert (at.selectbox(key="pf_township_en").value, at.selectbox(key="pf_village_en").value) == (town, village)
    assert at.selectbox(key="pf_household_en").value == hid
    assert at.title[0].value == "Household profile" and hid in at.header[0].value


def test_missing_values_are_flagged(demo, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A value a department did not report: scored at the median, hatched in the chart, listed by name."""
    engine, spec, hid = demo
    copy = tmp_path / "gap.db"
    gap = store.make_engine(copy_sqlite(engine, copy))
    with gap.begin() as conn:
        changed = conn.execute(S.panel.update().where(S.panel.c.household_id == hid, S.panel.c.period == LAST).values(medical_oop=None))
        assert changed.rowcount == 1
        store.bump_data_version(conn)
    monkeypatch.setenv("FANPIN_DB_URL", f"sqlite:///{copy}")
    at = open_profile(household=hid)
    assert hid in at.header[0].value
    assert at.subheader[0].value == translate("profile.reasons_title", "zh", month="2025年3月")
    expected = translate("profile.missing", "zh", items="、".join(BY_KEY[k].zh for k in ("medical_oop", "medical_burden")))
    assert expected in [i.value for i in at.info]
    chart = next(c for c in at.get("plotly_chart") if "pf_contrib" in str(c.proto.id))
    bars = json.loads(chart.proto.spec)["data"][0]
    flagged = {y: shape for y, shape in zip(bars["y"], bars["marker"]["pattern"]["shape"])}
    assert flagged["合规自付医疗支出（缺失）"] == "/" and flagged["医疗支出占收入比（缺失）"] == "/"
    assert all(shape == "" for y, shape in flagged.items() if "缺失" not in y)
    gap.dispose()


def test_admin_sees_the_trail_of_views(demo) -> None:
    engine, _, hid = demo
    at = open_profile(role="admin", household=hid)
    trail = next(d.value for d in at.dataframe if "actor" in d.value.columns)
    assert len(trail) == min(views(engine, hid) + views(engine, hid, "unmask"), 50)
    assert trail["action"].iloc[0] == translate("audit_action.household_view", "zh")
    assert trail["actor"].iloc[0] == translate("role.admin", "zh")
