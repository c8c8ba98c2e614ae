"""The training page: the domain's numbers in both languages, case switching, workshop mode, demo only."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import delete, select

from fanpin import store
from fanpin.core import fmt
from fanpin.core.i18n import label
from fanpin.core.periods import format_period
from fanpin.demo.build import build_demo
from fanpin.demo.cases import find_cases, load_household_events
from fanpin.demo.spec import DemoSpec
from fanpin.engine.policies import baseline_policy
from fanpin.engine.trends import score_panel
from fanpin.store import schema as S

from .conftest import open_page

_EXPECTED: dict[str, tuple] = {}


def _expected(engine):
    """The library and each case's walk-through, computed as the page does (baseline of the last month)."""
    url = str(engine.url)
    if url not in _EXPECTED:
        periods = store.periods(engine)
        frames = store.load_snapshots(engine, periods)
        lines = {int(k): float(v) for k, v in store.load_json_meta(engine, "income_lines", {}).items()}
        policy = baseline_policy(engine, periods[-1])
        cases = find_cases(score_panel(frames, policy, lines), frames.__getitem__, load_household_events(engine), policy, lines)
        _EXPECTED[url] = (cases, {c.key: c.walkthrough(frames.__getitem__, policy, lines) for c in cases})
    return _EXPECTED[url]


def _metrics(at) -> dict[str, tuple[str, str]]:
    return {m.label: (m.value, m.delta) for m in at.metric}


def _check_case_metrics(at, wt, lang: str) -> None:
    a, b = wt.after, wt.before
    month = format_period(a.period, lang)
    got = _metrics(at)
    income = "人均纯收入（{m}）" if lang == "zh" else "Income per person ({m})"
    score = "风险分（{m}）" if lang == "zh" else "Risk score ({m})"
    tier = "风险等级（{m}）" if lang == "zh" else "Tier ({m})"
    assert got[income.format(m=month)] == (fmt.yuan(a.income_pc, lang), fmt.pct(a.income_pc / b.income_pc - 1))
    assert got[score.format(m=month)] == (f"{a.score:.1f}", fmt.signed(a.score - b.score, 1))
    assert got[tier.format(m=month)][0] == label("tier", a.tier, lang)


def _all_text(at) -> str:
    """Every string the page put on screen (and into its charts)."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error"):
        parts += [e.value for e in getattr(at, kind)]
    for m in at.metric:
        parts += [m.label, str(m.value), str(m.delta)]
    for w in (*at.selectbox, *at.radio):
        parts += [str(o) for o in w.options] + [w.label]
    parts += [b.label for b in at.button]
    parts += [json.dumps(json.loads(c.proto.spec)) for c in at.get("plotly_chart")]
    return "\n".join(parts)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_renders_the_first_case_in_both_languages(app_db, lang: str) -> None:
    engine, _ = app_db
    at = open_page("training", lang=lang, role="trainer")  # the page's main user
    assert not at.exception, at.exception
    cases, walks = _expected(engine)
    assert at.selectbox(key=f"w_training_case_{lang}").value == cases[0].key
    assert len(at.selectbox(key=f"w_training_case_{lang}").options) == len(cases) >= 6
    _check_case_metrics(at, walks[cases[0].key], lang)
    assert len(at.get("plotly_chart")) == 3
    assert at.radio(key="training_step").value == 0


def test_switching_case_changes_the_numbers(app_db) -> None:
    engine, _ = app_db
    cases, walks = _expected(engine)
    at = open_page("training")
    first = _metrics(at)
    for case in cases[1:4]:
        at.selectbox(key="w_training_case_zh").set_value(case.key).run()
        assert not at.exception, at.exception
        _check_case_metrics(at, walks[case.key], "zh")
        assert _metrics(at) != first
        # the walk-through text is this household's
        assert any(case.household_id in c.value for c in at.caption)


def test_steps_move_forward_and_back(app_db) -> None:
    engine, _ = app_db
    cases, walks = _expected(engine)
    at = open_page("training")
    at.button(key="training_next").click().run()
    at.button(key="training_next").click().run()
    assert at.radio(key="training_step").value == 2
    wt = walks[cases[0].key]
    shown = "\n".join(m.value for m in at.markdown)
    assert fmt.yuan(wt.after.income_pc, "zh") in shown and fmt.yuan(wt.before.income_pc, "zh") in shown
    at.button(key="training_prev").click().run()
    assert at.radio(key="training_step").value == 1
    # a new case starts at its first step
    at.selectbox(key="w_training_case_zh").set_value(cases[1].key).run()
    assert at.radio(key="training_step").value == 0


def test_workshop_mode_hides_household_ids_and_names(app_db) -> None:
    engine, _ = app_db
    cases, _ = _expected(engine)
    ids = [c.household_id for c in cases]
    with engine.connect() as conn:
        rows = conn.execute(select(S.members.c.name, S.members.c.id_number).where(S.members.c.household_id.in_(ids))).all()
    personal = [v for row in rows for v in row]
    at = open_page("training")
    normal = _all_text(at)
    assert cases[0].household_id in normal  # outside workshop mode the ID helps the trainer look it up
    assert not [p for p in personal if p in normal]  # but never names or ID numbers
    at.toggle(key="training_workshop").set_value(True).run()
    assert not at.exception, at.exception
    for case in cases[:3]:
        at.selectbox(key="w_training_case_zh").set_value(case.key).run()
        for step in range(len(at.radio(key="training_step").options)):
            at.radio(key="training_step").set_value(step).run()
            shown = _all_text(at)
            assert not [h for h in ids if h in shown]
            assert not [p for p in personal if p in shown]
        assert "案例" in shown
    assert any("<style>" in m.value for m in at.markdown)  # larger type


def test_non_demo_database_shows_only_a_message(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'bureau.db'}", create=True)
    store.upgrade(engine)
    build_demo(engine, DemoSpec(households=200, months=3, townships=3, villages=6, seed=5))
    with engine.begin() as conn:
        conn.execute(delete(S.meta).where(S.meta.c.key == "demo"))
        store.bump_data_version(conn)
    monkeypatch.setenv("FANPIN_DB_URL", str(engine.url))
    at = open_page("training")
    assert not at.exception, at.exception
    assert any("演示县" in i.value for i in at.info)
    assert not at.metric and not at.get("plotly_chart")
