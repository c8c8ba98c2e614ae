"""The monthly brief: its figures are the dashboard's, its rules fire as documented, it masks, it opens in LibreOffice."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.core import fmt
from fanpin.engine.policies import baseline_policy, stored_lines
from fanpin.engine.summary import (
    MonthSummary,
    month_summary,
    township_table,
    trend_frame,
)
from fanpin.engine.trends import score_panel
from fanpin.report import actions as A
from fanpin.report import brief as B
from fanpin.report import tables as T
from fanpin.report.document import document_text, headline_text, produce, render_docx
from fanpin.store import schema as S
from fanpin.workflow.common import as_of_date
from fanpin.workflow.orders import ClosedLoop, closed_loop, create_order
from tests.conftest import copy_sqlite
from tests.workflow.chain import decide, walk

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 1, 15)
LEADER = Principal("test:brief", "leader")


def _panel(engine, period: int):
    periods = store.periods(engine)
    return score_panel(store.load_snapshots(engine, periods), baseline_policy(engine, period), stored_lines(engine))

#: The people who work the fixture's cases (each step by someone else, as the procedure requires).
CW, TOWN, COUNTY = Principal("cw_brief", "admin"), Principal("tl_brief", "admin"), Principal("leader_brief", "admin")

@pytest.fixture(scope="module")
def worked(small_demo, tmp_path_factory):
    """A copy of the small demo with verification orders: some decided (into monitoring), some overdue."""
    engine, spec = small_demo
    path = tmp_path_factory.mktemp("brief") / "worked.db"
    eng = store.make_engine(copy_sqlite(engine, path))
    period = spec.periods[-1]
    y, m = divmod(period, 100)
    start = datetime(y, m, 2, 9, 0)
    with eng.connect() as conn:
        hids = [r[0] for r in conn.execute(select(S.households.c.household_id).order_by(S.households.c.household_id).limit(9))]
        town = dict(conn.execute(select(S.households.c.household_id, S.households.c.township_code).where(S.households.c.household_id.in_(hids))).fetchall())
    for i, h in enumerate(hids):
        oid = create_order(eng, assignee_kind="township", assignee=town[h], principal=SYSTEM, household_id=h, now=start + timedelta(days=i))
        if i < 3:  # decided within 4..6 days, through the official procedure by the 15th: into monitoring this month
            case = decide(eng, oid, CW, at=start + timedelta(days=i + 4), included=True, period=period, category="marginal", risk_types=["illness"])
            walk(eng, case, local=CW, checker=TOWN, county=COUNTY, start=start + timedelta(days=i + 5))
        elif i == 3:
            decide(eng, oid, CW, at=start + timedelta(days=20), included=False, period=period, reason="income fine")
    return eng, spec


@pytest.fixture(scope="module")
def made(worked):
    engine, spec = worked
    period = spec.periods[-1]
    return produce(engine, period, "zh", principal=LEADER, today=TODAY)


@pytest.fixture(scope="module")
def made_en(worked):
    engine, spec = worked
    return produce(engine, spec.periods[-1], "en", principal=LEADER, today=TODAY)


# --------------------------------------------------------------------------- figures = the dashboard's figures
def test_headline_figures_are_month_summary(worked, made) -> None:
    engine, spec = worked
    period = spec.periods[-1]
    ps = _panel(engine, period)
    s = month_summary(ps, period)
    assert made.brief.summary == s
    text = document_text(made.docx)
    for fragment in (
        f"纳入风险评分的农户共 {fmt.count(s.households)} 户",
        f"红色 {fmt.count(s.counts['red'])} 户（较上月 {fmt.signed(s.change['red'])}）",
        f"黄色 {fmt.count(s.counts['yellow'])} 户（较上月 {fmt.signed(s.change['yellow'])}）",
        f"绿色 {fmt.count(s.counts['green'])} 户",
        f"本月新增红色 {fmt.count(s.newly_red)} 户",
        f"连续3个月风险上升 {fmt.count(s.rising)} 户",
        f"低于监测收入标准的 {fmt.count(s.below_line)} 户",
        f"平均风险分 {s.mean_score:.2f}",
    ):
        assert fragment in text, fragment
    # the headline table: this month and last month
    prev = month_summary(ps, spec.periods[-2])
    assert f"红色户\t{s.counts['red']:,}\t{prev.counts['red']:,}\t{s.counts['red'] - prev.counts['red']:,}" in text


def test_township_table_and_trend_match_the_domain_functions(worked, made) -> None:
    engine, spec = worked
    period = spec.periods[-1]
    ps = _panel(engine, period)
    expected = township_table(ps, period)
    wb = load_workbook(io.BytesIO(made.xlsx))
    ws = wb["乡镇排名"]
    rows = list(ws.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert [r[header.index("区划代码")] for r in body] == expected["township_code"].tolist()
    assert [r[header.index("红色")] for r in body] == expected["red"].tolist()
    assert [r[header.index("评分农户")] for r in body] == expected["households"].tolist()
    assert [r[header.index("红色占比(%)")] for r in body] == pytest.approx((100 * expected["red_share"]).round(1).tolist())
    trend = trend_frame(ps)
    tr = list(wb["月度趋势"].iter_rows(values_only=True))
    assert [r[1] for r in tr[1:]] == trend["red"].tolist()
    assert len(tr) - 1 == len(spec.periods)
    # the document ranks townships the same way: the first-ranked township's name and share in the text
    top = expected.iloc[0]
    name = made.brief.name(top["township_code"], "zh")
    assert f"{name}（{fmt.pct(top['red_share'])}）" in document_text(made.docx)


def test_closed_loop_and_monitoring_figures(worked, made) -> None:
    engine, spec = worked
    period = spec.periods[-1]
    loop = closed_loop(engine, as_of_date(period, TODAY), principal=LEADER)
    assert (made.brief.loop.orders, made.brief.loop.decided, made.brief.loop.overdue) == (loop.orders, loop.decided, loop.overdue) == (9, 4, 6)
    assert loop.median_days == pytest.approx(4.0)  # 4, 4, 4 and 20 days
    # overdue at the month's end: 5 undecided orders past their 15 days, and the one decided after 20 days
    text = document_text(made.docx)
    assert f"核查工单共 {loop.orders} 件，已研判 {loop.decided} 件" in text
    assert f"中位天数为 {loop.median_days:.1f} 天" in text
    assert f"超期 {loop.overdue} 件，占 {fmt.pct(loop.overdue_share)}" in text
    assert made.brief.monitoring.entered == 3
    from fanpin.workflow.monitoring import register

    assert made.brief.monitoring.monitored_end == len(register(engine, principal=LEADER))  # the register page's count (the last month)
    assert "本月新识别纳入监测 3 户" in text


def test_clue_counts_match_the_database(worked, made) -> None:
    engine, spec = worked
    period = spec.periods[-1]
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(S.clues).where(S.clues.c.period == period, S.clues.c.status != "merged")).scalar()
        by_risk = dict(conn.execute(select(S.clues.c.risk_type, func.count()).where(S.clues.c.period == period, S.clues.c.status != "merged").group_by(S.clues.c.risk_type)).fetchall())
    assert int(made.brief.clues["clues"].sum()) == n
    assert made.brief.clues.groupby("risk_type")["clues"].sum().to_dict() == by_risk
    assert f"本月新收预警线索 {fmt.count(n)} 条" in document_text(made.docx)


def test_findings_come_from_the_rules_module(worked, made) -> None:
    from fanpin.access.roles import SYSTEM

    rules = pytest.importorskip("fanpin.quality.rules")
    engine, spec = worked
    found = rules.find(engine, period=spec.periods[-1], principal=SYSTEM)
    assert made.brief.findings_status == "ok"
    assert made.brief.findings_total == len(found)
    if len(found):
        assert made.brief.findings.set_index("rule")["findings"].to_dict() == found.groupby("rule").size().to_dict()


def test_no_saved_model_is_said(made) -> None:
    assert made.brief.model_status == "none"  # tests keep FANPIN_MODEL_DIR empty
    assert "尚未训练风险预测模型" in document_text(made.docx)


def test_a_refused_model_is_said(worked) -> None:
    engine, spec = worked
    b = B.compute_brief(engine, spec.periods[-1], principal=LEADER, model="trained on another schema", today=TODAY)
    assert b.model_status == "refused" and b.model_candidates is None
    assert "trained on another schema" in document_text(render_docx(b, "en"))


@pytest.fixture(scope="module")
def trained(worked):
    from fanpin.model import train

    engine, _ = worked
    return train.train(engine, 3, principal=SYSTEM, eval_months=3, importance_rows=2000)


def test_the_models_list_is_predict_candidates_masked(worked, trained) -> None:
    from fanpin.model import suggest

    engine, spec = worked
    period = spec.periods[-1]
    b = B.compute_brief(engine, period, principal=LEADER, model=trained, today=TODAY)
    scores = suggest.score_period(trained, engine, period, principal=LEADER)
    expected = suggest.candidates(scores, suggest.monitored_households(engine) | suggest.sent_households(engine), A.MODEL_THRESHOLD, limit=len(scores))
    assert b.model_status == "ok" and b.model_horizon == 3
    assert b.model_candidates_total == len(expected)
    assert b.model_candidates["household_id"].tolist() == expected.index[: A.LIST_ROWS].astype(str).tolist()
    assert all("*" in n for n in b.model_candidates["name"].dropna())
    text = document_text(render_docx(b, "zh"))
    assert f"尚未纳入监测也未推送线索的农户共 {len(expected)} 户" in text
    # how the model did on months it never saw: the backtest's sentence at a 2% budget, as on the model page
    from fanpin.model import backtest

    assert b.model_backtest is trained.backtest
    assert backtest.verdict_text(trained.backtest, 0.02, "zh") in text and "模型回测（训练未见的月份" in text
    if len(expected):
        assert any(a.code == "model_candidates" and a.params["n"] == len(expected) for a in b.actions)


def test_a_case_workers_brief_lists_only_their_townships(worked) -> None:
    engine, spec = worked
    period = spec.periods[-1]
    full = B.compute_brief(engine, period, principal=LEADER, today=TODAY, model=None)
    towns = frozenset(full.townships["township_code"].iloc[:2])
    b = B.compute_brief(engine, period, principal=Principal("cw", "case_worker", towns), today=TODAY, model=None)
    assert set(b.newly_red["township_code"]) <= towns
    assert b.summary == full.summary  # county figures stay the county's, as on the overview
    assert int(b.clues["clues"].sum()) <= int(full.clues["clues"].sum())
    assert b.scope == towns
    assert "农户名单仅含" in document_text(render_docx(b, "zh"))


def test_english_version(made_en, made) -> None:
    text = document_text(made_en.docx)
    s = made_en.brief.summary
    assert f"{fmt.count(s.households, 'en')} households were scored" in text
    assert f"{fmt.count(s.counts['red'], 'en')} are red" in text
    assert "1. The month at a glance" in text
    assert headline_text(made_en.brief, "en") in text
    assert "Townships" in load_workbook(io.BytesIO(made_en.xlsx)).sheetnames


# --------------------------------------------------------------------------- personal data and audit
def test_no_unmasked_name_or_id_number(worked, made, made_en) -> None:
    engine, _ = worked
    listed = made.brief.newly_red["household_id"].tolist()
    assert listed, "the fixture month should have newly red households to list"
    with engine.connect() as conn:
        people = conn.execute(select(S.members.c.name, S.members.c.id_number, S.members.c.household_id)).fetchall()
    for blob in (made.docx, made_en.docx):
        text = document_text(blob)
        wb = load_workbook(io.BytesIO(made.xlsx if blob is made.docx else made_en.xlsx))
        cells = "\n".join(str(c) for ws in wb for row in ws.iter_rows(values_only=True) for c in row if c is not None)
        for name, idn, hid in people:  # no member's full name or ID number anywhere (listed heads appear masked)
            assert idn not in text and idn not in cells
            assert name not in text and name not in cells, (name, hid in listed)
    heads = made.brief.newly_red["name"].tolist()
    assert heads and all(re.fullmatch(r".\*+", h) for h in heads)
    assert all("*" in v for v in made.brief.newly_red["id_number"])


def test_producing_a_brief_is_audited(worked) -> None:
    engine, spec = worked
    a = S.audit_log.c
    with engine.connect() as conn:
        before = conn.execute(select(func.count()).select_from(S.audit_log).where(a.action == "brief")).scalar()
    produce(engine, spec.periods[-2], "zh", principal=Principal("test:auditor", "analyst"), today=TODAY)
    with engine.connect() as conn:
        rows = conn.execute(select(a.actor, a.target, a.detail).where(a.action == "brief").order_by(a.audit_id)).fetchall()
    assert len(rows) == before + 1
    actor, target, detail = rows[-1]
    assert actor == "test:auditor" and target == str(spec.periods[-2])
    assert '"lang": "zh"' in detail and '"masked": true' in detail


def test_a_brief_needs_a_principal(worked) -> None:
    from fanpin.access.roles import AccessDenied

    engine, spec = worked
    with pytest.raises(AccessDenied):
        B.compute_brief(engine, spec.periods[-1], principal=None, model=None, today=TODAY)
    with pytest.raises(TypeError):
        produce(engine, spec.periods[-1], "zh", "test:actor", today=TODAY)  # no separate actor any more


def test_xlsx_cells_are_escaped(made) -> None:
    b = made.brief
    code = b.townships["township_code"].iloc[0]
    b2 = B.Brief(**{**b.__dict__, "names": {"zh": {**b.names["zh"], code: "=HYPERLINK(\"http://x\")"}, "en": b.names["en"]}})
    wb = load_workbook(io.BytesIO(T.xlsx_bytes(b2, "zh")))
    values = [c for row in wb["乡镇排名"].iter_rows(values_only=True) for c in row]
    assert "'=HYPERLINK(\"http://x\")" in values
    assert not any(isinstance(v, str) and v.startswith("=") for v in values)


# --------------------------------------------------------------------------- suggested-action rules on hand-made inputs
def _townships(trends: dict[str, list[float]], hot: dict[str, tuple[str, str]] | None = None) -> pd.DataFrame:
    hot = hot or {}
    return pd.DataFrame(
        {
            "township_code": list(trends),
            "red_share": [v[-1] for v in trends.values()],
            "trend": list(trends.values()),
            "hotspot": [hot.get(c, ("not_significant", "not_significant"))[0] for c in trends],
            "hotspot_prev": [hot.get(c, ("not_significant", "not_significant"))[1] for c in trends],
        }
    )


NO_EVENTS = pd.DataFrame(columns=["period", "event_type", "township_code"])


def test_red_share_rule_needs_the_relative_and_the_absolute_rise() -> None:
    t = _townships(
        {
            "A": [0.05, 0.05, 0.05, 0.07],  # +40% and +2 pts: fires
            "B": [0.05, 0.05, 0.05, 0.0699],  # +39.8%: no
            "C": [0.01, 0.01, 0.01, 0.02],  # +100% but +1 pt: no
            "D": [0.10, 0.05],  # too short for the window
        }
    )
    acts = A.rule_red_share_rising(t, NO_EVENTS)
    assert [(a.code, a.township_code) for a in acts] == [("red_share_rising", "A")]
    assert acts[0].params["rise"] == pytest.approx(0.4)


def test_red_share_rule_names_the_area_event() -> None:
    t = _townships({"990101003000": [0.05, 0.06, 0.08, 0.10]})
    ev = pd.DataFrame({"period": [202407], "event_type": ["flood"], "township_code": ["990101003000"]})
    (a,) = A.rule_red_share_rising(t, ev)
    assert a.code == "red_share_rising_event" and a.params["event"] == "flood" and a.params["month"] == 202407


def test_overdue_rule_threshold() -> None:
    bt = pd.DataFrame({"township_code": ["A", "B", "C"], "orders": [30, 9, 4], "overdue": [A.OVERDUE_MIN, A.OVERDUE_MIN - 1, 4], "overdue_share": [0.1, 0.2, 1.0], "median_days": [3.0, 4.0, 5.0]})
    acts = A.rule_overdue(bt)
    assert [(a.township_code, a.params["overdue"], a.params["orders"]) for a in acts] == [("A", 5, 30)]
    assert A.rule_overdue(bt.iloc[0:0]) == []


def _loop(median: float | None) -> ClosedLoop:
    empty = pd.DataFrame(columns=["township_code", "orders", "overdue", "overdue_share", "median_days"])
    return ClosedLoop(orders=10, decided=8, median_days=median, overdue=0, overdue_share=0.0, by_township=empty, by_department=empty)


def test_slow_decision_rule() -> None:
    assert A.rule_slow_decisions(_loop(15.0)) == []
    assert A.rule_slow_decisions(_loop(None)) == []
    (a,) = A.rule_slow_decisions(_loop(15.5))
    assert a.params == {"median": 15.5, "days": A.MEDIAN_DAYS_TARGET}


def _summary(newly: int, rising: int) -> MonthSummary:
    return MonthSummary(202412, 100, {"green": 80, "yellow": 10, "red": 10}, {"green": 0, "yellow": 0, "red": 0}, newly, rising, 10.0, 3)


def test_count_rules() -> None:
    assert A.rule_newly_red(_summary(A.NEWLY_RED_MIN - 1, 0)) == []
    assert A.rule_newly_red(_summary(A.NEWLY_RED_MIN, 0))[0].params["n"] == A.NEWLY_RED_MIN
    assert A.rule_rising(_summary(0, A.RISING_MIN - 1)) == []
    assert A.rule_rising(_summary(0, A.RISING_MIN))[0].params["n"] == A.RISING_MIN
    assert A.rule_model_candidates("none", 50) == []
    assert A.rule_model_candidates("ok", 0) == []
    assert A.rule_model_candidates("ok", 3)[0].params == {"n": 3, "threshold": A.MODEL_THRESHOLD}


def test_new_hotspot_rule() -> None:
    t = _townships({"A": [0.1], "B": [0.1], "C": [0.1]}, hot={"A": ("hot", "not_significant"), "B": ("hot", "hot"), "C": ("not_significant", "hot")})
    assert [a.township_code for a in A.rule_new_hotspots(t)] == ["A"]


def test_findings_rule_counts_high_severity_only() -> None:
    f = pd.DataFrame({"rule": ["x", "y", "z"], "severity": ["high", "high", "low"], "findings": [2, 5, 40], "households": [2, 5, 40]})
    (a,) = A.rule_findings(f)
    assert a.params == {"n": 7, "rule": "y", "top": 5}
    assert A.rule_findings(f[f["severity"] == "low"]) == []
    assert A.rule_findings(None) == []


def test_actions_are_ordered_capped_and_worded(made) -> None:
    b = made.brief
    t = _townships({c: [0.01, 0.01, 0.01, 0.2] for c in b.townships["township_code"]})
    b2 = B.Brief(**{**b.__dict__, "townships": t.assign(red_share_change=0.0)})
    acts = A.suggest_actions(b2)
    assert len(acts) == A.MAX_ACTIONS
    assert [a.priority for a in acts] == sorted(a.priority for a in acts)
    text = A.action_text(acts[0], b2, "zh")
    assert b2.name(acts[0].township_code, "zh") in text and "1900%" in text


# --------------------------------------------------------------------------- the document opens in LibreOffice; charts draw Chinese
def test_cjk_font_is_found() -> None:
    from fanpin.report.charts import cjk_font_path

    assert Path(cjk_font_path()).exists()


def test_a_missing_cjk_font_is_refused_clearly(monkeypatch, made) -> None:
    from fanpin.report import charts as brief_charts

    monkeypatch.setattr(brief_charts, "CJK_FAMILY", "No Such CJK Family")
    brief_charts.cjk_font_path.cache_clear()
    try:
        with pytest.raises(brief_charts.FontMissing, match="system-deps.sh"):
            brief_charts.trend_chart(made.brief, "zh")
    finally:
        monkeypatch.undo()
        brief_charts.cjk_font_path.cache_clear()


def test_docx_declares_the_east_asian_font(made) -> None:
    from docx import Document
    from docx.oxml.ns import qn

    doc = Document(io.BytesIO(made.docx))
    fonts = doc.styles["Normal"].element.rPr.find(qn("w:rFonts"))
    assert fonts.get(qn("w:eastAsia")) == "Noto Sans CJK SC"
    assert len(doc.inline_shapes) >= 2  # the charts


def test_libreoffice_opens_the_brief(made, tmp_path) -> None:
    lo = shutil.which("libreoffice") or shutil.which("soffice")
    if not lo:
        if os.environ.get("CI"):
            pytest.fail("libreoffice is missing (scripts/system-deps.sh installs it)")
        pytest.skip("libreoffice is not installed (scripts/system-deps.sh installs it)")
    src = tmp_path / "brief.docx"
    src.write_bytes(made.docx)
    subprocess.run(
        [lo, "--headless", f"-env:UserInstallation=file://{tmp_path}/lo", "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
        check=True, capture_output=True, timeout=120,
    )
    pdf = tmp_path / "brief.pdf"
    assert pdf.exists() and pdf.stat().st_size > 10_000
    if shutil.which("pdftoppm"):
        out = ROOT / "artifacts" / "brief"
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", "-singlefile", str(pdf), str(out / "brief_page1")], check=True, timeout=60)
        assert (out / "brief_page1.png").stat().st_size > 5_000


# --------------------------------------------------------------------------- both backends
def test_brief_on_each_backend(db_url: str) -> None:
    """The brief's own queries (clues, monitoring, events, hot spots) run on SQLite and PostgreSQL alike."""
    from fanpin.demo.build import build_demo
    from fanpin.demo.spec import DemoSpec

    engine = store.make_engine(db_url, create=True)
    store.upgrade(engine)
    spec = DemoSpec(households=300, months=6, start=202401, townships=5, villages=15, seed=3)
    build_demo(engine, spec)
    period = spec.periods[-1]
    made = produce(engine, period, "zh", principal=LEADER, today=TODAY)
    assert made.brief.summary == month_summary(_panel(engine, period), period)
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(S.clues).where(S.clues.c.period == period, S.clues.c.status != "merged")).scalar()
        audited = conn.execute(select(func.count()).select_from(S.audit_log).where(S.audit_log.c.action == "brief")).scalar()
    assert int(made.brief.clues["clues"].sum()) == n
    assert audited == 1
    assert headline_text(made.brief, "zh") in document_text(made.docx)
    engine.dispose()
