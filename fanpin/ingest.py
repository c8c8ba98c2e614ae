"""Imports with validation: rosters, members, monthly indicators, department feeds, assistance,
department comparison records and officials' relatives.

One job per step, so the page, the command and the tests share them:

* :func:`validate` reads a file (``fanpin.ingest_read``: CSV/.xlsx, UTF-8/BOM/GB18030) and checks
  every cell against the kind's column spec, the database and the rest of the file.  It writes
  nothing.  The result is a :class:`Report`: the problems (row, column, value, message code) and
  the plan (rows to add, to update, unchanged, skipped).
* :func:`apply` writes a passed report in one transaction: the rows, an ``import_batches`` row,
  an audit entry and a new data version (so snapshot caches reload), or nothing at all.
* :func:`import_file` = validate, then apply or record the refusal (``import_batches`` status
  ``refused`` + audit ``import_refused``; the data tables are untouched).  A file whose SHA-256
  was already applied is reported as "already imported in batch N" and nothing is written.

Upserts compare with the stored values, so importing the same rows again (even from a file
with another hash) adds and updates nothing.  An empty cell in an update row keeps the stored
value; a cell that the file leaves empty in a *new* row takes the column's default.  Append-only
kinds (feeds, assistance, department records) skip a row identical to one already stored.

Messages are produced as codes plus parameters and translated at the end
(``fanpin.i18n.translate("ingest.p.<code>", lang, ...)``), so one validation serves zh and en.
Personal values (names, ID numbers, phones) are masked in the report.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import IntegrityError

from fanpin import audit
from fanpin.access import Principal, mask_id_number, mask_name, mask_phone, require
from fanpin.i18n import DEFAULT_LANG, label, translate
from fanpin.ids import id_check_char
from fanpin.ingest_read import FileProblem, Grid, read_table
from fanpin.store import io as sio
from fanpin.store import schema as S

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


def _shown(value: str, personal: str | None) -> str:
    """A cell as the report shows it: masked when personal, cut when long."""
    v = value
    if personal and v:
        v = {"name": mask_name, "id_number": mask_id_number, "phone": mask_phone}[personal](v[:64])
    if len(v) > 60:
        v = v[:60] + f"…({len(value):,})"
    return v


def file_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def current_period(today: date | None = None) -> int:
    d = today or date.today()
    return d.year * 100 + d.month


# --------------------------------------------------------------------------- report


@dataclass
class Problem:
    """Problems of one kind in one column, over many rows (``rows`` are positions in the file's data)."""

    code: str
    column: str  # header as in the file, or the spec column's name for missing columns
    rows: np.ndarray  # data-row positions; empty for a file-level problem
    severity: str = "error"
    params: dict = field(default_factory=dict)
    row_params: dict[str, np.ndarray] = field(default_factory=dict)
    col: Col | None = None


@dataclass
class Report:
    kind: str
    file_name: str
    file_hash: str
    n_rows: int = 0
    encoding: str = ""
    sheet: str | None = None
    problems: list[Problem] = field(default_factory=list)
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    already_batch: int | None = None
    row_numbers: list[int] = field(default_factory=list)
    values: list[list[str]] = field(default_factory=list)  # raw cells (for the report's value column)
    header: list[str] = field(default_factory=list)
    plan: dict = field(default_factory=dict, repr=False)

    @property
    def n_errors(self) -> int:
        return sum(max(len(p.rows), 1) for p in self.problems if p.severity == "error")

    @property
    def n_warnings(self) -> int:
        return sum(max(len(p.rows), 1) for p in self.problems if p.severity == "warning")

    @property
    def ok(self) -> bool:
        return self.n_errors == 0 and self.already_batch is None

    def _col_index(self, column: str) -> int | None:
        try:
            return self.header.index(column)
        except ValueError:
            return None

    def messages(self, lang: str = DEFAULT_LANG, limit: int | None = 10_000) -> list[tuple[int | None, str, str, str, str]]:
        """(row, column, value, message, severity), rows in file order (file-level problems first)."""
        out: list[tuple[int | None, str, str, str, str, int]] = []
        for k, p in enumerate(self.problems):
            key = f"ingest.p.{p.code}"
            personal = p.col.personal if p.col else None
            column = header_label(p.col, lang) if (p.col is not None and p.column == p.col.name) else p.column
            if len(p.rows) == 0:
                out.append((None, column, "", translate(key, lang, **_fmt_params(p.params, lang)), p.severity, k))
                continue
            j = self._col_index(p.column)
            fixed = translate(key, lang, **_fmt_params(p.params, lang)) if not p.row_params else None
            for i, r in enumerate(p.rows.tolist()):
                msg = fixed if fixed is not None else translate(key, lang, **_fmt_params({**p.params, **{n: a[i] for n, a in p.row_params.items()}}, lang))
                value = _shown(self.values[r][j], personal) if j is not None else ""
                out.append((self.row_numbers[r], column, value, msg, p.severity, k))
                if limit is not None and len(out) >= limit:
                    break
        out.sort(key=lambda x: (x[0] if x[0] is not None else -1, x[5]))
        rows = [x[:5] for x in out]
        return rows[:limit] if limit is not None else rows

    def frame(self, lang: str = DEFAULT_LANG, limit: int | None = 10_000) -> pd.DataFrame:
        """The report as a table with headers in ``lang`` (for the page and the download)."""
        rows = self.messages(lang, limit)
        cols = [translate(f"ingest.report.{c}", lang) for c in ("row", "column", "value", "problem", "severity")]
        f = pd.DataFrame(rows, columns=cols)
        f[cols[0]] = f[cols[0]].astype("Int64")
        f[cols[4]] = [translate(f"ingest.severity.{s}", lang) for s in f[cols[4]]]
        return f

    def summary(self, lang: str = DEFAULT_LANG) -> str:
        if self.already_batch is not None:
            return translate("ingest.p.already_imported", lang, batch=self.already_batch)
        return translate(
            "ingest.summary", lang, rows=self.n_rows, errors=self.n_errors, warnings=self.n_warnings,
            added=self.added, updated=self.updated, unchanged=self.unchanged, skipped=self.skipped,
        )

    def text(self, lang: str = DEFAULT_LANG, limit: int = 200) -> str:
        """Plain-text report for the command line."""
        lines = [f"{self.file_name}: {self.summary(lang)}"]
        row_word = translate("ingest.report.row", lang)
        for row, column, value, msg, sev in self.messages(lang, limit):
            where = f"{row_word} {row}" if row is not None else "—"
            shown = f" [{value}]" if value else ""
            lines.append(f"  {where} · {column}{shown}: {msg} ({translate(f'ingest.severity.{sev}', lang)})")
        total = self.n_errors + self.n_warnings
        if total > limit:
            lines.append("  " + translate("ingest.more_problems", lang, n=total - limit))
        return "\n".join(lines)

    def detail(self) -> dict:
        first = [{"row": r, "column": c, "problem": m} for r, c, _v, m, s in self.messages("en", 20) if s == "error"]
        return {
            "kind": self.kind, "rows": self.n_rows, "added": self.added, "updated": self.updated, "unchanged": self.unchanged,
            "skipped": self.skipped, "errors": self.n_errors, "warnings": self.n_warnings, "encoding": self.encoding,
            "sheet": self.sheet, "first_errors": first,
        }


def _fmt_params(params: dict, lang: str) -> dict:
    out = {}
    for k, v in params.items():
        if isinstance(v, dict) and lang in v:
            v = v[lang]
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        if isinstance(v, (list, tuple)):
            v = ("、" if lang == "zh" else ", ").join(str(x) for x in v)
        out[k] = v
    return out


# --------------------------------------------------------------------------- reading the DB


def _chunks(values: Sequence, n: int = 5000):  # noqa: ANN202
    for i in range(0, len(values), n):
        yield values[i : i + n]


def _existing(conn: Connection, column, values: Sequence, *extra) -> pd.DataFrame:  # noqa: ANN001
    """Rows whose ``column`` is in ``values`` (chunked IN), selecting ``column`` and ``extra``."""
    cols = [column, *extra]
    parts = []
    vals = sorted({v for v in values if v is not None and v == v})
    for chunk in _chunks(vals):
        rows = conn.execute(select(*cols).where(column.in_(list(chunk)))).fetchall()
        if rows:
            parts.append(pd.DataFrame(rows, columns=[c.name for c in cols]))
    if not parts:
        return pd.DataFrame({c.name: pd.Series(dtype=object) for c in cols})
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- validation


class _Validator:
    def __init__(self, engine: Engine, spec: KindSpec, grid: Grid, report: Report, today: date) -> None:
        self.engine = engine
        self.spec = spec
        self.grid = grid
        self.r = report
        self.today = today
        self.n = len(grid.rows)
        self.raw = pd.DataFrame(grid.rows, columns=[f"c{i}" for i in range(len(grid.header))]) if grid.rows else pd.DataFrame()
        self.cols: dict[str, int] = {}  # spec column -> file column index
        self.v: dict[str, pd.Series] = {}  # typed values (NaN/None = empty)
        self.bad = np.zeros(self.n, dtype=bool)  # rows with an error

    # -- problems
    def add(self, mask: np.ndarray, name: str, code: str, severity: str = "error", row_params: dict | None = None, **params: object) -> None:
        rows = np.flatnonzero(mask)
        if len(rows) == 0:
            return
        col = self.spec.col(name) if name in {c.name for c in self.spec.columns} else None
        column = self.grid.header[self.cols[name]] if name in self.cols else name
        rp = {k: np.asarray(v)[mask] if len(np.asarray(v)) == self.n else np.asarray(v) for k, v in (row_params or {}).items()}
        self.r.problems.append(Problem(code, column, rows, severity, dict(params), rp, col))
        if severity == "error":
            self.bad[rows] = True

    def file_problem(self, code: str, column: str = "", col: Col | None = None, severity: str = "error", **params: object) -> None:
        self.r.problems.append(Problem(code, column, np.array([], dtype=np.intp), severity, dict(params), {}, col))

    # -- headers
    def map_headers(self) -> bool:
        hmap = _header_map(self.spec)
        seen: dict[str, int] = {}
        for j, h in enumerate(self.grid.header):
            if not h.strip():
                if self.raw[f"c{j}"].str.strip().ne("").any():
                    self.file_problem("blank_header", column=f"#{j + 1}", index=j + 1)
                continue
            name = hmap.get(_norm(h))
            if name is None:
                self.file_problem("unknown_column", column=h, severity="warning", header=h)
            elif name in seen:
                self.file_problem("duplicate_column", column=h, header=h, first=self.grid.header[seen[name]])
            else:
                seen[name] = j
        self.cols = seen
        for c in self.spec.columns:
            if c.required and c.name not in seen:
                self.file_problem("missing_column", column=c.name, col=c, header={"zh": c.zh, "en": c.en})
        if self.spec.kind in ("feeds", "dept_records") and "household_id" not in seen and "id_number" not in seen:
            self.file_problem("missing_key_column", column="household_id", col=self.spec.col("household_id"))
        value_cols = [c for c in seen if c not in self.spec.key]
        if self.spec.key and not value_cols and not any(p.severity == "error" for p in self.r.problems):
            self.file_problem("no_value_columns", column="")
        return not any(p.severity == "error" for p in self.r.problems)

    # -- cells
    def text(self, name: str) -> pd.Series:
        return self.raw[f"c{self.cols[name]}"].str.strip()

    def parse(self) -> None:
        for c in self.spec.columns:
            if c.name not in self.cols:
                continue
            s = self.text(c.name)
            # Numbers Excel could not hold exactly (an ID number typed as a number): one
            # problem for the cell, no further checks on a value that is already wrong.
            lossy = np.zeros(self.n, dtype=bool)
            for i, j in self.grid.lossy:
                if j == self.cols[c.name]:
                    lossy[i] = True
            self.add(lossy, c.name, "lossy_number")
            if lossy.any():
                s = s.mask(lossy, "")
            empty = (s == "").to_numpy()
            if c.required:
                self.add(empty & ~lossy, c.name, "required")
            self.v[c.name] = getattr(self, f"_t_{c.type}")(c, s, empty)

    def _too_long(self, c: Col, s: pd.Series) -> np.ndarray:
        limit = c.max_len or 200
        lengths = s.str.len().to_numpy()
        m = lengths > limit
        self.add(m, c.name, "too_long", row_params={"length": lengths}, limit=limit)
        return m

    def _t_text(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        m = self._too_long(c, s)
        return s.where(~(empty | m), None).astype(object)

    def _t_household(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._t_text(c, s, empty)

    def _t_village(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._t_text(c, s, empty)

    def _t_region(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._t_text(c, s, empty)

    def _number(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        cleaned = s.str.replace(",", "", regex=False).str.replace("，", "", regex=False).str.replace("¥", "", regex=False).str.replace("元", "", regex=False)
        x = pd.to_numeric(cleaned.where(~empty, None), errors="coerce").astype(float)
        nan = x.isna().to_numpy()
        self.add(nan & ~empty, c.name, "not_number")
        return x

    def _range(self, c: Col, x: pd.Series) -> pd.Series:
        a = x.to_numpy()
        with np.errstate(invalid="ignore"):
            low = (a < c.low) if c.low is not None else np.zeros(len(a), dtype=bool)
            high = (a > c.high) if c.high is not None else np.zeros(len(a), dtype=bool)
        if c.low == 0:
            self.add(low, c.name, "negative")
            self.add(high, c.name, "too_large", high=c.high)
        else:
            self.add(low | high, c.name, "range", low=c.low, high=c.high)
        return x.mask(low | high, np.nan)

    def _t_float(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        return self._range(c, self._number(c, s, empty))

    def _t_int(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        x = self._number(c, s, empty)
        a = x.to_numpy()
        frac = ~np.isnan(a) & (np.floor(np.nan_to_num(a)) != np.nan_to_num(a))
        self.add(frac, c.name, "not_integer")
        return self._range(c, x.mask(frac, np.nan))

    def _t_bool(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        n = s.str.lower()
        t = n.isin(_TRUE).to_numpy()
        f = n.isin(_FALSE).to_numpy()
        self.add(~(t | f | empty), c.name, "not_bool")
        out = pd.Series([None] * self.n, dtype=object)
        out[t] = True
        out[f] = False
        return out

    def _t_code(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        vm = _value_map(c)
        mapped = s.map(lambda v: vm.get(_norm(v)) if v else None)
        bad = mapped.isna().to_numpy() & ~empty
        self.add(bad, c.name, "bad_code", options={lang: [code_label(c, k, lang) for k in c.codes] for lang in ("zh", "en")})
        return mapped.astype(object)

    def _t_period(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        m = s.str.extract(r"^(\d{4})\s*[-/.年]?\s*(\d{1,2})\s*(?:月|[-/.]\d{1,2}(?:\s+00:00(?::00)?)?)?$")
        y = pd.to_numeric(m[0], errors="coerce").to_numpy()
        mo = pd.to_numeric(m[1], errors="coerce").to_numpy()
        bad = (np.isnan(y) | np.isnan(mo) | (mo < 1) | (mo > 12) | (y < 2000)) & ~empty
        self.add(bad, c.name, "bad_period")
        p = np.where(bad | empty, np.nan, y * 100 + mo)
        future = ~np.isnan(p) & (p > current_period(self.today))
        self.add(future, c.name, "future_period", now=current_period(self.today))
        return pd.Series(np.where(future, np.nan, p))

    def _t_date(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        t = s.str.replace(r"[年月/.]", "-", regex=True).str.replace("日", "", regex=False).str.replace(r"\s+00:00(:00)?$", "", regex=True)
        t = t.where(~t.str.fullmatch(r"\d{8}"), t.str[:4] + "-" + t.str[4:6] + "-" + t.str[6:8])
        d = pd.to_datetime(t.where(~empty, None), format="%Y-%m-%d", errors="coerce")
        bad = d.isna().to_numpy() & ~empty
        self.add(bad, c.name, "bad_date")
        return d

    def _t_datetime(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        t = s.str.replace("/", "-", regex=False)
        d = pd.to_datetime(t.where(~empty, None), format="%Y-%m-%d %H:%M:%S", errors="coerce")
        d2 = pd.to_datetime(t.where(~empty & d.isna(), None), format="%Y-%m-%d", errors="coerce")
        d = d.fillna(d2)
        self.add(d.isna().to_numpy() & ~empty, c.name, "bad_datetime")
        return d

    def _t_id(self, c: Col, s: pd.Series, empty: np.ndarray) -> pd.Series:
        u = s.str.upper()
        lengths = u.str.len().to_numpy()
        bad_len = (lengths != 18) & ~empty
        self.add(bad_len, c.name, "id_length", row_params={"length": lengths})
        chars = u.str.fullmatch(r"\d{17}[\dX]").to_numpy(dtype=bool)
        bad_chars = ~chars & ~empty & ~bad_len
        self.add(bad_chars, c.name, "id_chars")
        birth_txt = u.str[6:14]
        born = pd.to_datetime(birth_txt.where(chars, None), format="%Y%m%d", errors="coerce")
        impossible = chars & born.isna().to_numpy()
        self.add(impossible, c.name, "id_birth", row_params={"birth": birth_txt.to_numpy()})
        today = pd.Timestamp(self.today)
        implausible = chars & ~impossible & ((born > today) | (born.dt.year < 1890)).to_numpy()
        self.add(implausible, c.name, "id_birth_range", row_params={"birth": birth_txt.to_numpy()})
        ok = chars & ~impossible & ~implausible
        bodies = u[ok].str[:17].to_numpy().astype("<U17")
        got = u[ok].str[17].to_numpy().astype(str)
        expected = id_check_char(bodies) if len(bodies) else np.array([], dtype="<U1")
        wrong = np.zeros(self.n, dtype=bool)
        wrong_idx = np.flatnonzero(ok)[got != expected]
        wrong[wrong_idx] = True
        exp_full = np.full(self.n, "", dtype=object)
        got_full = np.full(self.n, "", dtype=object)
        exp_full[np.flatnonzero(ok)] = expected
        got_full[np.flatnonzero(ok)] = got
        self.add(wrong, c.name, "id_check", row_params={"got": got_full, "expected": exp_full})
        good = ok & ~wrong
        return u.where(good, None).astype(object)

    # -- cross checks
    def _not_empty(self, name: str) -> np.ndarray:
        v = self.v.get(name)
        if v is None:
            return np.zeros(self.n, dtype=bool)
        return v.notna().to_numpy()

    def references(self, conn: Connection) -> None:
        """Region codes and households that must exist."""
        for c in self.spec.columns:
            if c.name not in self.v:
                continue
            s = self.v[c.name]
            if c.type in ("village", "region"):
                known = _existing(conn, S.regions.c.region_code, s.dropna().unique().tolist(), S.regions.c.level)
                level = dict(zip(known["region_code"], known["level"]))
                lv = s.map(level)
                missing = s.notna().to_numpy() & lv.isna().to_numpy()
                self.add(missing, c.name, "unknown_region")
                if c.type == "village":
                    not_village = lv.notna().to_numpy() & (lv != "village").to_numpy()
                    self.add(not_village, c.name, "not_village")
                    self.v[c.name] = s.where(lv == "village", None)
            elif c.type == "household":
                known = set(_existing(conn, S.households.c.household_id, s.dropna().unique().tolist())["household_id"])
                missing = s.notna().to_numpy() & ~s.isin(known).to_numpy()
                self.add(missing, c.name, "unknown_household")
                self.v[c.name] = s.where(~missing, None)

    def duplicates(self, keys: Sequence[str]) -> None:
        """Rows repeating an earlier row's key (or, without a key, the whole row)."""
        if keys:
            if not all(k in self.v for k in keys):
                return
            frame = pd.DataFrame({k: self.v[k] for k in keys})
            present = frame.notna().all(axis=1).to_numpy()
        else:
            frame = self.raw.apply(lambda col: col.str.strip())
            present = np.ones(self.n, dtype=bool)
        frame = frame.astype(str)
        dup = frame.duplicated(keep="first").to_numpy() & present
        if dup.any():
            first = frame.reset_index().groupby(list(frame.columns), sort=False)["index"].transform("first").to_numpy()
            other = np.array(self.grid.row_numbers)[first]
            column = keys[-1] if keys else (next(iter(self.cols)) if self.cols else "")
            self.add(dup, column, "duplicate_row", row_params={"other": other})


def _members_checks(val: _Validator, conn: Connection) -> None:
    v = val.v
    if "id_number" not in v or "household_id" not in v:
        return
    ids, hids = v["id_number"], v["household_id"]
    both = ids.notna().to_numpy() & hids.notna().to_numpy()
    frame = pd.DataFrame({"id": ids, "hid": hids, "row": np.array(val.grid.row_numbers)})[both]
    # Twice in the file under different households.
    first_hid = frame.groupby("id", sort=False)["hid"].transform("first")
    first_row = frame.groupby("id", sort=False)["row"].transform("first")
    clash = frame["hid"] != first_hid
    mask = np.zeros(val.n, dtype=bool)
    mask[np.flatnonzero(both)[clash.to_numpy()]] = True
    val.add(mask, "id_number", "member_two_households_file", row_params={"other": _spread(val.n, both, first_row.to_numpy()), "household": _spread(val.n, both, first_hid.to_numpy())})
    # Same ID, same household, twice: a duplicate row.
    same = frame.duplicated(["id", "hid"], keep="first").to_numpy()
    m2 = np.zeros(val.n, dtype=bool)
    m2[np.flatnonzero(both)[same]] = True
    val.add(m2, "id_number", "duplicate_row", row_params={"other": _spread(val.n, both, first_row.to_numpy())})
    # Already in another household in the database.
    stored = _existing(conn, S.members.c.id_number, ids.dropna().unique().tolist(), S.members.c.household_id)
    where = dict(zip(stored["id_number"], stored["household_id"]))
    db_hid = ids.map(where)
    other = (db_hid.notna() & hids.notna() & (db_hid != hids)).to_numpy()
    val.add(other, "id_number", "member_two_households_db", row_params={"household": db_hid.astype(object).where(db_hid.notna(), "").to_numpy()})
    # Sex and birth date, when given, must agree with the ID number.
    ok_id = ids.notna()
    if "sex" in v:
        from_id = ids.str[16].map(lambda d: ("M" if int(d) % 2 else "F") if isinstance(d, str) and d.isdigit() else None)
        wrong = (ok_id & v["sex"].notna() & (v["sex"] != from_id)).to_numpy()
        val.add(wrong, "sex", "sex_mismatch")
    if "birth_date" in v:
        from_id = pd.to_datetime(ids.str[6:14], format="%Y%m%d", errors="coerce")
        wrong = (ok_id & v["birth_date"].notna() & (v["birth_date"] != from_id)).to_numpy()
        val.add(wrong, "birth_date", "birth_mismatch")


def _as_bool(x: object) -> bool | None:
    if x is None or (isinstance(x, float) and x != x):
        return None
    return bool(x)


def _spread(n: int, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full(n, "", dtype=object)
    out[np.flatnonzero(mask)] = values
    return out


def _id_to_household(val: _Validator, conn: Connection, required: bool) -> None:
    """Feeds and department records may name a person instead of a household."""
    v = val.v
    if "id_number" not in v:
        if required:
            val.add(~val._not_empty("household_id") & ~val.bad, "household_id", "need_key")
        return
    ids = v["id_number"]
    stored = _existing(conn, S.members.c.id_number, ids.dropna().unique().tolist(), S.members.c.household_id)
    where = dict(zip(stored["id_number"], stored["household_id"]))
    found = ids.map(where)
    hids = v.get("household_id", pd.Series([None] * val.n, dtype=object))
    raw_hid_given = val.text("household_id").ne("").to_numpy() if "household_id" in val.cols else np.zeros(val.n, dtype=bool)
    raw_id_given = val.text("id_number").ne("").to_numpy()
    if required:
        unknown = ids.notna().to_numpy() & found.isna().to_numpy() & ~raw_hid_given
        val.add(unknown, "id_number", "unknown_person")
    clash = (found.notna() & hids.notna() & (found != hids)).to_numpy()
    val.add(clash, "id_number", "person_household_mismatch", row_params={"household": found.astype(object).where(found.notna(), "").to_numpy()})
    val.v["household_id"] = hids.where(hids.notna(), found).astype(object)
    none = ~raw_hid_given & ~raw_id_given
    val.add(none, "household_id", "need_key")


def _plan_upsert(val: _Validator, conn: Connection, report: Report) -> None:
    spec = val.spec
    table = S.metadata.tables[spec.table]
    # Every row with a valid key takes part (so a new row missing a required value is reported
    # even when it has other errors); only rows without errors go into the plan.
    keyed = pd.DataFrame({k: val.v[k] for k in spec.key}).notna().all(axis=1).to_numpy() if all(k in val.v for k in spec.key) else np.zeros(val.n, dtype=bool)
    cols = [c for c in val.cols if c in val.v]
    frame = pd.DataFrame({c: val.v[c] for c in cols})[keyed].copy()
    frame["_row"] = np.flatnonzero(keyed)
    if spec.kind == "households" and "village_code" in frame:
        frame["township_code"] = frame["village_code"].map(lambda c: c[:9] + "000" if isinstance(c, str) else None)
        cols = [*cols, "township_code"]
    sel = spec.key[-1]
    stored = _existing(conn, table.c[sel], frame[sel].tolist(), *[table.c[k] for k in spec.key if k != sel], *[table.c[c] for c in cols if c not in spec.key])
    for k in spec.key:  # same dtype on both sides of the join, even when nothing is stored
        if _col_type(spec, k) == "period":
            stored[k] = pd.to_numeric(stored[k]).astype(float)
            frame[k] = frame[k].astype(float)
        else:
            stored[k] = stored[k].astype(object)
            frame[k] = frame[k].astype(object)
    merged = frame.merge(stored, on=list(spec.key), how="left", suffixes=("", "_db"), indicator=True)
    is_new = (merged["_merge"] == "left_only").to_numpy()
    # Columns required for new rows.
    rows = merged["_row"].to_numpy()
    for c in spec.columns:
        if c.required_new:
            blank = val.text(c.name).eq("").to_numpy()[rows] if c.name in val.cols else np.ones(len(merged), dtype=bool)
            missing = is_new & blank
            if missing.any():
                m = np.zeros(val.n, dtype=bool)
                m[rows[missing]] = True
                val.add(m, c.name, "required_new")
    ok = ~val.bad[rows]
    merged, is_new = merged[ok].reset_index(drop=True), is_new[ok]
    value_cols = [c for c in cols if c not in spec.key]
    changed = np.zeros(len(merged), dtype=bool)
    for c in value_cols:
        kind = _col_type(spec, c)
        a, b = merged[c], merged[f"{c}_db"]
        given = a.notna().to_numpy()
        if kind in ("int", "float", "period"):
            av = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float)
            bv = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float)
            same = np.isclose(av, bv, rtol=1e-9, atol=1e-9) | (np.isnan(av) & np.isnan(bv))
        elif kind == "bool":
            same = a.map(_as_bool).to_numpy(dtype=object) == b.map(_as_bool).to_numpy(dtype=object)
        elif kind == "date":
            same = a.dt.strftime("%Y-%m-%d").to_numpy(dtype=object) == b.map(lambda x: None if x is None or x != x else str(x)[:10]).to_numpy(dtype=object)
        else:
            same = a.astype(object).to_numpy() == b.astype(object).to_numpy()
        changed |= given & ~same & ~is_new
    report.added = int(is_new.sum())
    report.updated = int(changed.sum())
    report.unchanged = int((~is_new & ~changed).sum())
    report.plan = {"frame": merged, "new": is_new, "changed": changed, "cols": cols}


def _plan_append(val: _Validator, conn: Connection, report: Report) -> None:
    spec = val.spec
    table = S.metadata.tables[spec.table]
    good = ~val.bad
    cols = [c for c in spec.dedupe if c in val.v]
    frame = pd.DataFrame({c: val.v[c] for c in val.v})[good].copy()
    frame["_row"] = np.flatnonzero(good)
    have_cols = [c for c in cols if c in table.c]
    cols = have_cols
    with_hid = "household_id" in frame and frame["household_id"].notna().any()
    sel = "household_id" if with_hid or "id_number" not in table.c else "id_number"
    if sel in frame and frame[sel].notna().any():
        stored = _existing(conn, table.c[sel], frame[sel].tolist(), *[table.c[c] for c in cols if c != sel])
        if spec.kind == "dept_records" and "id_number" in frame:  # records stored by ID number only
            more = _existing(conn, table.c["id_number"], frame["id_number"].tolist(), *[table.c[c] for c in cols if c != "id_number"])
            stored = pd.concat([stored, more], ignore_index=True)
    else:
        stored = pd.DataFrame()

    def key(f: pd.DataFrame) -> pd.Series:
        parts = []
        for c in cols:
            if c not in f:
                parts.append(pd.Series([""] * len(f), index=f.index))
                continue
            s = f[c]
            if c in ("amount", "value", "period"):
                s = pd.to_numeric(s, errors="coerce").round(2).map(lambda x: "" if x != x else repr(float(x)))
            else:
                s = s.map(lambda x: "" if x is None or x != x else str(x))
            parts.append(s)
        return pd.Series(["\x1f".join(t) for t in zip(*parts)], index=f.index) if parts else pd.Series([""] * len(f), index=f.index)

    have = set(key(stored)) if len(stored) else set()
    k = key(frame)
    skip = k.isin(have).to_numpy()
    if skip.any():
        m = np.zeros(val.n, dtype=bool)
        m[frame["_row"].to_numpy()[skip]] = True
        val.add(m, spec.dedupe[0] if spec.dedupe[0] in val.cols else next(iter(val.cols)), "already_stored", severity="warning")
    report.added = int((~skip).sum())
    report.skipped = int(skip.sum())
    report.plan = {"frame": frame[~skip], "cols": list(val.v)}


def validate(engine: Engine, kind: str, data: bytes, file_name: str, *, today: date | None = None) -> Report:
    """Check a file completely without writing anything; see :class:`Report`."""
    if kind not in SPECS:
        raise ValueError(f"unknown import kind {kind!r}: one of {', '.join(KINDS)}")
    spec = SPECS[kind]
    today = today or date.today()
    report = Report(kind, file_name, file_hash(data))
    with engine.connect() as conn:
        row = conn.execute(
            select(S.import_batches.c.batch_id).where(S.import_batches.c.file_hash == report.file_hash, S.import_batches.c.status == "applied").order_by(S.import_batches.c.batch_id).limit(1)
        ).first()
    if row is not None:
        report.already_batch = int(row[0])
        return report
    hmap = _header_map(spec)
    try:
        grid = read_table(data, file_name, lambda h: _norm(h) in hmap, spec.sheet_names)
    except FileProblem as exc:
        report.problems.append(Problem(exc.code, "", np.array([], dtype=np.intp), "error", exc.params))
        return report
    report.n_rows = len(grid.rows)
    report.encoding = grid.encoding
    report.sheet = grid.sheet
    report.row_numbers = grid.row_numbers
    report.values = grid.rows
    report.header = grid.header
    val = _Validator(engine, spec, grid, report, today)
    if not val.map_headers():
        return report
    val.parse()
    with engine.connect() as conn:
        val.references(conn)
        if kind == "members":
            _members_checks(val, conn)
        elif kind in ("feeds", "dept_records"):
            _id_to_household(val, conn, required=(kind == "feeds"))
        if kind != "members":
            val.duplicates(spec.key)
        if spec.key:
            _plan_upsert(val, conn, report)
        else:
            _plan_append(val, conn, report)
    if report.n_errors:
        report.added = report.updated = report.unchanged = report.skipped = 0
    return report


# --------------------------------------------------------------------------- applying


@dataclass
class ImportResult:
    status: str  # applied / refused / already
    report: Report
    batch_id: int | None = None
    merged_clues: int = 0

    def message(self, lang: str = DEFAULT_LANG) -> str:
        if self.status == "already":
            return translate("ingest.p.already_imported", lang, batch=self.report.already_batch)
        if self.status == "refused":
            return translate("ingest.refused", lang, errors=self.report.n_errors, batch=self.batch_id)
        return translate("ingest.applied", lang, batch=self.batch_id, added=self.report.added, updated=self.report.updated, unchanged=self.report.unchanged, skipped=self.report.skipped)


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


def _apply_upsert(conn: Connection, spec: KindSpec, report: Report, now: datetime) -> set[str]:
    table = S.metadata.tables[spec.table]
    plan = report.plan
    f: pd.DataFrame = plan["frame"]
    cols: list[str] = plan["cols"]
    new = f[plan["new"]]
    touched: set[str] = set()
    if len(new):
        out: dict[str, np.ndarray] = {}
        for c in cols:
            out[c] = _db_value(new[c], _col_type(spec, c))
        for c in spec.columns:
            if c.default is not None:
                vals = out.get(c.name, np.full(len(new), None, dtype=object))
                vals = np.array([c.default if v is None or (isinstance(v, float) and v != v) else v for v in vals], dtype=object)
                out[c.name] = vals
        if spec.kind == "members":
            ids = new["id_number"].astype(str)
            if "sex" not in out or any(v is None for v in out["sex"]):
                from_id = np.where(ids.str[16].astype(int) % 2 == 1, "M", "F").astype(object)
                out["sex"] = np.where([v is None for v in out.get("sex", [None] * len(new))], from_id, out.get("sex", from_id)).astype(object)
            bd = (ids.str[6:10] + "-" + ids.str[10:12] + "-" + ids.str[12:14]).to_numpy(dtype=object)
            out["birth_date"] = np.where([v is None for v in out.get("birth_date", [None] * len(new))], bd, out.get("birth_date", bd)).astype(object)
        if spec.kind == "households":
            for k in ("n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured"):
                out[k] = np.zeros(len(new), dtype=np.int64)
            if "created_period" not in out or all(v is None for v in out["created_period"]):
                out["created_period"] = np.full(len(new), now.year * 100 + now.month, dtype=np.int64)
        # Panel values a file does not give stay NULL: "not reported", which the scorer handles.
        sio.bulk_insert(conn, table, out)
        if "household_id" in new:
            touched |= set(new["household_id"].dropna().astype(str))
    upd = f[plan["changed"]]
    if len(upd):
        value_cols = [c for c in cols if c not in spec.key]
        stmt = update(table).where(*[table.c[k] == bindparam(f"k_{k}") for k in spec.key]).values(
            {c: func.coalesce(bindparam(f"v_{c}", type_=table.c[c].type), table.c[c]) for c in value_cols}
        )
        vals = {c: _db_value(upd[c], _col_type(spec, c)) for c in cols}
        keyvals = {k: _db_value(upd[k], _col_type(spec, k)) for k in spec.key}
        rows = []
        for i in range(len(upd)):
            r = {f"k_{k}": keyvals[k][i] for k in spec.key}
            for c in value_cols:
                x = vals[c][i]
                if isinstance(x, float) and x != x:
                    x = None
                elif isinstance(x, np.generic):
                    x = x.item()
                r[f"v_{c}"] = x
            for k in spec.key:
                if isinstance(r[f"k_{k}"], np.generic):
                    r[f"k_{k}"] = r[f"k_{k}"].item()
            rows.append(r)
        if spec.kind == "members" and "birth_date" in value_cols:
            for r in rows:
                if r["v_birth_date"] is not None:
                    r["v_birth_date"] = date.fromisoformat(r["v_birth_date"])
        for chunk in _chunks(rows, 20_000):
            conn.execute(stmt, list(chunk))
        if "household_id" in upd:
            touched |= set(upd["household_id"].dropna().astype(str))
    return touched


def _apply_append(conn: Connection, spec: KindSpec, report: Report, batch_id: int, now: datetime) -> None:
    f: pd.DataFrame = report.plan["frame"]
    if not len(f):
        return
    table = S.metadata.tables[spec.table]
    names = {c.name for c in table.columns}
    out = {c: _db_value(f[c], _col_type(spec, c)) for c in report.plan["cols"] if c in names}
    n = len(f)
    if spec.kind == "feeds":
        out["channel"] = np.array(["department" if v is None else v for v in out.get("channel", [None] * n)], dtype=object)
        at = now.strftime("%Y-%m-%d %H:%M:%S")
        out["received_at"] = np.array([at if v is None else v for v in out.get("received_at", [None] * n)], dtype=object)
        out["status"] = np.full(n, "new", dtype=object)
        out.pop("id_number", None)
    if spec.kind == "dept_records":
        out["batch_id"] = np.full(n, batch_id, dtype=np.int64)
    sio.bulk_insert(conn, table, out)


# Member aggregates --------------------------------------------------------


AGGREGATE_COLUMNS: tuple[str, ...] = ("size", "n_labour", "n_weak_labour", "n_elderly", "n_children", "n_chronic", "n_serious", "n_disabled", "n_students", "n_uninsured")
_STUDENT = ("primary", "junior", "senior", "college")


def household_aggregates(members: pd.DataFrame, ref_date: date) -> pd.DataFrame:
    """Per-household member counts, as the demo writes them (``fanpin.demo.build_demo``).

    ``members`` has household_id, birth_date, health, disability, labour_capacity, schooling,
    medical_insurance and optionally deceased_period; members who died are not counted.  Ages
    are whole years at ``ref_date`` (days / 365.25, floored, as the demo draws them).
    """
    m = members
    if "deceased_period" in m:
        m = m[m["deceased_period"].isna()]
    birth = pd.to_datetime(m["birth_date"]).to_numpy(dtype="datetime64[D]")
    age = np.floor((np.datetime64(ref_date, "D") - birth).astype(np.int64) / 365.25)
    hid = m["household_id"].astype(str).to_numpy()
    flags = pd.DataFrame(
        {
            "household_id": hid,
            "size": 1,
            "n_labour": (m["labour_capacity"] == "normal").to_numpy(),
            "n_weak_labour": (m["labour_capacity"] == "weak").to_numpy(),
            "n_elderly": age >= 65,
            "n_children": age < 16,
            "n_chronic": (m["health"] == "chronic").to_numpy(),
            "n_serious": (m["health"] == "serious").to_numpy(),
            "n_disabled": (pd.to_numeric(m["disability"]).fillna(0) > 0).to_numpy(),
            "n_students": m["schooling"].isin(_STUDENT).to_numpy(),
            "n_uninsured": ~m["medical_insurance"].astype(bool).to_numpy(),
        }
    )
    return flags.groupby("household_id", sort=True)[list(AGGREGATE_COLUMNS)].sum().astype(np.int64)


def aggregate_reference_date(conn: Connection) -> date:
    """The 15th of the newest panel month (the demo's age reference), today without a panel."""
    p = conn.execute(select(func.max(S.panel.c.period))).scalar()
    if p is None:
        return date.today()
    return date(int(p) // 100, int(p) % 100, 15)


def refresh_aggregates(conn: Connection, household_ids: Sequence[str]) -> int:
    """Recompute the member aggregates of these households inside the caller's transaction."""
    hids = sorted(set(household_ids))
    if not hids:
        return 0
    m = S.members.c
    cols = [m.household_id, m.birth_date, m.health, m.disability, m.labour_capacity, m.schooling, m.medical_insurance, m.deceased_period]
    parts = [pd.DataFrame(conn.execute(select(*cols).where(m.household_id.in_(list(ch)))).fetchall(), columns=[c.name for c in cols]) for ch in _chunks(hids)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=[c.name for c in cols])
    agg = household_aggregates(frame, aggregate_reference_date(conn)) if len(frame) else pd.DataFrame(columns=list(AGGREGATE_COLUMNS))
    agg = agg.reindex(hids).fillna(0).astype(np.int64)
    h = S.households.c
    stmt = update(S.households).where(h.household_id == bindparam("hid")).values({c: bindparam(f"a_{c}") for c in AGGREGATE_COLUMNS})
    rows = [{"hid": hid, **{f"a_{c}": int(v) for c, v in zip(AGGREGATE_COLUMNS, vals)}} for hid, vals in zip(agg.index, agg.to_numpy().tolist())]
    for chunk in _chunks(rows, 20_000):
        conn.execute(stmt, list(chunk))
    return len(rows)


def apply(engine: Engine, report: Report, actor: str, *, now: datetime | None = None, principal: Principal | None = None) -> ImportResult:
    """Write a passed report in one transaction (rows, batch, audit, data version).  With a
    ``principal`` (the app) only roles allowed to import may (the CLI runs as the machine's operator)."""
    if principal is not None:
        require(principal, "import")
    if report.already_batch is not None:
        return ImportResult("already", report)
    if not report.ok:
        raise ValueError("the report has errors: it cannot be applied")
    now = (now or datetime.now()).replace(microsecond=0)
    spec = SPECS[report.kind]
    try:
        batch_id = _apply_batch(engine, spec, report, actor, now)
    except IntegrityError:
        # Another import applied the same file between our check and our write: the unique
        # index on applied file hashes refused ours, and the whole transaction rolled back.
        with engine.connect() as conn:
            prior = conn.execute(_applied_batch(report.file_hash)).first()
        if prior is None:
            raise
        report.already_batch = int(prior[0])
        return ImportResult("already", report)
    if batch_id is None:
        return ImportResult("already", report)
    merged = 0
    if spec.kind == "feeds" and report.added:
        from fanpin.workflow import merge_duplicates

        merged = merge_duplicates(engine)
    return ImportResult("applied", report, batch_id, merged)


def _applied_batch(file_hash: str):  # noqa: ANN202
    b = S.import_batches.c
    return select(b.batch_id).where(b.file_hash == file_hash, b.status == "applied").order_by(b.batch_id).limit(1)


def _apply_batch(engine: Engine, spec, report: Report, actor: str, now: datetime) -> int | None:  # noqa: ANN001
    """The write transaction of ``apply``; None when the file was applied since validation."""
    with engine.begin() as conn:
        prior = conn.execute(_applied_batch(report.file_hash)).first()
        if prior is not None:  # applied by someone else since validation
            report.already_batch = int(prior[0])
            return None
        res = conn.execute(
            insert(S.import_batches).values(
                kind=report.kind, file_name=report.file_name[:255], file_hash=report.file_hash, rows_added=report.added, rows_updated=report.updated,
                imported_at=now, imported_by=actor[:64], status="applied", detail=json.dumps(report.detail(), ensure_ascii=False),
            )
        )
        batch_id = int(res.inserted_primary_key[0])
        if spec.key:
            touched = _apply_upsert(conn, spec, report, now)
            if spec.kind == "members":
                refresh_aggregates(conn, sorted(touched))
        else:
            _apply_append(conn, spec, report, batch_id, now)
        audit.record(conn, actor, "import", target=f"batch:{batch_id}", detail={"kind": report.kind, "file": report.file_name, "sha256": report.file_hash, "added": report.added, "updated": report.updated, "unchanged": report.unchanged, "skipped": report.skipped}, at=now)
        if report.added or report.updated:
            sio.bump_data_version(conn)
    return batch_id


def record_refusal(engine: Engine, report: Report, actor: str, *, now: datetime | None = None) -> int:
    """Log a refused file: an ``import_batches`` row (status refused) and an audit entry."""
    now = (now or datetime.now()).replace(microsecond=0)
    with engine.begin() as conn:
        res = conn.execute(
            insert(S.import_batches).values(
                kind=report.kind, file_name=report.file_name[:255], file_hash=report.file_hash, rows_added=0, rows_updated=0,
                imported_at=now, imported_by=actor[:64], status="refused", detail=json.dumps(report.detail(), ensure_ascii=False),
            )
        )
        batch_id = int(res.inserted_primary_key[0])
        audit.record(conn, actor, "import_refused", target=f"batch:{batch_id}", detail={"kind": report.kind, "file": report.file_name, "sha256": report.file_hash, "errors": report.n_errors}, at=now)
    return batch_id


def import_file(
    engine: Engine, kind: str, data: bytes, file_name: str, actor: str, *, today: date | None = None, now: datetime | None = None, principal: Principal | None = None
) -> ImportResult:
    """Validate, then apply, or record the refusal; see the module docstring."""
    if principal is not None:
        require(principal, "import")
    report = validate(engine, kind, data, file_name, today=today)
    if report.already_batch is not None:
        return ImportResult("already", report)
    if not report.ok:
        return ImportResult("refused", report, record_refusal(engine, report, actor, now=now))
    return apply(engine, report, actor, now=now, principal=principal)


def recent_batches(engine: Engine, limit: int = 20) -> pd.DataFrame:
    b = S.import_batches.c
    q = select(b.batch_id, b.kind, b.file_name, b.status, b.rows_added, b.rows_updated, b.imported_at, b.imported_by, b.file_hash).order_by(b.batch_id.desc()).limit(limit)
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(q).fetchall(), columns=[c.name for c in q.selected_columns])


# --------------------------------------------------------------------------- templates


def template_frame(kind: str, lang: str = DEFAULT_LANG) -> pd.DataFrame:
    """The kind's columns with headers in ``lang`` and one example row (export via fanpin.export)."""
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


__all__ = [
    "AGGREGATE_COLUMNS", "KINDS", "SPECS", "ImportResult", "Report", "apply", "column_help", "file_hash", "household_aggregates",
    "import_file", "recent_batches", "record_refusal", "refresh_aggregates", "template_frame", "validate",
]
