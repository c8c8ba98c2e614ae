"""AppTest: the data-quality and supervision page shows what ``rules.find`` finds, scoped and in both languages,
and turns findings into clues once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from fanpin.access.roles import SYSTEM, Principal
from fanpin.core import fmt
from fanpin.quality import rules as R
from fanpin.store import schema as S

from .conftest import ensure_user, login, new_app, open_page


def _no_exception(at) -> None:
    assert not at.exception, [e.value for e in at.exception]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("role", ["analyst", "data_steward"])
def test_page_shows_the_findings(app_db, lang: str, role: str) -> None:
    engine, spec = app_db
    at = open_page("quality", lang=lang, role=role)
    _no_exception(at)
    f = R.find(engine, spec.periods[-1], principal=SYSTEM)
    assert len(f) > 0
    assert at.metric[0].value == fmt.count(len(f), lang)
    assert at.metric[1].value == fmt.count(f["household_id"].nunique(), lang)
    assert at.metric[2].value == fmt.count(int((f["severity"] == "high").sum()), lang)
    by_rule = at.dataframe[0].value  # by rule (then by township, details; the rules help is a list)
    findings_col = "发现" if lang == "zh" else "Findings"
    assert by_rule[findings_col].tolist() == R.by_rule(f)["findings"].tolist()
    assert by_rule.iloc[:, 0].tolist() == [r.name(lang) for r in R.RULES]
    by_town = at.dataframe[1].value
    assert by_town[findings_col].sum() == len(f)
    details = at.dataframe(key="qa_table").value
    assert len(details) == len(f)
    # personal data masked
    head_col = "户主" if lang == "zh" else "Head"
    assert details[head_col].str.contains(r"\*").all()
    # details in the page's language
    detail_col = "发现详情" if lang == "zh" else "Detail"
    assert not details[detail_col].str.contains(" / ").any()
    title = "数据质量与监督" if lang == "zh" else "Data quality and supervision"
    assert at.title[0].value == title


def test_earlier_month_and_rule_filter(app_db) -> None:
    engine, spec = app_db
    earlier = spec.periods[-4]
    at = open_page("quality", role="analyst", period=earlier)
    _no_exception(at)
    f = R.find(engine, earlier, principal=SYSTEM)
    assert at.metric[0].value == fmt.count(len(f), "zh")
    at.selectbox(key="w_qa_rule_zh").set_value("medical_no_clue").run()
    _no_exception(at)
    assert len(at.dataframe(key="qa_table").value) == int((f["rule"] == "medical_no_clue").sum())
    # the choice survives a language switch, with the labels in the new language
    at.radio(key="lang").set_value("en").run()
    _no_exception(at)
    box = at.selectbox(key="w_qa_rule_en")
    assert box.value == "medical_no_clue" and "Large medical cost, no clue" in " ".join(box.options)
    assert len(at.dataframe(key="qa_table").value) == int((f["rule"] == "medical_no_clue").sum())


def test_trainer_is_refused(app_db) -> None:
    at = open_page("quality", role="trainer")
    assert any("无权" in str(e.value) for e in at.error)
    assert len(at.metric) == 0 and len(at.dataframe) == 0


def test_case_worker_sees_own_townships(app_db) -> None:
    engine, spec = app_db
    f = R.find(engine, principal=SYSTEM)
    town = f["township_code"].value_counts().index[0]
    user = ensure_user("case_worker", "cw_quality", townships=[town])
    at = new_app()
    at.run()
    login(at, user)
    at.switch_page("pages/quality.py")
    at.run()
    _no_exception(at)
    mine = R.find(engine, principal=Principal(user, "case_worker", frozenset({town})))
    assert 0 < len(mine) < len(f)
    assert at.metric[0].value == fmt.count(len(mine), "zh")


@pytest.fixture
def copy_db(demo_copy, small_demo):
    return demo_copy, small_demo[1]

def _supervision_clues(eng) -> int:
    with eng.connect() as conn:
        return conn.execute(select(func.count()).select_from(S.clues).where(S.clues.c.source == "supervision")).scalar()


def test_findings_to_clues_once(copy_db) -> None:
    eng, spec = copy_db
    last = spec.periods[-1]
    f = R.find(eng, last, principal=SYSTEM)
    at = open_page("quality", role="data_steward")
    _no_exception(at)
    at.selectbox(key="w_qa_rule_zh").set_value("school_not_enrolled").run()
    n_rule = int((f["rule"] == "school_not_enrolled").sum())
    # two selected rows first
    at.session_state["qa_table"] = {"selection": {"rows": [0, 1], "columns": []}}
    at.run()
    at.button(key="qa_to_clues_selected").click().run()
    _no_exception(at)
    assert any("已新增 2 条" in str(s.value) for s in at.success)
    assert _supervision_clues(eng) == 2
    # then the whole rule: only the rest are new
    at.button(key="qa_to_clues_all").click().run()
    assert any(f"已新增 {n_rule - 2} 条" in str(s.value) for s in at.success)
    assert _supervision_clues(eng) == n_rule
    at.button(key="qa_to_clues_all").click().run()
    assert any("已新增 0 条" in str(s.value) for s in at.success)
    assert _supervision_clues(eng) == n_rule
    with eng.connect() as conn:
        audit = conn.execute(select(S.audit_log.c.actor).where(S.audit_log.c.action == "findings_to_clues")).fetchall()
    assert [a[0] for a in audit] == ["data_steward", "data_steward"]


def test_leader_may_view_but_not_create_clues(app_db) -> None:
    at = open_page("quality", role="leader")
    _no_exception(at)
    assert len(at.metric) == 4
    assert not [b for b in at.button if b.key and b.key.startswith("qa_to_clues")]
