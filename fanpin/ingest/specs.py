"""Import kinds: each table's columns with their Chinese headers, aliases, value labels and checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fanpin.core.i18n import DEFAULT_LANG, label, translate

# --------------------------------------------------------------------------- column specs


@dataclass(frozen=True)
class Col:
    """One importable column: database name, headers, type and checks."""

    name: str
    zh: str
    en: str
    type: str  # text int float bool period date datetime code id village region household
    required: bool = False  # in every row
    required_new: bool = False  # in rows that create a record
    low: float | None = None
    high: float | None = None
    max_len: int | None = None
    codes: tuple[str, ...] = ()
    label_kind: str | None = None  # fanpin.i18n.label kind for the codes' zh/en names
    aliases: tuple[str, ...] = ()  # more header names
    value_aliases: tuple[tuple[str, str], ...] = ()  # more accepted cell values -> code
    example: str = ""
    personal: str | None = None  # name / id_number / phone: masked in the report
    default: object = None  # for new rows when the cell is empty


@dataclass(frozen=True)
class KindSpec:
    kind: str
    table: str
    columns: tuple[Col, ...]
    key: tuple[str, ...]  # upsert key; () for append-only kinds
    dedupe: tuple[str, ...] = ()  # append-only: a row equal on these to a stored one is skipped
    sheet_names: tuple[str, ...] = ()

    def col(self, name: str) -> Col:
        return next(c for c in self.columns if c.name == name)


_BOOL = dict(type="bool")
_MONEY = dict(type="float", low=0.0, high=1e8)
_RISKS = ("illness", "disability", "schooling", "disaster", "accident", "industry_failure", "unstable_work", "lack_of_labour", "housing", "water", "other")
_MEASURES = ("industry", "employment", "finance", "public_welfare_job", "housing", "water", "health", "education", "other_education", "comprehensive", "social", "relocation")
_SOURCES = ("civil_affairs", "medical_insurance", "health_commission", "housing", "education", "hrss", "emergency", "disability_federation", "public_security", "water_resources", "agriculture", "finance", "survey", "market_regulation", "transport", "cadre", "household")
_HID = Col("household_id", "户编号", "Household ID", "household", required=True, max_len=20, aliases=("户码", "household id", "户编码"), example="99010100100100001")

SPECS: dict[str, KindSpec] = {
    "households": KindSpec(
        "households", "households",
        (
            Col("household_id", "户编号", "Household ID", "text", required=True, max_len=20, aliases=("户码", "户编码"), example="99010100100100001"),
            Col("village_code", "行政村代码", "Village code", "village", required_new=True, aliases=("行政区划代码", "村代码", "村级行政区划代码"), example="990101001001"),
            Col("household_type", "户类型", "Household type", "code", required_new=True, codes=("former_poor", "ordinary"), label_kind="household_type", value_aliases=(("脱贫户", "former_poor"), ("一般户", "ordinary"), ("一般农户", "ordinary")), example="脱贫户"),
            Col("size", "家庭人口数", "Household size", "int", required_new=True, low=1, high=30, aliases=("家庭人口", "人口数"), example="4"),
            Col("phone", "联系电话", "Phone", "text", max_len=20, aliases=("电话", "手机号码"), personal="phone", example="13800000000"),
            Col("relocated", "居住在易地扶贫搬迁集中安置区", "Relocated", **_BOOL, aliases=("易地扶贫搬迁",), default=False, example="否"),
            Col("no_labour_guarantee", "整户无劳动能力兜底保障户", "No-labour guarantee household", **_BOOL, default=False, example="否"),
            Col("farmland_mu", "耕地面积(亩)", "Farmland (mu)", "float", low=0, high=10_000, aliases=("耕地面积",), example="3.5"),
            Col("house_area", "住房面积", "House area (m²)", "float", low=0, high=10_000, aliases=("住房面积(平方米)",), example="85"),
            Col("road_distance_km", "与村主干路距离(公里)", "Distance to main road (km)", "float", low=0, high=500, example="1.2"),
            Col("in_cooperative", "是否加入农民专业合作组织", "In a cooperative", **_BOOL, default=False, example="是"),
            Col("housing_secured", "住房安全有保障", "Housing secured", **_BOOL, example="是"),
            Col("lon", "经度", "Longitude", "float", low=-180, high=180, example=""),
            Col("lat", "纬度", "Latitude", "float", low=-90, high=90, example=""),
            Col("created_period", "识别监测时间", "Registered (YYYYMM)", "period", aliases=("建档年月",), example="202401"),
        ),
        key=("household_id",), sheet_names=("households", "户信息", "农户"),
    ),
    "members": KindSpec(
        "members", "members",
        (
            _HID,
            Col("name", "姓名", "Name", "text", required_new=True, max_len=32, personal="name", example="张三"),
            Col("id_number", "证件号码", "ID number", "id", required=True, aliases=("身份证号", "身份证号码", "公民身份号码"), personal="id_number", example="990101198001010014"),
            Col("sex", "性别", "Sex", "code", codes=("M", "F"), label_kind="sex", value_aliases=(("男", "M"), ("女", "F"), ("male", "M"), ("female", "F")), example="男"),
            Col("birth_date", "出生日期", "Birth date", "date", example="1980-01-01"),
            Col("relation", "与户主关系", "Relation to head", "code", required_new=True, codes=("head", "spouse", "child", "parent", "grandchild", "other"), label_kind="relation",
                value_aliases=(("本人", "head"), ("户主", "head"), ("妻", "spouse"), ("夫", "spouse"), ("之子", "child"), ("之女", "child"), ("子", "child"), ("女", "child"), ("儿子", "child"), ("女儿", "child"),
                               ("父亲", "parent"), ("母亲", "parent"), ("之父", "parent"), ("之母", "parent"), ("孙子", "grandchild"), ("孙女", "grandchild"), ("之孙子", "grandchild"), ("之孙女", "grandchild"), ("其他", "other")),
                example="户主"),
            Col("ethnicity", "民族", "Ethnicity", "text", max_len=16, example="汉族"),
            Col("education", "文化程度", "Education", "code", codes=("illiterate", "primary", "junior", "senior", "college"),
                value_aliases=(("文盲或半文盲", "illiterate"), ("文盲", "illiterate"), ("小学", "primary"), ("初中", "junior"), ("高中", "senior"), ("中专", "senior"), ("大专及以上", "college"), ("大专", "college"), ("本科及以上", "college")), example="初中"),
            Col("schooling", "在校生情况", "Schooling", "code", codes=("none", "preschool", "primary", "junior", "senior", "college"), label_kind="schooling",
                value_aliases=(("非在校生", "none"), ("学前教育", "preschool"), ("小学", "primary"), ("初中", "junior"), ("高中", "senior"), ("中职", "senior"), ("高职", "college"), ("大专", "college"), ("本科及以上", "college")), default="none", example="非在校生"),
            Col("health", "健康状况", "Health", "code", codes=("healthy", "chronic", "serious"), label_kind="health", value_aliases=(("长期慢性病", "chronic"), ("患有大病", "serious"), ("大病", "serious"), ("慢性病", "chronic")), default="healthy", example="健康"),
            Col("disability", "残疾等级", "Disability grade", "int", low=0, high=4, default=0, aliases=("残疾",), example="0"),
            Col("labour_capacity", "劳动技能", "Labour capacity", "code", required_new=True, codes=("normal", "weak", "lost", "none"), label_kind="labour",
                value_aliases=(("普通劳动力", "normal"), ("技能劳动力", "normal"), ("弱劳动力或半劳动力", "weak"), ("弱劳动力", "weak"), ("半劳动力", "weak"), ("丧失劳动力", "lost"), ("无劳动力", "none")), example="普通劳动力"),
            Col("work_location", "务工所在地", "Work location", "code", codes=("in_county", "in_province", "out_province"), value_aliases=(("县内", "in_county"), ("省内县外", "in_province"), ("省内", "in_province"), ("省外", "out_province")), example="省外"),
            Col("medical_insurance", "是否参加城乡居民基本医疗保险", "Basic medical insurance", **_BOOL, default=True, aliases=("基本医疗保险",), example="是"),
            Col("serious_illness_insurance", "是否参加大病保险", "Serious-illness insurance", **_BOOL, default=True, aliases=("大病保险",), example="是"),
            Col("pension_insurance", "是否参加城乡居民基本养老保险", "Basic pension insurance", **_BOOL, default=True, aliases=("基本养老保险",), example="是"),
            Col("dibao", "是否享受最低生活保障", "Dibao", **_BOOL, default=False, aliases=("低保",), example="否"),
            Col("tekun", "是否特困供养人员", "Tekun support", **_BOOL, default=False, aliases=("特困",), example="否"),
            Col("public_welfare_job", "公益岗位", "Public-welfare job", **_BOOL, default=False, example="否"),
            Col("deceased_period", "死亡年月", "Died (YYYYMM)", "period", example=""),
        ),
        key=("id_number",), sheet_names=("members", "成员信息", "家庭成员"),
    ),
    "panel": KindSpec(
        "panel", "panel",
        (
            Col("period", "年月", "Month (YYYYMM)", "period", required=True, aliases=("月份", "统计年月"), example="202405"),
            _HID,
            Col("income_wage", "工资性收入", "Wage income", **_MONEY, example="24000"),
            Col("income_business", "生产经营性收入", "Business income", **_MONEY, example="6000"),
            Col("income_property", "财产性收入", "Property income", **_MONEY, example="500"),
            Col("income_transfer", "转移性收入", "Transfer income", **_MONEY, example="3000"),
            Col("business_cost", "生产经营性支出", "Business cost", **_MONEY, example="2500"),
            Col("income_net", "家庭纯收入", "Net income", "float", required_new=True, low=-1e8, high=1e8, example="31000"),
            Col("income_pc", "家庭人均纯收入", "Net income per person", "float", required_new=True, low=-1e8, high=1e8, aliases=("人均纯收入",), example="7750"),
            Col("medical_oop", "合规自付支出", "Compliant out-of-pocket medical spending", **_MONEY, example="1200"),
            Col("schooling_cost", "教育支出", "Schooling cost", **_MONEY, example="0"),
            Col("debt", "负债", "Debt", **_MONEY, example="0"),
            Col("housing_grade", "危房等级", "Unsafe-house grade (0-4)", "int", low=0, high=4, example="0"),
            Col("water_safe", "饮水安全", "Drinking water safe", **_BOOL, example="是"),
            Col("disaster_loss", "灾害损失", "Disaster loss", **_MONEY, example="0"),
            Col("months_worked", "务工时长(月)", "Months worked", "float", low=0, high=360, example="10"),
            Col("benefits", "低保金特困供养金", "Dibao and tekun benefits", **_MONEY, example="0"),
            Col("dibao", "是否享受低保", "Dibao", **_BOOL, default=False, example="否"),
            Col("tekun", "是否特困供养", "Tekun", **_BOOL, default=False, example="否"),
            Col("job_lost", "近3个月失业", "Job lost (3 months)", **_BOOL, default=False, example="否"),
        ),
        key=("period", "household_id"), sheet_names=("panel", "月度指标"),
    ),
    "feeds": KindSpec(
        "feeds", "clues",
        (
            Col("household_id", "户编号", "Household ID", "household", max_len=20, aliases=("户码",), example="99010100100100001"),
            Col("id_number", "证件号码", "ID number", "id", aliases=("身份证号", "身份证号码"), personal="id_number", example=""),
            Col("period", "年月", "Month (YYYYMM)", "period", required=True, aliases=("月份",), example="202405"),
            Col("source", "来源部门", "Source department", "code", required=True, codes=_SOURCES, label_kind="department", aliases=("部门",), value_aliases=(("医保局", "medical_insurance"), ("民政局", "civil_affairs"), ("住建局", "housing"), ("教育局", "education"), ("人社局", "hrss"), ("应急管理局", "emergency")), example="医保"),
            Col("risk_type", "风险类型", "Risk type", "code", required=True, codes=_RISKS, label_kind="risk", aliases=("致贫返贫风险",), example="因病"),
            Col("channel", "渠道", "Channel", "code", codes=("department", "cadre_visit", "self_report"), label_kind="channel", default="department", example=""),
            Col("detail", "预警内容", "Detail", "text", max_len=2000, aliases=("说明", "内容"), example="医保结算：合规自付超过1万元"),
            Col("amount", "金额", "Amount (yuan)", **_MONEY, example="12000"),
            Col("received_at", "接收时间", "Received at", "datetime", example="2024-05-20 09:00:00"),
        ),
        key=(), dedupe=("household_id", "period", "source", "risk_type", "detail", "amount"), sheet_names=("feeds", "部门预警"),
    ),
    "assistance": KindSpec(
        "assistance", "assistance",
        (
            _HID,
            Col("period", "年月", "Month (YYYYMM)", "period", required=True, aliases=("帮扶年月",), example="202405"),
            Col("measure", "帮扶措施", "Measure", "code", required=True, codes=_MEASURES, label_kind="measure", value_aliases=(("产业", "industry"), ("就业", "employment"), ("金融", "finance"), ("健康", "health"), ("综合保障", "comprehensive"), ("搬迁", "relocation"), ("其他教育", "other_education")), example="产业帮扶"),
            Col("amount", "金额", "Amount (yuan)", **_MONEY, example="3000"),
            Col("description", "措施内容", "Description", "text", max_len=2000, aliases=("说明",), example="发放鸡苗 200 只"),
            Col("cadre", "帮扶责任人", "Cadre", "text", max_len=32, aliases=("帮扶单位",), example="县乡村振兴局"),
        ),
        key=(), dedupe=("household_id", "period", "measure", "amount", "description", "cadre"), sheet_names=("assistance", "帮扶措施"),
    ),
    "dept_records": KindSpec(
        "dept_records", "dept_records",
        (
            Col("id_number", "证件号码", "ID number", "id", aliases=("身份证号", "身份证号码"), personal="id_number", example="990101198001010014"),
            Col("household_id", "户编号", "Household ID", "household", max_len=20, example=""),
            Col("source", "来源部门", "Source department", "code", required=True, codes=_SOURCES, label_kind="department", aliases=("部门",), value_aliases=(("市场监管", "market_regulation"), ("市场监管局", "market_regulation"), ("交通", "transport"), ("公安局", "public_security"), ("住建局", "housing")), example="公安"),
            Col("record_type", "比对类型", "Record type", "code", required=True, codes=("car", "commercial_house", "business", "death", "public_employee", "other"),
                value_aliases=(("车辆", "car"), ("机动车", "car"), ("商品房", "commercial_house"), ("工商注册", "business"), ("经营主体", "business"), ("死亡", "death"), ("财政供养", "public_employee"), ("其他", "other")), example="车辆"),
            Col("period", "年月", "Month (YYYYMM)", "period", example="202405"),
            Col("value", "数值", "Value", "float", low=-1e10, high=1e10, example="120000"),
            Col("detail", "说明", "Detail", "text", max_len=2000, example="小型轿车 1 辆"),
        ),
        key=(), dedupe=("id_number", "household_id", "source", "record_type", "period", "value", "detail"), sheet_names=("dept_records", "部门比对"),
    ),
    "official_relations": KindSpec(
        "official_relations", "official_relations",
        (
            Col("official_id_number", "干部证件号码", "Official's ID number", "id", required=True, personal="id_number", example="990101197501010016"),
            Col("official_post", "职务", "Post", "code", required_new=True, codes=("village_secretary", "village_director", "village_committee", "township_staff"),
                value_aliases=(("村支书", "village_secretary"), ("村党支部书记", "village_secretary"), ("村主任", "village_director"), ("村委会主任", "village_director"), ("村委委员", "village_committee"), ("村两委成员", "village_committee"), ("乡镇干部", "township_staff")), example="村支书"),
            Col("region_code", "行政区划代码", "Region code", "region", example="990101001001"),
            Col("relative_id_number", "亲属证件号码", "Relative's ID number", "id", required=True, personal="id_number", example="990101198001010014"),
            Col("relation", "亲属关系", "Relation", "code", required_new=True, codes=("spouse", "parent", "child", "sibling", "grandparent", "grandchild"),
                value_aliases=(("配偶", "spouse"), ("父母", "parent"), ("子女", "child"), ("兄弟姐妹", "sibling"), ("祖父母", "grandparent"), ("外祖父母", "grandparent"), ("孙子女", "grandchild"), ("外孙子女", "grandchild")), example="配偶"),
        ),
        key=("official_id_number", "relative_id_number"), sheet_names=("official_relations", "干部亲属"),
    ),
}
KINDS: tuple[str, ...] = tuple(SPECS)
_CODE_EN = {  # English names of codes that have no label_kind in the locale files
    "illiterate": "illiterate", "in_county": "in county", "in_province": "in province", "out_province": "out of province",
}

# --------------------------------------------------------------------------- helpers


def _norm(text: str) -> str:
    """Header/cell normal form: no spaces, ASCII brackets, lower case."""
    t = str(text).replace("\ufeff", "").strip().lower()
    t = t.replace("（", "(").replace("）", ")").replace("：", ":")
    t = re.sub(r"\s+", "", t)
    return t.strip("*")


def _header_map(spec: KindSpec) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in spec.columns:
        for h in (c.name, c.zh, c.en, *c.aliases):
            out.setdefault(_norm(h), c.name)
        out.setdefault(_norm(c.name.replace("_", " ")), c.name)
    return out


def _value_map(col: Col) -> dict[str, str]:
    out: dict[str, str] = {}
    for code in col.codes:
        out[_norm(code)] = code
        if col.label_kind:
            for lang in ("zh", "en"):
                out.setdefault(_norm(label(col.label_kind, code, lang)), code)
    for alias, code in col.value_aliases:
        out.setdefault(_norm(alias), code)
    return out


def code_label(col: Col, code: str, lang: str) -> str:
    if col.label_kind:
        return label(col.label_kind, code, lang)
    zh = next((a for a, c in col.value_aliases if c == code), code)
    return zh if lang == "zh" else _CODE_EN.get(code, code.replace("_", " "))


_TRUE = {"是", "y", "yes", "true", "1", "√", "t", "有"}
_FALSE = {"否", "n", "no", "false", "0", "×", "x", "f", "无"}


def header_label(col: Col, lang: str) -> str:
    return col.zh if lang == "zh" else col.en


def _db_value(series: pd.Series, col_type: str) -> np.ndarray:
    """Column values ready for bulk_insert / executemany (Python ints, ISO dates, None)."""
    if col_type in ("int", "period"):
        return np.array([None if x != x or x is None else int(x) for x in series], dtype=object)
    if col_type == "float":
        return series.to_numpy(dtype=float)
    if col_type == "date":
        return np.array([None if pd.isna(x) else x.strftime("%Y-%m-%d") for x in series], dtype=object)
    if col_type == "datetime":
        return np.array([None if pd.isna(x) else x.strftime("%Y-%m-%d %H:%M:%S") for x in series], dtype=object)
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)


def _col_type(spec: KindSpec, name: str) -> str:
    try:
        return spec.col(name).type
    except StopIteration:
        return "text"


# --------------------------------------------------------------------------- templates


def template_frame(kind: str, lang: str = DEFAULT_LANG) -> pd.DataFrame:
    """The kind's columns with headers in ``lang`` and one example row (export via fanpin.report.export)."""
    spec = SPECS[kind]
    return pd.DataFrame([[c.example for c in spec.columns]], columns=[header_label(c, lang) for c in spec.columns])


def column_help(kind: str, lang: str = DEFAULT_LANG) -> pd.DataFrame:
    """One row per column: header, required, accepted values (for the page's help table)."""
    spec = SPECS[kind]
    rows = []
    for c in spec.columns:
        req = "required" if c.required else ("required_new" if c.required_new else "optional")
        if c.codes:
            allowed = ("、" if lang == "zh" else ", ").join(code_label(c, k, lang) for k in c.codes)
        else:
            allowed = translate(f"ingest.type.{c.type}", lang)
            if c.low is not None and c.high is not None and c.type in ("int", "float"):
                allowed += f" ({c.low:g} … {c.high:g})"
        rows.append((header_label(c, lang), c.name, translate(f"ingest.req.{req}", lang), allowed))
    cols = [translate(f"ingest.help.{k}", lang) for k in ("header", "code", "required", "allowed")]
    return pd.DataFrame(rows, columns=cols)
