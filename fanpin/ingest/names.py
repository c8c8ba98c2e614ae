"""The mapping table: every header and value label a bureau's file may use, with its code name.

One row per code: ``(of, code, names)``, the first name being the one templates, the report and
the column help show.

* ``of = "header"``: ``names`` are headers of the column ``code``, in every import kind that has
  the column; ``of = "header:<kind>"``: headers of the column in that kind only (a kind with such
  rows for a column reads those and not the shared ones: ``relation`` is 与户主关系 for members
  and 亲属关系 for officials' relatives).
* ``of = "<column>"`` or ``"<kind>.<column>"``: ``names`` are cell values meaning the value
  ``code`` of that column (in every kind, or in that kind only).
* ``of = "bool"``: words read as yes (``code`` true) or no (false) in every yes/no column.

A code column also reads its codes and, for columns with a ``label_kind``, the zh and en display
labels of the locale files (``fanpin.core.i18n.label``); the rows here are the other names.
Headers and values are compared in :func:`norm` form (spaces, full-width brackets, case, a
leading ``*`` and a byte-order mark ignored).  ``tests/ingest`` checks that no name means two
things within a kind.  The national export's sheets add their rows here.
"""

from __future__ import annotations

import re
from functools import cache

NAMES: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    # of, code, names (the first is the one shown)
    ("bool", "true", ("是", "有", "√", "y", "yes", "true", "1", "t")),
    ("bool", "false", ("否", "无", "×", "n", "no", "false", "0", "x", "f")),
    # -- households
    ("header", "household_id", ("户编号", "户码", "户编码")),
    ("header", "village_code", ("行政村代码", "行政区划代码", "村代码", "村级行政区划代码")),
    ("header", "household_type", ("户类型",)),
    ("household_type", "former_poor", ("脱贫户",)),
    ("household_type", "ordinary", ("一般户", "一般农户")),
    ("header", "size", ("家庭人口数", "家庭人口", "人口数")),
    ("header", "phone", ("联系电话", "电话", "手机号码")),
    ("header", "relocated", ("居住在易地扶贫搬迁集中安置区", "易地扶贫搬迁")),
    ("header", "no_labour_guarantee", ("整户无劳动能力兜底保障户",)),
    ("header", "farmland_mu", ("耕地面积(亩)", "耕地面积")),
    ("header", "house_area", ("住房面积", "住房面积(平方米)")),
    ("header", "road_distance_km", ("与村主干路距离(公里)",)),
    ("header", "in_cooperative", ("是否加入农民专业合作组织",)),
    ("header", "housing_secured", ("住房安全有保障",)),
    ("header", "lon", ("经度",)),
    ("header", "lat", ("纬度",)),
    ("header", "created_period", ("识别监测时间", "建档年月")),
    # -- members
    ("header", "name", ("姓名",)),
    ("header", "id_number", ("证件号码", "身份证号", "身份证号码", "公民身份号码")),
    ("header", "sex", ("性别",)),
    ("sex", "M", ("男", "male")),
    ("sex", "F", ("女", "female")),
    ("header", "birth_date", ("出生日期",)),
    ("header:members", "relation", ("与户主关系",)),
    ("members.relation", "head", ("本人", "户主")),
    ("members.relation", "spouse", ("妻", "夫")),
    ("members.relation", "child", ("之子", "之女", "子", "女", "儿子", "女儿")),
    ("members.relation", "parent", ("父亲", "母亲", "之父", "之母")),
    ("members.relation", "grandchild", ("孙子", "孙女", "之孙子", "之孙女")),
    ("members.relation", "other", ("其他",)),
    ("header", "ethnicity", ("民族",)),
    ("header", "education", ("文化程度",)),
    ("education", "illiterate", ("文盲或半文盲", "文盲")),
    ("education", "primary", ("小学",)),
    ("education", "junior", ("初中",)),
    ("education", "senior", ("高中", "中专")),
    ("education", "college", ("大专及以上", "大专", "本科及以上")),
    ("header", "schooling", ("在校生情况",)),
    ("schooling", "none", ("非在校生",)),
    ("schooling", "preschool", ("学前教育",)),
    ("schooling", "primary", ("小学",)),
    ("schooling", "junior", ("初中",)),
    ("schooling", "senior", ("高中", "中职")),
    ("schooling", "college", ("高职", "大专", "本科及以上")),
    ("header", "health", ("健康状况",)),
    ("health", "chronic", ("长期慢性病", "慢性病")),
    ("health", "serious", ("患有大病", "大病")),
    ("header", "disability", ("残疾等级", "残疾")),
    ("header", "labour_capacity", ("劳动技能",)),
    ("labour_capacity", "normal", ("普通劳动力", "技能劳动力")),
    ("labour_capacity", "weak", ("弱劳动力或半劳动力", "弱劳动力", "半劳动力")),
    ("labour_capacity", "lost", ("丧失劳动力",)),
    ("labour_capacity", "none", ("无劳动力",)),
    ("header", "work_location", ("务工所在地",)),
    ("work_location", "in_county", ("县内",)),
    ("work_location", "in_province", ("省内县外", "省内")),
    ("work_location", "out_province", ("省外",)),
    ("header", "medical_insurance", ("是否参加城乡居民基本医疗保险", "基本医疗保险")),
    ("header", "serious_illness_insurance", ("是否参加大病保险", "大病保险")),
    ("header", "pension_insurance", ("是否参加城乡居民基本养老保险", "基本养老保险")),
    ("header:members", "dibao", ("是否享受最低生活保障", "低保")),
    ("header:members", "tekun", ("是否特困供养人员", "特困")),
    ("header", "public_welfare_job", ("公益岗位",)),
    ("header", "deceased_period", ("死亡年月",)),
    # -- panel
    ("header", "period", ("年月", "月份", "统计年月")),
    ("header", "income_wage", ("工资性收入",)),
    ("header", "income_business", ("生产经营性收入",)),
    ("header", "income_property", ("财产性收入",)),
    ("header", "income_transfer", ("转移性收入",)),
    ("header", "business_cost", ("生产经营性支出",)),
    ("header", "income_net", ("家庭纯收入",)),
    ("header", "income_pc", ("家庭人均纯收入", "人均纯收入")),
    ("header", "medical_oop", ("合规自付支出",)),
    ("header", "schooling_cost", ("教育支出",)),
    ("header", "debt", ("负债",)),
    ("header", "housing_grade", ("危房等级",)),
    ("header", "water_safe", ("饮水安全",)),
    ("header", "disaster_loss", ("灾害损失",)),
    ("header", "months_worked", ("务工时长(月)",)),
    ("header", "benefits", ("低保金特困供养金",)),
    ("header:panel", "dibao", ("是否享受低保",)),
    ("header:panel", "tekun", ("是否特困供养",)),
    ("header", "job_lost", ("近3个月失业",)),
    # -- feeds
    ("header", "source", ("来源部门", "部门")),
    ("source", "medical_insurance", ("医保局",)),
    ("source", "civil_affairs", ("民政局",)),
    ("source", "housing", ("住建局",)),
    ("source", "education", ("教育局",)),
    ("source", "hrss", ("人社局",)),
    ("source", "emergency", ("应急管理局",)),
    ("source", "market_regulation", ("市场监管", "市场监管局")),
    ("source", "transport", ("交通",)),
    ("source", "public_security", ("公安局",)),
    ("header", "risk_type", ("风险类型", "致贫返贫风险")),
    ("header", "channel", ("渠道",)),
    ("header:feeds", "detail", ("预警内容", "说明", "内容")),
    ("header", "amount", ("金额",)),
    ("header", "received_at", ("接收时间",)),
    # -- assistance
    ("header:assistance", "period", ("年月", "帮扶年月")),
    ("header", "measure", ("帮扶措施",)),
    ("measure", "industry", ("产业",)),
    ("measure", "employment", ("就业",)),
    ("measure", "finance", ("金融",)),
    ("measure", "health", ("健康",)),
    ("measure", "comprehensive", ("综合保障",)),
    ("measure", "relocation", ("搬迁",)),
    ("measure", "other_education", ("其他教育",)),
    ("header", "description", ("措施内容", "说明")),
    ("header", "cadre", ("帮扶责任人", "帮扶单位")),
    # -- dept_records
    ("header", "record_type", ("比对类型",)),
    ("record_type", "car", ("车辆", "机动车")),
    ("record_type", "commercial_house", ("商品房",)),
    ("record_type", "business", ("工商注册", "经营主体")),
    ("record_type", "death", ("死亡",)),
    ("record_type", "public_employee", ("财政供养",)),
    ("record_type", "other", ("其他",)),
    ("header", "value", ("数值",)),
    ("header:dept_records", "detail", ("说明",)),
    # -- official_relations
    ("header", "official_id_number", ("干部证件号码",)),
    ("header", "official_post", ("职务",)),
    ("official_post", "village_secretary", ("村支书", "村党支部书记")),
    ("official_post", "village_director", ("村主任", "村委会主任")),
    ("official_post", "village_committee", ("村委委员", "村两委成员")),
    ("official_post", "township_staff", ("乡镇干部",)),
    ("header", "region_code", ("行政区划代码",)),
    ("header", "relative_id_number", ("亲属证件号码",)),
    ("header:official_relations", "relation", ("亲属关系",)),
    ("official_relations.relation", "spouse", ("配偶",)),
    ("official_relations.relation", "parent", ("父母",)),
    ("official_relations.relation", "child", ("子女",)),
    ("official_relations.relation", "sibling", ("兄弟姐妹",)),
    ("official_relations.relation", "grandparent", ("祖父母", "外祖父母")),
    ("official_relations.relation", "grandchild", ("孙子女", "外孙子女")),
)


