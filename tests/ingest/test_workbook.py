"""A workbook in the national layout written by someone else imports whole with no hand edits;
bad workbooks are refused with a clear message and leave the data as it was."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import Workbook

from fanpin.access.roles import AccessDenied, Principal
from fanpin.ingest import book, workbook
from tests.ingest.corpus import fixture as fx
from tests.ingest.test_ingest import _data_only, _engine, state

NOW = datetime(2025, 6, 30, 10, 0, 0)
STEWARD = Principal("steward", "data_steward")
N1 = "99010100100200007"  # a household the workbook adds (village V2)
HEAD, DIL, GRANDSON = fx.idn("19600202", "031"), fx.idn("19880808", "042"), fx.idn("20120101", "051")

HOUSEHOLD_HEADER = [
    "序号", "乡镇", "行政村", "户编号", "行政村代码", "户类型", "家庭人口数", "监测对象类别", "致贫/返贫风险1", "致贫/返贫风险2", "因自然灾害子项",
    "风险是否已消除", "风险消除方式", "识别监测时间", "消除监测时间", "整户无劳动能力兜底保障户", "实施开发式帮扶措施情况", "耕地面积（亩）",
    "住房面积（平方米）", "危房等级", "与村主干路距离（公里）", "住房出现安全问题", "饮水出现安全问题",
]
HOUSEHOLDS = [
    [1, "一镇", "二村", N1, fx.V2, "一般农户", 3, "突发严重困难户", "因病", "因自然灾害", "洪涝灾害", "否", "", "202403", "", "否", "产业帮扶、公益岗位帮扶", 4.5, 96, "C级", 2.3, "是", "否"],
    [2, "一镇", "一村", fx.H1, fx.V1, "一般农户", 2, "边缘易致贫户", "因务工就业不稳", "", "", "是", "帮扶消除", "202402", "202405", "否", "就业帮扶", 2.5, 80, "无", 1.0, "否", "否"],
]
MEMBER_HEADER = ["户编号", "姓名", "性别", "证件号码", "与户主关系", "民族", "文化程度", "在校生情况", "健康状况", "劳动技能", "务工所在地", "务工时长（月）",
                 "是否参加城乡居民基本医疗保险", "是否享受最低生活保障", "是否特困供养人员", "公益岗位", "聘用月数"]
MEMBERS = [
    [N1, "孙建国", "男", HEAD, "户主", "汉族", "小学", "非在校生", "患有大病", "弱劳动力或半劳动力", "", 0, "是", "否", "否", "是", 10],
    [N1, "周丽", "女", DIL, "之儿媳", "苗族", "初中", "非在校生", "残疾,长期慢性病", "普通劳动力", "省外", 8, "是", "否", "否", "否", ""],
    [N1, "孙小明", "男", GRANDSON, "之孙子", "汉族", "小学", "小学", "健康", "无劳动力", "", "", "是", "否", "否", "否", ""],
]
INCOME_HEADER = ["年度", "户编号", "工资性收入（元）", "其中：务工收入（元）", "其中：公益岗位收入（元）", "生产经营性收入（元）", "其中：种植业收入（元）",
                 "其中：养殖业收入（元）", "财产性收入（元）", "转移性收入（元）", "其中：低保金（元）", "其中：养老金（元）", "生产经营性支出（元）",
                 "家庭纯收入（元）", "家庭人均纯收入（元）", "理赔收入（元）", "合规自付支出（元）"]
INCOMES = [
    [2024, N1, 26000, 20000, 6000, 3000, 2000, 1000, 0, 4200, 3000, 1200, 1500, 31700, 10566.67, 8000, 21000],
    [2024, fx.H1, 30000, 30000, 0, 0, 0, 0, 0, 0, 0, 0, 0, 30000, 15000, 0, 0],
]
MEASURE_HEADER = ["户编号", "帮扶措施", "开始时间", "结束时间", "帮扶金额（元）", "措施内容", "帮扶责任人", "帮扶单位"]
MEASURES = [
    [N1, "健康帮扶", "2024-03-15", "2024-12-31", 5000, "大病专项救治", "刘洋", "县医保局"],
    [N1, "公益岗位帮扶", "2024-04-01", "2025-03-31", 6000, "护林员", "刘洋", "县林业局"],
    [fx.H1, "就业帮扶", "202402", "", 1500, "劳务输出补贴", "陈静", "县人社局"],
]


def sheet(wb: Workbook, title: str, header: list, rows: list[list], notes: tuple[str, ...] = ()) -> None:
    ws = wb.create_sheet(title)
    for note in notes:  # title and note rows above the header, as the national system writes them
        ws.append([note])
    ws.append(header)
    for r in rows:
        ws.append(r)


def national_workbook(households=HOUSEHOLDS, members=MEMBERS, extra: tuple = ()) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    sheet(wb, "基础信息", HOUSEHOLD_HEADER, households, ("测试县防止返贫监测对象基础信息表", "导出时间：2025-06-01  单位：元"))
    sheet(wb, "家庭成员", MEMBER_HEADER, members, ("家庭成员信息",))
    sheet(wb, "收入支出", INCOME_HEADER, INCOMES, ("2024年度家庭收支情况",))
    sheet(wb, "帮扶措施", MEASURE_HEADER, MEASURES)
    for title, header, rows in extra:
        sheet(wb, title, header, rows)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def csv_of(header: list, rows: list[list], title: str) -> bytes:
    lines = [title, ",".join(header), *(",".join(f'"{v}"' for v in r) for r in rows)]
    return ("\r\n".join(lines) + "\r\n").encode("gb18030")


def _rows(engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql(sql).fetchall()]


def _import(engine, data: bytes, name: str = "national.xlsx", **kw) -> book.WorkbookResult:
    return book.import_workbook(engine, data, name, principal=STEWARD, today=fx.TODAY, now=NOW, **kw)


@pytest.fixture
def fx_db(db_url: str):
    return _engine(db_url)


def test_someone_elses_workbook_imports_with_no_hand_edits(fx_db) -> None:
    res = _import(fx_db, national_workbook())
    assert res.status == "applied", res.report.text("en")
    kinds = sorted((p.report.sheet, p.kind) for p in res.report.parts)
    assert kinds == [("基础信息", "households"), ("基础信息", "monitoring"), ("家庭成员", "members"), ("帮扶措施", "assistance"), ("收入支出", "incomes")]
    assert [m for _r, c, _v, m, s in res.report.sheets[0].messages("en") if s == "warning"] == [
        'Column "序号" repeats what other columns hold (a row number or a place name): not stored',
        'Column "乡镇" repeats what other columns hold (a row number or a place name): not stored',
        'Column "行政村" repeats what other columns hold (a row number or a place name): not stored',
    ]
    hh = _rows(fx_db, f"SELECT township_code, household_type, size, farmland_mu, house_area, housing_grade, road_distance_km, housing_problem, water_problem, n_disabled, n_serious, n_chronic FROM households WHERE household_id = '{N1}'")
    assert hh == [(fx.T1, "ordinary", 3, 4.5, 96.0, 3, 2.3, True, False, 1, 1, 1)]
    rec = _rows(fx_db, "SELECT household_id, monitoring_category, risk_1, risk_2, risk_3, disaster_subitem, identified_period, eliminated, elimination_method, eliminated_period, development_measures FROM monitoring_records ORDER BY household_id")
    assert rec == [
        (fx.H1, "marginal", "unstable_work", None, None, None, 202402, True, "by_assistance", 202405, "employment"),
        (N1, "sudden_hardship", "illness", "disaster", None, "flood", 202403, False, None, None, "industry,public_welfare_job"),
    ]
    mem = _rows(fx_db, f"SELECT id_number, relation, health, disability, ethnicity, work_location, work_months, public_welfare_job, welfare_job_months FROM members WHERE household_id = '{N1}' ORDER BY birth_date")
    assert mem == [(HEAD, "head", "serious", 0, "汉族", None, 0.0, True, 10.0), (DIL, "child_in_law", "chronic", 4, "苗族", "out_province", 8.0, False, None),
                   (GRANDSON, "grandchild", "healthy", 0, "汉族", None, None, False, None)]
    inc = _rows(fx_db, "SELECT household_id, year, income_wage, wage_work, wage_welfare_job, business_farming, business_livestock, transfer_dibao, transfer_pension, income_net, income_pc, insurance_payout, medical_oop FROM yearly_incomes ORDER BY household_id")
    assert inc == [(fx.H1, 2024, 30000.0, 30000.0, 0.0, 0.0, 0.0, 0.0, 0.0, 30000.0, 15000.0, 0.0, 0.0),
                   (N1, 2024, 26000.0, 20000.0, 6000.0, 2000.0, 1000.0, 3000.0, 1200.0, 31700.0, 10566.67, 8000.0, 21000.0)]
    ms = _rows(fx_db, "SELECT household_id, measure, period, end_period, amount, cadre, cadre_unit FROM assistance ORDER BY household_id, period")
    assert ms == [(fx.H1, "employment", 202402, None, 1500.0, "陈静", "县人社局"), (N1, "health", 202403, 202412, 5000.0, "刘洋", "县医保局"),
                  (N1, "public_welfare_job", 202404, 202503, 6000.0, "刘洋", "县林业局")]
    # the same workbook again: every table was applied once, nothing changes
    before = state(fx_db)
    again = _import(fx_db, national_workbook())
    assert again.status == "already"
    assert state(fx_db) == before


def test_a_gb18030_csv_of_one_sheet_is_recognised_the_same_way(fx_sqlite) -> None:
    roster = csv_of(HOUSEHOLD_HEADER, HOUSEHOLDS[:1], "测试县防止返贫监测对象基础信息表")
    members = csv_of(MEMBER_HEADER, MEMBERS, "家庭成员信息")
    assert _import(fx_sqlite, roster, "基础信息.csv").status == "applied"
    res = _import(fx_sqlite, members, "家庭成员.csv")
    assert res.status == "applied", res.report.text("en")
    assert [(p.kind, p.report.encoding, p.report.added) for p in res.report.parts] == [("members", "gb18030", 3)]
    assert _rows(fx_sqlite, f"SELECT relation, health, disability FROM members WHERE id_number = '{DIL}'") == [("child_in_law", "chronic", 4)]


def test_a_fixed_workbook_imports_after_a_refusal_and_a_changed_sheet_alone_applies(fx_sqlite) -> None:
    bad = [*MEMBERS[:2], [*MEMBERS[2][:8], "亚健康", *MEMBERS[2][9:]]]
    before = state(fx_sqlite)
    res = _import(fx_sqlite, national_workbook(members=bad))
    assert res.status == "refused"
    frame = res.report.frame("zh")
    assert frame.loc[frame["级别"] == "错误", ["位置", "行", "列", "值"]].values.tolist() == [["家庭成员 · 家庭成员", 5, "健康状况", "亚健康"]]
    msgs = [(r.sheet, row, col, m) for r in res.report.reports for row, col, _v, m, s in r.messages("zh") if s == "error"]
    assert msgs == [("家庭成员", 5, "健康状况", "不是有效取值，可选：健康、长期慢性病、患有大病、残疾")]
    assert _data_only(state(fx_sqlite)) == _data_only(before)
    assert _import(fx_sqlite, national_workbook()).status == "applied"
    changed = [[*MEMBERS[0][:4], "户主", "汉族", "初中", *MEMBERS[0][7:]], *MEMBERS[1:]]
    res = _import(fx_sqlite, national_workbook(members=changed))
    assert res.status == "applied"
    done = [(p.kind, p.report.updated) for p in res.report.parts if p.report.already_batch is None]
    assert done == [("members", 1)]
    assert _rows(fx_sqlite, f"SELECT education FROM members WHERE id_number = '{HEAD}'") == [("junior",)]


def test_a_member_of_a_missing_household_is_one_error_per_household(fx_sqlite) -> None:
    ghost = "99010100100299999"
    members = [[ghost, *m[1:]] for m in MEMBERS]
    res = _import(fx_sqlite, national_workbook(members=members))
    assert res.status == "refused"
    errors = [(r.sheet, row, m) for r in res.report.reports for row, _c, _v, m, s in r.messages("en") if s == "error"]
    assert errors == [("家庭成员", 3, "No such household in the database or in the household sheet: none of its 3 rows can be imported")]


def test_an_unrecognised_sheet_and_column_are_refused_until_accepted(fx_sqlite) -> None:
    extra = (("备注", ["填表人", "审核人", "日期"], [["张三", "李四", "2025-06-01"]]),)
    before = state(fx_sqlite)
    res = _import(fx_sqlite, national_workbook(extra=extra))
    assert res.status == "refused"
    errors = [m for r in res.report.reports for _row, _c, _v, m, s in r.messages("zh") if s == "error"]
    assert errors == ["工作表“备注”的表头无法识别为任何一张表（户信息、家庭成员、年度收支、帮扶措施、监测信息……），或同时像几张不能同表的表。表头：填表人、审核人、日期"]
    assert _data_only(state(fx_sqlite)) == _data_only(before)
    header = [*MEMBER_HEADER, "户主姓名"]
    members = [[*m, "孙建国"] for m in MEMBERS]
    assert _import(fx_sqlite, csv_of(HOUSEHOLD_HEADER, HOUSEHOLDS[:1], "基础信息"), "基础信息.csv").status == "applied"
    res = _import(fx_sqlite, csv_of(header, members, "成员"), "成员.csv")
    assert res.status == "refused"
    assert [m for r in res.report.reports for _row, _c, _v, m, s in r.messages("en") if s == "error"][0].startswith('Unrecognised column "户主姓名": importing would drop it')
    res = _import(fx_sqlite, csv_of(header, members, "成员"), "成员.csv", ignore_columns=True)
    assert res.status == "applied"
    assert [m for r in res.report.reports for _row, _c, _v, m, s in r.messages("en") if s == "warning"] == ['Unrecognised column "户主姓名": ignored']
    # the same members as a table of a workbook: applied once already (same table, same content)
    parts = {p.kind: p.report for p in _import(fx_sqlite, national_workbook(households=HOUSEHOLDS[:1])).report.parts}
    assert parts["members"].already_batch is not None and parts["households"].already_batch is not None


def test_only_roles_that_import_may_validate_a_workbook(fx_sqlite) -> None:
    with pytest.raises(AccessDenied):
        workbook.validate_workbook(fx_sqlite, national_workbook(), "x.xlsx", principal=Principal("lead", "leader"))


@pytest.fixture
def fx_sqlite(tmp_path: Path):
    return _engine(f"sqlite:///{tmp_path / 'fx.db'}")
