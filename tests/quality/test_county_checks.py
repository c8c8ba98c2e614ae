"""The county checks on data that came in through the national layout: a workbook written by hand
(title rows, labels, units) with planted cases of the four checks, imported into an empty database,
is found case for case; the demo county exported with ``fanpin export --national`` and imported into
a fresh database gives the same findings of the four checks."""

from __future__ import annotations

import io
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from fanpin import store
from fanpin.access.roles import SYSTEM, Principal
from fanpin.cli.main import main
from fanpin.demo.build import build_demo
from fanpin.demo.spec import DemoSpec
from fanpin.ingest import book
from fanpin.quality import rules as R
from fanpin.store import schema as S
from fanpin.store.meta import income_lines
from tests.ingest.corpus import fixture as fx

COUNTY_CHECKS = ["risk_no_measure", "assistance_no_development", "eliminated_too_fast", "eliminated_below_line"]
STEWARD = Principal("steward", "data_steward")
LINES = {2024: 7_800.0, 2025: 8_100.0}
V = fx.V1


def _hid(i: int) -> str:
    return f"{V}{i:05d}"


REGION_HEADER = ["区划代码", "区划级别", "上级区划代码", "区划名称"]
REGIONS = [[fx.COUNTY, "县", "", "测试县"], [fx.T1, "乡镇", fx.COUNTY, "一镇"], [V, "行政村", fx.T1, "一村"]]
HOUSEHOLD_HEADER = ["户编号", "行政村代码", "户类型", "家庭人口数", "监测对象类别", "致贫/返贫风险1", "致贫/返贫风险2", "识别监测时间", "风险是否已消除",
                    "风险消除方式", "消除监测时间", "整户无劳动能力兜底保障户", "实施开发式帮扶措施情况"]
# (case, risk 1, risk 2, identified, eliminated?, method, eliminated month, development measures)
CASES = [
    ("W01", "因病", "", "202503", "否", "", "", ""),  # no measure: flagged
    ("W02", "因病", "", "202503", "否", "", "", ""),  # 健康帮扶 from the identification: clean
    ("W03", "因学", "", "202503", "否", "", "", ""),  # 其他教育帮扶 ended the month before: flagged
    ("W04", "因务工就业不稳", "因自然灾害", "202503", "否", "", "", "就业帮扶"),  # named in the record: clean
    ("W05", "其他", "", "202409", "是", "帮扶消除", "202502", ""),  # no development-type measure: flagged
    ("W06", "其他", "", "202409", "是", "帮扶消除", "202502", ""),  # 产业帮扶 since 2024-10: clean
    ("W07", "", "", "202501", "是", "自然消除", "202503", ""),  # 2 months: too fast
    ("W08", "", "", "202501", "是", "自然消除", "202504", ""),  # 3 months: clean
    ("W09", "", "", "202406", "是", "自然消除", "202412", ""),  # 2024 income 7,799 < 7,800: flagged
    ("W10", "", "", "202406", "是", "自然消除", "202412", ""),  # 2024 income 7,800: clean
    ("W11", "", "", "202409", "是", "自然消除", "202503", ""),  # no 2025 yearly income, panel 8,099 < 8,100: flagged
    ("W12", "", "", "", "", "", "", ""),  # not monitored
]
EXPECTED = {"risk_no_measure": {"W01", "W03"}, "assistance_no_development": {"W05"}, "eliminated_too_fast": {"W07"}, "eliminated_below_line": {"W09", "W11"}}
MEMBER_HEADER = ["户编号", "姓名", "性别", "证件号码", "与户主关系", "健康状况", "劳动技能"]
INCOME_HEADER = ["年度", "户编号", "工资性收入（元）", "家庭纯收入（元）", "家庭人均纯收入（元）"]
INCOMES = [[2024, "W09", 7_799, 7_799, 7_799], [2024, "W10", 7_800, 7_800, 7_800], [2024, "W11", 1_000, 1_000, 1_000],
           *[[2025, w, 12_000, 12_000, 12_000] for w in ("W05", "W06", "W07", "W08")]]
MEASURE_HEADER = ["户编号", "帮扶措施", "开始时间", "结束时间", "帮扶金额（元）", "帮扶单位"]
MEASURES = [["W02", "健康帮扶", "2025-03-10", "", 3_000, "县医保局"], ["W03", "其他教育帮扶", "2024-09-01", "2025-02-28", 2_000, "县教育局"],
            ["W06", "产业帮扶", "2024-10-01", "", 3_000, "县农业农村局"], ["W05", "健康帮扶", "2024-10-01", "", 3_000, "县医保局"]]
PANEL_HEADER = ["年月", "户编号", "家庭纯收入", "家庭人均纯收入"]


def _id(w: str) -> str:
    return _hid(int(w[1:]))


def _sheet(wb: Workbook, title: str, header: list, rows: list[list], notes: tuple[str, ...] = ()) -> None:
    ws = wb.create_sheet(title)
    for note in notes:
        ws.append([note])
    ws.append(header)
    for r in rows:
        ws.append(r)