def norm(text: str) -> str:
    """Header/cell normal form: no spaces, ASCII brackets and colon, lower case, no ``*`` around."""
    t = str(text).replace("\ufeff", "").strip().lower()
    t = t.replace("（", "(").replace("）", ")").replace("：", ":")
    t = re.sub(r"\s+", "", t)
    return t.strip("*")


@cache
def _rows_of(of: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    return tuple((code, names) for o, code, names in NAMES if o == of)


def headers(kind: str, column: str) -> tuple[str, ...]:
    """The column's headers in ``kind`` (the first is the one shown); () when the table has none."""
    own = tuple(n for code, names in _rows_of(f"header:{kind}") if code == column for n in names)
    return own or tuple(n for code, names in _rows_of("header") if code == column for n in names)


def values(kind: str, column: str) -> tuple[tuple[str, str], ...]:
    """(name, code) of the cell values the table gives for the column in ``kind``, kind rows first."""
    return tuple((n, code) for of in (f"{kind}.{column}", column) for code, names in _rows_of(of) for n in names)


def bool_words() -> tuple[frozenset[str], frozenset[str]]:
    """The words read as yes and as no, in normal form."""
    return (frozenset(norm(n) for c, names in _rows_of("bool") if c == "true" for n in names),
            frozenset(norm(n) for c, names in _rows_of("bool") if c == "false" for n in names))