def national_workbook() -> bytes:
    """The county as a bureau's export: a title row above some headers, labels for values, units in headers."""
    wb = Workbook()
    wb.remove(wb.active)
    _sheet(wb, "行政区划", REGION_HEADER, REGIONS)
    households = [[_id(w), V, "一般农户", 1, "边缘易致贫户" if ident else "", r1, r2, ident, elim, method, when, "否", dev]
                  for w, r1, r2, ident, elim, method, when, dev in CASES]
    _sheet(wb, "家庭基本信息", HOUSEHOLD_HEADER, households, ("测试县防止返贫监测对象家庭基本信息", "导出时间：2025-07-01"))
    members = [[_id(w), f"户主{w}", "男", fx.idn(f"1970{int(w[1:]):02d}01", f"{2 * int(w[1:]) + 1:03d}"), "户主", "健康", "普通劳动力"] for w, *_ in CASES]
    _sheet(wb, "家庭成员信息", MEMBER_HEADER, members)
    _sheet(wb, "家庭收支情况", INCOME_HEADER, [[y, _id(w), *v] for y, w, *v in INCOMES], ("家庭收支情况",))
    _sheet(wb, "帮扶措施", MEASURE_HEADER, [[_id(w), *rest] for w, *rest in MEASURES])
    panel = [[202506, _id(w), 8_099.0 if w == "W11" else 20_000.0, 8_099.0 if w == "W11" else 20_000.0] for w, *_ in CASES]
    _sheet(wb, "月度指标", PANEL_HEADER, panel)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_a_hand_written_national_workbook_imported_into_an_empty_database(tmp_path: Path) -> None:
    engine = store.make_engine(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    store.upgrade(engine)
    res = book.import_workbook(engine, national_workbook(), "测试县导出.xlsx", principal=STEWARD, today=date(2025, 7, 1), now=datetime(2025, 7, 1, 9))
    assert res.status == "applied", res.report.text("en")
    for year, yuan in LINES.items():  # the national system's export brings no lines: the bureau sets them
        assert main(["lines", "set", str(year), str(yuan), "--db", str(engine.url)]) == 0
    f = R.find(engine, principal=SYSTEM)  # the latest month: the monthly sheet's 2025-06
    assert (f["period"] == 202506).all()
    got = {code: set(f.loc[f["rule"] == code, "household_id"]) for code in COUNTY_CHECKS}
    assert got == {code: {_id(w) for w in hids} for code, hids in EXPECTED.items()}
    d = f.set_index(["rule", "household_id"])["detail"]
    assert "2025年人均纯收入8,099元（月度滚动）" in d["eliminated_below_line", _id("W11")]
    assert "2024年人均纯收入7,799元（年度收支）" in d["eliminated_below_line", _id("W09")]
    assert "因学" in d["risk_no_measure", _id("W03")]
    # the findings become clues like the others'
    mine = f[f["rule"].isin(COUNTY_CHECKS)]
    assert R.findings_to_clues(engine, mine, 202506, principal=STEWARD) == len(mine) == 6
    with engine.connect() as conn:
        n = conn.execute(select(func.count()).select_from(S.clues).where(S.clues.c.source == "supervision", S.clues.c.detail.like("[eliminated_below_line]%"))).scalar()
    assert n == 2


# --------------------------------------------------------------------------- the demo county's round trip
@pytest.fixture(scope="module")
def demo_county(tmp_path_factory: pytest.TempPathFactory):
    path = tmp_path_factory.mktemp("county_checks") / "source.db"
    engine = store.make_engine(f"sqlite:///{path}", create=True)
    store.upgrade(engine)
    build_demo(engine, DemoSpec(households=400, months=14, start=202401, townships=4, villages=12, seed=11))
    yield engine, f"sqlite:///{path}"
    engine.dispose()


def test_the_demo_county_exported_and_imported_gives_the_same_findings(demo_county, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    source, source_url = demo_county
    out = tmp_path / "national.xlsx"
    assert main(["export", "--db", source_url, "--national", str(out), "--unmasked"]) == 0
    target_url = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert main(["db", "upgrade", "--db", target_url]) == 0
    capsys.readouterr()
    assert main(["import", "--db", target_url, "--lang", "en", str(out)]) == 0, capsys.readouterr().err
    target = store.make_engine(target_url)
    try:
        assert income_lines(target) == income_lines(source)  # fanpin's export carries the lines
        a = R.find(source, codes=COUNTY_CHECKS, principal=SYSTEM)
        b = R.find(target, codes=COUNTY_CHECKS, principal=SYSTEM)
        planted = store.load_json_meta(source, "planted_households")
        for code in COUNTY_CHECKS:
            assert set(planted[code]) <= set(a.loc[a["rule"] == code, "household_id"]), code
        assert len(a) >= 4 * 3
        pd.testing.assert_frame_equal(a, b)
    finally:
        target.dispose()
